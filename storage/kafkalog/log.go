// Package kafkalog is Ferry's counterpart of Apache Kafka Connect's
// KafkaBasedLog: a compacted topic that is read from the beginning of every
// partition without a consumer group, tailed for as long as the log runs,
// and written with Java's default key partitioning.
//
// The distributed worker keeps its config, offsets and status topics in such
// logs (spec §2.4, §4). One goroutine owned by the Log consumes the topic and
// hands every record, in offset order per partition, to a callback; the
// stores built on top keep their in-memory view from those callbacks.
package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/backoff"
	"github.com/ferryhq/ferry/internal/kafkaclient"
)

// Config configures a Log.
type Config struct {
	// Topic is the compacted topic the log lives in.
	Topic string
	// Brokers are the seed brokers (bootstrap.servers).
	Brokers []string
	// ClientID is the Kafka client id (Apache: "<group.id>-configs" etc.).
	ClientID string
	// ClientOpts are extra franz-go options (TLS, SASL, timeouts) applied
	// after the log's own; they must not change partitioning or consuming.
	ClientOpts []kgo.Opt
	// Metrics, if set, receives the metrics of the log's client.
	Metrics *kafkaclient.Metrics
	// Ensure, when set, makes Start create the topic if it is missing and
	// verify it otherwise (see EnsureTopic). Its Name defaults to Topic.
	Ensure *TopicSpec
	// Consume is called for every data record, from the log's goroutine, in
	// offset order per partition. It must not call ReadToEnd or WaitFor
	// (they wait for the very goroutine that runs the callback).
	Consume func(*kgo.Record)
	// Logger receives consume errors; nil means slog.Default().
	Logger *slog.Logger
}

// Message is one record to produce. A nil Value is a tombstone.
type Message struct {
	Key, Value []byte
}

// DeliveryTimeout bounds how long a written record is retried.
const DeliveryTimeout = 2 * time.Minute

// Log is a running compacted-topic log. Create it with New, then Start it.
type Log struct {
	cfg Config
	log *slog.Logger

	client  *kgo.Client
	abandon context.CancelFunc // cancels the client's context
	admin   *kadm.Client
	cancel  context.CancelFunc
	done    chan struct{}

	mu sync.Mutex
	// pos is the next offset to consume per partition (last consumed + 1).
	pos map[int32]int64
	// progress is closed and replaced whenever pos advances or the loop
	// stops, waking ReadToEnd and WaitFor callers.
	progress chan struct{}
	stopped  bool
}

// New checks the configuration and returns a log that is not started.
func New(cfg Config) (*Log, error) {
	if cfg.Topic == "" {
		return nil, errors.New("kafkalog: no topic")
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafkalog: no brokers")
	}
	if cfg.Consume == nil {
		cfg.Consume = func(*kgo.Record) {}
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Log{cfg: cfg, log: lg.With("topic", cfg.Topic), pos: map[int32]int64{}, progress: make(chan struct{})}, nil
}

// Topic returns the log's topic.
func (l *Log) Topic() string { return l.cfg.Topic }

// Start connects, creates or verifies the topic when configured to, starts
// the consuming goroutine and reads to the end of the topic, so the
// callback has seen every record that existed when Start was called. On
// error nothing is left running.
func (l *Log) Start(ctx context.Context) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(l.cfg.Brokers...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.KafkaHasher(Murmur2))),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Transaction markers (a transactional Java leader writes the config
		// topic) advance the end offset; seeing them lets ReadToEnd reach it.
		kgo.KeepControlRecords(),
		// An idle fetch returns at once when data arrives; the short wait
		// only bounds how late newly discovered partitions join.
		kgo.FetchMaxWait(500 * time.Millisecond),
		// Apache's producer default (delivery.timeout.ms): a write the
		// cluster does not take within it fails instead of being retried
		// for as long as the worker runs.
		kgo.RecordDeliveryTimeout(DeliveryTimeout),
	}
	if l.cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(l.cfg.ClientID))
	}
	opts = append(opts, l.cfg.ClientOpts...)
	opts = append(opts, l.cfg.Metrics.Opt())
	// Stop cancels the client's context before closing it: Close would
	// otherwise wait for requests in flight to a broker that stopped
	// answering.
	clientCtx, abandon := context.WithCancel(context.Background())
	opts = append(opts, kgo.WithContext(clientCtx))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		abandon()
		return fmt.Errorf("kafkalog %s: new client: %w", l.cfg.Topic, err)
	}
	l.client, l.abandon = cl, abandon
	l.admin = kadm.NewClient(cl)
	// A TLS, SASL or ACL problem stops the worker's start at once with a
	// clear error, rather than after the admin requests' retries.
	if err := kafkaclient.Probe(ctx, cl); err != nil {
		cl.Close()
		return fmt.Errorf("kafkalog %s: %w", l.cfg.Topic, err)
	}
	if l.cfg.Ensure != nil {
		spec := *l.cfg.Ensure
		if spec.Name == "" {
			spec.Name = l.cfg.Topic
		}
		if err := EnsureTopic(ctx, l.admin, spec, l.cfg.Logger); err != nil {
			abandon()
			cl.Close()
			l.client = nil
			return err
		}
	}
	// Consuming starts only now so that a missing topic is created by
	// EnsureTopic with the right settings, never implicitly.
	cl.AddConsumeTopics(l.cfg.Topic)
	loopCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.run(loopCtx)
	if err := l.ReadToEnd(ctx); err != nil {
		l.Stop()
		return fmt.Errorf("kafkalog %s: initial read: %w", l.cfg.Topic, err)
	}
	return nil
}

