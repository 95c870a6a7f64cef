package kafkastore

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/lifecycle"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func opts(bootstrap string) Options {
	return Options{Brokers: strings.Split(bootstrap, ","), GroupID: "test-cluster", Logger: quiet}
}

func startOffsets(t *testing.T, bootstrap, topic string) *OffsetStore {
	t.Helper()
	s, err := NewOffsetStore(opts(bootstrap), TopicOptions{Topic: topic, Partitions: 5, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func TestOffsetStoreShared(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "offsets")
	ctx := testCtx(t)
	a := startOffsets(t, bootstrap, topic)
	b := startOffsets(t, bootstrap, topic)

	// A key as a Java worker may have written it (insertion order), and
	// the Go form of the same partition.
	javaKey := []byte(`["c",{"a":1,"p":2}]`)
	goKey, _ := storage.OffsetKey("c", map[string]any{"a": 1, "p": 2})
	k2, _ := storage.OffsetKey("c", map[string]any{"f": "x"})
	if err := a.Set(ctx, []storage.Entry{{Key: javaKey, Value: []byte(`{"pos":10}`)}, {Key: k2, Value: []byte(`{"pos":1}`)}}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, [][]byte{goKey, k2})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[string(goKey)]) != `{"pos":10}` || string(got[string(k2)]) != `{"pos":1}` {
		t.Fatalf("other instance read %q", got)
	}
	if err := b.Set(ctx, []storage.Entry{{Key: k2}}); err != nil {
		t.Fatal(err)
	}
	offs, err := a.ConnectorOffsets(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != 1 || offs[0].Offset["pos"] != int64(10) {
		t.Fatalf("offsets after tombstone %+v", offs)
	}
	// A restarted store re-reads everything.
	a.Stop()
	c := startOffsets(t, bootstrap, topic)
	got, _ = c.Get(ctx, [][]byte{javaKey, k2})
	if len(got) != 1 || string(got[string(javaKey)]) != `{"pos":10}` {
		t.Fatalf("after restart %q", got)
	}
}

func TestNonCompactedTopicRefused(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "status")
	del := "delete"
	testbed.CreateTopicWithConfigs(t, bootstrap, topic, 1, map[string]*string{"cleanup.policy": &del})
	s, err := NewStatusStore(opts(bootstrap), TopicOptions{Topic: topic, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(testCtx(t))
	want := "Topic '" + topic + "' supplied via the 'status.storage.topic' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of connector and task statuses, but found the topic currently has 'cleanup.policy=delete'."
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v", err)
	}
	s.Stop()
}

type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.log {
		if x == s {
			return true
		}
	}
	return false
}

func (e *events) OnConnectorConfigUpdate(c string) { e.add("config:" + c) }
func (e *events) OnConnectorRemoved(c string)      { e.add("removed:" + c) }
func (e *events) OnTaskConfigsUpdate(ids []lifecycle.TaskID) {
	var s []string
	for _, id := range ids {
		s = append(s, id.String())
	}
	e.add("tasks:" + strings.Join(s, ","))
}
func (e *events) OnTargetStateChange(c string)    { e.add("target:" + c) }
func (e *events) OnSessionKeyUpdate(k SessionKey) { e.add("session:" + k.Algorithm) }
func (e *events) OnRestartRequest(r RestartRequest) {
	e.add("restart:" + r.Connector)
}

func startConfig(t *testing.T, bootstrap, topic string, l Listener) *ConfigStore {
	t.Helper()
	s, err := NewConfigStore(opts(bootstrap), TopicOptions{Topic: topic, ReplicationFactor: 1}, l)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testbed.WaitFor(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) { return cond(), what })
}

