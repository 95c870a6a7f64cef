package connrun

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/runtime/herder"
)

// events records the listener calls.
type events struct {
	mu     sync.Mutex
	states []herder.State
	errs   []error
	change chan struct{}
}

func newEvents() *events { return &events{change: make(chan struct{}, 100)} }

func (e *events) add(s herder.State, err error) {
	e.mu.Lock()
	e.states = append(e.states, s)
	e.errs = append(e.errs, err)
	e.mu.Unlock()
	e.change <- struct{}{}
}

func (e *events) OnStartup(string)              { e.add(herder.StateRunning, nil) }
func (e *events) OnPause(string)                { e.add(herder.StatePaused, nil) }
func (e *events) OnStop(string)                 { e.add(herder.StateStopped, nil) }
func (e *events) OnFailure(_ string, err error) { e.add(herder.StateFailed, err) }

func (e *events) last() (herder.State, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.states) == 0 {
		return "", nil
	}
	return e.states[len(e.states)-1], e.errs[len(e.errs)-1]
}

// wait waits up to 10 s for the last state to be want.
func (e *events) wait(t *testing.T, want herder.State) error {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if s, err := e.last(); s == want {
			return err
		}
		select {
		case <-e.change:
		case <-deadline:
			s, _ := e.last()
			t.Fatalf("state %q, want %s", s, want)
		}
	}
}

// monitorConnector mimics the JDBC source's table monitor: a goroutine
// that Stop waits for, and that raises an error.
type monitorConnector struct {
	raise  chan error
	cancel context.CancelFunc
	done   chan struct{}
	closed chan struct{} // closed by Stop: the resource is released
}

func (c *monitorConnector) Start(_ context.Context, cc connect.ConnectorContext, _ map[string]string) error {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		select {
		case err := <-c.raise:
			cc.RaiseError(err)
		case <-ctx.Done():
		}
	}()
	return nil
}
func (c *monitorConnector) TaskConfigs(int) ([]map[string]string, error) { return nil, nil }
func (c *monitorConnector) Stop() error {
	c.cancel()
	<-c.done
	close(c.closed)
	return nil
}

func start(t *testing.T, o Options) *Runner {
	t.Helper()
	r := New(o)
	go r.Run()
	t.Cleanup(func() {
		if !r.StopWait(5 * time.Second) {
			t.Error("runner did not stop")
		}
	})
	return r
}

// TestRaiseErrorFromGoroutineStopWaitsFor: defect 3. RaiseError from a
// goroutine that the connector's Stop waits for must not deadlock: the
// connector ends FAILED with the error and its resources released.
func TestRaiseErrorFromGoroutineStopWaitsFor(t *testing.T) {
	ev := newEvents()
	c := &monitorConnector{raise: make(chan error), closed: make(chan struct{})}
	start(t, Options{Name: "c", New: func() connect.Connector { return c }, Target: herder.TargetStarted, Listener: ev})
	ev.wait(t, herder.StateRunning)
	c.raise <- errors.New("two tables share a name")
	if err := ev.wait(t, herder.StateFailed); err == nil || err.Error() != "two tables share a name" {
		t.Fatalf("failure %v", err)
	}
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the failed connector was never stopped")
	}
}

// raiseInStart raises an error during Start and then returns nil.
type raiseInStart struct{ stopped chan struct{} }

func (c *raiseInStart) Start(_ context.Context, cc connect.ConnectorContext, _ map[string]string) error {
	cc.RaiseError(errors.New("raised during start"))
	return nil
}
func (c *raiseInStart) TaskConfigs(int) ([]map[string]string, error) { return nil, nil }
func (c *raiseInStart) Stop() error                                  { close(c.stopped); return nil }

// TestRaiseErrorDuringStart: an error raised during Start fails the
// connector even though Start returned nil; RUNNING is never reported.
func TestRaiseErrorDuringStart(t *testing.T) {
	ev := newEvents()
	c := &raiseInStart{stopped: make(chan struct{})}
	start(t, Options{Name: "c", New: func() connect.Connector { return c }, Target: herder.TargetStarted, Listener: ev})
	if err := ev.wait(t, herder.StateFailed); err == nil || err.Error() != "raised during start" {
		t.Fatalf("failure %v", err)
	}
	<-c.stopped
	time.Sleep(50 * time.Millisecond)
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, s := range ev.states {
		if s == herder.StateRunning {
			t.Fatalf("states %v: RUNNING reported", ev.states)
		}
	}
}

// slowConnector blocks in Start until released or its context ends.
type slowConnector struct {
	release chan struct{}
	entered chan struct{}
}

