package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/backoff"
	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage"
)

// Defaults for SourceOptions fields left zero.
const (
	DefaultFlushInterval = 60 * time.Second
	DefaultFlushTimeout  = 5 * time.Second
	DefaultMaxInFlight   = 16384
)

// SourceOptions configures a source task's offset handling.
type SourceOptions struct {
	// Offsets is where source offsets are read and stored.
	Offsets storage.OffsetStore
	// FlushInterval is offset.flush.interval.ms (default 60s).
	FlushInterval time.Duration
	// FlushTimeout is offset.flush.timeout.ms (default 5s): how long an
	// offset write, and the wait for outstanding records at stop, may take.
	FlushTimeout time.Duration
	// MaxInFlight bounds the records produced but not yet acknowledged
	// (default 16384), so a fast source cannot exhaust the worker's memory.
	MaxInFlight int
}

// Source runs a connect.SourceTask: poll, transform, convert, produce, and
// store the offsets of acknowledged records.
type Source struct {
	spec Spec
	task connect.SourceTask
	opts SourceOptions
	log  *slog.Logger
	ctl  control
	rep  statusReporter
	errs errorHandler

	client   *kgo.Client
	dlq      *dlqWriter // nil without a dead letter queue
	sub      *submitted
	inflight chan struct{}       // one slot per record produced and not yet acknowledged
	topics   map[string]struct{} // topics already reported to a TopicListener
	acks     chan struct{}       // signalled after acknowledgements, for the final wait

	// The first produce failure that is not tolerated; read by the task
	// goroutine, written by producer callbacks.
	prodMu   sync.Mutex
	prodErr  error
	prodFail chan struct{} // closed with prodErr set
	closing  bool          // guarded by prodMu: failures after the loop are not reported
}

var _ Runner = (*Source)(nil)

// NewSource prepares a source task; nothing runs until Run.
func NewSource(spec Spec, t connect.SourceTask, opts SourceOptions) (*Source, error) {
	if t == nil {
		return nil, errors.New("source task is nil")
	}
	if spec.KeyConverter == nil || spec.ValueConverter == nil || spec.HeaderConverter == nil {
		return nil, fmt.Errorf("task %s: key, value and header converters are required", spec.ID)
	}
	if opts.Offsets == nil {
		return nil, fmt.Errorf("task %s: an offset store is required", spec.ID)
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	s := &Source{
		spec:     spec,
		task:     t,
		opts:     opts,
		log:      loggerOf(spec),
		ctl:      newControl(spec.Paused),
		inflight: make(chan struct{}, opts.MaxInFlight),
		acks:     make(chan struct{}, 1),
		prodFail: make(chan struct{}),
	}
	s.rep = statusReporter{id: spec.ID, l: spec.Listener, ctl: &s.ctl}
	s.errs = errorHandler{policy: spec.Errors, log: s.log, ctl: &s.ctl}
	s.sub = newSubmitted(func(p *pending) func(*kgo.Record, error) {
		return func(_ *kgo.Record, err error) { s.onAck(p, err) }
	})
	return s, nil
}

// ID implements Runner.
func (s *Source) ID() herder.TaskID { return s.spec.ID }

// SetPaused implements Runner.
func (s *Source) SetPaused(paused bool) { s.ctl.setPaused(paused) }

// Stop implements Runner.
func (s *Source) Stop() { s.ctl.stop() }

// Cancel implements Runner.
func (s *Source) Cancel() { s.ctl.cancel() }

// Done implements Runner.
func (s *Source) Done() <-chan struct{} { return s.ctl.done }

// Run implements Runner.
func (s *Source) Run(ctx context.Context) {
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
			s.rep.failure(fmt.Errorf("source task panicked: %v\n%s", r, debug.Stack()))
		}
	}()
	s.run(ctx)
}

