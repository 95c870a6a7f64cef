package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/runtime/herder"
)

// Defaults for SinkOptions fields left zero.
const (
	DefaultCommitInterval = 60 * time.Second
	DefaultCommitTimeout  = 5 * time.Second
	// DefaultRetryTimeout is the wait before redelivering a batch whose Put
	// returned a Retriable error, until the task sets its own.
	DefaultRetryTimeout = 100 * time.Millisecond
)

// SinkOptions configures a sink task's consumer.
type SinkOptions struct {
	// GroupID is connect-<name> or consumer.override.group.id.
	GroupID string
	// Topics or TopicsRegex (a Java regular expression matched against the
	// whole topic name) select what to consume.
	Topics      []string
	TopicsRegex string
	// CommitInterval is offset.flush.interval.ms (default 60s).
	CommitInterval time.Duration
	// CommitTimeout is offset.flush.timeout.ms (default 5s).
	CommitTimeout time.Duration
	// MaxPollRecords, when positive, is the consumer's max.poll.records:
	// the most records one Put receives, and so converted at once. Zero
	// hands each poll to one Put, whatever the fetches brought in: unlike
	// Apache's 500 default, a sink writing a transaction or a request per
	// Put gets large batches unless the user asks for small ones.
	MaxPollRecords int
}

// Sink runs a connect.SinkTask: consume, convert, transform, put, and
// commit the consumer offsets of what the task flushed.
//
// The consumer blocks rebalances while the loop processes a poll
// (kgo.BlockRebalanceOnPoll), so the rebalance callbacks, which call the
// task's Open, Close and PreCommit, never overlap the loop's calls.
type Sink struct {
	spec Spec
	task connect.SinkTask
	opts SinkOptions
	// nextCommit is when offset.flush.interval.ms next asks for a commit;
	// only the task goroutine reads or writes it.
	nextCommit time.Time
	log        *slog.Logger
	ctl        control
	rep        statusReporter
	errs       errorHandler

	runCtx context.Context
	client *kgo.Client
	dlq    *dlqWriter // nil without a dead letter queue
	// keepOriginals is set once the task took the errant-record reporter:
	// from then on the consumed records behind delivered ones are kept
	// (in originals) until committed, for reports to write their raw bytes.
	keepOriginals atomic.Bool

	// mu guards the state below, shared with the rebalance callbacks and
	// the task's context calls.
	mu           sync.Mutex
	assigned     map[connect.TopicPartition]struct{}
	current      map[connect.TopicPartition]int64 // next offset after what Put accepted
	committed    map[connect.TopicPartition]int64
	taskPaused   map[connect.TopicPartition]struct{}
	seeks        map[connect.TopicPartition]int64
	positioned   map[connect.TopicPartition]struct{} // partitions kgo can reposition
	targetPaused bool                                // applied target state
	retryPaused  bool                                // all partitions paused to redeliver a batch
	retryTimeout time.Duration
	cbErr        error // failure raised in a rebalance callback
	originals    map[origKey]*kgo.Record
	closing      bool // callbacks do nothing once the loop shut down

	positions map[connect.TopicPartition]int64 // scratch: next offset per partition in a poll
}

var _ Runner = (*Sink)(nil)

// NewSink prepares a sink task; nothing runs until Run.
func NewSink(spec Spec, t connect.SinkTask, opts SinkOptions) (*Sink, error) {
	if t == nil {
		return nil, errors.New("sink task is nil")
	}
	if spec.KeyConverter == nil || spec.ValueConverter == nil || spec.HeaderConverter == nil {
		return nil, fmt.Errorf("task %s: key, value and header converters are required", spec.ID)
	}
	if opts.GroupID == "" {
		return nil, fmt.Errorf("task %s: a consumer group id is required", spec.ID)
	}
	if (len(opts.Topics) == 0) == (opts.TopicsRegex == "") {
		return nil, fmt.Errorf("task %s: exactly one of topics and topics.regex must be set", spec.ID)
	}
	if opts.CommitInterval <= 0 {
		opts.CommitInterval = DefaultCommitInterval
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = DefaultCommitTimeout
	}
	s := &Sink{
		spec:         spec,
		task:         t,
		opts:         opts,
		log:          loggerOf(spec),
		ctl:          newControl(spec.Paused),
		assigned:     make(map[connect.TopicPartition]struct{}),
		current:      make(map[connect.TopicPartition]int64),
		committed:    make(map[connect.TopicPartition]int64),
		taskPaused:   make(map[connect.TopicPartition]struct{}),
		seeks:        make(map[connect.TopicPartition]int64),
		positioned:   make(map[connect.TopicPartition]struct{}),
		retryTimeout: DefaultRetryTimeout,
		positions:    make(map[connect.TopicPartition]int64),
		originals:    make(map[origKey]*kgo.Record),
	}
	s.rep = statusReporter{id: spec.ID, l: spec.Listener, ctl: &s.ctl}
	s.errs = errorHandler{policy: spec.Errors, log: s.log, ctl: &s.ctl}
	return s, nil
}

