package distributed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/plugins"
	"github.com/ferryhq/ferry/rest"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
)

// The BigQuery connector's Storage Write client links opencensus, whose
// package init starts a worker goroutine that lives as long as the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

func TestSignMatchesHMACSHA256(t *testing.T) {
	// RFC 4231 test case 2.
	got := sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="; got != want {
		t.Fatalf("sign = %s, want %s", got, want)
	}
}

func TestTopicOptions(t *testing.T) {
	c, err := runtime.ParseWorkerConfig(map[string]string{
		"group.id": "g", "config.storage.topic": "c", "offset.storage.topic": "o", "status.storage.topic": "s",
		"offset.storage.partitions": "7", "offset.storage.replication.factor": "-1",
		"offset.storage.cleanup.policy": "delete", "offset.storage.min.insync.replicas": "2",
		"key.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter": "org.apache.kafka.connect.json.JsonConverter",
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	o := topicOptions(c, runtime.WOffsetTopic, runtime.WOffsetPartitions, runtime.WOffsetReplication, "offset.storage.")
	if o.Topic != "o" || o.Partitions != 7 || o.ReplicationFactor != -1 || len(o.Configs) != 1 || o.Configs["min.insync.replicas"] != "2" {
		t.Fatalf("offsets topic options %+v", o)
	}
	s := topicOptions(c, runtime.WStatusTopic, runtime.WStatusPartitions, runtime.WStatusReplication, "status.storage.")
	if s.Partitions != 5 || s.ReplicationFactor != 3 {
		t.Fatalf("status topic options %+v", s)
	}
}

func code(err error) int {
	var he *herder.Error
	if errors.As(err, &he) {
		return he.Code
	}
	return 0
}

// TestSingleWorker runs one worker (the leader) on a real broker: internal
// request signatures, leader writes and the stop rules.
func TestSingleWorker(t *testing.T) {
	if !testbed.IsRealKafka() {
		t.Skip("needs a real broker (FERRY_TEST_KAFKA): kfake's group coordinator does not fully support protocol type \"connect\"")
	}
	bootstrap := testbed.Kafka(t)
	g := testbed.UniqueName(t, "dh")
	cfg, err := runtime.ParseWorkerConfig(map[string]string{
		"bootstrap.servers": bootstrap, "group.id": g,
		"config.storage.topic": g + "-c", "offset.storage.topic": g + "-o", "status.storage.topic": g + "-s",
		"config.storage.replication.factor": "1", "offset.storage.replication.factor": "1", "status.storage.replication.factor": "1",
		"offset.storage.partitions": "2", "status.storage.partitions": "2",
		"key.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter": "org.apache.kafka.connect.json.JsonConverter",
		"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000",
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := plugins.Registry()
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
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		err := h.Health(ctx)
		return err == nil, "not healthy"
	})
	testbed.WaitFor(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		return h.currentSessionKey() != nil, "no session key"
	})

	body := []byte(`[]`)
	if err := h.PutTaskConfigs(ctx, "x", nil, rest.InternalSignature{Body: body}); code(err) != http.StatusBadRequest {
		t.Errorf("unsigned request: %v", err)
	}
	bad := rest.InternalSignature{Body: body, Signature: sign([]byte("wrong"), body), Algorithm: hmacSHA256}
	if err := h.PutTaskConfigs(ctx, "x", nil, bad); code(err) != http.StatusForbidden {
		t.Errorf("badly signed request: %v", err)
	}
	good := rest.InternalSignature{Body: body, Signature: sign(h.currentSessionKey().Key, body), Algorithm: hmacSHA256}
	if err := h.PutTaskConfigs(ctx, "x", nil, good); code(err) != http.StatusNotFound {
		t.Errorf("signed request for an unknown connector: %v", err)
	}

	dir := t.TempDir()
	conf := map[string]string{"connector.class": "FileStreamSink", "tasks.max": "2", "file": dir + "/out.txt", "topics": g + "-data"}
	created, info, err := h.PutConnectorConfig(ctx, "sink", conf, "", false)
	if err != nil || !created || info.Name != "sink" {
		t.Fatalf("create: %v %v %+v", created, err, info)
	}
	if _, _, err := h.PutConnectorConfig(ctx, "sink", conf, "", false); code(err) != http.StatusConflict {
		t.Errorf("second create: %v", err)
	}
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		st, err := h.ConnectorStatus(ctx, "sink")
		if err != nil {
			return false, err.Error()
		}
		if st.Connector.State != herder.StateRunning || len(st.Tasks) != 2 {
			return false, string(st.Connector.State)
		}
		for _, ts := range st.Tasks {
			if ts.State != herder.StateRunning || ts.WorkerID != "127.0.0.1:1" {
				return false, string(ts.State)
			}
		}
		return true, ""
	})
	plan, err := h.RestartConnectorAndTasks(ctx, "sink", true, false)
	if err != nil || plan.Connector.State != herder.StateRestarting || len(plan.Tasks) != 2 || plan.Tasks[1].State != herder.StateRestarting {
		t.Fatalf("restart plan %+v, %v", plan, err)
	}
	if err := h.RestartTask(ctx, herder.TaskID{Connector: "sink", Task: 1}); err != nil {
		t.Errorf("task restart: %v", err)
	}
	if err := h.RestartTask(ctx, herder.TaskID{Connector: "sink", Task: 5}); code(err) != http.StatusNotFound {
		t.Errorf("restart of an unknown task: %v", err)
	}
	if err := h.RestartConnector(ctx, "sink"); err != nil {
		t.Errorf("connector restart: %v", err)
	}
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		st, err := h.ConnectorStatus(ctx, "sink")
		if err != nil {
			return false, err.Error()
		}
		for _, ts := range st.Tasks {
			if ts.State != herder.StateRunning {
				return false, string(ts.State)
			}
		}
		return st.Connector.State == herder.StateRunning, string(st.Connector.State)
	})
	if _, err := h.ResetConnectorOffsets(ctx, "sink"); code(err) != http.StatusBadRequest {
		t.Errorf("offsets reset of a running connector: %v", err)
	}
	if err := h.StopConnector(ctx, "sink"); err != nil {
		t.Fatal(err)
	}
	tc := []map[string]string{{"task.class": "x"}}
	if err := h.PutTaskConfigs(ctx, "sink", tc, good); code(err) != http.StatusBadRequest {
		t.Errorf("task configs for a stopped connector: %v", err)
	}
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		st, err := h.ConnectorStatus(ctx, "sink")
		if err != nil {
			return false, err.Error()
		}
		return st.Connector.State == herder.StateStopped && len(st.Tasks) == 0, string(st.Connector.State)
	})
	// 409 until the rebalance the stop's task config commit asked for is done.
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		_, err := h.ResetConnectorOffsets(ctx, "sink")
		return code(err) != http.StatusConflict, fmt.Sprint(err)
	})
	if _, err := h.ResetConnectorOffsets(ctx, "sink"); err != nil {
		t.Errorf("offsets reset of a stopped connector: %v (cause: %v)", err, errors.Unwrap(err))
	}
	// A request that routes by the assignment, raced by a config change
	// the worker has read but not rebalanced for yet, answers 409.
	err = h.do(ctx, func(ctx context.Context) error {
		other := map[string]string{"connector.class": "FileStreamSink", "tasks.max": "1", "file": dir + "/other.txt", "topics": g + "-data"}
		if err := h.configs.PutConnectorConfig(ctx, "other", other, herder.TargetStarted); err != nil {
			return err
		}
		if err := h.configs.ReadToEnd(ctx); err != nil {
			return err
		}
		return h.checkRebalance(ctx)
	})
	var he *herder.Error
	if !errors.As(err, &he) || he.Code != http.StatusConflict || he.Message != rest.MsgStaleConfig {
		t.Fatalf("request racing a config change: %v", err)
	}
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		err := h.RestartConnector(ctx, "other")
		return err == nil, fmt.Sprint(err)
	})
	if err := h.DeleteConnector(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if err := h.DeleteConnector(ctx, "sink"); err != nil {
		t.Fatal(err)
	}
	testbed.WaitFor(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		_, err := h.ConnectorStatus(ctx, "sink")
		return code(err) == http.StatusNotFound, "status still there"
	})
}

// The stale-configuration decision: a change read at some offset keeps
// requests answering 409 until an assignment computed from at least that
// offset completes.
func TestRebalancePendingDecision(t *testing.T) {
	var s actorState
	s.init()
	if s.rebalancePending() {
		t.Fatal("pending before any change")
	}
	s.noteRebalanceNeeded(10)
	s.noteRebalanceNeeded(7) // an older offset does not lower the mark
	if !s.rebalancePending() {
		t.Fatal("not pending after a change")
	}
	if !s.noteAssignment(9) || !s.rebalancePending() {
		t.Fatal("an assignment from an older config cleared the pending rebalance")
	}
	if s.noteAssignment(10) || s.rebalancePending() {
		t.Fatal("an assignment from the current config left the rebalance pending")
	}
	if s.noteAssignment(3) {
		t.Fatal("an assignment with nothing pending asked for a rebalance")
	}
}