func (s *Source) run(ctx context.Context) {
	if !awaitStart(ctx, &s.ctl, &s.rep) {
		s.rep.shutdown()
		return
	}

	client, err := kgo.NewClient(s.clientOpts()...)
	if err != nil {
		s.rep.failure(fmt.Errorf("create producer: %w", err))
		return
	}
	s.client = client
	defer s.closeClient()
	// A TLS, SASL or ACL problem fails the task now, not after the
	// delivery timeout of its first records.
	if err := kafkaclient.Probe(ctx, client); err != nil {
		s.rep.failure(fmt.Errorf("producer %s: %w", s.spec.ID, err))
		return
	}
	if s.spec.DLQ.Topic != "" {
		dlq, err := openDLQ(ctx, s.spec.DLQ, s.spec.ID, s.log)
		if err != nil {
			s.rep.failure(err)
			return
		}
		s.dlq = dlq
		defer dlq.close(s.opts.FlushTimeout)
	}

	tc := &sourceContext{
		taskContext: taskContext{id: s.spec.ID, log: s.log},
		reader:      &offsetReader{connector: s.spec.ID.Connector, store: s.opts.Offsets},
	}
	if err := s.task.Start(ctx, tc, s.spec.TaskConfig); err != nil {
		s.rep.failure(err)
		return
	}
	s.rep.startup()

	failure := s.loop(ctx)
	if failure != nil {
		s.rep.failure(failure)
	}
	s.finish(ctx)
	if err := s.task.Stop(); err != nil {
		s.log.Error("failed to stop source task", "error", err)
	}
	s.rep.shutdown()
}

// clientOpts returns the producer settings: Apache's defaults for source
// task producers, then the worker's, then what the loop requires.
func (s *Source) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ClientID(fmt.Sprintf("connector-producer-%s-%d", s.spec.ID.Connector, s.spec.ID.Task)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(newSourcePartitioner()),
		// A topic created by the first record has no leader for a moment;
		// look again soon rather than after kgo's 5s default.
		kgo.MetadataMinAge(250 * time.Millisecond),
	}
	opts = append(opts, s.spec.KafkaOpts...)
	// The in-flight limit is enforced before Produce so that waiting for
	// room can be interrupted; kgo must never block on its own limit.
	return append(opts, kgo.MaxBufferedRecords(s.opts.MaxInFlight+1))
}

// awaitStart handles an initial PAUSED target state: the task is not started
// until resumed. It reports false if the task was stopped meanwhile.
func awaitStart(ctx context.Context, ctl *control, rep *statusReporter) bool {
	reported := false
	for {
		paused, stopping, gen := ctl.state()
		if stopping || ctx.Err() != nil {
			return false
		}
		if !paused {
			return true
		}
		if !reported {
			rep.pause()
			reported = true
		}
		ctl.sleep(ctx, gen, 0)
	}
}

// loop polls and sends until stop or failure; it returns the failure.
func (s *Source) loop(ctx context.Context) error {
	nextFlush := time.Now().Add(s.opts.FlushInterval)
	pausedReported := false
	retry := backoff.New(backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second})
	for {
		paused, stopping, gen := s.ctl.state()
		if stopping {
			return nil
		}
		if err := s.produceFailure(); err != nil {
			return err
		}
		if !time.Now().Before(nextFlush) {
			s.commitOffsets(ctx)
			nextFlush = time.Now().Add(s.opts.FlushInterval)
		}
		if paused {
			if !pausedReported {
				s.log.Info("source task paused")
				s.rep.pause()
				pausedReported = true
			}
			s.ctl.sleep(ctx, gen, time.Until(nextFlush))
			continue
		}
		if pausedReported {
			s.log.Info("source task resumed")
			s.rep.resume()
			pausedReported = false
		}

		// Interrupt a blocking Poll when offsets are due to be stored.
		var wait time.Duration
		if s.sub.hasDirty() {
			wait = max(time.Until(nextFlush), time.Millisecond)
		}
		pctx, done := s.ctl.blocking(ctx, gen, wait)
		recs, err := s.task.Poll(pctx)
		done()
		var retryWait time.Duration
		if err != nil && !isInterrupt(pctx, err) {
			if !connect.IsRetriable(err) {
				return err
			}
			retryWait = retry.Next()
			s.log.Warn("source task poll failed with a retriable error, polling again", "error", err, "backoff", retryWait)
		} else {
			retry.Reset()
		}
		if len(recs) > 0 {
			s.log.Debug("polled records", "count", len(recs))
			if err := s.send(ctx, recs); err != nil {
				return err
			}
		}
		s.sub.drain(s.commitRecord)
		if retryWait > 0 {
			s.ctl.sleep(ctx, gen, retryWait)
		}
	}
}

