package task

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// collectingSink keeps the values Put gave it. A batch holding the value
// failOn fails Put: retriably for the first retries attempts (then it is
// accepted), for good when retries is 0.
type collectingSink struct {
	mu           sync.Mutex
	got          []string
	flushed      map[connect.TopicPartition]int64
	opened       []connect.TopicPartition
	closed       []connect.TopicPartition
	failOn       string
	retries      int
	retried      bool
	seekTo       int64 // seek partition 0 there on Open when >= 0
	tc           connect.SinkTaskContext
	puts         atomic.Int64
	stopped      atomic.Bool
	retryTimeout time.Duration
	seekInPut    int64 // seek there during the first Put when >= 0
	seekAt       int   // how many values had arrived when it did
}

func newCollectingSink() *collectingSink { return &collectingSink{seekTo: -1, seekInPut: -1} }

func (s *collectingSink) Start(_ context.Context, tc connect.SinkTaskContext, _ map[string]string) error {
	s.tc = tc
	if s.retryTimeout > 0 {
		tc.SetRetryTimeout(s.retryTimeout)
	}
	return nil
}

func (s *collectingSink) Put(_ context.Context, recs []*connect.SinkRecord) error {
	s.puts.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		if s.failOn != "" && r.Value == s.failOn {
			if s.retries > 0 {
				s.retries--
				s.retried = true
				return connect.Retriable(errors.New("sink temporarily unavailable"))
			}
			if !s.retried {
				return errors.New("sink rejected " + s.failOn)
			}
		}
	}
	if s.seekInPut >= 0 && len(recs) > 0 {
		s.seekAt = len(s.got) + len(recs)
		s.tc.Seek(map[connect.TopicPartition]int64{{Topic: recs[0].Topic, Partition: 0}: s.seekInPut})
		s.seekInPut = -1
	}
	for _, r := range recs {
		if r.KafkaOffset != r.OriginalOffset || r.TimestampType != connect.CreateTime {
			return fmt.Errorf("bad record metadata %+v", r)
		}
		s.got = append(s.got, fmt.Sprint(r.Value))
	}
	return nil
}

func (s *collectingSink) Flush(_ context.Context, offsets map[connect.TopicPartition]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushed = offsets
	return nil
}

func (s *collectingSink) Open(_ context.Context, tps []connect.TopicPartition) error {
	s.mu.Lock()
	s.opened = append(s.opened, tps...)
	s.mu.Unlock()
	if s.seekTo >= 0 {
		s.tc.Seek(map[connect.TopicPartition]int64{tps[0]: s.seekTo})
	}
	return nil
}

func (s *collectingSink) Close(_ context.Context, tps []connect.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = append(s.closed, tps...)
	return nil
}

func (s *collectingSink) Stop() error { s.stopped.Store(true); return nil }

func (s *collectingSink) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func (s *collectingSink) waitValues(t *testing.T, n int) []string {
	t.Helper()
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		v := s.values()
		return len(v) >= n, fmt.Sprintf("sink has %d of %d records", len(v), n)
	})
	return s.values()
}

var (
	_ connect.Flusher          = (*collectingSink)(nil)
	_ connect.PartitionHandler = (*collectingSink)(nil)
)

func produceValues(t *testing.T, bootstrap, topic string, vals ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(v), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
	}
	testbed.Produce(t, bootstrap, topic, recs...)
}

func committedOffset(t *testing.T, bootstrap, group, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := testbed.Admin(t, bootstrap).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	o, ok := resp.Lookup(topic, 0)
	if !ok {
		return -1
	}
	return o.At
}

func waitCommitted(t *testing.T, bootstrap, group, topic string, want int64) {
	t.Helper()
	testbed.WaitFor(t, 30*time.Second, 10*time.Millisecond, func() (bool, string) {
		got := committedOffset(t, bootstrap, group, topic)
		return got == want, fmt.Sprintf("committed %d, want %d", got, want)
	})
}

type sinkSetup struct {
	bootstrap, topic, group, conn string
}

func newSinkSetup(t *testing.T) sinkSetup {
	bootstrap := testbed.Kafka(t)
	s := sinkSetup{bootstrap: bootstrap, topic: testbed.UniqueName(t, "sink"), group: testbed.UniqueName(t, "group"), conn: testbed.UniqueName(t, "conn")}
	testbed.CreateTopic(t, bootstrap, s.topic, 1)
	return s
}

