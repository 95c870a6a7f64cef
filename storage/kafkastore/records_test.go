package kafkastore

import (
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/ferryhq/ferry/internal/lifecycle"
	"github.com/ferryhq/ferry/storage"
	"github.com/ferryhq/ferry/storage/kafkalog"
)

// The expected bytes are those of spec §4.1.1, §4.2 and §4.3 (what an
// Apache 4.x worker writes).
func TestRecordGoldens(t *testing.T) {
	props, err := EncodeProperties(map[string]string{
		"connector.class": "FileStreamSink", "file": "/tmp/out.txt", "tasks.max": "1",
		"topics": "connect-test", "name": "local-file-sink",
	})
	if err != nil {
		t.Fatal(err)
	}
	taskProps, _ := EncodeProperties(map[string]string{"task.class": "org.apache.kafka.connect.file.FileStreamSinkTask", "file": "/tmp/out.txt"})
	emptyProps, _ := EncodeProperties(nil)
	offKey, _ := storage.OffsetKey("local-file-source", map[string]any{"filename": "/tmp/in.txt"})
	offVal, _ := storage.OffsetValue(map[string]any{"position": int64(2048)})
	cases := []struct{ name, gotKey, gotValue, wantKey, wantValue string }{
		{"connector", ConnectorKey("local-file-sink"), string(props), "connector-local-file-sink",
			`{"properties":{"connector.class":"FileStreamSink","file":"/tmp/out.txt","tasks.max":"1","topics":"connect-test","name":"local-file-sink"}}`},
		{"task", TaskKey(lifecycle.TaskID{Connector: "local-file-sink", Task: 0}), string(taskProps), "task-local-file-sink-0",
			`{"properties":{"file":"/tmp/out.txt","task.class":"org.apache.kafka.connect.file.FileStreamSinkTask"}}`},
		{"empty properties", ConnectorKey("c"), string(emptyProps), "connector-c", `{"properties":{}}`},
		{"commit", CommitKey("local-file-sink"), string(EncodeCommit(1)), "commit-local-file-sink", `{"tasks":1}`},
		{"target started", TargetStateKey("c"), string(EncodeTargetState(lifecycle.TargetStarted)), "target-state-c", `{"state":"STARTED","state.v2":"STARTED"}`},
		{"target paused", TargetStateKey("c"), string(EncodeTargetState(lifecycle.TargetPaused)), "target-state-c", `{"state":"PAUSED","state.v2":"PAUSED"}`},
		{"target stopped", TargetStateKey("local-file-sink"), string(EncodeTargetState(lifecycle.TargetStopped)), "target-state-local-file-sink", `{"state":"PAUSED","state.v2":"STOPPED"}`},
		{"fencing", TasksFencingKey("c"), string(EncodeTasksFencing(3)), "tasks-fencing-c", `{"task-count":3}`},
		{"session key", SessionKeyKey, string(EncodeSessionKey(SessionKey{Key: []byte{0xfb, 0xff, 0x01, 0x02}, Algorithm: "HmacSHA256", CreationTimestamp: 1700000000000})),
			"session-key", `{"key":"+/8BAg==","algorithm":"HmacSHA256","creation-timestamp":1700000000000}`},
		{"restart", RestartKey("c"), string(EncodeRestartRequest(RestartRequest{Connector: "c", IncludeTasks: true})), "restart-connector-c", `{"include-tasks":true,"only-failed":false}`},
		{"logger", LoggerClusterKey("org.apache.kafka.connect"), string(EncodeLoggerLevel("DEBUG")), "logger-cluster-org.apache.kafka.connect", `{"level":"DEBUG"}`},
		{"offset", string(offKey), string(offVal), `["local-file-source",{"filename":"/tmp/in.txt"}]`, `{"position":2048}`},
		{"connector status", ConnectorStatusKey("local-file-sink"), string(EncodeStatus(lifecycle.StateRunning, "", "10.0.0.5:8083", 7, "4.1.1")),
			"status-connector-local-file-sink", `{"state":"RUNNING","trace":null,"worker_id":"10.0.0.5:8083","generation":7,"version":"4.1.1"}`},
		{"task status", TaskStatusKey(lifecycle.TaskID{Connector: "my-conn", Task: 12}), string(EncodeStatus(lifecycle.StateFailed, "boom\n\tat x", "h:1", 2, "")),
			"status-task-my-conn-12", `{"state":"FAILED","trace":"boom\n\tat x","worker_id":"h:1","generation":2,"version":null}`},
		{"topic status", TopicStatusKey("local-file-sink", "connect-test"),
			string(EncodeTopicStatus(TopicStatus{Topic: "connect-test", Connector: "local-file-sink", Task: 0, DiscoverTimestamp: 1700000000000})),
			"status-topic-connect-test:connector-local-file-sink", `{"topic":{"name":"connect-test","connector":"local-file-sink","task":0,"discoverTimestamp":1700000000000}}`},
	}
	for _, c := range cases {
		if c.gotKey != c.wantKey {
			t.Errorf("%s key: got %s, want %s", c.name, c.gotKey, c.wantKey)
		}
		if c.gotValue != c.wantValue {
			t.Errorf("%s value:\ngot  %s\nwant %s", c.name, c.gotValue, c.wantValue)
		}
	}
	// Statuses and offsets land where a Java producer puts them.
	if p := kafkalog.Partition([]byte(ConnectorStatusKey("local-file-sink")), DefaultStatusPartitions); p != 2 {
		t.Errorf("status partition %d, want 2", p)
	}
	if p := kafkalog.Partition(offKey, DefaultOffsetPartitions); p != 7 {
		t.Errorf("offset partition %d, want 7", p)
	}
}