// send transforms, converts and produces a poll batch. It returns a failure
// that is not tolerated; when the task stops while waiting for room, the
// rest of the batch is dropped (its offsets are never stored).
func (s *Source) send(ctx context.Context, recs []*connect.SourceRecord) error {
	for _, src := range recs {
		if src == nil {
			continue
		}
		p, err := s.sub.submit(src)
		if err != nil {
			return err
		}
		rec := &src.Record
		if s.spec.Transforms != nil {
			out, err := s.spec.Transforms.Apply(rec)
			if err != nil && connect.IsRetriable(err) {
				out, err = retry(ctx, &s.errs, err, func() (*connect.Record, error) { return s.spec.Transforms.Apply(rec) })
			}
			if err != nil {
				if ferr := s.recordFailed(p, src, rec, stageTransformation, err); ferr != nil {
					return ferr
				}
				continue
			}
			if out == nil {
				s.sub.drop(p)
				continue
			}
			rec = out
		}
		ok, err := s.convert(ctx, p, src, rec)
		if err != nil {
			return err
		}
		if !ok {
			continue // a tolerated failure, already handled
		}
		select {
		case s.inflight <- struct{}{}:
		default:
			if !s.awaitRoom(ctx) {
				return nil
			}
		}
		s.noteTopic(p.kr.Topic)
		s.client.Produce(context.Background(), &p.kr, p.promise)
	}
	return nil
}

// noteTopic reports a topic the first time this task produces to it.
func (s *Source) noteTopic(topic string) {
	if s.topics == nil {
		s.topics = map[string]struct{}{}
	}
	if _, seen := s.topics[topic]; seen {
		return
	}
	s.topics[topic] = struct{}{}
	if tl, ok := s.spec.Listener.(TopicListener); ok {
		tl.OnTopic(s.spec.ID, topic)
	}
}

// convert fills p.kr from rec. ok is false for a tolerated failure.
func (s *Source) convert(ctx context.Context, p *pending, src *connect.SourceRecord, rec *connect.Record) (ok bool, err error) {
	topic := rec.Topic
	key, err := s.spec.KeyConverter.FromConnectData(topic, rec.KeySchema, rec.Key)
	if err != nil && connect.IsRetriable(err) {
		key, err = retry(ctx, &s.errs, err, func() ([]byte, error) {
			return s.spec.KeyConverter.FromConnectData(topic, rec.KeySchema, rec.Key)
		})
	}
	if err != nil {
		return false, s.recordFailed(p, src, rec, stageKeyConverter, err)
	}
	value, err := s.spec.ValueConverter.FromConnectData(topic, rec.ValueSchema, rec.Value)
	if err != nil && connect.IsRetriable(err) {
		value, err = retry(ctx, &s.errs, err, func() ([]byte, error) {
			return s.spec.ValueConverter.FromConnectData(topic, rec.ValueSchema, rec.Value)
		})
	}
	if err != nil {
		return false, s.recordFailed(p, src, rec, stageValueConverter, err)
	}
	kr := &p.kr
	for _, h := range rec.Headers {
		hv, err := s.spec.HeaderConverter.FromConnectHeader(topic, h.Key, h.Schema, h.Value)
		if err != nil && connect.IsRetriable(err) {
			hv, err = retry(ctx, &s.errs, err, func() ([]byte, error) {
				return s.spec.HeaderConverter.FromConnectHeader(topic, h.Key, h.Schema, h.Value)
			})
		}
		if err != nil {
			kr.Headers = kr.Headers[:0]
			return false, s.recordFailed(p, src, rec, stageHeaderConverter, err)
		}
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: hv})
	}
	kr.Topic = topic
	kr.Key = key
	kr.Value = value
	kr.Timestamp = rec.Timestamp // zero: stamped by the producer
	kr.Partition = rec.Partition
	if kr.Partition < 0 {
		kr.Partition = -1
	}
	return true, nil
}

