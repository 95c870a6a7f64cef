package task

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/memstore"
)

// stampedEvents records when each status transition arrived.
type stampedEvents struct {
	events
	mu sync.Mutex
	at map[string][]time.Time
}

func (e *stampedEvents) stamp(s string) {
	e.mu.Lock()
	if e.at == nil {
		e.at = make(map[string][]time.Time)
	}
	e.at[s] = append(e.at[s], time.Now())
	e.mu.Unlock()
}

func (e *stampedEvents) OnPause(id herder.TaskID)  { e.stamp("pause"); e.events.OnPause(id) }
func (e *stampedEvents) OnResume(id herder.TaskID) { e.stamp("resume"); e.events.OnResume(id) }

func (e *stampedEvents) last(s string) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.at[s][len(e.at[s])-1]
}

// percentile returns the p-th percentile (0..100) of ds, nearest rank.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

// An idle sink (no records, offset.flush.interval.ms at its 60 s default)
// applies pause and resume at once rather than at its next commit, and
// stops promptly. The latencies are logged; the bound only catches a
// regression to the commit tick, with a wide margin for a loaded machine.
func TestIdleSinkStateChangeLatency(t *testing.T) {
	ss := newSinkSetup(t)
	ev := &stampedEvents{}
	s, err := NewSink(baseSpec(t, ss.bootstrap, ss.conn, ev), newCollectingSink(), SinkOptions{GroupID: ss.group, Topics: []string{ss.topic}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(t.Context())
	ev.waitFor(t, "startup", 1)
	// Let the consumer join its group and settle into idle polls.
	waitAssigned(t, s)
	measureStateChanges(t, "sink", s, ev)
}

// The same for an idle source task (blocked in Poll, default flush).
func TestIdleSourceStateChangeLatency(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	testbed.CreateTopic(t, bootstrap, topic, 1)
	ev := &stampedEvents{}
	src, err := NewSource(baseSpec(t, bootstrap, testbed.UniqueName(t, "conn"), ev), newCountingSource(topic, 0), SourceOptions{Offsets: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	go src.Run(t.Context())
	ev.waitFor(t, "startup", 1)
	measureStateChanges(t, "source", src, ev)
}

func measureStateChanges(t *testing.T, kind string, r Runner, ev *stampedEvents) {
	const cycles = 50
	const bound = 5 * time.Second
	var pauses, resumes []time.Duration
	for i := range cycles {
		start := time.Now()
		r.SetPaused(true)
		ev.waitFor(t, "pause", i+1)
		pauses = append(pauses, ev.last("pause").Sub(start))
		start = time.Now()
		r.SetPaused(false)
		ev.waitFor(t, "resume", i+1)
		resumes = append(resumes, ev.last("resume").Sub(start))
	}
	start := time.Now()
	r.Stop()
	select {
	case <-r.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("idle %s did not stop in 30 s", kind)
	}
	stop := time.Since(start)
	t.Logf("idle %s over %d cycles: pause p50 %v p99 %v, resume p50 %v p99 %v; stop %v", kind,
		cycles, percentile(pauses, 50), percentile(pauses, 99), percentile(resumes, 50), percentile(resumes, 99), stop)
	if p := percentile(pauses, 99); p > bound {
		t.Errorf("pause p99 %v, want under %v", p, bound)
	}
	if p := percentile(resumes, 99); p > bound {
		t.Errorf("resume p99 %v, want under %v", p, bound)
	}
	if stop > bound {
		t.Errorf("stop took %v, want under %v", stop, bound)
	}
}

func waitAssigned(t *testing.T, s *Sink) {
	t.Helper()
	testbed.WaitFor(t, 30*time.Second, 10*time.Millisecond, func() (bool, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.assigned) > 0, "no partition assigned"
	})
	time.Sleep(500 * time.Millisecond)
}

// A pause asked for while a batch waits to be redelivered (Put returned a
// Retriable error) takes effect at once, not when Put accepts the batch:
// the task reports PAUSED and Put is not called again until the resume,
// after which the batch is delivered.
func TestSinkPauseWhileRedelivering(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0")
	ev := &stampedEvents{}
	task := newCollectingSink()
	task.failOn, task.retries = "v0", 1<<30
	task.retryTimeout = 10 * time.Millisecond
	s := ss.newSink(t, task, nil, func(sp *Spec) { sp.Listener = ev })
	runTask(t, s)
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		return task.puts.Load() >= 3, "Put not retried"
	})
	start := time.Now()
	s.SetPaused(true)
	ev.waitFor(t, "pause", 1)
	t.Logf("paused %v after the request, during redelivery", ev.last("pause").Sub(start))
	if d := ev.last("pause").Sub(start); d > 5*time.Second {
		t.Fatalf("pause took %v", d)
	}
	puts := task.puts.Load()
	time.Sleep(300 * time.Millisecond)
	if n := task.puts.Load(); n > puts+1 { // one Put may have been under way
		t.Fatalf("%d Puts while paused", n-puts)
	}
	task.mu.Lock()
	task.retries = 0 // the sink accepts the batch from now on
	task.mu.Unlock()
	s.SetPaused(false)
	ev.waitFor(t, "resume", 1)
	if got := task.waitValues(t, 1); got[0] != "v0" {
		t.Fatalf("got %v", got)
	}
}