// ID implements Runner.
func (s *Sink) ID() herder.TaskID { return s.spec.ID }

// SetPaused implements Runner.
func (s *Sink) SetPaused(paused bool) { s.ctl.setPaused(paused) }

// Stop implements Runner.
func (s *Sink) Stop() { s.ctl.stop() }

// Cancel implements Runner.
func (s *Sink) Cancel() { s.ctl.cancel() }

// Done implements Runner.
func (s *Sink) Done() <-chan struct{} { return s.ctl.done }

// Run implements Runner.
func (s *Sink) Run(ctx context.Context) {
	defer close(s.ctl.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctl.mu.Lock()
	s.ctl.abandon = cancel
	s.ctl.mu.Unlock()
	if s.ctl.isCancelled() {
		return
	}
	stopOnDone := context.AfterFunc(ctx, s.ctl.cancel)
	defer stopOnDone()
	defer func() {
		if r := recover(); r != nil {
			s.rep.failure(fmt.Errorf("sink task panicked: %v\n%s", r, debug.Stack()))
		}
	}()
	s.runCtx = ctx
	s.run(ctx)
}

func (s *Sink) run(ctx context.Context) {
	if !awaitStart(ctx, &s.ctl, &s.rep) {
		s.rep.shutdown()
		return
	}
	if s.spec.DLQ.Topic != "" {
		dlq, err := openDLQ(ctx, s.spec.DLQ, s.spec.ID, s.log)
		if err != nil {
			s.rep.failure(err)
			return
		}
		s.dlq = dlq
		defer dlq.close(s.opts.CommitTimeout)
	}
	tc := &sinkContext{taskContext: taskContext{id: s.spec.ID, log: s.log}, s: s}
	if err := s.task.Start(ctx, tc, s.spec.TaskConfig); err != nil {
		s.rep.failure(err)
		return
	}
	// The client's own context ends when the task is abandoned (Cancel), so
	// that requests in flight fail at once rather than at their deadline
	// (kgo does not give up on a written request when its caller's context
	// ends), or when closing the client takes too long (see closeConsumer).
	clientCtx, abandonClient := context.WithCancel(ctx)
	defer abandonClient()
	client, err := kgo.NewClient(append(s.clientOpts(), kgo.WithContext(clientCtx))...)
	if err != nil {
		s.rep.failure(fmt.Errorf("create consumer: %w", err))
		s.stopTask()
		return
	}
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		closeConsumer(client, abandonClient, s.ctl.isCancelled())
	}()
	if err := kafkaclient.Probe(ctx, client); err != nil {
		s.rep.failure(fmt.Errorf("consumer %s: %w", s.spec.ID, err))
		s.stopTask()
		return
	}
	s.rep.startup()

	if err := s.loop(ctx); err != nil {
		s.rep.failure(err)
	}
	s.finish(ctx)
	s.stopTask()
	s.rep.shutdown()
}

// leaveTimeout bounds how long a closing consumer tries to leave its group.
// kgo's Close has no deadline: it waits for a join in flight (up to the
// rebalance timeout plus 10 s per attempt) and then for the LeaveGroup
// request, which is about forever when the broker stopped answering.
const leaveTimeout = 3 * time.Second

// closeConsumer leaves the group, waiting at most leaveTimeout, and closes
// the client; abandon cancels the client's context, failing what it still
// has in flight, when the leave did not finish in time. An abandoned
// (cancelled) task does not try to leave at all.
func closeConsumer(client *kgo.Client, abandon context.CancelFunc, cancelled bool) {
	client.AllowRebalance()
	if cancelled {
		abandon()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		if err := client.LeaveGroupContext(ctx); err != nil && ctx.Err() != nil {
			abandon() // the group then sees a session timeout instead
		}
		cancel()
	}
	client.Close()
}

func (s *Sink) stopTask() {
	if err := s.task.Stop(); err != nil {
		s.log.Error("failed to stop sink task", "error", err)
	}
}