// recordFailed handles a record that failed in stage. A failure that is not
// tolerated is returned. A tolerated one goes to the dead letter queue when
// there is one, and the record's offset counts as acknowledged once that
// write completed; without a queue the record is simply skipped.
func (s *Source) recordFailed(p *pending, src *connect.SourceRecord, rec *connect.Record, stage string, err error) error {
	if ferr := s.errs.tolerate(stage, err, s.describe(src, rec)); ferr != nil {
		return ferr
	}
	if s.dlq == nil {
		s.sub.drop(p)
		return nil
	}
	f := failure{stage: stage, class: classOf(stage, s.spec.Classes, err), err: err}
	s.dlq.write(s.dlq.sourceRecord(src, rec, f), false, func(error) {
		// A failed write was logged; like Apache's sink queue, it does not
		// hold the offsets back forever.
		p.dropped = true
		p.acked.Store(true)
		select {
		case s.acks <- struct{}{}:
		default:
		}
	})
	return nil
}

func (s *Source) describe(src *connect.SourceRecord, rec *connect.Record) func(bool) string {
	return func(withData bool) string {
		d := fmt.Sprintf("source record for topic %q (source partition %v, offset %v)", rec.Topic, src.SourcePartition, src.SourceOffset)
		if withData {
			d += fmt.Sprintf(" key=%s value=%s timestamp=%v headers=%d",
				connect.FormatValue(rec.Key), connect.FormatValue(rec.Value), rec.Timestamp, len(rec.Headers))
		}
		return d
	}
}

// awaitRoom waits until fewer than MaxInFlight records are unacknowledged.
func (s *Source) awaitRoom(ctx context.Context) bool {
	select {
	case s.inflight <- struct{}{}:
		return true
	case <-s.ctl.stopCh:
	case <-s.prodFail:
	case <-ctx.Done():
	}
	return false
}

// onAck is the producer callback, called on kgo's goroutines.
func (s *Source) onAck(p *pending, err error) {
	if err != nil {
		s.prodMu.Lock()
		closing := s.closing
		s.prodMu.Unlock()
		switch {
		case closing:
			// The client is closing; the record simply stays unacknowledged.
		case s.spec.Errors.Tolerance == ToleranceAll:
			if s.spec.Errors.LogErrors {
				s.log.Error("failed to produce record, skipped (errors.tolerance=all)", "topic", p.kr.Topic, "error", err)
			}
			p.dropped = true
			p.acked.Store(true)
		default:
			s.setProduceFailure(&toleranceError{stage: stageKafkaProduce,
				record: fmt.Sprintf("source record for topic %q (source partition %v, offset %v)", p.kr.Topic, p.src.SourcePartition, p.src.SourceOffset),
				err:    err})
		}
	} else {
		p.acked.Store(true)
	}
	<-s.inflight
	select {
	case s.acks <- struct{}{}:
	default:
	}
}

func (s *Source) setProduceFailure(err error) {
	s.prodMu.Lock()
	defer s.prodMu.Unlock()
	if s.prodErr == nil && !s.closing {
		s.prodErr = err
		close(s.prodFail)
		s.ctl.mu.Lock()
		s.ctl.kick()
		s.ctl.mu.Unlock()
	}
}

func (s *Source) produceFailure() error {
	s.prodMu.Lock()
	defer s.prodMu.Unlock()
	return s.prodErr
}

