package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// broker wraps the admin client the harness uses to create topics and watch them.
type broker struct {
	addr string
	cl   *kgo.Client
	adm  *kadm.Client
}

func newBroker(addr string) (*broker, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return &broker{addr: addr, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (b *broker) close() { b.cl.Close() }

// createTopic makes a one-partition topic, as the test broker's default.
func (b *broker) createTopic(ctx context.Context, name string) error {
	return b.createTopicN(ctx, name, 1)
}

// createTopicN makes a topic of the given number of partitions.
func (b *broker) createTopicN(ctx context.Context, name string, partitions int32) error {
	resp, err := b.adm.CreateTopic(ctx, partitions, 1, nil, name)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	if resp.Err != nil {
		return fmt.Errorf("creating %s: %w", name, resp.Err)
	}
	return nil
}

func (b *broker) deleteTopics(ctx context.Context, names ...string) {
	_, _ = b.adm.DeleteTopics(ctx, names...)
}

// endOffset is the sum of the topic's partitions' end offsets: the number of records
// written to it, as long as nothing was deleted or compacted.
func (b *broker) endOffset(ctx context.Context, topic string) (int64, error) {
	offs, err := b.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	var ferr error
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			// A topic created by the worker on first use is unknown until then.
			if !errors.Is(o.Err, context.Canceled) {
				ferr = o.Err
			}
			return
		}
		n += o.Offset
	})
	if ferr != nil && n == 0 {
		return 0, nil
	}
	return n, nil
}

// recordAt reads the value of the record at offset off of partition 0.
func (b *broker) recordAt(ctx context.Context, topic string, off int64) ([]byte, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(off)}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollRecords(ctx, 1)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s@%d: %w", topic, off, err)
		}
		var val []byte
		found := false
		fs.EachRecord(func(r *kgo.Record) {
			if !found && r.Offset == off {
				val, found = r.Value, true
			}
		})
		if found {
			return val, nil
		}
	}
}

// produceAll writes values (value i = gen(i)) to topic with acks=all and returns the
// time from the first acknowledgement to the last, so that connecting and fetching
// metadata stay out of the rate: n-1 records were produced in that time.
// Extra options (TLS, SASL) are appended to the client's.
func produceAll(ctx context.Context, addr, topic string, n int, gen func(i int) []byte, extra ...kgo.Opt) (time.Duration, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(1 << 16),
		// Uncompressed, like a Connect worker's producer by default
		// (compression.type=none); kgo would pick snappy.
		kgo.ProducerBatchCompression(kgo.NoCompression())}, extra...)...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var (
		mu       sync.Mutex
		firstErr error
		firstAck time.Time
		wg       sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: gen(i)}, func(_ *kgo.Record, err error) {
			mu.Lock()
			if firstAck.IsZero() {
				firstAck = time.Now()
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	took := time.Since(firstAck)
	if firstErr != nil {
		return took, fmt.Errorf("producing to %s: %w", topic, firstErr)
	}
	return took, nil
}

// consumeAll reads n records of topic from the beginning. It returns the time from the
// first fetch that held records to the n-th record and how many records arrived in
// that time (n minus the first fetch), keeping connection set-up out of the rate.
func consumeAll(ctx context.Context, addr, topic string, n int) (time.Duration, int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	got, first := 0, 0
	var start time.Time
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("consuming %s: %d of %d records: %w", topic, got, n, err)
		}
		fs.EachError(func(_ string, _ int32, e error) { err = e })
		if err != nil {
			return 0, 0, fmt.Errorf("consuming %s: %w", topic, err)
		}
		k := fs.NumRecords()
		if start.IsZero() && k > 0 {
			start, first = time.Now(), k
		}
		got += k
	}
	return time.Since(start), n - first, nil
}
