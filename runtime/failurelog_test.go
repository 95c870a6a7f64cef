package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/converters"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/memstore"
)

// logBuffer collects JSON log lines from any goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// errorLines returns the ERROR records logged so far.
func (l *logBuffer) errorLines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] == "ERROR" {
			out = append(out, m)
		}
	}
	return out
}

// failingConnector starts, or fails to start when its config says so; its
// sink task always fails to start.
type failingConnector struct{}

func (failingConnector) Start(_ context.Context, _ connect.ConnectorContext, config map[string]string) error {
	if config["fail"] == "connector" {
		return errors.New("cannot reach the external system")
	}
	return nil
}
func (failingConnector) TaskConfigs(int) ([]map[string]string, error) { return nil, nil }
func (failingConnector) Stop() error                                  { return nil }
func (failingConnector) NewTask() connect.SinkTask                    { return failingTask{} }

type failingTask struct{}

func (failingTask) Start(context.Context, connect.SinkTaskContext, map[string]string) error {
	return errors.New("the table cannot be written: permission denied")
}
func (failingTask) Put(context.Context, []*connect.SinkRecord) error { return nil }
func (failingTask) Stop() error                                      { return nil }

func failureTestWorker(t *testing.T, logs *logBuffer) (*Worker, *StatusStore) {
	t.Helper()
	reg, err := connect.NewRegistry(append(converters.Plugins(), connect.Plugin{
		Kind: connect.KindSink, Class: "test.FailingSinkConnector", TaskClass: "test.FailingSinkTask",
		New: func() any { return failingConnector{} },
	})...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseWorkerConfig(map[string]string{
		"bootstrap.servers":            "127.0.0.1:1", // never dialled: the task fails first
		"key.converter":                "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":              "org.apache.kafka.connect.storage.StringConverter",
		"offset.storage.file.filename": t.TempDir() + "/offsets",
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	status := NewStatusStore("worker-1")
	w, err := NewWorker(WorkerOptions{Config: cfg, Registry: reg, Offsets: memstore.New(), Status: status,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w, status
}

// TestFailedTaskIsLogged: a task that fails leaves an ERROR line naming
// the connector and task, with the trace the status shows.
func TestFailedTaskIsLogged(t *testing.T) {
	var logs logBuffer
	w, status := failureTestWorker(t, &logs)
	conn := map[string]string{"name": "orders-sink", "connector.class": "test.FailingSinkConnector", "topics": "orders"}
	id := herder.TaskID{Connector: "orders-sink", Task: 0}
	if err := w.StartTask(id, conn, map[string]string{"task.class": "test.FailingSinkTask"}, herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	var st herder.TaskState
	deadline := time.Now().Add(30 * time.Second)
	for st, _ = status.Task(id); st.State != herder.StateFailed; st, _ = status.Task(id) {
		if time.Now().After(deadline) {
			t.Fatalf("task state %q, want FAILED", st.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	lines := logs.errorLines(t)
	for _, l := range lines {
		if l["connector"] == "orders-sink" && l["task"] == 0.0 && l["task_id"] == "orders-sink-0" &&
			l["error"] == st.Trace && strings.Contains(l["msg"].(string), "FAILED") {
			return
		}
	}
	t.Fatalf("no ERROR line for the failed task with trace %q; error lines: %v", st.Trace, lines)
}

// TestFailedConnectorIsLogged: a connector that fails to start leaves an
// ERROR line naming it, with the trace the status shows.
func TestFailedConnectorIsLogged(t *testing.T) {
	var logs logBuffer
	w, status := failureTestWorker(t, &logs)
	conn := map[string]string{"name": "orders-sink", "connector.class": "test.FailingSinkConnector", "topics": "orders", "fail": "connector"}
	if err := w.StartConnector("orders-sink", conn, herder.TargetStarted); err != nil {
		t.Fatal(err)
	}
	st := waitConnectorState(t, status, "orders-sink", herder.StateFailed)
	lines := logs.errorLines(t)
	if len(lines) != 1 || lines[0]["connector"] != "orders-sink" || lines[0]["error"] != st.Trace ||
		!strings.Contains(lines[0]["msg"].(string), "FAILED") {
		t.Fatalf("want one ERROR line for the connector with trace %q; got %v", st.Trace, lines)
	}
}

// waitConnectorState waits up to 30 s for a connector's status to be want.
func waitConnectorState(t *testing.T, status *StatusStore, name string, want herder.State) herder.ConnectorState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := status.Connector(name)
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector %s state %q, want %s", name, st.State, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