// commitRecord tells a RecordCommitter about an acknowledged record.
func (s *Source) commitRecord(p *pending) {
	rc, ok := s.task.(connect.RecordCommitter)
	if !ok {
		return
	}
	var md *connect.RecordMetadata
	if !p.dropped {
		md = &connect.RecordMetadata{Topic: p.kr.Topic, Partition: p.kr.Partition, Offset: p.kr.Offset, Timestamp: p.kr.Timestamp}
	}
	if err := rc.CommitRecord(p.src, md); err != nil {
		s.log.Error("source task failed to commit record", "error", err)
	}
}

// commitOffsets stores the committable offsets and then calls the task's
// Commit. A failed write is retried at the next flush.
func (s *Source) commitOffsets(ctx context.Context) {
	s.sub.drain(s.commitRecord)
	var entries []storage.Entry
	var parts []*partTrack
	for _, pt := range s.sub.parts {
		if !pt.dirty {
			continue
		}
		if pt.partition == nil {
			pt.dirty = false // nothing to key the offset by
			continue
		}
		key, err := storage.OffsetKey(s.spec.ID.Connector, pt.partition)
		var value []byte
		if err == nil {
			value, err = storage.OffsetValue(pt.offset)
		}
		if err != nil {
			s.log.Error("cannot store source offset", "partition", pt.partition, "offset", pt.offset, "error", err)
			pt.dirty = false
			continue
		}
		entries = append(entries, storage.Entry{Key: key, Value: value})
		parts = append(parts, pt)
	}
	if len(entries) > 0 {
		fctx, cancel := context.WithTimeout(ctx, s.opts.FlushTimeout)
		err := s.opts.Offsets.Set(fctx, entries)
		cancel()
		if err != nil {
			s.log.Error("failed to flush source offsets, will retry at the next flush", "error", err)
		} else {
			for _, pt := range parts {
				pt.dirty = false
			}
			s.log.Debug("flushed source offsets", "partitions", len(entries))
		}
	}
	s.sub.forget()
	s.sub.shrink()
	if c, ok := s.task.(connect.SourceCommitter); ok {
		if err := c.Commit(ctx); err != nil {
			s.log.Error("source task commit failed", "error", err)
		}
	}
}

// finish waits (bounded by FlushTimeout) for outstanding records and
// stores the final offsets, unless the task was cancelled.
func (s *Source) finish(ctx context.Context) {
	if s.ctl.isCancelled() {
		return
	}
	timer := time.NewTimer(s.opts.FlushTimeout)
	defer timer.Stop()
wait:
	for len(s.inflight) > 0 && s.produceFailure() == nil {
		select {
		case <-s.acks:
		case <-timer.C:
			s.log.Warn("timed out waiting for outstanding records", "outstanding", len(s.inflight))
			break wait
		case <-ctx.Done():
			return
		}
	}
	if s.dlq != nil && !s.ctl.isCancelled() {
		fctx, cancel := context.WithTimeout(ctx, s.opts.FlushTimeout)
		if err := s.dlq.flush(fctx); err != nil {
			s.log.Warn("dead letter queue writes still outstanding at stop", "error", err)
		}
		cancel()
	}
	if !s.ctl.isCancelled() {
		s.commitOffsets(ctx)
	}
}

func (s *Source) closeClient() {
	s.prodMu.Lock()
	s.closing = true
	s.prodMu.Unlock()
	s.client.Close()
}

// sourceContext implements connect.SourceTaskContext.
type sourceContext struct {
	taskContext
	reader *offsetReader
}

func (c *sourceContext) Offsets() connect.OffsetReader { return c.reader }

// offsetReader reads a connector's stored offsets.
type offsetReader struct {
	connector string
	store     storage.OffsetStore
}

func (r *offsetReader) Offset(ctx context.Context, partition map[string]any) (map[string]any, error) {
	key, err := storage.OffsetKey(r.connector, partition)
	if err != nil {
		return nil, err
	}
	vals, err := r.store.Get(ctx, [][]byte{key})
	if err != nil {
		return nil, fmt.Errorf("read offset: %w", err)
	}
	v, ok := vals[string(key)]
	if !ok {
		return nil, nil
	}
	return storage.ParseOffsetValue(v)
}