// clientOpts returns the consumer settings: Apache's defaults for sink
// consumers, then the worker's, then what the loop requires.
func (s *Sink) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ClientID(fmt.Sprintf("connector-consumer-%s-%d", s.spec.ID.Connector, s.spec.ID.Task)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
	}
	opts = append(opts, s.spec.KafkaOpts...)
	opts = append(opts,
		kgo.ConsumerGroup(s.opts.GroupID),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
		kgo.AdjustFetchOffsetsFn(s.adjustOffsets),
	)
	if s.opts.TopicsRegex != "" {
		// Java matches the whole topic name; RE2 needs anchors for that.
		opts = append(opts, kgo.ConsumeTopics("^(?:"+s.opts.TopicsRegex+")$"), kgo.ConsumeRegex())
	} else {
		opts = append(opts, kgo.ConsumeTopics(s.opts.Topics...))
	}
	return opts
}

// loop polls and delivers until stop or failure; it returns the failure.
func (s *Sink) loop(ctx context.Context) error {
	s.nextCommit = time.Now().Add(s.opts.CommitInterval)
	for {
		paused, stopping, gen := s.ctl.state()
		if stopping {
			return nil
		}
		// The target state read before the poll is applied before it, not
		// after: a pause or resume that interrupts an idle poll then takes
		// effect in the next turn, not at the end of the poll after
		// (which waits for the next commit when no records come).
		s.applyTargetState(paused)
		pctx, done := s.ctl.blocking(ctx, gen, max(time.Until(s.nextCommit), time.Millisecond))
		fetches := s.client.PollFetches(pctx)
		done()
		// From here until AllowRebalance no rebalance callback runs.
		err := s.iteration(ctx, fetches)
		if err == nil {
			s.commitIfDue(ctx)
		}
		s.client.AllowRebalance()
		if err != nil {
			return err
		}
	}
}

// commitIfDue commits the current offsets when offset.flush.interval.ms
// has passed or the task asked for a commit. It runs between polls and,
// when max.poll.records splits a poll into several Puts, between those
// Puts too, as Apache's consumer commits between its bounded polls: a
// large fetch must not delay commits (and grow the replay after a crash)
// until all of it is written.
func (s *Sink) commitIfDue(ctx context.Context) {
	if time.Now().Before(s.nextCommit) && !s.ctl.takeCommitRequest() {
		return
	}
	s.commit(ctx)
	s.nextCommit = time.Now().Add(s.opts.CommitInterval)
}

func (s *Sink) iteration(ctx context.Context, fetches kgo.Fetches) error {
	s.mu.Lock()
	cbErr := s.cbErr
	s.mu.Unlock()
	if cbErr != nil {
		return cbErr
	}
	s.mu.Lock()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) > 0 {
			s.positioned[connect.TopicPartition{Topic: p.Topic, Partition: p.Partition}] = struct{}{}
		}
	})
	s.mu.Unlock()
	seeked := s.applySeeks()

	var fetchErr error
	fetches.EachError(func(topic string, partition int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed):
			fetchErr = fmt.Errorf("consume %s[%d]: %w", topic, partition, err)
		default:
			s.log.Warn("fetch error, the consumer retries", "topic", topic, "partition", partition, "error", err)
		}
	})
	if fetchErr != nil {
		return fetchErr
	}
	n := fetches.NumRecords()
	if n == 0 {
		return nil
	}

	size := n
	if s.opts.MaxPollRecords > 0 {
		size = min(n, s.opts.MaxPollRecords)
	}
	b := sinkBatch{s: s, seeked: seeked, keep: s.keepOriginals.Load(), recs: make([]*connect.SinkRecord, 0, size)}
	clear(s.positions)
	var err error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if err == nil && !b.stopped && len(p.Records) > 0 {
			err = b.partition(ctx, p)
		}
	})
	if err == nil && !b.stopped {
		err = b.flush(ctx)
	}
	if len(b.rewind) > 0 {
		s.client.SetOffsets(b.rewind)
	}
	return err
}

// sinkBatch delivers one poll's records, in Puts of at most
// max.poll.records when that is set. The consumer still hands over whole
// fetches: taking part of one would hold back the next fetch until the rest
// is taken (about 10% of a FileStream sink's rate with 500-record polls).
type sinkBatch struct {
	s       *Sink
	seeked  map[connect.TopicPartition]struct{} // fetched before a seek: skipped
	keep    bool                                // keep the consumed records (errant record reporter)
	recs    []*connect.SinkRecord
	kept    []*kgo.Record
	puts    int  // Puts made for this poll so far
	stopped bool // the task was stopped between two Puts
	// rewind repositions partitions the task paused during a Put of this
	// poll at their first record not delivered, so that they come again
	// after a resume.
	rewind map[string]map[int32]kgo.EpochOffset
}

