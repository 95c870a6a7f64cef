package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connectors/http/httptest"
	"github.com/ferryhq/ferry/internal/testbed"
)

// countValues splits batch bodies "[v,v,...]" and counts each value.
func countValues(bodies []string) map[string]int {
	seen := map[string]int{}
	for _, b := range bodies {
		b = strings.TrimSuffix(strings.TrimPrefix(b, "["), "]")
		for v := range strings.SplitSeq(b, ",") {
			if v != "" {
				seen[v]++
			}
		}
	}
	return seen
}

// TestHTTPSinkAivenThroughNginx runs Aiven's HTTP sink in a worker on the
// broker, posting batches through nginx to the receiver; nginx goes away
// for a few seconds mid-stream and every record still arrives exactly once.
func TestHTTPSinkAivenThroughNginx(t *testing.T) {
	t.Parallel()
	recv := httptest.StartReceiver(t)
	ng := httptest.StartNginx(t, recv.Addr())
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "http-in")
	testbed.CreateTopic(t, w.bootstrap, topic, 2)
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, `{"i":%d}`, i)})
		}
		testbed.Produce(t, w.bootstrap, topic, recs...)
	}
	produce(0, 300)
	name := testbed.UniqueName(t, "http-aiven")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", map[string]string{
		"connector.class": "io.aiven.kafka.connect.http.HttpSinkConnector", "topics": topic, "tasks.max": "2",
		"key.converter": "org.apache.kafka.connect.storage.StringConverter", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
		"http.url": ng.URL + "/ingest", "http.authorization.type": "static", "http.headers.authorization": "Bearer e2e",
		"http.headers.content.type": "application/json",
		"batching.enabled":          "true", "batch.max.size": "40", "batch.prefix": "[", "batch.suffix": "]", "batch.separator": ",",
		"max.retries": "1", "retry.backoff.ms": "100", "kafka.retry.backoff.ms": "500",
	}), 201)
	waitAll := func(n int) {
		testbed.WaitFor(t, 90*time.Second, 100*time.Millisecond, func() (bool, string) {
			got := countValues(recv.Bodies())
			return len(got) == n, fmt.Sprintf("%d distinct values of %d", len(got), n)
		})
	}
	waitAll(300)
	ng.Stop(t)
	produce(300, 600)
	time.Sleep(4 * time.Second) // the worker keeps trying against a closed port
	ng.Start(t)
	waitAll(600)
	seen := countValues(recv.Bodies())
	var dups []string
	for v, n := range seen {
		if n > 1 {
			dups = append(dups, v)
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 {
		t.Errorf("%d values arrived more than once: %v", len(dups), dups)
	}
	for _, q := range recv.Requests() {
		if q.Header.Get("Authorization") != "Bearer e2e" || q.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("request headers %v", q.Header)
		}
		if n := len(countValues([]string{q.Body})); n > 40 {
			t.Fatalf("a request carried %d records, more than batch.max.size", n)
		}
	}
	w.waitState(t, name, "RUNNING", 2)
}

// TestHTTPSinkRefusedRecordsToDLQ: with errors.tolerance=all, records the
// server refuses with 400 go to the dead letter queue with the response in
// the exception header, the others are delivered, and the offsets move on.
func TestHTTPSinkRefusedRecordsToDLQ(t *testing.T) {
	t.Parallel()
	recv := httptest.StartReceiver(t)
	recv.RefuseContaining("bad", 400)
	ng := httptest.StartNginx(t, recv.Addr())
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "http-dlq-in")
	dlq := testbed.UniqueName(t, "http-dlq")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	testbed.Produce(t, w.bootstrap, topic,
		&kgo.Record{Value: []byte("good-0")}, &kgo.Record{Value: []byte("bad-1")},
		&kgo.Record{Value: []byte("good-2")}, &kgo.Record{Value: []byte("bad-3")}, &kgo.Record{Value: []byte("good-4")})
	name := testbed.UniqueName(t, "http-dlq")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", map[string]string{
		"connector.class": "io.aiven.kafka.connect.http.HttpSinkConnector", "topics": topic,
		"value.converter": "org.apache.kafka.connect.storage.StringConverter",
		"http.url":        ng.URL + "/ingest", "http.authorization.type": "none", "max.retries": "1", "retry.backoff.ms": "50",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
		"errors.deadletterqueue.topic.replication.factor": "1", "errors.deadletterqueue.context.headers.enable": "true",
	}), 201)
	recs := testbed.ConsumeN(t, w.bootstrap, dlq, 2, 60*time.Second)
	for i, want := range []string{"bad-1", "bad-3"} {
		h := dlqHeaders(recs[i])
		if string(recs[i].Value) != want || h["__connect.errors.stage"] != "TASK_PUT" ||
			!strings.Contains(h["__connect.errors.exception.message"], "400") ||
			!strings.Contains(h["__connect.errors.exception.message"], `{"error":"refused record"}`) {
			t.Errorf("DLQ record %d: %q with headers %v", i, recs[i].Value, h)
		}
	}
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		off := sinkOffset(t, w, name, topic)
		return off == 5, fmt.Sprint("committed offset ", off)
	})
	if got := strings.Join(recv.Bodies(), ","); got != "good-0,good-2,good-4" {
		t.Errorf("accepted %q", got)
	}
	w.waitState(t, name, "RUNNING", 1)
}

