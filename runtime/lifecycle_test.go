package runtime

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/converters"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/memstore"
)

// script tells the test connectors and tasks how to behave; one per test.
type script struct {
	mu              sync.Mutex
	startFails      int   // connector Start fails this many times
	startErr        error // what it fails with (default: a retriable error)
	taskFails       int   // task Start fails this many times
	taskConfigCalls int
	raise           chan error // the connector's monitor raises this
	monitorStopped  chan struct{}
	pollBlocks      chan struct{} // when set, Poll ignores its context until it is closed
}

type scriptConnector struct {
	s      *script
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *scriptConnector) Start(_ context.Context, cc connect.ConnectorContext, _ map[string]string) error {
	s := c.s
	s.mu.Lock()
	if s.startFails > 0 {
		s.startFails--
		err := s.startErr
		s.mu.Unlock()
		if err == nil {
			err = errors.New("database unreachable")
		}
		return err
	}
	s.mu.Unlock()
	if s.raise != nil {
		// A monitor goroutine, as the JDBC source has: Stop waits for it.
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel, c.done = cancel, make(chan struct{})
		go func() {
			defer close(c.done)
			select {
			case err := <-s.raise:
				cc.RaiseError(err)
			case <-ctx.Done():
			}
		}()
	}
	return nil
}

func (c *scriptConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	c.s.mu.Lock()
	c.s.taskConfigCalls++
	c.s.mu.Unlock()
	return connect.CopiesForTasks(map[string]string{}, maxTasks), nil
}

func (c *scriptConnector) Stop() error {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		close(c.s.monitorStopped)
	}
	return nil
}

func (c *scriptConnector) NewTask() connect.SourceTask { return &scriptTask{s: c.s} }

type scriptTask struct{ s *script }

func (t *scriptTask) Start(context.Context, connect.SourceTaskContext, map[string]string) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.s.taskFails > 0 {
		t.s.taskFails--
		return errors.New("table locked")
	}
	return nil
}

func (t *scriptTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if t.s.pollBlocks != nil {
		<-t.s.pollBlocks // ignores ctx, as a careless plugin might
		return nil, nil
	}
	<-ctx.Done()
	return nil, nil
}
func (t *scriptTask) Stop() error { return nil }

