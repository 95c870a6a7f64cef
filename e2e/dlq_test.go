package e2e

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/testbed"
)

// sinkOffset is the committed kafka_offset of partition 0 of topic in
// GET /connectors/{c}/offsets, or -1.
func sinkOffset(t *testing.T, w *worker, conn, topic string) float64 {
	t.Helper()
	r := w.call(t, "GET", "/connectors/"+conn+"/offsets", nil)
	if r.status != 200 {
		return -1
	}
	offs, _ := r.object(t)["offsets"].([]any)
	for _, o := range offs {
		m := o.(map[string]any)
		p := m["partition"].(map[string]any)
		if p["kafka_topic"] == topic && p["kafka_partition"] == float64(0) {
			return m["offset"].(map[string]any)["kafka_offset"].(float64)
		}
	}
	return -1
}

func dlqHeaders(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestDeadLetterQueue: with errors.tolerance=all, records the converter
// rejects (malformed JSON, a payload that does not match its schema) go to
// the dead letter queue as consumed, with the error context headers; the
// good ones reach the file, and the committed offset passes them all. With
// errors.tolerance=none the task fails at the first bad record (which is
// still written to the queue, as Apache does) and commits nothing past it.
func TestDeadLetterQueue(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "in")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	good := func(s string) []byte {
		return []byte(`{"schema":{"type":"string","optional":false},"payload":"` + s + `"}`)
	}
	badJSON := []byte(`{"schema":{"type":"string"`)
	// A payload that does not match its schema. (An int32 schema with a
	// string payload would not do: Apache's JsonConverter reads it as 0.)
	mismatch := []byte(`{"schema":{"type":"struct","fields":[{"field":"a","type":"int32"}],"optional":false},"payload":"x"}`)
	testbed.Produce(t, w.bootstrap, topic,
		&kgo.Record{Value: good("good-0")},
		&kgo.Record{Key: []byte(`"k1"`), Value: badJSON, Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}}},
		&kgo.Record{Value: good("good-2")},
		&kgo.Record{Value: mismatch},
		&kgo.Record{Value: good("good-4")},
	)
	conf := func(out, dlq, tolerance string) map[string]string {
		return map[string]string{
			"connector.class": "FileStreamSink", "topics": topic, "file": out,
			"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
			"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "true",
			"errors.tolerance":                                tolerance,
			"errors.log.enable":                               "true",
			"errors.deadletterqueue.topic.name":               dlq,
			"errors.deadletterqueue.topic.replication.factor": "1",
			"errors.deadletterqueue.context.headers.enable":   "true",
		}
	}

	t.Run("all", func(t *testing.T) {
		name := testbed.UniqueName(t, "dlq-all")
		dlq := testbed.UniqueName(t, "dlq")
		out := filepath.Join(w.dir, "all.txt")
		expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", conf(out, dlq, "all")), 201)
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			got := strings.Join(readLines(t, out), ",")
			return got == "good-0,good-2,good-4", got
		})
		recs := testbed.ConsumeN(t, w.bootstrap, dlq, 2, 60*time.Second)
		if string(recs[0].Value) != string(badJSON) || string(recs[0].Key) != `"k1"` || string(recs[1].Value) != string(mismatch) {
			t.Fatalf("DLQ holds %q=%q and %q", recs[0].Key, recs[0].Value, recs[1].Value)
		}
		for i, off := range []string{"1", "3"} {
			h := dlqHeaders(recs[i])
			want := map[string]string{
				"__connect.errors.topic":                topic,
				"__connect.errors.partition":            "0",
				"__connect.errors.offset":               off,
				"__connect.errors.connector.name":       name,
				"__connect.errors.task.id":              "0",
				"__connect.errors.stage":                "VALUE_CONVERTER",
				"__connect.errors.class.name":           "org.apache.kafka.connect.json.JsonConverter",
				"__connect.errors.exception.class.name": "org.apache.kafka.connect.errors.DataException",
			}
			for k, v := range want {
				if h[k] != v {
					t.Errorf("record %d: header %s = %q, want %q", i, k, h[k], v)
				}
			}
			if h["__connect.errors.exception.message"] == "" || h["__connect.errors.exception.stacktrace"] == "" {
				t.Errorf("record %d: exception headers missing: %v", i, h)
			}
		}
		if h := dlqHeaders(recs[0]); h["trace"] != "abc" || recs[0].Headers[0].Key != "trace" {
			t.Errorf("the original header should come first: %v", recs[0].Headers)
		}
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			off := sinkOffset(t, w, name, topic)
			return off == 5, "committed kafka_offset " + strings.TrimSpace(string(w.call(t, "GET", "/connectors/"+name+"/offsets", nil).body))
		})
		w.waitState(t, name, "RUNNING", 1)
	})

	t.Run("none", func(t *testing.T) {
		name := testbed.UniqueName(t, "dlq-none")
		dlq := testbed.UniqueName(t, "dlq")
		out := filepath.Join(w.dir, "none.txt")
		expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", conf(out, dlq, "none")), 201)
		trace := w.waitTaskFailed(t, name)
		if !strings.Contains(trace, "Tolerance exceeded") || !strings.Contains(trace, "offset 1") {
			t.Fatalf("trace:\n%s", trace)
		}
		recs := testbed.ConsumeN(t, w.bootstrap, dlq, 1, 60*time.Second)
		if string(recs[0].Value) != string(badJSON) {
			t.Fatalf("DLQ holds %q", recs[0].Value)
		}
		if off := sinkOffset(t, w, name, topic); off > 1 {
			t.Fatalf("committed kafka_offset %v is past the bad record at offset 1", off)
		}
		if got := readLines(t, out); len(got) > 1 {
			t.Fatalf("sink wrote %v past the bad record", got)
		}
	})
}