// partition converts and delivers one partition's records.
func (b *sinkBatch) partition(ctx context.Context, p kgo.FetchTopicPartition) error {
	tp := connect.TopicPartition{Topic: p.Topic, Partition: p.Partition}
	if _, ok := b.seeked[tp]; ok {
		return nil // fetched before the seek took effect
	}
	for i, r := range p.Records {
		afterPut := i == 0 && b.puts > 0
		if len(b.recs) == cap(b.recs) {
			b.s.positions[tp] = r.Offset
			if err := b.flush(ctx); err != nil || b.stopped {
				return err
			}
			afterPut = true
		}
		// Seeks and pauses the task asked for during a Put apply to the
		// records after that Put.
		if afterPut && b.interrupted(tp, r.Offset) {
			return nil
		}
		sr, err := b.s.convert(ctx, r)
		if err != nil {
			return err // not delivered; the task fails
		}
		if sr != nil {
			b.recs = append(b.recs, sr)
			if b.keep {
				b.kept = append(b.kept, r)
			}
		}
	}
	b.s.positions[tp] = p.Records[len(p.Records)-1].Offset + 1
	return nil
}

// interrupted reports whether the task sought or paused tp during an
// earlier Put of this poll; its records from offset on are then not
// delivered now. A sought partition is repositioned by the next poll's
// applySeeks, a paused one here.
func (b *sinkBatch) interrupted(tp connect.TopicPartition, offset int64) bool {
	b.s.mu.Lock()
	_, seek := b.s.seeks[tp]
	_, paused := b.s.taskPaused[tp]
	b.s.mu.Unlock()
	if seek {
		return true
	}
	if !paused {
		return false
	}
	if b.rewind == nil {
		b.rewind = make(map[string]map[int32]kgo.EpochOffset)
	}
	if b.rewind[tp.Topic] == nil {
		b.rewind[tp.Topic] = make(map[int32]kgo.EpochOffset)
	}
	b.rewind[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: offset}
	return true
}

// flush hands the converted records to Put and advances the current
// offsets past what Put accepted, including skipped records. It sets
// stopped when the task was stopped before or during the Put.
func (b *sinkBatch) flush(ctx context.Context) error {
	s := b.s
	if b.puts > 0 {
		if _, stopping, _ := s.ctl.state(); stopping {
			b.stopped = true
			return nil
		}
	}
	if len(b.kept) > 0 {
		s.mu.Lock()
		for _, r := range b.kept {
			s.originals[origKey{r.Topic, r.Partition, r.Offset}] = r
		}
		s.mu.Unlock()
		b.kept = b.kept[:0]
	}
	if len(b.recs) > 0 {
		b.puts++
		delivered, err := s.deliver(ctx, b.recs)
		if err != nil || !delivered {
			b.stopped = true
			return err
		}
		clear(b.recs)
		b.recs = b.recs[:0]
	}
	s.mu.Lock()
	for tp, off := range s.positions {
		if _, ok := s.assigned[tp]; ok {
			s.current[tp] = off
		}
	}
	s.mu.Unlock()
	if b.puts > 0 {
		s.commitIfDue(ctx)
	}
	return nil
}