func TestParseConfigKey(t *testing.T) {
	cases := []struct {
		key  string
		want parsedKey
		bad  bool
	}{
		{key: "connector-a-b", want: parsedKey{kind: kindConnector, connector: "a-b"}},
		{key: "target-state-connector-x", want: parsedKey{kind: kindTargetState, connector: "connector-x"}},
		{key: "task-my-conn-12", want: parsedKey{kind: kindTask, connector: "my-conn", task: 12}},
		{key: "task-c-x", bad: true},
		{key: "task-c", bad: true},
		{key: "commit-my-conn", want: parsedKey{kind: kindCommit, connector: "my-conn"}},
		{key: "restart-connector-c", want: parsedKey{kind: kindRestart, connector: "c"}},
		{key: "tasks-fencing-c", want: parsedKey{kind: kindTasksFencing, connector: "c"}},
		{key: "session-key", want: parsedKey{kind: kindSessionKey}},
		{key: "logger-cluster-org.foo", want: parsedKey{kind: kindLoggerCluster, connector: "org.foo"}},
		{key: "session-keys", bad: true},
		{key: "whatever", bad: true},
	}
	for _, c := range cases {
		got, err := parseConfigKey(c.key)
		if c.bad {
			if err == nil {
				t.Errorf("%s: parsed as %+v", c.key, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", c.key, got, err, c.want)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	// Readers prefer state.v2 and fall back to state.
	for in, want := range map[string]lifecycle.TargetState{
		`{"state":"PAUSED","state.v2":"STOPPED"}`: lifecycle.TargetStopped,
		`{"state":"PAUSED"}`:                      lifecycle.TargetPaused,
		`{"state":"STARTED","state.v2":7}`:        lifecycle.TargetStarted,
	} {
		got, err := decodeTargetState([]byte(in))
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v", in, got, err)
		}
	}
	if _, err := decodeTargetState([]byte(`{"state":"RUNNING"}`)); err == nil {
		t.Error("unknown target state accepted")
	}
	// Integral numbers in any form.
	if n, err := decodeIntField([]byte(`{"tasks":3.0}`), "tasks"); err != nil || n != 3 {
		t.Errorf("tasks 3.0: %d %v", n, err)
	}
	k, err := decodeSessionKey([]byte(`{"key":"+/8BAg==","algorithm":"HmacSHA256","creation-timestamp":1700000000000}`))
	if err != nil || !reflect.DeepEqual(k, SessionKey{Key: []byte{0xfb, 0xff, 1, 2}, Algorithm: "HmacSHA256", CreationTimestamp: 1700000000000}) {
		t.Errorf("session key %+v %v", k, err)
	}
	st, err := decodeStatus([]byte(`{"state":"FAILED","trace":"x","worker_id":"w:1","generation":4}`))
	if err != nil || st != (statusValue{lifecycle.StateFailed, "x", "w:1", 4, "", nil}) {
		t.Errorf("status %+v %v", st, err)
	}
	// Ferry's restart field round-trips and stays out of the way otherwise.
	r := &lifecycle.RestartInfo{Attempts: 3, NextAttempt: "2026-12-04T17:21:08Z"}
	b := encodeStatusRestart(lifecycle.StateFailed, "x", "w:1", 4, "1.0", r)
	if want := `{"state":"FAILED","trace":"x","worker_id":"w:1","generation":4,"version":"1.0","restart":{"attempts":3,"next_attempt":"2026-12-04T17:21:08Z"}}`; string(b) != want {
		t.Errorf("encoded %s, want %s", b, want)
	}
	if st, err := decodeStatus(b); err != nil || st.restart == nil || *st.restart != *r {
		t.Errorf("decoded restart %+v %v", st.restart, err)
	}
	if b := encodeStatusRestart(lifecycle.StateRunning, "", "w:1", 4, "", nil); string(b) != string(EncodeStatus(lifecycle.StateRunning, "", "w:1", 4, "")) {
		t.Errorf("no restart state changed the record: %s", b)
	}
	ts, err := decodeTopicStatus([]byte(`{"topic":{"name":"t","connector":"c","task":2,"discoverTimestamp":5}}`))
	if err != nil || ts != (TopicStatus{"t", "c", 2, 5}) {
		t.Errorf("topic status %+v %v", ts, err)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type rec struct {
	key   string
	value string // "" = tombstone
}

func applyAll(st *configState, live bool, recs ...rec) []event {
	var evs []event
	for _, r := range recs {
		var v []byte
		if r.value != "" {
			v = []byte(r.value)
		}
		evs = append(evs, st.apply(r.key, v, max(st.offset, 0), live, quiet)...)
	}
	return evs
}

func TestReaderDefersTaskConfigsUntilCommit(t *testing.T) {
	st := newConfigState()
	st.offset = 0
	applyAll(st, true,
		rec{"connector-c", `{"properties":{"name":"c","tasks.max":"2"}}`},
		rec{"task-c-0", `{"properties":{"n":"0"}}`},
		rec{"task-c-1", `{"properties":{"n":"1"}}`},
	)
	s := st.snapshot()
	if s.Connectors["c"].TaskCount != 0 || len(s.Tasks("c")) != 0 {
		t.Fatalf("task configs visible before commit: %+v", s.Connectors["c"])
	}
	if s.Connectors["c"].TargetState != lifecycle.TargetStarted {
		t.Fatalf("default target state %q", s.Connectors["c"].TargetState)
	}
	evs := applyAll(st, true, rec{"commit-c", `{"tasks":2}`})
	s = st.snapshot()
	if len(s.Tasks("c")) != 2 || s.Connectors["c"].TaskConfigs[1]["n"] != "1" || s.Connectors["c"].Generation != 1 {
		t.Fatalf("after commit: %+v", s.Connectors["c"])
	}
	if len(evs) != 1 || evs[0].kind != kindCommit || len(evs[0].ids) != 2 || evs[0].ids[1] != (lifecycle.TaskID{Connector: "c", Task: 1}) {
		t.Fatalf("events %+v", evs)
	}
	if s.Offset != st.offset || s.Offset <= 0 {
		t.Fatalf("offset %d", s.Offset)
	}

	// A commit naming a task whose config is missing marks the connector
	// inconsistent and applies nothing.
	evs = applyAll(st, true, rec{"task-c-0", `{"properties":{"n":"0b"}}`}, rec{"commit-c", `{"tasks":2}`})
	s = st.snapshot()
	c := s.Connectors["c"]
	if !c.Inconsistent || len(s.Tasks("c")) != 0 || c.TaskConfigs[0]["n"] != "0" || c.Generation != 1 {
		t.Fatalf("inconsistent commit: %+v", c)
	}
	if len(evs) != 1 || len(evs[0].ids) != 0 {
		t.Fatalf("events %+v", evs)
	}
	// A complete rewrite repairs it.
	applyAll(st, true, rec{"task-c-0", `{"properties":{"n":"0c"}}`}, rec{"commit-c", `{"tasks":1}`})
	s = st.snapshot()
	if c := s.Connectors["c"]; c.Inconsistent || c.TaskCount != 1 || c.TaskConfigs[0]["n"] != "0c" || len(c.TaskConfigs) != 1 {
		t.Fatalf("repaired: %+v", c)
	}
}

func TestReaderTargetStateAndTombstones(t *testing.T) {
	st := newConfigState()
	// Target state before the config: remembered, no event.
	evs := applyAll(st, true, rec{"target-state-c", `{"state":"PAUSED","state.v2":"STOPPED"}`})
	if len(evs) != 0 || len(st.snapshot().Connectors) != 0 {
		t.Fatalf("events %+v", evs)
	}
	evs = applyAll(st, true, rec{"connector-c", `{"properties":{"name":"c"}}`})
	if s := st.snapshot(); s.Connectors["c"].TargetState != lifecycle.TargetStopped {
		t.Fatalf("target %q", s.Connectors["c"].TargetState)
	}
	if len(evs) != 1 || evs[0].kind != kindConnector || evs[0].removed {
		t.Fatalf("events %+v", evs)
	}
	// Target state tombstone with the config present: back to STARTED.
	evs = applyAll(st, true, rec{"target-state-c", ""})
	if s := st.snapshot(); s.Connectors["c"].TargetState != lifecycle.TargetStarted || len(evs) != 1 || evs[0].kind != kindTargetState {
		t.Fatalf("after tombstone %+v %+v", s.Connectors["c"], evs)
	}
	applyAll(st, true, rec{"task-c-0", `{"properties":{}}`}, rec{"commit-c", `{"tasks":1}`})
	// Connector tombstone removes its tasks; stale commits afterwards are
	// ignored.
	evs = applyAll(st, true, rec{"connector-c", ""}, rec{"task-c-0", `{"properties":{}}`}, rec{"commit-c", `{"tasks":1}`})
	if s := st.snapshot(); len(s.Connectors) != 0 || len(st.taskConfigs) != 0 || len(st.deferred) != 0 {
		t.Fatalf("after delete %+v", st)
	}
	if len(evs) != 1 || !evs[0].removed {
		t.Fatalf("events %+v", evs)
	}
	// Recreated: the old task configs are gone until a new commit.
	applyAll(st, true, rec{"connector-c", `{"properties":{}}`})
	if c := st.snapshot().Connectors["c"]; c.TaskCount != 0 || c.TargetState != lifecycle.TargetStarted {
		t.Fatalf("recreated %+v", c)
	}
}

func TestReaderHistoricRecords(t *testing.T) {
	st := newConfigState()
	evs := applyAll(st, false,
		rec{"connector-c", `{"properties":{}}`},
		rec{"restart-connector-c", `{"include-tasks":true,"only-failed":true}`},
		rec{"logger-cluster-org", `{"level":"DEBUG"}`},
		rec{"session-key", `{"key":"AAE=","algorithm":"HmacSHA256","creation-timestamp":5}`},
		rec{"garbage", `{}`},
		rec{"connector-d", `not json`},
		rec{"commit-c", `{"tasks":"x"}`},
	)
	if len(evs) != 0 {
		t.Fatalf("events during catch-up: %+v", evs)
	}
	s := st.snapshot()
	if s.SessionKey == nil || s.SessionKey.CreationTimestamp != 5 || len(s.Connectors) != 1 {
		t.Fatalf("snapshot %+v", s)
	}
	evs = applyAll(st, true,
		rec{"restart-connector-c", `{"include-tasks":true,"only-failed":true}`},
		rec{"logger-cluster-org", `{"level":"DEBUG"}`},
	)
	if len(evs) != 2 || evs[0].restart != (RestartRequest{"c", true, true}) || evs[1].level != "DEBUG" || evs[1].connector != "org" {
		t.Fatalf("live events %+v", evs)
	}
}
