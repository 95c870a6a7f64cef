package task

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/storage"
	"github.com/ferryhq/ferry/storage/memstore"
)

// countingSource emits values "v<i>" for i from the stored offset up to
// limit (forever when limit < 0), batch records per Poll, with source
// partition {"p":"x"} and offset {"pos":i}. Once done it blocks in Poll
// until its context ends.
type countingSource struct {
	topic string
	limit int
	batch int
	// poison makes record i carry the value "poison".
	poison int

	next      int
	polls     atomic.Int64
	started   atomic.Bool
	stopped   atomic.Bool
	commits   atomic.Int64
	committed atomic.Int64 // CommitRecord calls
	mdNil     atomic.Int64 // ... of which with nil metadata
	mu        sync.Mutex
	startPos  int
	partition int32
}

func newCountingSource(topic string, limit int) *countingSource {
	return &countingSource{topic: topic, limit: limit, batch: 10, poison: -1, partition: -1}
}

func (s *countingSource) Start(ctx context.Context, tc connect.SourceTaskContext, _ map[string]string) error {
	off, err := tc.Offsets().Offset(ctx, map[string]any{"p": "x"})
	if err != nil {
		return err
	}
	if off != nil {
		s.next = int(off["pos"].(int64)) + 1
	}
	s.mu.Lock()
	s.startPos = s.next
	s.mu.Unlock()
	s.started.Store(true)
	return nil
}

func (s *countingSource) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	s.polls.Add(1)
	if s.limit >= 0 && s.next >= s.limit {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var out []*connect.SourceRecord
	for i := 0; i < s.batch && (s.limit < 0 || s.next < s.limit); i++ {
		v := fmt.Sprintf("v%d", s.next)
		if s.next == s.poison {
			v = "poison"
		}
		out = append(out, &connect.SourceRecord{
			Record:          connect.Record{Topic: s.topic, Partition: s.partition, Key: fmt.Sprintf("k%d", s.next), Value: v},
			SourcePartition: map[string]any{"p": "x"},
			SourceOffset:    map[string]any{"pos": s.next},
		})
		s.next++
	}
	return out, nil
}

func (s *countingSource) Stop() error { s.stopped.Store(true); return nil }

func (s *countingSource) Commit(context.Context) error { s.commits.Add(1); return nil }

func (s *countingSource) CommitRecord(_ *connect.SourceRecord, md *connect.RecordMetadata) error {
	s.committed.Add(1)
	if md == nil {
		s.mdNil.Add(1)
	}
	return nil
}

var (
	_ connect.SourceCommitter = (*countingSource)(nil)
	_ connect.RecordCommitter = (*countingSource)(nil)
)

func storedPos(t *testing.T, store storage.OffsetStore, connector string) int {
	t.Helper()
	key, _ := storage.OffsetKey(connector, map[string]any{"p": "x"})
	vals, err := store.Get(context.Background(), [][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := vals[string(key)]
	if !ok {
		return -1
	}
	off, err := storage.ParseOffsetValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return int(off["pos"].(int64))
}

func waitStoredPos(t *testing.T, store storage.OffsetStore, connector string, want int) {
	t.Helper()
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		got := storedPos(t, store, connector)
		return got == want, fmt.Sprintf("stored pos %d, want %d", got, want)
	})
}

