package e2e

import (
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
		var trace string
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			r := w.call(t, "GET", "/connectors/"+name+"/status", nil)
			tasks, _ := r.object(t)["tasks"].([]any)
			if len(tasks) != 1 || tasks[0].(map[string]any)["state"] != "FAILED" {
				return false, string(r.body)
			}
			trace, _ = tasks[0].(map[string]any)["trace"].(string)
			return true, ""
		})
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
