package task

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/memstore"
)

// benchSource emits total records of a fixed 100-byte value in batches of
// 1000, then blocks.
type benchSource struct {
	topic     string
	total     int
	sent      int
	value     []byte
	partition map[string]any
	committed atomic.Int64
}

func (s *benchSource) Start(context.Context, connect.SourceTaskContext, map[string]string) error {
	return nil
}

func (s *benchSource) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if s.sent >= s.total {
		<-ctx.Done()
		return nil, nil
	}
	n := min(1000, s.total-s.sent)
	recs := make([]connect.SourceRecord, n)
	out := make([]*connect.SourceRecord, n)
	for i := range recs {
		recs[i] = connect.SourceRecord{
			Record:          connect.Record{Topic: s.topic, Partition: -1, Value: s.value},
			SourcePartition: s.partition,
			SourceOffset:    map[string]any{"pos": s.sent + i},
		}
		out[i] = &recs[i]
	}
	s.sent += n
	return out, nil
}

func (s *benchSource) CommitRecord(*connect.SourceRecord, *connect.RecordMetadata) error {
	s.committed.Add(1)
	return nil
}

func (s *benchSource) Stop() error { return nil }

// BenchmarkSourceLoop measures the whole source path per record: poll,
// convert, produce to the broker (kfake unless FERRY_TEST_KAFKA is set),
// acknowledgement tracking and offset commit.
func BenchmarkSourceLoop(b *testing.B) {
	bootstrap := testbed.Kafka(b)
	topic := testbed.UniqueName(b, "bench")
	testbed.CreateTopic(b, bootstrap, topic, 3)
	const total = 100_000
	b.ReportAllocs()
	for b.Loop() {
		task := &benchSource{topic: topic, total: total, value: make([]byte, 100), partition: map[string]any{"file": "bench"}}
		spec := Spec{
			ID:              herder.TaskID{Connector: "bench", Task: 0},
			KeyConverter:    stringConverter{},
			ValueConverter:  stringConverter{},
			HeaderConverter: stringHeaderConverter{},
			KafkaOpts:       []kgo.Opt{kgo.SeedBrokers(bootstrap)},
		}
		src, err := NewSource(spec, task, SourceOptions{Offsets: memstore.New(), FlushInterval: 5 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		go src.Run(context.Background())
		for task.committed.Load() < total {
			time.Sleep(time.Millisecond)
		}
		src.Stop()
		<-src.Done()
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSubmittedRecords measures tracking one record: submit, ack,
// drain.
func BenchmarkSubmittedRecords(b *testing.B) {
	sub := newSubmitted(func(*pending) func(*kgo.Record, error) { return nil })
	part := map[string]any{"filename": "/tmp/in.txt"}
	rec := &connect.SourceRecord{SourcePartition: part, SourceOffset: map[string]any{"position": 1}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p, err := sub.submit(rec)
		if err != nil {
			b.Fatal(err)
		}
		p.acked.Store(true)
		if i++; i%100 == 0 {
			sub.drain(nil)
		}
	}
}

// countingSink counts the records Put hands it.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) Start(context.Context, connect.SinkTaskContext, map[string]string) error {
	return nil
}
func (s *countingSink) Put(_ context.Context, recs []*connect.SinkRecord) error {
	s.n.Add(int64(len(recs)))
	return nil
}
func (s *countingSink) Stop() error { return nil }

// BenchmarkSinkLoop measures the whole sink path per record: fetch from
// the broker (kfake unless FERRY_TEST_KAFKA is set), convert, Put, and
// offset commits, for 100,000 records of 100 bytes in 3 partitions.
func BenchmarkSinkLoop(b *testing.B) {
	bootstrap := testbed.Kafka(b)
	topic := testbed.UniqueName(b, "bench")
	testbed.CreateTopic(b, bootstrap, topic, 3)
	const total = 100_000
	recs := make([]*kgo.Record, total)
	value := make([]byte, 100)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: value}
	}
	testbed.Produce(b, bootstrap, topic, recs...)
	b.ReportAllocs()
	for b.Loop() {
		task := &countingSink{}
		spec := Spec{
			ID:              herder.TaskID{Connector: "bench", Task: 0},
			KeyConverter:    stringConverter{},
			ValueConverter:  stringConverter{},
			HeaderConverter: stringHeaderConverter{},
			KafkaOpts:       []kgo.Opt{kgo.SeedBrokers(bootstrap)},
		}
		group := testbed.UniqueName(b, "group")
		sink, err := NewSink(spec, task, SinkOptions{GroupID: group, Topics: []string{topic}, CommitInterval: 50 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		go sink.Run(context.Background())
		for task.n.Load() < total {
			time.Sleep(time.Millisecond)
		}
		sink.Stop()
		<-sink.Done()
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "records/s")
}
