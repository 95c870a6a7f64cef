package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestPoisonRecord: a record the converter cannot read fails the sink task
// under errors.tolerance=none, with a readable trace and no offset
// committed past it; under errors.tolerance=all it is skipped.
func TestPoisonRecord(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "poison")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	testbed.Produce(t, w.bootstrap, topic,
		&kgo.Record{Value: []byte(`"good-1"`)},
		&kgo.Record{Value: []byte(`{"broken json`)},
		&kgo.Record{Value: []byte(`"good-2"`)},
	)
	conf := func(out, tolerance string) map[string]string {
		return map[string]string{
			"connector.class": "FileStreamSink", "topics": topic, "file": out,
			"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
			"errors.tolerance": tolerance,
		}
	}

	strict := testbed.UniqueName(t, "strict")
	strictOut := filepath.Join(w.dir, "strict.txt")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+strict+"/config", conf(strictOut, "none")), 201)
	var trace string
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		r := w.call(t, "GET", "/connectors/"+strict+"/status", nil)
		if !strings.Contains(string(r.body), `"state":"FAILED"`) {
			return false, string(r.body)
		}
		tasks := r.object(t)["tasks"].([]any)
		trace, _ = tasks[0].(map[string]any)["trace"].(string)
		return true, ""
	})
	if !strings.Contains(trace, topic) || !strings.Contains(trace, "VALUE_CONVERTER") || !strings.Contains(trace, "offset 1") {
		t.Fatalf("trace should name the topic and the conversion problem:\n%s", trace)
	}
	// The connector itself keeps running; only the task failed.
	r := w.call(t, "GET", "/connectors/"+strict+"/status", nil)
	if r.object(t)["connector"].(map[string]any)["state"] != "RUNNING" {
		t.Fatalf("connector state: %s", r.body)
	}
	if got := readLines(t, strictOut); len(got) > 1 || (len(got) == 1 && got[0] != "good-1") {
		t.Fatalf("strict sink wrote %v", got)
	}
	r = w.call(t, "GET", "/connectors/"+strict+"/offsets", nil)
	expectStatus(t, r, 200)
	for _, o := range r.object(t)["offsets"].([]any) {
		if off := o.(map[string]any)["offset"].(map[string]any)["kafka_offset"].(float64); off > 1 {
			t.Fatalf("committed offset %v is past the poison record at offset 1", off)
		}
	}

	lenient := testbed.UniqueName(t, "lenient")
	lenientOut := filepath.Join(w.dir, "lenient.txt")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+lenient+"/config", conf(lenientOut, "all")), 201)
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		got := readLines(t, lenientOut)
		return strings.Join(got, ",") == "good-1,good-2", strings.Join(got, ",")
	})
	w.waitState(t, lenient, "RUNNING", 1)
}