// convert turns a consumed record into a SinkRecord and applies the
// transforms. A nil record with a nil error means skipped (filtered or a
// tolerated failure).
func (s *Sink) convert(ctx context.Context, r *kgo.Record) (*connect.SinkRecord, error) {
	topic := r.Topic
	key, err := s.spec.KeyConverter.ToConnectData(topic, r.Key)
	if err != nil && connect.IsRetriable(err) {
		key, err = retry(ctx, &s.errs, err, func() (connect.SchemaAndValue, error) { return s.spec.KeyConverter.ToConnectData(topic, r.Key) })
	}
	if err != nil {
		return nil, s.recordFailed(r, stageKeyConverter, err)
	}
	value, err := s.spec.ValueConverter.ToConnectData(topic, r.Value)
	if err != nil && connect.IsRetriable(err) {
		value, err = retry(ctx, &s.errs, err, func() (connect.SchemaAndValue, error) { return s.spec.ValueConverter.ToConnectData(topic, r.Value) })
	}
	if err != nil {
		return nil, s.recordFailed(r, stageValueConverter, err)
	}
	var headers connect.Headers
	if len(r.Headers) > 0 {
		headers = make(connect.Headers, 0, len(r.Headers))
		for _, h := range r.Headers {
			hv, err := s.spec.HeaderConverter.ToConnectHeader(topic, h.Key, h.Value)
			if err != nil && connect.IsRetriable(err) {
				hv, err = retry(ctx, &s.errs, err, func() (connect.SchemaAndValue, error) {
					return s.spec.HeaderConverter.ToConnectHeader(topic, h.Key, h.Value)
				})
			}
			if err != nil {
				return nil, s.recordFailed(r, stageHeaderConverter, err)
			}
			headers = append(headers, connect.Header{Key: h.Key, Schema: hv.Schema, Value: hv.Value})
		}
	}
	sr := &connect.SinkRecord{
		Record: connect.Record{
			Topic:       topic,
			Partition:   r.Partition,
			KeySchema:   key.Schema,
			Key:         key.Value,
			ValueSchema: value.Schema,
			Value:       value.Value,
			Timestamp:   r.Timestamp,
			Headers:     headers,
		},
		KafkaOffset:       r.Offset,
		TimestampType:     timestampType(r),
		OriginalTopic:     topic,
		OriginalPartition: r.Partition,
		OriginalOffset:    r.Offset,
	}
	if s.spec.Transforms == nil {
		return sr, nil
	}
	// Transforms that need the Kafka offset (InsertField's offset.field)
	// see the whole sink record.
	apply := func() (*connect.Record, error) { return s.spec.Transforms.Apply(&sr.Record) }
	if st, ok := s.spec.Transforms.(connect.SinkTransformation); ok {
		apply = func() (*connect.Record, error) { return st.ApplySink(sr) }
	}
	out, err := apply()
	if err != nil && connect.IsRetriable(err) {
		out, err = retry(ctx, &s.errs, err, apply)
	}
	if err != nil {
		return nil, s.recordFailed(r, stageTransformation, err)
	}
	if out == nil {
		return nil, nil
	}
	if out != &sr.Record {
		sr.Record = *out
	}
	return sr, nil
}

// recordFailed handles a record that failed in stage: it goes to the dead
// letter queue, if there is one, whether or not the failure is tolerated
// (as Apache reports before deciding), and the error handler decides
// whether the task fails.
func (s *Sink) recordFailed(r *kgo.Record, stage string, err error) error {
	if s.dlq != nil {
		s.dlq.write(s.dlq.sinkRecord(r, failure{stage: stage, class: classOf(stage, s.spec.Classes, err), err: err}), false, nil)
	}
	return s.errs.tolerate(stage, err, describeConsumed(r))
}

func timestampType(r *kgo.Record) connect.TimestampType {
	switch r.Attrs.TimestampType() {
	case 0:
		return connect.CreateTime
	case 1:
		return connect.LogAppendTime
	}
	return connect.NoTimestampType
}

func describeConsumed(r *kgo.Record) func(bool) string {
	return func(withData bool) string {
		d := fmt.Sprintf("record at topic %q partition %d offset %d", r.Topic, r.Partition, r.Offset)
		if withData {
			d += fmt.Sprintf(" (timestamp %s, key %d bytes, value %d bytes, %d headers)",
				r.Timestamp.UTC().Format(time.RFC3339Nano), len(r.Key), len(r.Value), len(r.Headers))
		}
		return d
	}
}

// deliver calls Put, redelivering the same batch while it returns a
// Retriable error. The wait between tries is the task's own
// SinkTaskContext.timeout, fixed as in Apache, not a growing backoff.
// delivered is false when the task was stopped before the batch was
// accepted.
func (s *Sink) deliver(ctx context.Context, batch []*connect.SinkRecord) (delivered bool, err error) {
	for {
		err := s.task.Put(ctx, batch)
		if err == nil {
			s.endRetryPause()
			return true, nil
		}
		if !connect.IsRetriable(err) {
			return false, fmt.Errorf("Exiting WorkerSinkTask due to unrecoverable exception. Caused by: %w", err)
		}
		s.mu.Lock()
		wait := s.retryTimeout
		if !s.retryPaused {
			s.retryPaused = true
			s.client.PauseFetchPartitions(tpMap(slices.Collect(maps.Keys(s.assigned))))
		}
		s.mu.Unlock()
		s.log.Warn("sink task asked to retry the batch", "records", len(batch), "backoff", wait, "error", err)
		if _, stopping, gen := s.ctl.state(); !stopping && wait > 0 {
			s.ctl.sleep(ctx, gen, wait)
		}
		if _, stopping, _ := s.ctl.state(); stopping || ctx.Err() != nil || !s.holdWhilePaused(ctx) {
			s.endRetryPause()
			return false, nil
		}
	}
}