func (c *slowConnector) Start(ctx context.Context, _ connect.ConnectorContext, _ map[string]string) error {
	close(c.entered)
	select {
	case <-c.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (c *slowConnector) TaskConfigs(n int) ([]map[string]string, error) {
	return []map[string]string{{"n": "1"}}, nil
}
func (c *slowConnector) Stop() error { return nil }

// TestSlowStartBlocksNoCaller: while Start runs, target changes, failures
// and task config requests return at once, and Stop ends Start through its
// context.
func TestSlowStartBlocksNoCaller(t *testing.T) {
	ev := newEvents()
	c := &slowConnector{release: make(chan struct{}), entered: make(chan struct{})}
	r := New(Options{Name: "c", New: func() connect.Connector { return c }, Target: herder.TargetStarted, Listener: ev})
	go r.Run()
	<-c.entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.SetTarget(herder.TargetPaused)
		r.SetTarget(herder.TargetStarted)
		if r.IsRunning() {
			t.Error("running before Start returned")
		}
		if _, err := r.TaskConfigs(ctx, 1); err == nil {
			t.Error("task configs answered while starting")
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a caller waited for the connector's Start")
	}
	if !r.StopWait(5 * time.Second) {
		t.Fatal("Stop did not end a Start that honours its context")
	}
}

// TestTaskConfigsAndTargets: the usual path — start, task configs, pause,
// resume, stop.
func TestTaskConfigsAndTargets(t *testing.T) {
	ev := newEvents()
	release := make(chan struct{})
	close(release)
	r := start(t, Options{Name: "c", New: func() connect.Connector {
		return &slowConnector{release: release, entered: make(chan struct{})}
	}, Target: herder.TargetStarted, Listener: ev})
	ev.wait(t, herder.StateRunning)
	configs, err := r.TaskConfigs(context.Background(), 3)
	if err != nil || len(configs) != 1 {
		t.Fatalf("configs %v, %v", configs, err)
	}
	r.SetTarget(herder.TargetPaused)
	ev.wait(t, herder.StatePaused)
	if _, err := r.TaskConfigs(context.Background(), 3); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("paused connector answered task configs: %v", err)
	}
	r.SetTarget(herder.TargetStarted)
	ev.wait(t, herder.StateRunning)
	r.SetTarget(herder.TargetStopped)
	ev.wait(t, herder.StateStopped)
}

// stuckConnector's Stop never returns.
type stuckConnector struct{ block chan struct{} }

func (c *stuckConnector) Start(context.Context, connect.ConnectorContext, map[string]string) error {
	return nil
}
func (c *stuckConnector) TaskConfigs(int) ([]map[string]string, error) { return nil, nil }
func (c *stuckConnector) Stop() error                                  { <-c.block; return nil }

// TestStopIsBounded: a connector whose Stop hangs is abandoned after the
// timeout.
func TestStopIsBounded(t *testing.T) {
	ev := newEvents()
	c := &stuckConnector{block: make(chan struct{})}
	defer close(c.block)
	r := New(Options{Name: "c", New: func() connect.Connector { return c }, Target: herder.TargetStarted, Listener: ev})
	go r.Run()
	ev.wait(t, herder.StateRunning)
	began := time.Now()
	if r.StopWait(200 * time.Millisecond) {
		t.Fatal("a hanging Stop reported as stopped")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("StopWait took %v", d)
	}
}

// failingStart fails to start a number of times, then starts.
type failingStart struct {
	mu    *sync.Mutex
	fails *int
}

func (c failingStart) Start(context.Context, connect.ConnectorContext, map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *c.fails > 0 {
		*c.fails--
		return errors.New("database unreachable")
	}
	return nil
}
func (c failingStart) TaskConfigs(int) ([]map[string]string, error) { return nil, nil }
func (c failingStart) Stop() error                                  { return nil }

// TestRestartAfterFailure: Restart clears a failure and starts a fresh
// instance.
func TestRestartAfterFailure(t *testing.T) {
	ev := newEvents()
	var mu sync.Mutex
	fails := 1
	r := start(t, Options{Name: "c", New: func() connect.Connector { return failingStart{&mu, &fails} },
		Target: herder.TargetStarted, Listener: ev})
	ev.wait(t, herder.StateFailed)
	r.SetTarget(herder.TargetPaused)
	time.Sleep(20 * time.Millisecond)
	if s, _ := ev.last(); s != herder.StateFailed {
		t.Fatalf("a failed connector moved to %s without a restart", s)
	}
	r.SetTarget(herder.TargetStarted)
	r.Restart()
	ev.wait(t, herder.StateRunning)
}
