package kafkastore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/lifecycle"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/storage"
	"github.com/ferryhq/ferry/storage/kafkalog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReadApacheWorkerTopics runs Apache Kafka Connect 4.1.1 in distributed
// mode, lets it run a FileStreamSource connector, pauses it, stops the
// worker and reads the three topics it wrote with Ferry's stores. It needs
// a real broker (FERRY_TEST_KAFKA) and the Connect jars
// (scripts/testbed.sh install).
func TestReadApacheWorkerTopics(t *testing.T) {
	if !testbed.IsRealKafka() {
		t.Skip("needs a real broker (FERRY_TEST_KAFKA)")
	}
	cache := os.Getenv("FERRY_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "ferry")
	}
	if _, err := os.Stat(filepath.Join(cache, "connect-4.1.1", "lib")); err != nil {
		t.Skip("Apache Connect jars not installed (scripts/testbed.sh install)")
	}
	script, err := filepath.Abs("../../scripts/testbed.sh")
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := testbed.Kafka(t)
	dir := t.TempDir()
	group := testbed.UniqueName(t, "apache")
	configTopic, offsetTopic, statusTopic := group+"-configs", group+"-offsets", group+"-status"
	dataTopic := group + "-data"
	port := testbed.FreePort(t)
	workerID := fmt.Sprintf("127.0.0.1:%d", port)
	props := filepath.Join(dir, "worker.properties")
	os.WriteFile(props, []byte(strings.Join([]string{
		"bootstrap.servers=" + bootstrap,
		"group.id=" + group,
		"config.storage.topic=" + configTopic,
		"offset.storage.topic=" + offsetTopic,
		"status.storage.topic=" + statusTopic,
		"config.storage.replication.factor=1",
		"offset.storage.replication.factor=1",
		"status.storage.replication.factor=1",
		"key.converter=org.apache.kafka.connect.storage.StringConverter",
		"value.converter=org.apache.kafka.connect.storage.StringConverter",
		"offset.flush.interval.ms=200",
		"plugin.discovery=service_load",
		"listeners=http://" + workerID,
		"rest.advertised.host.name=127.0.0.1",
		"rest.advertised.port=" + fmt.Sprint(port),
		"",
	}, "\n")), 0o644)
	input := filepath.Join(dir, "in.txt")
	os.WriteFile(input, []byte("one\ntwo\nthree\n"), 0o644)

	connectDir := filepath.Join(dir, "connect")
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(script, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("testbed.sh %v: %v\n%s", args, err, out)
		}
	}
	run("start-connect", "--properties", props, "--distributed", "--dir", connectDir)
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { run("stop-connect", "--dir", connectDir) }) }
	t.Cleanup(stop)

	base := "http://" + workerID
	cfg := map[string]string{
		"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
		"tasks.max":       "1",
		"file":            input,
		"topic":           dataTopic,
	}
	body, _ := json.Marshal(cfg)
	waitHTTP(t, "PUT", base+"/connectors/src/config", body, func(code int, _ []byte) bool { return code == 201 || code == 200 })
	waitHTTP(t, "GET", base+"/connectors/src/offsets", nil, func(code int, b []byte) bool {
		return code == 200 && bytes.Contains(b, []byte(`"position":14`))
	})
	waitHTTP(t, "PUT", base+"/connectors/src/pause", nil, func(code int, _ []byte) bool { return code == 202 })
	waitHTTP(t, "GET", base+"/connectors/src/status", nil, func(code int, b []byte) bool {
		return code == 200 && bytes.Count(b, []byte(`"PAUSED"`)) == 2
	})
	stop()

	ctx := testCtx(t)
	o := opts(bootstrap)
	o.GroupID = group

	// Config topic: the state Apache left, as Ferry's reader sees it.
	cs, err := NewConfigStore(o, TopicOptions{Topic: configTopic}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer cs.Stop()
	snap := cs.Snapshot()
	c := snap.Connectors["src"]
	if c == nil {
		t.Fatalf("connector missing: %+v", snap)
	}
	for k, v := range cfg {
		if c.Config[k] != v {
			t.Errorf("config %s = %q, want %q", k, c.Config[k], v)
		}
	}
	if c.TargetState != lifecycle.TargetPaused || c.TaskCount != 1 || c.Inconsistent ||
		c.TaskConfigs[0]["task.class"] != "org.apache.kafka.connect.file.FileStreamSourceTask" {
		t.Errorf("connector state %+v", c)
	}
	if snap.SessionKey == nil || snap.SessionKey.Algorithm != "HmacSHA256" || len(snap.SessionKey.Key) == 0 {
		t.Errorf("session key %+v", snap.SessionKey)
	}

	// Offsets topic.
	osr, err := NewOffsetStore(o, TopicOptions{Topic: offsetTopic})
	if err != nil {
		t.Fatal(err)
	}
	if err := osr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer osr.Stop()
	key, _ := storage.OffsetKey("src", map[string]any{"filename": input})
	got, err := osr.Get(ctx, [][]byte{key})
	if err != nil || string(got[string(key)]) != `{"position":14}` {
		t.Errorf("offset %q %v", got, err)
	}

	// Status topic.
	ss, err := NewStatusStore(o, TopicOptions{Topic: statusTopic})
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ss.Stop()
	if st, ok := ss.ConnectorStatus("src"); !ok || st.WorkerID != workerID || st.Generation < 1 {
		t.Errorf("connector status %+v %v", st, ok)
	}
	if ts := ss.TaskStatuses("src"); len(ts) != 1 || ts[0].WorkerID != workerID {
		t.Errorf("task statuses %+v", ts)
	}
	if tp := ss.Topics("src"); len(tp) != 1 || tp[0] != dataTopic {
		t.Errorf("topics %v", tp)
	}

	// Byte for byte: re-encoding what was decoded gives Apache's bytes.
	raw := readAll(t, bootstrap, configTopic)
	raw = append(raw, readAll(t, bootstrap, statusTopic)...)
	checked := 0
	for _, r := range raw {
		k := string(r.Key)
		var again []byte
		switch {
		case r.Value == nil:
			continue
		case strings.HasPrefix(k, prefixTargetState):
			ts, err := decodeTargetState(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			again = EncodeTargetState(ts)
		case strings.HasPrefix(k, prefixCommit):
			n, _ := decodeIntField(r.Value, "tasks")
			again = EncodeCommit(n)
		case k == SessionKeyKey:
			sk, _ := decodeSessionKey(r.Value)
			again = EncodeSessionKey(sk)
		case strings.HasPrefix(k, prefixConnector), strings.HasPrefix(k, prefixTask):
			p, _ := decodeProperties(r.Value)
			if !bytes.HasPrefix(r.Value, []byte(`{"properties":{`)) || len(p) == 0 {
				t.Errorf("%s: %s", k, r.Value)
			}
			continue
		case strings.HasPrefix(k, prefixStatusConnector), strings.HasPrefix(k, prefixStatusTask):
			sv, err := decodeStatus(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			again = EncodeStatus(sv.state, sv.trace, sv.workerID, sv.generation, sv.version)
		case strings.HasPrefix(k, prefixStatusTopic):
			tsv, _ := decodeTopicStatus(r.Value)
			again = EncodeTopicStatus(tsv)
			if TopicStatusKey(tsv.Connector, tsv.Topic) != k {
				t.Errorf("topic status key %s", k)
			}
		default:
			continue
		}
		checked++
		if !bytes.Equal(again, r.Value) {
			t.Errorf("%s:\napache %s\nferry  %s", k, r.Value, again)
		}
		if strings.HasPrefix(k, "status-") && int(r.Partition) != kafkalog.Partition(r.Key, DefaultStatusPartitions) {
			t.Errorf("%s in partition %d, Ferry would pick %d", k, r.Partition, kafkalog.Partition(r.Key, DefaultStatusPartitions))
		}
	}
	if checked < 6 {
		t.Errorf("only %d records compared", checked)
	}
}

func readAll(t *testing.T, bootstrap, topic string) []*kgo.Record {
	t.Helper()
	var mu sync.Mutex
	var out []*kgo.Record
	l, err := kafkalog.New(kafkalog.Config{Topic: topic, Brokers: strings.Split(bootstrap, ","), Logger: quiet,
		Consume: func(r *kgo.Record) { mu.Lock(); out = append(out, r); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	l.Stop()
	mu.Lock()
	defer mu.Unlock()
	return out
}

// waitHTTP repeats a request until ok accepts the answer (the worker may
// still be joining its group or rebalancing).
func waitHTTP(t *testing.T, method, url string, body []byte, ok func(int, []byte) bool) {
	t.Helper()
	var last string
	testbed.WaitFor(t, 90*time.Second, 200*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			return false, last
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		last = fmt.Sprintf("%s %s: %d %s", method, url, resp.StatusCode, buf.Bytes())
		return ok(resp.StatusCode, buf.Bytes()), last
	})
}