func TestConfigStoreShared(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "configs")
	ctx := testCtx(t)
	var evA, evB events
	a := startConfig(t, bootstrap, topic, &evA)
	b := startConfig(t, bootstrap, topic, &evB)

	cfg := map[string]string{"connector.class": "FileStreamSource", "name": "src", "tasks.max": "2"}
	if err := a.PutConnectorConfig(ctx, "src", cfg, lifecycle.TargetPaused); err != nil {
		t.Fatal(err)
	}
	if s := a.Snapshot(); s.Connectors["src"] == nil || s.Connectors["src"].TargetState != lifecycle.TargetPaused {
		t.Fatalf("writer snapshot %+v", s.Connectors)
	}
	if err := a.PutTaskConfigs(ctx, "src", []map[string]string{{"task.class": "T", "n": "0"}, {"task.class": "T", "n": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	sb := b.Snapshot()
	if c := sb.Connectors["src"]; c == nil || c.Config["tasks.max"] != "2" || c.TaskCount != 2 || c.TaskConfigs[1]["n"] != "1" || c.TargetState != lifecycle.TargetPaused {
		t.Fatalf("other instance %+v", c)
	}
	if sb.Offset != 5 {
		t.Fatalf("offset %d, want 5 (records at offsets 0..4: target, connector, 2 tasks, commit)", sb.Offset)
	}
	waitFor(t, "listener events", func() bool {
		return evB.has("config:src") && evB.has("tasks:src-0,src-1")
	})

	if err := b.PutTargetState(ctx, "src", lifecycle.TargetStarted); err != nil {
		t.Fatal(err)
	}
	key := SessionKey{Key: []byte("0123456789abcdef"), Algorithm: "HmacSHA256", CreationTimestamp: time.Now().UnixMilli()}
	if err := b.PutSessionKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRestartRequest(ctx, RestartRequest{Connector: "src", IncludeTasks: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "target, session and restart events", func() bool {
		return evA.has("target:src") && evA.has("session:HmacSHA256") && evA.has("restart:src")
	})

	// Stop: empty task configs, then STOPPED.
	if err := a.PutTaskConfigs(ctx, "src", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.PutTargetState(ctx, "src", lifecycle.TargetStopped); err != nil {
		t.Fatal(err)
	}
	if err := a.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	if c := a.Snapshot().Connectors["src"]; c.TaskCount != 0 || c.TargetState != lifecycle.TargetStopped {
		t.Fatalf("stopped %+v", c)
	}

	// A restarted instance re-reads the state; historic restarts are not
	// replayed.
	var evC events
	c := startConfig(t, bootstrap, topic, &evC)
	sc := c.Snapshot()
	if sc.SessionKey == nil || string(sc.SessionKey.Key) != "0123456789abcdef" || sc.Connectors["src"].TargetState != lifecycle.TargetStopped {
		t.Fatalf("restarted %+v", sc)
	}
	if err := a.DeleteConnector(ctx, "src"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Snapshot().Connectors["src"]; ok {
		t.Fatal("connector still there after delete")
	}
	waitFor(t, "removed event", func() bool { return evC.has("removed:src") })
	if evC.has("restart:src") {
		t.Fatal("historic restart request delivered")
	}
}

func startStatus(t *testing.T, bootstrap, topic string) *StatusStore {
	t.Helper()
	s, err := NewStatusStore(opts(bootstrap), TopicOptions{Topic: topic, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func TestStatusStoreShared(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "status")
	ctx := testCtx(t)
	a := startStatus(t, bootstrap, topic)
	b := startStatus(t, bootstrap, topic)

	id := lifecycle.TaskID{Connector: "my-conn", Task: 1}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.PutConnector(ctx, ConnectorStatus{Name: "my-conn", State: lifecycle.StateRunning, WorkerID: "a:8083", Generation: 3}))
	must(a.PutTask(ctx, TaskStatus{ID: id, State: lifecycle.StateRunning, WorkerID: "a:8083", Generation: 3}))
	must(a.PutTopic(ctx, TopicStatus{Topic: "t1", Connector: "my-conn", Task: 1, DiscoverTimestamp: 5}))
	must(b.ReadToEnd(ctx))
	if st, ok := b.ConnectorStatus("my-conn"); !ok || st.State != lifecycle.StateRunning || st.WorkerID != "a:8083" || st.Generation != 3 {
		t.Fatalf("connector %+v %v", st, ok)
	}
	if ts := b.TaskStatuses("my-conn"); len(ts) != 1 || ts[0].ID != id || ts[0].State != lifecycle.StateRunning || ts[0].WorkerID != "a:8083" {
		t.Fatalf("tasks %+v", ts)
	}
	if tp := b.Topics("my-conn"); len(tp) != 1 || tp[0] != "t1" {
		t.Fatalf("topics %v", tp)
	}

	// Stale UNASSIGNED from an older generation is ignored by readers.
	must(b.PutTask(ctx, TaskStatus{ID: id, State: lifecycle.StateUnassigned, WorkerID: "b:8083", Generation: 2}))
	if st, _ := a.TaskStatus(id); st.State != lifecycle.StateRunning {
		t.Fatalf("stale unassigned applied: %+v", st)
	}
	// Safe writes from another worker with an older generation are
	// skipped; newer ones go through.
	wrote, err := b.PutConnectorSafe(ctx, ConnectorStatus{Name: "my-conn", State: lifecycle.StateFailed, Trace: "boom", WorkerID: "b:8083", Generation: 2})
	must(err)
	if wrote {
		t.Fatal("unsafe write performed")
	}
	wrote, err = b.PutConnectorSafe(ctx, ConnectorStatus{Name: "my-conn", State: lifecycle.StateFailed, Trace: "boom", WorkerID: "b:8083", Generation: 4})
	must(err)
	must(a.ReadToEnd(ctx))
	if st, _ := a.ConnectorStatus("my-conn"); !wrote || st.State != lifecycle.StateFailed || st.Trace != "boom" || st.Generation != 4 {
		t.Fatalf("safe write %v %+v", wrote, st)
	}

	must(a.DeleteTask(ctx, id))
	must(a.DeleteTopic(ctx, "my-conn", "t1"))
	must(b.ReadToEnd(ctx))
	if _, ok := b.TaskStatus(id); ok || len(b.Topics("my-conn")) != 0 {
		t.Fatal("tombstones not applied")
	}
	c := startStatus(t, bootstrap, topic)
	if st, ok := c.ConnectorStatus("my-conn"); !ok || st.State != lifecycle.StateFailed || len(c.TaskStatuses("my-conn")) != 0 {
		t.Fatalf("restarted %+v", st)
	}
}