// TestDeadLetterQueueMatchesApache runs the same failing sink on Apache
// Kafka Connect 4.1.1 and on Ferry and compares what lands in the two dead
// letter queues: the consumed bytes, the original headers and the context
// headers. Stack traces are Java's own and connector names differ, so
// those two are only checked for presence.
func TestDeadLetterQueueMatchesApache(t *testing.T) {
	lib := connectLib(t)
	bootstrap := testbed.Kafka(t)
	dir := t.TempDir()
	topic := testbed.UniqueName(t, "in")
	testbed.CreateTopic(t, bootstrap, topic, 1)
	testbed.Produce(t, bootstrap, topic,
		&kgo.Record{Value: []byte(`{"schema":{"type":"string","optional":false},"payload":"good"}`)},
		&kgo.Record{Key: []byte("k1"), Value: []byte(`{"schema":{"type":"string"`), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}}},
		&kgo.Record{Value: []byte(`{"schema":{"type":"struct","fields":[{"field":"a","type":"int32"}],"optional":false},"payload":"x"}`)},
		&kgo.Record{Value: []byte(`{"schema":{"type":"int64"},"payload":1,"extra":true}`)},
		&kgo.Record{Value: []byte(`{"schema":{"type":"string","optional":false},"payload":"good too"}`)},
	)
	connector := func(name, dlq, out string) string {
		return fmt.Sprintf(`name=%s
connector.class=FileStreamSink
tasks.max=1
topics=%s
file=%s
key.converter=org.apache.kafka.connect.storage.StringConverter
errors.tolerance=all
errors.deadletterqueue.topic.name=%s
errors.deadletterqueue.topic.replication.factor=1
errors.deadletterqueue.context.headers.enable=true
`, name, topic, out, dlq)
	}
	apacheDLQ, ferryDLQ := testbed.UniqueName(t, "apache-dlq"), testbed.UniqueName(t, "ferry-dlq")
	apacheName, ferryName := testbed.UniqueName(t, "apache"), testbed.UniqueName(t, "ferry")
	port := testbed.FreePort(t)
	workerProps := filepath.Join(dir, "apache-worker.properties")
	writeFile(t, workerProps, fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename=%s
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:%d
`, bootstrap, filepath.Join(dir, "apache.offsets"), port))
	connFile := filepath.Join(dir, "apache-sink.properties")
	writeFile(t, connFile, connector(apacheName, apacheDLQ, filepath.Join(dir, "apache.txt")))
	startApacheStandalone(t, lib, dir, workerProps, connFile)
	startWorkerIn(t, bootstrap, t.TempDir(), nil, parseProps(connector(ferryName, ferryDLQ, filepath.Join(dir, "ferry.txt"))))

	want := testbed.ConsumeN(t, bootstrap, apacheDLQ, 3, 90*time.Second)
	got := testbed.ConsumeN(t, bootstrap, ferryDLQ, 3, 60*time.Second)
	for i := range want {
		w, g := want[i], got[i]
		if !bytes.Equal(w.Key, g.Key) || !bytes.Equal(w.Value, g.Value) || !w.Timestamp.Equal(g.Timestamp) {
			t.Errorf("record %d: apache %q=%q at %v, ferry %q=%q at %v", i, w.Key, w.Value, w.Timestamp, g.Key, g.Value, g.Timestamp)
		}
		wk, gk := headerKeys(w), headerKeys(g)
		if wk != gk {
			t.Errorf("record %d: header names\napache %s\nferry  %s", i, wk, gk)
		}
		wh, gh := dlqHeaders(w), dlqHeaders(g)
		for k, v := range wh {
			switch k {
			case "__connect.errors.exception.stacktrace":
				if gh[k] == "" {
					t.Errorf("record %d: no stack trace header", i)
				}
			case "__connect.errors.connector.name":
				if gh[k] != ferryName {
					t.Errorf("record %d: connector name %q", i, gh[k])
				}
			default:
				if gh[k] != v {
					t.Errorf("record %d: header %s\napache %q\nferry  %q", i, k, v, gh[k])
				}
			}
		}
	}
	for _, f := range []string{"apache.txt", "ferry.txt"} {
		f := filepath.Join(dir, f)
		testbed.WaitFor(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
			got := strings.Join(readLines(t, f), ",")
			return got == "good,good too", f + ": " + got
		})
	}
}

func headerKeys(r *kgo.Record) string {
	ks := make([]string, len(r.Headers))
	for i, h := range r.Headers {
		ks[i] = h.Key
	}
	return strings.Join(ks, ",")
}