// holdWhilePaused applies a pause asked for while a batch waits to be
// redelivered, as Apache's task loop does between two attempts: the task
// reports PAUSED at once and Put is not called again until it is resumed.
// The batch is kept for then. It reports false if the task is stopped
// meanwhile.
func (s *Sink) holdWhilePaused(ctx context.Context) bool {
	for {
		paused, stopping, gen := s.ctl.state()
		if stopping || ctx.Err() != nil {
			return false
		}
		s.applyTargetState(paused)
		if !paused {
			return true
		}
		s.ctl.sleep(ctx, gen, 0) // until the next state change
	}
}

func (s *Sink) endRetryPause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.retryPaused {
		return
	}
	s.retryPaused = false
	if !s.targetPaused {
		s.client.ResumeFetchPartitions(tpMap(s.unpausedLocked()))
	}
}

// unpausedLocked lists the assigned partitions the task did not pause.
func (s *Sink) unpausedLocked() []connect.TopicPartition {
	var out []connect.TopicPartition
	for tp := range s.assigned {
		if _, ok := s.taskPaused[tp]; !ok {
			out = append(out, tp)
		}
	}
	return out
}

func (s *Sink) applyTargetState(paused bool) {
	s.mu.Lock()
	if paused == s.targetPaused {
		s.mu.Unlock()
		return
	}
	s.targetPaused = paused
	if paused {
		s.client.PauseFetchPartitions(tpMap(slices.Collect(maps.Keys(s.assigned))))
	} else if !s.retryPaused {
		s.client.ResumeFetchPartitions(tpMap(s.unpausedLocked()))
	}
	s.mu.Unlock()
	if paused {
		s.log.Info("sink task paused")
		s.rep.pause()
		s.ctl.requestCommit()
	} else {
		s.log.Info("sink task resumed")
		s.rep.resume()
	}
}

// applySeeks repositions partitions the task asked to seek and returns
// them; records fetched for them in this poll predate the seek. kgo can only
// reposition a partition once its consumption started (committed offset
// fetched, or records returned); until then a seek stays pending, and
// adjustOffsets applies seeks requested before fetching began.
func (s *Sink) applySeeks() map[connect.TopicPartition]struct{} {
	s.mu.Lock()
	if len(s.seeks) == 0 {
		s.mu.Unlock()
		return nil
	}
	set := make(map[string]map[int32]kgo.EpochOffset)
	seeked := make(map[connect.TopicPartition]struct{})
	for tp, off := range s.seeks {
		if _, ok := s.assigned[tp]; !ok {
			delete(s.seeks, tp)
			continue
		}
		if _, ok := s.positioned[tp]; !ok {
			continue
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		s.current[tp] = off
		seeked[tp] = struct{}{}
		delete(s.seeks, tp)
	}
	s.mu.Unlock()
	if len(set) > 0 {
		s.client.SetOffsets(set)
	}
	return seeked
}

// commit runs a periodic or requested commit of every assigned partition.
func (s *Sink) commit(ctx context.Context) {
	s.mu.Lock()
	tps := slices.Collect(maps.Keys(s.assigned))
	s.mu.Unlock()
	if offs, ok := s.preCommit(ctx, tps); ok {
		s.commitSync(ctx, offs)
	}
}

// preCommit asks the task which offsets of tps are safe to commit:
// PreCommit if implemented, else Flush of the current offsets. The result
// is limited to assigned partitions and never passes what was delivered.
// On a task error the consumer is rewound to the last committed offsets
// and ok is false.
func (s *Sink) preCommit(ctx context.Context, tps []connect.TopicPartition) (map[connect.TopicPartition]int64, bool) {
	s.mu.Lock()
	current := make(map[connect.TopicPartition]int64, len(tps))
	for _, tp := range tps {
		if off, ok := s.current[tp]; ok {
			current[tp] = off
		}
	}
	s.mu.Unlock()
	if len(current) == 0 {
		return nil, false
	}
	offsets := current
	var err error
	switch t := s.task.(type) {
	case connect.PreCommitter:
		offsets, err = t.PreCommit(ctx, maps.Clone(current))
	case connect.Flusher:
		err = t.Flush(ctx, maps.Clone(current))
	}
	if err != nil {
		s.log.Error("sink task failed to flush or pre-commit, rewinding to the last committed offsets", "error", err)
		s.rewind(tps)
		return nil, false
	}
	out := make(map[connect.TopicPartition]int64, len(offsets))
	for tp, off := range offsets {
		cur, ok := current[tp]
		switch {
		case !ok:
			s.log.Debug("ignoring offset for a partition that is not assigned or has no delivered records", "topic", tp.Topic, "partition", tp.Partition)
		case off > cur:
			// Never commit past what was delivered.
			s.log.Warn("ignoring task-provided offset beyond the delivered records", "topic", tp.Topic, "partition", tp.Partition, "offset", off, "delivered", cur)
		default:
			out[tp] = off
		}
	}
	return out, true
}

func (s *Sink) rewind(tps []connect.TopicPartition) {
	s.mu.Lock()
	set := make(map[string]map[int32]kgo.EpochOffset)
	for _, tp := range tps {
		off, ok := s.committed[tp]
		if !ok {
			continue
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		s.current[tp] = off
	}
	s.mu.Unlock()
	s.client.SetOffsets(set)
}

// commitSync commits offsets to the consumer group, skipping those already
// committed.
func (s *Sink) commitSync(ctx context.Context, offsets map[connect.TopicPartition]int64) {
	s.mu.Lock()
	req := make(map[string]map[int32]kgo.EpochOffset)
	n := 0
	for tp, off := range offsets {
		if prev, ok := s.committed[tp]; ok && prev == off {
			continue
		}
		if req[tp.Topic] == nil {
			req[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		req[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		n++
	}
	s.mu.Unlock()
	if n == 0 {
		return
	}
	// Records sent to the dead letter queue must be there before the
	// offsets past them are committed.
	if !s.awaitDLQ(ctx) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.CommitTimeout)
	defer cancel()
	var commitErr error
	s.client.CommitOffsetsSync(cctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil && commitErr == nil {
					commitErr = fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, perr)
				}
			}
		}
	})
	if commitErr != nil {
		s.log.Error("offset commit failed, will retry at the next commit", "error", commitErr)
		return
	}
	s.mu.Lock()
	for topic, parts := range req {
		for p, eo := range parts {
			s.committed[connect.TopicPartition{Topic: topic, Partition: p}] = eo.Offset
		}
	}
	for k := range s.originals {
		if off, ok := s.committed[connect.TopicPartition{Topic: k.topic, Partition: k.partition}]; ok && k.offset < off {
			delete(s.originals, k)
		}
	}
	s.mu.Unlock()
	s.log.Debug("committed offsets", "partitions", n)
}