func lifecycleWorker(t *testing.T, s *script, extra map[string]string) (*Worker, *StatusStore) {
	t.Helper()
	reg, err := connect.NewRegistry(append(converters.Plugins(), connect.Plugin{
		Kind: connect.KindSource, Class: "test.ScriptSource", TaskClass: "test.ScriptSourceTask",
		New: func() any { return &scriptConnector{s: s} },
	})...)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{
		"bootstrap.servers":               "127.0.0.1:1", // tasks here never produce
		"key.converter":                   "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                 "org.apache.kafka.connect.storage.StringConverter",
		"offset.storage.file.filename":    t.TempDir() + "/offsets",
		"restart.auto.backoff.initial.ms": "10",
		"restart.auto.backoff.max.ms":     "40",
	}
	maps.Copy(props, extra)
	cfg, err := ParseWorkerConfig(props, true)
	if err != nil {
		t.Fatal(err)
	}
	status := NewStatusStore("worker-1")
	w, err := NewWorker(WorkerOptions{Config: cfg, Registry: reg, Offsets: memstore.New(), Status: status,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w, status
}

func scriptConfig(extra map[string]string) map[string]string {
	c := map[string]string{"name": "orders", "connector.class": "test.ScriptSource", "tasks.max": "1"}
	maps.Copy(c, extra)
	return c
}

// TestConnectorRaiseErrorFromMonitor: defect 3 at the worker level. A
// connector's monitor goroutine raising an error (while Stop waits for that
// goroutine) leaves the connector FAILED with the error and its Stop done,
// instead of a deadlock with the connector shown RUNNING.
func TestConnectorRaiseErrorFromMonitor(t *testing.T) {
	s := &script{raise: make(chan error, 1), monitorStopped: make(chan struct{})}
	w, status := lifecycleWorker(t, s, map[string]string{"restart.auto.enable": "false"})
	if err := w.StartConnector("orders", scriptConfig(nil), herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	waitConnectorState(t, status, "orders", herder.StateRunning)
	s.raise <- errors.New("the tables a.t and b.t have the same name")
	st := waitConnectorState(t, status, "orders", herder.StateFailed)
	if st.Trace != "the tables a.t and b.t have the same name" {
		t.Fatalf("trace %q", st.Trace)
	}
	select {
	case <-s.monitorStopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the failed connector was not stopped")
	}
	stopped := make(chan struct{})
	go func() { w.StopConnector("orders"); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("StopConnector hangs")
	}
}

// TestConnectorRestartsAutomatically: a connector that fails to start three
// times (a database that is down) ends RUNNING without a user, its status
// showing the attempts.
func TestConnectorRestartsAutomatically(t *testing.T) {
	s := &script{startFails: 3}
	w, status := lifecycleWorker(t, s, nil)
	if err := w.StartConnector("orders", scriptConfig(nil), herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := status.Connector("orders")
		if st.State == herder.StateRunning {
			if st.Restart == nil || st.Restart.Attempts != 3 || st.Restart.NextAttempt != "" {
				t.Fatalf("restart state %+v, want 3 attempts and none due", st.Restart)
			}
			return
		}
		if st.State == herder.StateFailed && st.Restart != nil && st.Restart.NextAttempt == "" {
			t.Fatalf("gave up: %+v", st.Restart)
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s", st.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNonRetriableFailureStaysFailed: an error that waiting cannot heal is
// not retried.
func TestNonRetriableFailureStaysFailed(t *testing.T) {
	for name, cause := range map[string]error{
		"marked":       connect.NonRetriable(errors.New("access denied for user 'x'")),
		"config error": &connect.ConfigError{Name: "connection.url", Message: "Missing required configuration"},
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{startFails: 1, startErr: cause}
			w, status := lifecycleWorker(t, s, nil)
			if err := w.StartConnector("orders", scriptConfig(nil), herder.TargetStarted); err != nil {
				t.Fatal(err)
			}
			waitConnectorState(t, status, "orders", herder.StateFailed)
			time.Sleep(300 * time.Millisecond) // many backoff periods
			st, _ := status.Connector("orders")
			if st.State != herder.StateFailed || st.Restart != nil {
				t.Fatalf("status %+v, want FAILED with no restart", st)
			}
		})
	}
}

// TestRestartAttemptsAreBounded: the connector's own
// restart.auto.max.attempts overrides the worker's; once used up the
// connector stays FAILED, showing the attempts and no next one.
func TestRestartAttemptsAreBounded(t *testing.T) {
	s := &script{startFails: 1000}
	w, status := lifecycleWorker(t, s, nil)
	if err := w.StartConnector("orders", scriptConfig(map[string]string{"restart.auto.max.attempts": "2"}), herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := status.Connector("orders")
		if st.State == herder.StateFailed && st.Restart != nil && st.Restart.NextAttempt == "" {
			if st.Restart.Attempts != 2 {
				t.Fatalf("attempts %d, want 2", st.Restart.Attempts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	left := s.startFails
	s.mu.Unlock()
	if left != 1000-3 {
		t.Fatalf("%d starts, want 3", 1000-left)
	}
}

// TestTaskRestartsAutomatically: a task that fails twice ends RUNNING, its
// status showing the attempts.
func TestTaskRestartsAutomatically(t *testing.T) {
	s := &script{taskFails: 2}
	w, status := lifecycleWorker(t, s, nil)
	id := herder.TaskID{Connector: "orders", Task: 0}
	if err := w.StartTask(id, scriptConfig(nil), map[string]string{"task.class": "test.ScriptSourceTask"}, herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := status.Task(id)
		if st.State == herder.StateRunning && st.Restart != nil {
			if st.Restart.Attempts != 2 {
				t.Fatalf("restart state %+v, want 2 attempts", st.Restart)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A stopped task is not restarted behind the herder's back.
	w.StopTasks([]herder.TaskID{id})
	if ids := w.TaskIDs("orders"); len(ids) != 0 {
		t.Fatalf("tasks %v after stop", ids)
	}
}

// TestTasksMaxLimit: defect 1. A connector with a huge tasks.max fails with
// a clear trace without its TaskConfigs being called (FileStreamSink would
// build that many configs).
func TestTasksMaxLimit(t *testing.T) {
	s := &script{}
	w, status := lifecycleWorker(t, s, nil)
	if err := w.StartConnector("orders", scriptConfig(map[string]string{"tasks.max": "1000000000"}), herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	waitConnectorState(t, status, "orders", herder.StateRunning)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.TaskConfigs(ctx, "orders"); err == nil {
		t.Fatal("no error")
	}
	st := waitConnectorState(t, status, "orders", herder.StateFailed)
	if st.Restart != nil {
		t.Fatalf("a config error is scheduled for restart: %+v", st.Restart)
	}
	t.Logf("trace: %s", st.Trace)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taskConfigCalls != 0 {
		t.Fatalf("TaskConfigs called %d times", s.taskConfigCalls)
	}
}

// TestValidateTasksMaxLimit: validation reports tasks.max above the
// worker's tasks.max.limit under tasks.max.
func TestValidateTasksMaxLimit(t *testing.T) {
	cfg, err := ParseWorkerConfig(map[string]string{"key.converter": "x", "value.converter": "x",
		"offset.storage.file.filename": "/tmp/x", "tasks.max.limit": "10"}, true)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := connect.NewRegistry(connect.Plugin{Kind: connect.KindSource, Class: "test.ScriptSource", TaskClass: "t",
		New: func() any { return &scriptConnector{s: &script{}} }})
	if err != nil {
		t.Fatal(err)
	}
	infos, _, err := ValidateConnectorConfig(reg, scriptConfig(map[string]string{"tasks.max": "11"}), WithWorker(cfg, nil))
	if err != nil {
		t.Fatal(err)
	}
	if infos.ErrorCount != 1 {
		t.Fatalf("%d errors", infos.ErrorCount)
	}
	for _, c := range infos.Configs {
		if c.Definition != nil && c.Definition.Name == KeyTasksMax {
			if len(c.Value.Errors) != 1 || c.Value.Errors[0] != "Invalid value 11 for configuration tasks.max: Value must be no more than 10 (the worker's tasks.max.limit)" {
				t.Fatalf("errors %q", c.Value.Errors)
			}
			return
		}
	}
	t.Fatal("no tasks.max entry")
}

// TestCloseIsBounded: defect 4. A task whose Poll ignores its context does
// not keep Close (and so SIGTERM) waiting for ever.
func TestCloseIsBounded(t *testing.T) {
	s := &script{pollBlocks: make(chan struct{})}
	w, status := lifecycleWorker(t, s, map[string]string{"task.shutdown.graceful.timeout.ms": "100"})
	t.Cleanup(func() { close(s.pollBlocks) })
	id := herder.TaskID{Connector: "orders", Task: 0}
	if err := w.StartTask(id, scriptConfig(nil), map[string]string{"task.class": "test.ScriptSourceTask"}, herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for st, _ := status.Task(id); st.State != herder.StateRunning; st, _ = status.Task(id) {
		if time.Now().After(deadline) {
			t.Fatalf("task state %s", st.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // inside Poll
	var closed atomic.Bool
	go func() { w.Close(); closed.Store(true) }()
	limit := time.Now().Add(30 * time.Second)
	for !closed.Load() {
		if time.Now().After(limit) {
			t.Fatal("Close waits for a task that ignores its context")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
