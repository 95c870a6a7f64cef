package standalone

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/file"
	"github.com/ferryhq/ferry/converters"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/memstore"
)

// slowConnector's Start blocks until released (a JDBC connector retrying
// an unreachable database for 30 s).
type slowConnector struct {
	release <-chan struct{}
	entered chan<- struct{}
}

func (c *slowConnector) Start(ctx context.Context, _ connect.ConnectorContext, _ map[string]string) error {
	select {
	case c.entered <- struct{}{}:
	default:
	}
	select {
	case <-c.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (c *slowConnector) TaskConfigs(int) ([]map[string]string, error) { return nil, nil }
func (c *slowConnector) Stop() error                                  { return nil }
func (c *slowConnector) NewTask() connect.SourceTask                  { return nil }

type testHerder struct {
	*Herder
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// newHerder starts a standalone herder whose config file lives in dir.
func newHerder(t *testing.T, dir string, extra ...connect.Plugin) *testHerder {
	t.Helper()
	reg, err := connect.NewRegistry(append(append(converters.Plugins(), file.SinkPlugin(), file.SourcePlugin()), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := runtime.ParseWorkerConfig(map[string]string{
		"bootstrap.servers":                 "127.0.0.1:1", // sink tasks never get records here
		"key.converter":                     "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                   "org.apache.kafka.connect.storage.StringConverter",
		"offset.storage.file.filename":      filepath.Join(dir, "offsets"),
		"task.shutdown.graceful.timeout.ms": "1000",
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Config: cfg, Registry: reg, Offsets: memstore.New(), WorkerID: "127.0.0.1:8083"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	th := &testHerder{Herder: h, dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(th.done); _ = h.Run(ctx) }()
	if err := h.Start(ctx, nil); err != nil {
		t.Fatalf("worker did not start: %v", err)
	}
	t.Cleanup(th.close)
	return th
}

func (th *testHerder) close() {
	th.cancel()
	<-th.done
	th.Close()
}

func (th *testHerder) waitState(t *testing.T, name string, want herder.State, tasks int) *herder.ConnectorStateInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := th.ConnectorStatus(context.Background(), name)
		if err == nil && st.Connector.State == want && (tasks < 0 || len(st.Tasks) == tasks) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v (%v), want %s with %d tasks", st, err, want, tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sinkConfig(dir, tasksMax string) map[string]string {
	return map[string]string{"connector.class": "FileStreamSink", "tasks.max": tasksMax,
		"topics": "orders", "file": filepath.Join(dir, "out.txt")}
}

// TestHugeTasksMaxIsRejected: defect 1. POST /connectors with
// tasks.max=1000000000 is a 400 naming tasks.max, and nothing is stored.
func TestHugeTasksMaxIsRejected(t *testing.T) {
	th := newHerder(t, t.TempDir())
	_, _, err := th.PutConnectorConfig(context.Background(), "hostile", sinkConfig(th.dir, "1000000000"), "", false)
	var he *herder.Error
	if !errors.As(err, &he) || he.Code != 400 || !strings.Contains(he.Message, "Invalid value 1000000000 for configuration tasks.max") {
		t.Fatalf("error %v", err)
	}
	if names, _ := th.Connectors(context.Background()); len(names) != 0 {
		t.Fatalf("connectors %v stored", names)
	}
}

// TestBadStoredConnectorDoesNotStopTheWorker: defect 1. A connector stored
// with tasks.max=1000000000 (before the limit existed) does not keep the
// worker from starting or take its memory: it shows FAILED with a trace,
// and can be fixed over REST, then deleted.
func TestBadStoredConnectorDoesNotStopTheWorker(t *testing.T) {
	dir := t.TempDir()
	cfg := sinkConfig(dir, "1000000000")
	cfg["name"] = "hostile"
	body := configFileBody{Version: 1, Connectors: map[string]storedConnector{"hostile": {Config: cfg, Target: herder.TargetStarted}}}
	if err := (configFile{path: filepath.Join(dir, "offsets.connectors.json")}).save(body.Connectors); err != nil {
		t.Fatal(err)
	}
	th := newHerder(t, dir)
	st := th.waitState(t, "hostile", herder.StateFailed, 0)
	if !strings.Contains(st.Connector.Trace, "tasks.max.limit") {
		t.Fatalf("trace %q", st.Connector.Trace)
	}
	if st.Connector.Restart != nil {
		t.Fatalf("a config error is retried: %+v", st.Connector.Restart)
	}

	fixed := maps.Clone(cfg)
	fixed["tasks.max"] = "2"
	if _, _, err := th.PutConnectorConfig(context.Background(), "hostile", fixed, "", true); err != nil {
		t.Fatal(err)
	}
	th.waitState(t, "hostile", herder.StateRunning, 2)
	if err := th.DeleteConnector(context.Background(), "hostile"); err != nil {
		t.Fatal(err)
	}
	if _, err := th.ConnectorStatus(context.Background(), "hostile"); err == nil {
		t.Fatal("status after delete")
	}
}

// TestConnectorsSurviveRestart: a worker restarted on the same config file
// runs the same connectors and tasks.
func TestConnectorsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	th := newHerder(t, dir)
	if _, _, err := th.PutConnectorConfig(context.Background(), "sink", sinkConfig(dir, "3"), "", false); err != nil {
		t.Fatal(err)
	}
	th.waitState(t, "sink", herder.StateRunning, 3)
	th.close()
	th2 := newHerder(t, dir)
	th2.waitState(t, "sink", herder.StateRunning, 3)
}

// TestSlowStartDoesNotBlockReads: defect 4. While a connector's Start
// takes its time, REST reads and writes of other connectors answer.
func TestSlowStartDoesNotBlockReads(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	slow := connect.Plugin{Kind: connect.KindSource, Class: "test.SlowSource", TaskClass: "test.SlowSourceTask",
		New: func() any { return &slowConnector{release: release, entered: entered} }}
	th := newHerder(t, t.TempDir(), slow)

	ctx := context.Background()
	if _, _, err := th.PutConnectorConfig(ctx, "slow", map[string]string{"connector.class": "test.SlowSource"}, "", false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("Start not called")
	}
	done := make(chan error, 1)
	go func() {
		if _, err := th.Connectors(ctx); err != nil {
			done <- err
			return
		}
		if _, err := th.ConnectorInfo(ctx, "slow"); err != nil {
			done <- err
			return
		}
		if _, err := th.ConnectorConfig(ctx, "slow"); err != nil {
			done <- err
			return
		}
		if _, err := th.Tasks(ctx, "slow"); err != nil {
			done <- err
			return
		}
		_, _, err := th.PutConnectorConfig(ctx, "other", sinkConfig(th.dir, "1"), "", false)
		if err == nil {
			err = th.PauseConnector(ctx, "slow")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("REST calls wait behind a connector's Start")
	}
	once.Do(func() { close(release) })
	th.waitState(t, "slow", herder.StatePaused, -1)
}

// TestReconfigureRequestsAreNotDropped: many requests coalesce per
// connector instead of overflowing a queue.
func TestReconfigureRequestsAreNotDropped(t *testing.T) {
	th := newHerder(t, t.TempDir())
	if _, _, err := th.PutConnectorConfig(context.Background(), "sink", sinkConfig(th.dir, "1"), "", false); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		th.requestReconfigure("sink")
	}
	th.reconfigMu.Lock()
	n := len(th.reconfig)
	th.reconfigMu.Unlock()
	if n > 1 {
		t.Fatalf("%d pending requests for one connector", n)
	}
	th.waitState(t, "sink", herder.StateRunning, 1)
	if _, err := os.Stat(filepath.Join(th.dir, "offsets.connectors.json")); err != nil {
		t.Fatal(err)
	}
}