// finish runs the final commit and closes the task's partitions. It holds
// off rebalances with a poll on a cancelled context so no callback runs
// meanwhile.
func (s *Sink) finish(ctx context.Context) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	s.client.PollFetches(done)
	s.mu.Lock()
	tps := slices.Collect(maps.Keys(s.assigned))
	s.mu.Unlock()
	var offs map[connect.TopicPartition]int64
	ok := false
	if !s.ctl.isCancelled() {
		offs, ok = s.preCommit(ctx, tps)
	}
	s.closePartitions(ctx, tps)
	if ok && !s.ctl.isCancelled() {
		s.commitSync(ctx, offs)
	}
	s.forget(tps)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
}

// closePartitions calls the task's Close; the partitions' offsets are kept
// for the commit that follows.
func (s *Sink) closePartitions(ctx context.Context, tps []connect.TopicPartition) {
	if len(tps) == 0 {
		return
	}
	if ph, ok := s.task.(connect.PartitionHandler); ok {
		if err := ph.Close(ctx, tps); err != nil {
			s.log.Error("sink task failed to close partitions", "error", err)
		}
	}
}

func (s *Sink) forget(tps []connect.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tp := range tps {
		delete(s.assigned, tp)
		delete(s.current, tp)
		delete(s.committed, tp)
		delete(s.taskPaused, tp)
		delete(s.seeks, tp)
		delete(s.positioned, tp)
	}
	for k := range s.originals {
		if _, ok := s.assigned[connect.TopicPartition{Topic: k.topic, Partition: k.partition}]; !ok {
			delete(s.originals, k)
		}
	}
}

// callback runs a rebalance callback body unless the loop shut down, turning
// a panic into a task failure (callbacks run on the client's goroutine).
func (s *Sink) callback(fn func()) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.setCallbackErr(fmt.Errorf("sink task panicked during a rebalance: %v\n%s", r, debug.Stack()))
		}
	}()
	fn()
}

func (s *Sink) setCallbackErr(err error) {
	s.mu.Lock()
	if s.cbErr == nil {
		s.cbErr = err
	}
	s.mu.Unlock()
	s.ctl.mu.Lock()
	s.ctl.kick()
	s.ctl.mu.Unlock()
}