func values(t *testing.T, bootstrap, topic string, n int) []string {
	t.Helper()
	recs := testbed.ConsumeN(t, bootstrap, topic, n, 30*time.Second)
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

func seq(from, to int, skip func(int) bool) []string {
	var out []string
	for i := from; i < to; i++ {
		if skip == nil || !skip(i) {
			out = append(out, fmt.Sprintf("v%d", i))
		}
	}
	return out
}

func TestSourceProducesInOrderAndResumes(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	testbed.CreateTopic(t, bootstrap, topic, 1)
	conn := testbed.UniqueName(t, "conn")
	store := memstore.New()

	ev := &events{}
	task := newCountingSource(topic, 100)
	src, err := NewSource(baseSpec(t, bootstrap, conn, ev), task, SourceOptions{Offsets: store, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runTask(t, src)
	ev.waitFor(t, "startup", 1)
	if got, want := strings.Join(values(t, bootstrap, topic, 100), ","), strings.Join(seq(0, 100, nil), ","); got != want {
		t.Fatalf("topic holds %s\nwant %s", got, want)
	}
	// The periodic flush stores the last acknowledged offset.
	waitStoredPos(t, store, conn, 99)
	stopAndWait(t, src)
	if got := ev.snapshot(); strings.Join(got, ",") != "startup,shutdown" {
		t.Fatalf("events %v", got)
	}
	if !task.stopped.Load() || task.commits.Load() == 0 || task.committed.Load() != 100 || task.mdNil.Load() != 0 {
		t.Fatalf("stopped=%v commits=%d commitRecord=%d nil-md=%d", task.stopped.Load(), task.commits.Load(), task.committed.Load(), task.mdNil.Load())
	}

	// A new instance resumes after the stored offset.
	task2 := newCountingSource(topic, 150)
	src2, _ := NewSource(baseSpec(t, bootstrap, conn, &events{}), task2, SourceOptions{Offsets: store, FlushInterval: time.Hour})
	runTask(t, src2)
	got := values(t, bootstrap, topic, 150)
	if task2.startPos != 100 {
		t.Fatalf("restarted at %d", task2.startPos)
	}
	if strings.Join(got[100:], ",") != strings.Join(seq(100, 150, nil), ",") {
		t.Fatalf("after restart: %v", got[100:])
	}
	// The final commit at stop stores the offset (the interval is an hour).
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		return len(src2.inflight) == 0 && task2.polls.Load() > 5, "waiting for acks"
	})
	stopAndWait(t, src2)
	if got := storedPos(t, store, conn); got != 149 {
		t.Fatalf("final commit stored %d", got)
	}
}

func TestSourceTransformDrop(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	conn := testbed.UniqueName(t, "conn")
	store := memstore.New()
	ev := &events{}
	spec := baseSpec(t, bootstrap, conn, ev)
	spec.Transforms = transformFunc(func(r *connect.Record) (*connect.Record, error) {
		var i int
		fmt.Sscanf(r.Value.(string), "v%d", &i)
		if i%2 == 0 || i == 99 {
			return nil, nil
		}
		out := *r
		out.Value = r.Value.(string) + "!"
		return &out, nil
	})
	task := newCountingSource(topic, 100)
	src, _ := NewSource(spec, task, SourceOptions{Offsets: store, FlushInterval: 10 * time.Millisecond})
	runTask(t, src)
	got := values(t, bootstrap, topic, 49)
	for i, v := range got {
		if want := fmt.Sprintf("v%d!", 2*i+1); v != want {
			t.Fatalf("record %d is %q, want %q", i, v, want)
		}
	}
	// The last record was dropped; its offset still counts.
	waitStoredPos(t, store, conn, 99)
	stopAndWait(t, src)
	if task.mdNil.Load() != 51 {
		t.Fatalf("CommitRecord with nil metadata %d times, want 51", task.mdNil.Load())
	}
}

func TestSourceConversionFailureFailsTask(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	conn := testbed.UniqueName(t, "conn")
	store := memstore.New()
	ev := &events{}
	task := newCountingSource(topic, 100)
	task.poison = 55
	src, _ := NewSource(baseSpec(t, bootstrap, conn, ev), task, SourceOptions{Offsets: store, FlushInterval: time.Hour})
	runTask(t, src)
	ev.waitFor(t, "failure", 1)
	<-src.Done()
	err := ev.failure()
	if !strings.HasPrefix(err.Error(), "Tolerance exceeded in error handler: VALUE_CONVERTER") || !strings.Contains(err.Error(), "cannot convert poison") {
		t.Fatalf("failure: %v", err)
	}
	if got := ev.snapshot(); strings.Join(got, ",") != "startup,failure" {
		t.Fatalf("events %v", got)
	}
	// Only the acknowledged prefix before the bad record is stored.
	if pos := storedPos(t, store, conn); pos > 54 {
		t.Fatalf("stored offset %d reaches the failed record", pos)
	}
	if got := values(t, bootstrap, topic, 50); got[49] != "v49" {
		t.Fatalf("got %v", got)
	}
}

func TestSourceToleranceAllSkips(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	conn := testbed.UniqueName(t, "conn")
	store := memstore.New()
	ev := &events{}
	spec := baseSpec(t, bootstrap, conn, ev)
	spec.Errors = ErrorPolicy{Tolerance: ToleranceAll, LogErrors: true, LogMessages: true}
	task := newCountingSource(topic, 100)
	task.poison = 55
	src, _ := NewSource(spec, task, SourceOptions{Offsets: store, FlushInterval: 10 * time.Millisecond})
	runTask(t, src)
	got := values(t, bootstrap, topic, 99)
	if want := strings.Join(seq(0, 100, func(i int) bool { return i == 55 }), ","); strings.Join(got, ",") != want {
		t.Fatalf("got %v", got)
	}
	waitStoredPos(t, store, conn, 99)
	stopAndWait(t, src)
	if ev.failure() != nil {
		t.Fatal(ev.failure())
	}
}

func TestSourceProduceFailureFailsTask(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	testbed.CreateTopic(t, bootstrap, topic, 1)
	conn := testbed.UniqueName(t, "conn")
	ev := &events{}
	task := newCountingSource(topic, 10)
	task.partition = 7 // the topic has one partition
	src, _ := NewSource(baseSpec(t, bootstrap, conn, ev), task, SourceOptions{Offsets: memstore.New()})
	runTask(t, src)
	ev.waitFor(t, "failure", 1)
	if err := ev.failure(); !strings.Contains(err.Error(), "KAFKA_PRODUCE") {
		t.Fatalf("failure: %v", err)
	}
}

func TestSourcePauseResume(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	conn := testbed.UniqueName(t, "conn")
	ev := &events{}
	task := newCountingSource(topic, -1)
	spec := baseSpec(t, bootstrap, conn, ev)
	spec.Paused = true
	src, _ := NewSource(spec, task, SourceOptions{Offsets: memstore.New()})
	runTask(t, src)
	ev.waitFor(t, "pause", 1)
	if task.started.Load() {
		t.Fatal("task started while initially paused")
	}
	src.SetPaused(false)
	src.SetPaused(false) // idempotent
	ev.waitFor(t, "startup", 1)
	values(t, bootstrap, topic, 20)

	src.SetPaused(true)
	ev.waitFor(t, "pause", 2)
	polls := task.polls.Load()
	src.SetPaused(false)
	ev.waitFor(t, "resume", 1)
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		return task.polls.Load() > polls, "no polls after resume"
	})
	stopAndWait(t, src)
	if got := strings.Join(ev.snapshot(), ","); got != "pause,startup,pause,resume,shutdown" {
		t.Fatalf("events %s", got)
	}
}

