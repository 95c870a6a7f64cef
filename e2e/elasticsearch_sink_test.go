package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/testbed"
)

// osNode is a private OpenSearch node started with scripts/testbed.sh.
type osNode struct {
	script, dir string
	port        int
	url         string
}

func startOSNode(t *testing.T, n *osNode, keep bool) {
	t.Helper()
	args := []string{"start-opensearch", "--port", fmt.Sprint(n.port), "--dir", n.dir}
	if keep {
		args = append(args, "--keep")
	}
	out, err := exec.Command(n.script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("start-opensearch: %v\n%s", err, out)
	}
	n.url = fmt.Sprintf("http://127.0.0.1:%d", n.port)
}

func stopOSNode(t *testing.T, n *osNode) {
	t.Helper()
	if out, err := exec.Command(n.script, "stop-opensearch", "--dir", n.dir).CombinedOutput(); err != nil {
		t.Fatalf("stop-opensearch: %v\n%s", err, out)
	}
}

// osSearch returns the _source of every document of the index.
func osDocs(t *testing.T, base, index string, size int) (map[string]map[string]any, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/"+index+"/_refresh", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	resp, err := http.Get(fmt.Sprintf("%s/%s/_search?size=%d&version=true", base, index, size))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Hits struct {
			Hits []struct {
				ID      string         `json:"_id"`
				Version int64          `json:"_version"`
				Source  map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %s", err, b)
	}
	out := map[string]map[string]any{}
	for _, h := range r.Hits.Hits {
		h.Source["_version"] = h.Version
		out[h.ID] = h.Source
	}
	return out, nil
}