func (s *Sink) onAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	s.callback(func() {
		tps := fromTPMap(assigned)
		s.mu.Lock()
		var pause []connect.TopicPartition
		for _, tp := range tps {
			s.assigned[tp] = struct{}{}
			if _, ok := s.taskPaused[tp]; ok || s.targetPaused || s.retryPaused {
				pause = append(pause, tp)
			}
		}
		s.mu.Unlock()
		if len(pause) > 0 {
			cl.PauseFetchPartitions(tpMap(pause))
		}
		s.log.Info("partitions assigned", "partitions", tps)
		if tl, ok := s.spec.Listener.(TopicListener); ok {
			for t := range assigned {
				tl.OnTopic(s.spec.ID, t)
			}
		}
		if ph, ok := s.task.(connect.PartitionHandler); ok {
			if err := ph.Open(s.runCtx, tps); err != nil {
				s.setCallbackErr(fmt.Errorf("sink task failed to open partitions: %w", err))
			}
			// Open may have paused partitions before the client was known.
			s.mu.Lock()
			pause = pause[:0]
			for _, tp := range tps {
				if _, ok := s.taskPaused[tp]; ok {
					pause = append(pause, tp)
				}
			}
			s.mu.Unlock()
			if len(pause) > 0 {
				cl.PauseFetchPartitions(tpMap(pause))
			}
		}
	})
}

func (s *Sink) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.callback(func() {
		tps := s.ownedOf(revoked)
		if len(tps) == 0 {
			return
		}
		s.log.Info("partitions revoked", "partitions", tps)
		s.mu.Lock()
		failed := s.cbErr != nil
		s.mu.Unlock()
		offs, ok := map[connect.TopicPartition]int64(nil), false
		if !failed && !s.ctl.isCancelled() {
			offs, ok = s.preCommit(s.runCtx, tps)
		}
		s.closePartitions(s.runCtx, tps)
		if ok {
			s.commitSync(s.runCtx, offs)
		}
		s.forget(tps)
	})
}

func (s *Sink) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.callback(func() {
		tps := s.ownedOf(lost)
		if len(tps) == 0 {
			return
		}
		s.log.Warn("partitions lost, closing them without committing", "partitions", tps)
		s.closePartitions(s.runCtx, tps)
		s.forget(tps)
	})
}

func (s *Sink) ownedOf(m map[string][]int32) []connect.TopicPartition {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []connect.TopicPartition
	for _, tp := range fromTPMap(m) {
		if _, ok := s.assigned[tp]; ok {
			out = append(out, tp)
		}
	}
	return out
}

// adjustOffsets applies seeks the task requested in Open before fetching
// starts.
func (s *Sink) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range offsets {
		for p, off := range parts {
			// A committed offset means kgo tracks the partition from now on.
			if off.EpochOffset().Offset >= 0 {
				s.positioned[connect.TopicPartition{Topic: topic, Partition: p}] = struct{}{}
			}
		}
	}
	for tp, off := range s.seeks {
		parts, ok := offsets[tp.Topic]
		if !ok {
			continue
		}
		if _, ok := parts[tp.Partition]; !ok {
			continue
		}
		parts[tp.Partition] = kgo.NewOffset().At(off)
		s.positioned[tp] = struct{}{}
		s.current[tp] = off
		delete(s.seeks, tp)
	}
	return offsets, nil
}

func tpMap(tps []connect.TopicPartition) map[string][]int32 {
	m := make(map[string][]int32)
	for _, tp := range tps {
		m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	}
	return m
}

func fromTPMap(m map[string][]int32) []connect.TopicPartition {
	var out []connect.TopicPartition
	for topic, parts := range m {
		for _, p := range parts {
			out = append(out, connect.TopicPartition{Topic: topic, Partition: p})
		}
	}
	slices.SortFunc(out, func(a, b connect.TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// sinkContext implements connect.SinkTaskContext.
type sinkContext struct {
	taskContext
	s *Sink
}

func (c *sinkContext) Assignment() []connect.TopicPartition {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := slices.Collect(maps.Keys(c.s.assigned))
	return fromTPMap(tpMap(out))
}

func (c *sinkContext) Seek(offsets map[connect.TopicPartition]int64) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	maps.Copy(c.s.seeks, offsets)
}

func (c *sinkContext) Pause(partitions ...connect.TopicPartition) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, tp := range partitions {
		c.s.taskPaused[tp] = struct{}{}
	}
	if c.s.client != nil {
		c.s.client.PauseFetchPartitions(tpMap(partitions))
	}
}

func (c *sinkContext) Resume(partitions ...connect.TopicPartition) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, tp := range partitions {
		delete(c.s.taskPaused, tp)
	}
	if c.s.client != nil && !c.s.targetPaused && !c.s.retryPaused {
		c.s.client.ResumeFetchPartitions(tpMap(partitions))
	}
}

func (c *sinkContext) SetRetryTimeout(d time.Duration) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.retryTimeout = d
}

func (c *sinkContext) RequestCommit() { c.s.ctl.requestCommit() }