func (ss sinkSetup) newSink(t *testing.T, task connect.SinkTask, ev *events, mod func(*Spec)) *Sink {
	t.Helper()
	spec := baseSpec(t, ss.bootstrap, ss.conn, ev)
	spec.KafkaOpts = append(spec.KafkaOpts, kgo.FetchMaxWait(100*time.Millisecond))
	if mod != nil {
		mod(&spec)
	}
	s, err := NewSink(spec, task, SinkOptions{GroupID: ss.group, Topics: []string{ss.topic}, CommitInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSinkConsumesCommitsAndResumes(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 100, nil)...)
	ev := &events{}
	task := newCollectingSink()
	sink := ss.newSink(t, task, ev, nil)
	runTask(t, sink)
	if got := strings.Join(task.waitValues(t, 100), ","); got != strings.Join(seq(0, 100, nil), ",") {
		t.Fatalf("got %s", got)
	}
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 100)
	produceValues(t, ss.bootstrap, ss.topic, seq(100, 120, nil)...)
	task.waitValues(t, 120)
	stopAndWait(t, sink)
	// The final commit covers everything delivered.
	if got := committedOffset(t, ss.bootstrap, ss.group, ss.topic); got != 120 {
		t.Fatalf("committed %d after stop", got)
	}
	if got := strings.Join(ev.snapshot(), ","); got != "startup,shutdown" {
		t.Fatalf("events %s", got)
	}
	tp := connect.TopicPartition{Topic: ss.topic, Partition: 0}
	if len(task.opened) != 1 || task.opened[0] != tp || len(task.closed) != 1 || !task.stopped.Load() || task.flushed[tp] != 120 {
		t.Fatalf("opened %v closed %v stopped %v flushed %v", task.opened, task.closed, task.stopped.Load(), task.flushed)
	}

	// A new instance in the same group starts after the committed offset.
	produceValues(t, ss.bootstrap, ss.topic, seq(120, 130, nil)...)
	task2 := newCollectingSink()
	sink2 := ss.newSink(t, task2, &events{}, nil)
	runTask(t, sink2)
	if got := strings.Join(task2.waitValues(t, 10), ","); got != strings.Join(seq(120, 130, nil), ",") {
		t.Fatalf("after restart got %s", got)
	}
}

func TestSinkPoisonRecordFailsTask(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 10, nil)...)
	ev := &events{}
	task := newCollectingSink()
	sink := ss.newSink(t, task, ev, nil)
	runTask(t, sink)
	task.waitValues(t, 10)
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 10)

	produceValues(t, ss.bootstrap, ss.topic, "v10", "poison", "v12")
	ev.waitFor(t, "failure", 1)
	<-sink.Done()
	err := ev.failure()
	if !strings.HasPrefix(err.Error(), "Tolerance exceeded in error handler: VALUE_CONVERTER failed for record at topic") ||
		!strings.Contains(err.Error(), "partition 0 offset 11") || !strings.Contains(err.Error(), "unexpected token") {
		t.Fatalf("failure: %v", err)
	}
	if got := committedOffset(t, ss.bootstrap, ss.group, ss.topic); got > 11 {
		t.Fatalf("committed %d: past the poison record", got)
	}
	if got := strings.Join(ev.snapshot(), ","); got != "startup,failure" {
		t.Fatalf("events %s", got)
	}
}

func TestSinkToleranceAllSkips(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0", "poison", "v2")
	ev := &events{}
	task := newCollectingSink()
	sink := ss.newSink(t, task, ev, func(s *Spec) { s.Errors = ErrorPolicy{Tolerance: ToleranceAll, LogErrors: true} })
	runTask(t, sink)
	if got := strings.Join(task.waitValues(t, 2), ","); got != "v0,v2" {
		t.Fatalf("got %s", got)
	}
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 3)
}

func TestSinkTransformsDrop(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0", "drop", "v2", "drop")
	task := newCollectingSink()
	sink := ss.newSink(t, task, &events{}, func(s *Spec) {
		s.Transforms = transformFunc(func(r *connect.Record) (*connect.Record, error) {
			if r.Value == "drop" {
				return nil, nil
			}
			out := *r
			out.Value = r.Value.(string) + "!"
			return &out, nil
		})
	})
	runTask(t, sink)
	if got := strings.Join(task.waitValues(t, 2), ","); got != "v0!,v2!" {
		t.Fatalf("got %s", got)
	}
	// The trailing dropped record still moves the committed offset.
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 4)
}