// Stop ends the consuming goroutine, waits for it and closes the client.
// It is safe to call more than once and on a log whose Start failed.
func (l *Log) Stop() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
		l.cancel = nil
	}
	if l.client != nil {
		l.abandon()
		l.client.Close()
		l.client = nil
	}
}

func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	defer func() {
		l.mu.Lock()
		l.stopped = true
		close(l.progress)
		l.progress = make(chan struct{})
		l.mu.Unlock()
	}()
	for {
		fetches := l.client.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				l.log.Warn("reading internal topic failed; retrying", "partition", p, "error", err)
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			for _, r := range fp.Records {
				if r.Attrs.IsControl() {
					continue
				}
				l.cfg.Consume(r)
			}
			next := fp.Records[len(fp.Records)-1].Offset + 1
			l.mu.Lock()
			if next > l.pos[fp.Partition] {
				l.pos[fp.Partition] = next
			}
			close(l.progress)
			l.progress = make(chan struct{})
			l.mu.Unlock()
		})
	}
}

// ReadToEnd fetches the end offset of every partition and waits until the
// log has consumed up to them, so every record acknowledged before the
// call has been passed to the callback when it returns.
func (l *Log) ReadToEnd(ctx context.Context) error {
	if l.admin == nil {
		return errors.New("kafkalog: not started")
	}
	ends, err := l.endOffsets(ctx)
	if err != nil {
		return err
	}
	target := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			target[o.Partition] = o.Offset
		}
	})
	if len(target) > 0 {
		// A partition whose records were all deleted (log start = end) has
		// nothing to consume.
		starts, err := l.admin.ListStartOffsets(ctx, l.cfg.Topic)
		if err == nil {
			starts.Each(func(o kadm.ListedOffset) {
				if o.Err == nil && o.Offset >= target[o.Partition] {
					delete(target, o.Partition)
				}
			})
		}
	}
	return l.waitFor(ctx, target)
}

// endOffsets lists the end offsets, retrying while the topic's metadata
// is still spreading after its creation or a leader moves.
func (l *Log) endOffsets(ctx context.Context) (kadm.ListedOffsets, error) {
	for {
		ends, err := l.admin.ListEndOffsets(ctx, l.cfg.Topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			return ends, nil
		}
		if !kerr.IsRetriable(err) {
			return nil, fmt.Errorf("list end offsets of %s: %w", l.cfg.Topic, err)
		}
		if !backoff.Sleep(ctx, 100*time.Millisecond) {
			return nil, fmt.Errorf("list end offsets of %s: %w (last error: %w)", l.cfg.Topic, ctx.Err(), err)
		}
	}
}

// WaitFor waits until the log has consumed the record at offset in
// partition (so a write acknowledged there is visible to the callback).
func (l *Log) WaitFor(ctx context.Context, partition int32, offset int64) error {
	return l.waitFor(ctx, map[int32]int64{partition: offset + 1})
}

func (l *Log) waitFor(ctx context.Context, target map[int32]int64) error {
	for {
		l.mu.Lock()
		ch, stopped := l.progress, l.stopped
		reached := true
		for p, end := range target {
			if l.pos[p] < end {
				reached = false
				break
			}
		}
		l.mu.Unlock()
		if reached {
			return nil
		}
		if stopped {
			return errors.New("kafkalog: log stopped")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("read to end of %s: %w", l.cfg.Topic, ctx.Err())
		}
	}
}

// Positions returns the next offset to consume per partition.
func (l *Log) Positions() map[int32]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int32]int64, len(l.pos))
	for p, o := range l.pos {
		out[p] = o
	}
	return out
}

// Send produces one record and waits for its acknowledgement (acks=all).
// The returned record carries the partition and offset it was written at.
func (l *Log) Send(ctx context.Context, key, value []byte) (*kgo.Record, error) {
	rs, err := l.SendBatch(ctx, []Message{{Key: key, Value: value}})
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// SendBatch produces the messages in order and waits until all are
// acknowledged. Messages to one partition keep their order. It returns
// the produced records (with partitions and offsets) or the first error.
func (l *Log) SendBatch(ctx context.Context, msgs []Message) ([]*kgo.Record, error) {
	if l.client == nil {
		return nil, errors.New("kafkalog: not started")
	}
	rs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		rs[i] = &kgo.Record{Topic: l.cfg.Topic, Key: m.Key, Value: m.Value}
	}
	// ProduceSync would not return on ctx: an idempotent producer cannot
	// drop a batch it has sent once, so it keeps retrying it while the
	// cluster is away. The wait ends with ctx instead; the records then
	// stay in the client until delivered, timed out, or the log stops.
	results := make(chan error, len(rs))
	for _, r := range rs {
		l.client.Produce(ctx, r, func(_ *kgo.Record, err error) { results <- err })
	}
	var first error
	for range rs {
		select {
		case err := <-results:
			if err != nil && first == nil {
				first = err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("write to %s: %w (the write may still complete)", l.cfg.Topic, ctx.Err())
		}
	}
	if first != nil {
		return nil, fmt.Errorf("write to %s: %w", l.cfg.Topic, first)
	}
	return rs, nil
}

// Murmur2 is the 32-bit murmur2 hash Java's Kafka producer applies to a
// record key (org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c).
// The partition of a keyed record is (Murmur2(key) & 0x7fffffff) % n.
func Murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	i := 0
	for ; n-i >= 4; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch n - i {
	case 3:
		h ^= uint32(data[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[i])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Partition returns the partition Java's default partitioner picks for key
// among n partitions.
func Partition(key []byte, n int) int {
	return int(Murmur2(key)&0x7fffffff) % n
}