// TestHTTPSinkConfluentReporters runs Confluent's HTTP sink with basic
// authentication through nginx, JSON array bodies, a URL naming the topic,
// and both reporter topics.
func TestHTTPSinkConfluentReporters(t *testing.T) {
	t.Parallel()
	recv := httptest.StartReceiver(t)
	recv.RefuseContaining("bad", 400)
	ng := httptest.StartNginx(t, recv.Addr())
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "http-cf-in")
	results, errs := testbed.UniqueName(t, "http-results"), testbed.UniqueName(t, "http-errors")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	ts := time.UnixMilli(1_760_000_000_000)
	testbed.Produce(t, w.bootstrap, topic,
		&kgo.Record{Key: []byte("a"), Value: []byte(`{"n":1}`), Timestamp: ts},
		&kgo.Record{Key: []byte("b"), Value: []byte(`{"n":"bad"}`), Timestamp: ts},
		&kgo.Record{Key: []byte("c"), Value: []byte(`{"n":3}`), Timestamp: ts})
	name := testbed.UniqueName(t, "http-confluent")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", map[string]string{
		"connector.class": "io.confluent.connect.http.HttpSinkConnector", "topics": topic,
		"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"http.api.url": ng.URL + "/basic/${topic}", "auth.type": "BASIC",
		"connection.user": httptest.NginxUser, "connection.password": httptest.NginxPassword,
		"request.body.format": "json", "batch.json.as.array": "true", "batch.max.size": "1",
		"behavior.on.error": "log", "max.retries": "0",
		"reporter.bootstrap.servers": w.bootstrap, "reporter.result.topic.name": results, "reporter.error.topic.name": errs,
		"reporter.result.topic.replication.factor": "1", "reporter.error.topic.replication.factor": "1",
	}), 201)
	ok := testbed.ConsumeN(t, w.bootstrap, results, 2, 60*time.Second)
	for i, key := range []string{"a", "c"} {
		h := dlqHeaders(ok[i])
		if string(ok[i].Key) != key || h["input_record_topic"] != topic || h["input_record_partition"] != "0" ||
			h["input_record_timestamp"] != "1760000000000" || !strings.HasPrefix(string(ok[i].Value), `{"accepted":`) {
			t.Errorf("result record %d: %q=%q %v", i, ok[i].Key, ok[i].Value, h)
		}
	}
	bad := testbed.ConsumeN(t, w.bootstrap, errs, 1, 60*time.Second)[0]
	h := dlqHeaders(bad)
	if string(bad.Key) != "b" || h["input_record_offset"] != "1" || h["status_code"] != "400" || h["payload"] != `[{"n":"bad"}]` ||
		!strings.HasPrefix(string(bad.Value), "Retry time lapsed, unable to process HTTP request. HTTP Response code: 400, Reason phrase: Bad Request, Url: "+ng.URL+"/basic/"+topic) {
		t.Errorf("error record %q=%q %v", bad.Key, bad.Value, h)
	}
	if got := strings.Join(recv.Bodies(), ","); got != `[{"n":1}],[{"n":3}]` {
		t.Errorf("accepted %q", got)
	}
	for _, q := range recv.Requests() {
		if q.Path != "/basic/"+topic || q.Header.Get("Authorization") != httptest.BasicAuth(httptest.NginxUser, httptest.NginxPassword) {
			t.Errorf("request %s with %q", q.Path, q.Header.Get("Authorization"))
		}
	}
	w.waitState(t, name, "RUNNING", 1)
}

// TestHTTPSinkConfigErrors: rules spanning keys are reported by
// validation and refuse the connector with Apache's error body.
func TestHTTPSinkConfigErrors(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	cfg := map[string]string{"name": "bad-http", "connector.class": "io.aiven.kafka.connect.http.HttpSinkConnector", "topics": "x",
		"http.url": "http://127.0.0.1:1/", "http.authorization.type": "static"}
	r := w.call(t, "PUT", "/connector-plugins/io.aiven.kafka.connect.http.HttpSinkConnector/config/validate", cfg)
	expectStatus(t, r, 200)
	if body := string(r.body); !strings.Contains(body, `"error_count":1`) || !strings.Contains(body, "Invalid value null for configuration http.headers.authorization: Must be present when http.authorization.type = STATIC") {
		t.Errorf("validate: %s", body)
	}
	delete(cfg, "name")
	expectError(t, w.call(t, "PUT", "/connectors/"+testbed.UniqueName(t, "bad-http")+"/config", cfg), 400, "http.headers.authorization")
	cfg = map[string]string{"connector.class": "io.confluent.connect.http.HttpSinkConnector", "topics": "x",
		"http.api.url": "http://127.0.0.1:1/", "auth.type": "BASIC"}
	expectError(t, w.call(t, "PUT", "/connectors/"+testbed.UniqueName(t, "bad-http")+"/config", cfg), 400, "connection.user")
}