func TestSinkPutRetriableRedelivers(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0", "v1", "v2")
	task := newCollectingSink()
	task.failOn, task.retries = "v1", 3
	task.retryTimeout = 5 * time.Millisecond
	sink := ss.newSink(t, task, &events{}, nil)
	runTask(t, sink)
	// The same batch is redelivered until Put accepts it, exactly once.
	if got := strings.Join(task.waitValues(t, 3), ","); got != "v0,v1,v2" {
		t.Fatalf("got %s", got)
	}
	if task.puts.Load() < 4 {
		t.Fatalf("%d puts", task.puts.Load())
	}
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 3)
}

func TestSinkPutFailureFailsTask(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0", "v1")
	ev := &events{}
	task := newCollectingSink()
	sink := ss.newSink(t, task, ev, nil)
	runTask(t, sink)
	task.waitValues(t, 2)
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 2)
	task.mu.Lock()
	task.failOn = "boom"
	task.mu.Unlock()
	produceValues(t, ss.bootstrap, ss.topic, "v2", "boom")
	ev.waitFor(t, "failure", 1)
	<-sink.Done()
	if err := ev.failure(); !strings.HasPrefix(err.Error(), "Exiting WorkerSinkTask due to unrecoverable exception.") || !strings.Contains(err.Error(), "sink rejected boom") {
		t.Fatalf("failure %v", err)
	}
	if got := committedOffset(t, ss.bootstrap, ss.group, ss.topic); got != 2 {
		t.Fatalf("committed %d, want 2 (nothing of the failed batch)", got)
	}
}

func TestSinkPauseResumeAndSeek(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 10, nil)...)
	ev := &events{}
	task := newCollectingSink()
	task.seekTo = 5
	sink := ss.newSink(t, task, ev, func(s *Spec) { s.Paused = true })
	runTask(t, sink)
	ev.waitFor(t, "pause", 1)
	sink.SetPaused(false)
	ev.waitFor(t, "startup", 1)
	if got := strings.Join(task.waitValues(t, 5), ","); got != strings.Join(seq(5, 10, nil), ",") {
		t.Fatalf("after seek got %s", got)
	}
	sink.SetPaused(true)
	ev.waitFor(t, "pause", 2)
	produceValues(t, ss.bootstrap, ss.topic, "v10")
	sink.SetPaused(false)
	ev.waitFor(t, "resume", 1)
	if got := task.waitValues(t, 6); got[5] != "v10" {
		t.Fatalf("got %v", got)
	}
	stopAndWait(t, sink)
	if got := strings.Join(ev.snapshot(), ","); got != "pause,startup,pause,resume,shutdown" {
		t.Fatalf("events %s", got)
	}
}

func TestSinkTopicsRegex(t *testing.T) {
	ss := newSinkSetup(t)
	other := ss.topic + "-other"
	testbed.CreateTopic(t, ss.bootstrap, other, 1)
	produceValues(t, ss.bootstrap, ss.topic, "a")
	produceValues(t, ss.bootstrap, other, "b")
	task := newCollectingSink()
	spec := baseSpec(t, ss.bootstrap, ss.conn, &events{})
	// Full-match semantics: the pattern names only the first topic even
	// though it is a prefix of the second.
	sink, err := NewSink(spec, task, SinkOptions{GroupID: ss.group, TopicsRegex: strings.ReplaceAll(ss.topic, "-", "\\-"), CommitInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runTask(t, sink)
	task.waitValues(t, 1)
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 1)
	stopAndWait(t, sink)
	if got := strings.Join(task.values(), ","); got != "a" {
		t.Fatalf("got %s", got)
	}
}

func TestSinkSeekDuringPut(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 5, nil)...)
	task := newCollectingSink()
	task.seekInPut = 2
	sink := ss.newSink(t, task, &events{}, nil)
	runTask(t, sink)
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		v := task.values()
		task.mu.Lock()
		at := task.seekAt
		task.mu.Unlock()
		return len(v) >= at+3 && v[len(v)-1] == "v4", fmt.Sprintf("values %v", v)
	})
	v := task.values()
	if got := strings.Join(v[task.seekAt:], ","); got != "v2,v3,v4" {
		t.Fatalf("after the seek got %s (all %v)", got, v)
	}
}
