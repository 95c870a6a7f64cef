package distributed

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/plugins"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
)

// flakySource fails its first Starts, as a source whose database is down.
type flakySource struct {
	mu    *sync.Mutex
	fails *int
	// hold, when set, blocks Start until closed or the context ends.
	hold chan struct{}
}

func (c flakySource) Start(ctx context.Context, _ connect.ConnectorContext, _ map[string]string) error {
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if *c.fails > 0 {
		*c.fails--
		return errors.New("database unreachable")
	}
	return nil
}
func (c flakySource) TaskConfigs(int) ([]map[string]string, error) { return nil, nil }
func (c flakySource) Stop() error                                  { return nil }
func (c flakySource) NewTask() connect.SourceTask                  { return nil }

// TestDistributedLifecycle runs one distributed worker on a real broker: a
// connector whose Start hangs does not hold up the herder (other REST
// writes and reads answer), and a connector that fails to start three
// times is restarted automatically on this worker and ends RUNNING with
// the attempts in its status.
func TestDistributedLifecycle(t *testing.T) {
	if !testbed.IsRealKafka() {
		t.Skip("needs a real broker (FERRY_TEST_KAFKA): kfake's group coordinator does not fully support protocol type \"connect\"")
	}
	bootstrap := testbed.Kafka(t)
	g := testbed.UniqueName(t, "dl")
	cfg, err := runtime.ParseWorkerConfig(map[string]string{
		"bootstrap.servers": bootstrap, "group.id": g,
		"config.storage.topic": g + "-c", "offset.storage.topic": g + "-o", "status.storage.topic": g + "-s",
		"config.storage.replication.factor": "1", "offset.storage.replication.factor": "1", "status.storage.replication.factor": "1",
		"offset.storage.partitions": "2", "status.storage.partitions": "2",
		"key.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter": "org.apache.kafka.connect.json.JsonConverter",
		"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000",
		"restart.auto.backoff.initial.ms": "100", "restart.auto.backoff.max.ms": "400",
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	fails := 3
	hold := make(chan struct{})
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(hold) }) }
	defer release()
	noFails := 0
	reg, err := connect.NewRegistry(append(plugins.All(),
		connect.Plugin{Kind: connect.KindSource, Class: "test.FlakySource", TaskClass: "test.FlakySourceTask",
			New: func() any { return flakySource{mu: &mu, fails: &fails} }},
		connect.Plugin{Kind: connect.KindSource, Class: "test.HangingSource", TaskClass: "test.HangingSourceTask",
			New: func() any { return flakySource{mu: &mu, fails: &noFails, hold: hold} }},
	)...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Config: cfg, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	h.SetIdentity("http://127.0.0.1:1/", "127.0.0.1:1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		release()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		return h.Health(ctx) == nil, "not healthy"
	})

	// A connector whose Start hangs.
	if _, _, err := h.PutConnectorConfig(ctx, "hanging", map[string]string{"connector.class": "test.HangingSource"}, "", false); err != nil {
		t.Fatal(err)
	}
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		_, err := h.ConnectorInfo(ctx, "hanging")
		return err == nil, "not created"
	})
	time.Sleep(200 * time.Millisecond) // the actor has started it
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if _, _, err := h.PutConnectorConfig(wctx, "flaky", map[string]string{"connector.class": "test.FlakySource"}, "", false); err != nil {
		t.Fatalf("a write waited behind a hanging connector Start: %v", err)
	}

	var st *herder.ConnectorStateInfo
	testbed.WaitFor(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
		st, err = h.ConnectorStatus(ctx, "flaky")
		return err == nil && st.Connector.State == herder.StateRunning, "not running"
	})
	if r := st.Connector.Restart; r == nil || r.Attempts != 3 || r.NextAttempt != "" {
		t.Fatalf("restart state %+v, want 3 attempts", r)
	}
	if err := h.DeleteConnector(wctx, "hanging"); err != nil {
		t.Fatalf("delete of the hanging connector: %v", err)
	}
}