func TestSourceStopWhileBlockedAndBeforeStart(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	conn := testbed.UniqueName(t, "conn")

	// Poll blocks until its context ends: Stop must interrupt it.
	ev := &events{}
	task := newCountingSource(topic, 0)
	src, _ := NewSource(baseSpec(t, bootstrap, conn, ev), task, SourceOptions{Offsets: memstore.New()})
	go src.Run(context.Background())
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) { return task.polls.Load() > 0, "no poll" })
	stopAndWait(t, src)
	if got := strings.Join(ev.snapshot(), ","); got != "startup,shutdown" || !task.stopped.Load() {
		t.Fatalf("events %s, stopped %v", got, task.stopped.Load())
	}

	// Stopped while waiting to be resumed: never started.
	ev2 := &events{}
	spec := baseSpec(t, bootstrap, conn, ev2)
	spec.Paused = true
	task2 := newCountingSource(topic, 0)
	src2, _ := NewSource(spec, task2, SourceOptions{Offsets: memstore.New()})
	go src2.Run(context.Background())
	ev2.waitFor(t, "pause", 1)
	stopAndWait(t, src2)
	if got := strings.Join(ev2.snapshot(), ","); got != "pause,shutdown" || task2.started.Load() {
		t.Fatalf("events %s", got)
	}

	// Cancelled: no status after the cancel.
	ev3 := &events{}
	task3 := newCountingSource(topic, 0)
	src3, _ := NewSource(baseSpec(t, bootstrap, conn, ev3), task3, SourceOptions{Offsets: memstore.New()})
	go src3.Run(context.Background())
	ev3.waitFor(t, "startup", 1)
	src3.Cancel()
	<-src3.Done()
	if got := strings.Join(ev3.snapshot(), ","); got != "startup" {
		t.Fatalf("events after cancel %s", got)
	}
}

// flakySource fails its first polls with a retriable error.
type flakySource struct {
	*countingSource
	failures atomic.Int64
}

func (s *flakySource) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if s.failures.Add(-1) >= 0 {
		return nil, connect.Retriable(fmt.Errorf("source not reachable"))
	}
	return s.countingSource.Poll(ctx)
}

func TestSourceRetriablePollBacksOffAndRecovers(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	testbed.CreateTopic(t, bootstrap, topic, 1)
	conn := testbed.UniqueName(t, "conn")
	ev := &events{}
	task := &flakySource{countingSource: newCountingSource(topic, 20)}
	task.failures.Store(3) // waits of 100, 200 and 400 ms
	src, err := NewSource(baseSpec(t, bootstrap, conn, ev), task, SourceOptions{Offsets: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	runTask(t, src)
	if got, want := strings.Join(values(t, bootstrap, topic, 20), ","), strings.Join(seq(0, 20, nil), ","); got != want {
		t.Fatalf("topic holds %s\nwant %s", got, want)
	}
	stopAndWait(t, src)
	if got := ev.snapshot(); strings.Join(got, ",") != "startup,shutdown" {
		t.Fatalf("events %v: a retriable poll error must not fail the task", got)
	}
}