// TestElasticsearchSinkOutageAndKill streams keyed records through
// Confluent's Elasticsearch sink in a standalone worker into a private
// OpenSearch node, stops the node mid-stream for 20 s (60 s with
// FERRY_TEST_OPENSEARCH_LONG_OUTAGE=1) plus the time its restart takes
// (about a minute on a busy machine), then kills the worker with SIGKILL
// mid-stream and restarts it. Every key must end as exactly one document
// holding its latest record, at the version of that record's offset.
func TestElasticsearchSinkOutageAndKill(t *testing.T) {
	if os.Getenv("FERRY_TEST_OPENSEARCH") == "" {
		t.Skip("FERRY_TEST_OPENSEARCH is not set: no OpenSearch jars (scripts/testbed.sh install)")
	}
	bootstrap := testbed.Kafka(t)
	wd, _ := os.Getwd()
	node := &osNode{script: filepath.Join(wd, "..", "scripts", "testbed.sh"), dir: filepath.Join(t.TempDir(), "opensearch"), port: testbed.FreePort(t)}
	startOSNode(t, node, false)
	t.Cleanup(func() { stopOSNode(t, node) })

	const keys, total = 500, 30000
	topic := testbed.UniqueName(t, "es-outage")
	testbed.CreateTopic(t, bootstrap, topic, 2)
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%keys),
				Value: fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"field":"i","type":"int64"},{"field":"name","type":"string"}]},"payload":{"i":%d,"name":"n%d"}}`, i, i)})
		}
		testbed.Produce(t, bootstrap, topic, recs...)
	}
	dir := t.TempDir()
	port := testbed.FreePort(t)
	name := testbed.UniqueName(t, "es-sink")
	writeFile(t, filepath.Join(dir, "worker.properties"), fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename=%s
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:%d
consumer.max.partition.fetch.bytes=65536
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=1000
`, bootstrap, filepath.Join(dir, "connect.offsets"), port))
	writeFile(t, filepath.Join(dir, "sink.properties"), fmt.Sprintf(`name=%s
connector.class=io.confluent.connect.elasticsearch.ElasticsearchSinkConnector
tasks.max=2
topics=%s
connection.url=%s
batch.size=500
max.retries=2
retry.backoff.ms=200
`, name, topic, node.url))
	args := []string{"standalone", "worker.properties", "sink.properties"}
	restURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	w := &worker{url: restURL}
	index := strings.ToLower(topic)
	countDocs := func() int {
		req, _ := http.NewRequest(http.MethodPost, node.url+"/"+index+"/_refresh", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		resp, err := http.Get(node.url + "/" + index + "/_count")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var c struct{ Count int }
		_ = json.NewDecoder(resp.Body).Decode(&c)
		return c.Count
	}

	produce(0, 10000)
	first := startFerry(t, dir, args...)
	waitHTTP(t, restURL)
	testbed.WaitFor(t, 120*time.Second, 100*time.Millisecond, func() (bool, string) {
		noFailedTask(t, w, name)
		n := countDocs()
		return n >= keys, fmt.Sprint(n, " documents")
	})

	outage := 20 * time.Second
	if os.Getenv("FERRY_TEST_OPENSEARCH_LONG_OUTAGE") != "" {
		outage = 60 * time.Second
	}
	stopOSNode(t, node)
	down := time.Now()
	produce(10000, 20000)
	time.Sleep(outage)
	startOSNode(t, node, true)
	t.Logf("node down for %v", time.Since(down).Round(time.Second))
	adm := testbed.Admin(t, bootstrap)
	group := "connect-" + name
	testbed.WaitFor(t, 180*time.Second, 200*time.Millisecond, func() (bool, string) {
		noFailedTask(t, w, name)
		c := committedOffsets(t, adm, group, topic)
		return sumOffsets(c) == 20000, fmt.Sprintf("committed %v", c)
	})

	produce(20000, total)
	testbed.WaitFor(t, 60*time.Second, 5*time.Millisecond, func() (bool, string) {
		c := sumOffsets(committedOffsets(t, adm, group, topic))
		return c > 21000, fmt.Sprint("committed ", c)
	})
	first.kill()
	t.Logf("worker killed at %d committed records", sumOffsets(committedOffsets(t, adm, group, topic)))
	startFerry(t, dir, args...)
	waitHTTP(t, restURL)
	testbed.WaitFor(t, 180*time.Second, 200*time.Millisecond, func() (bool, string) {
		noFailedTask(t, w, name)
		c := committedOffsets(t, adm, group, topic)
		return sumOffsets(c) == total, fmt.Sprintf("committed %v", c)
	})

	docs, err := osDocs(t, node.url, index, keys+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != keys {
		t.Fatalf("%d documents, want %d", len(docs), keys)
	}
	// Each key's last record is i = total-keys+k; a lost write or an older
	// replay winning would leave an earlier i.
	for k := range keys {
		d := docs[fmt.Sprintf("k%d", k)]
		if d == nil {
			t.Fatalf("key k%d has no document", k)
		}
		if got, want := int(d["i"].(float64)), total-keys+k; got != want {
			t.Errorf("key k%d holds i=%d, want %d", k, got, want)
		}
	}
	w.waitState(t, name, "RUNNING", 2)
}

// TestElasticsearchSinkMalformedToDLQ: under errors.tolerance=all a
// document the node refuses as malformed goes to the dead letter queue
// with the node's reason, the others are indexed, and offsets move on.
func TestElasticsearchSinkMalformedToDLQ(t *testing.T) {
	base := os.Getenv("FERRY_TEST_OPENSEARCH")
	if base == "" {
		t.Skip("FERRY_TEST_OPENSEARCH is not set (scripts/testbed.sh start-opensearch)")
	}
	t.Parallel()
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "es-dlq-in")
	dlq := testbed.UniqueName(t, "es-dlq")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	testbed.Produce(t, w.bootstrap, topic,
		&kgo.Record{Key: []byte("a"), Value: []byte(`{"n":1}`)}, &kgo.Record{Key: []byte("b"), Value: []byte(`{"n":"not a number"}`)},
		&kgo.Record{Key: []byte("c"), Value: []byte(`{"n":3}`)})
	name := testbed.UniqueName(t, "es-dlq")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", map[string]string{
		"connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector", "topics": topic,
		"key.converter": "org.apache.kafka.connect.storage.StringConverter", "value.converter": "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false", "connection.url": base, "schema.ignore": "true",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
		"errors.deadletterqueue.topic.replication.factor": "1", "errors.deadletterqueue.context.headers.enable": "true",
	}), 201)
	recs := testbed.ConsumeN(t, w.bootstrap, dlq, 1, 60*time.Second)
	if h := dlqHeaders(recs[0]); string(recs[0].Value) != `{"n":"not a number"}` || !strings.Contains(h["__connect.errors.exception.message"], "status 400") {
		t.Errorf("DLQ record %q with headers %v", recs[0].Value, h)
	}
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		off := sinkOffset(t, w, name, topic)
		return off == 3, fmt.Sprint("committed offset ", off)
	})
	docs, err := osDocs(t, base, strings.ToLower(topic), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs["a"] == nil || docs["c"] == nil {
		t.Errorf("documents %v, want a and c", docs)
	}
	w.waitState(t, name, "RUNNING", 1)
}
