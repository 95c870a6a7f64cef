package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestRESTEndpoints walks every endpoint of Apache's REST API against a real
// standalone worker, checking status codes and body shapes.
func TestRESTEndpoints(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	src := testbed.UniqueName(t, "src")
	sink := testbed.UniqueName(t, "sink")
	topic := testbed.UniqueName(t, "topic")
	in := filepath.Join(w.dir, "in.txt")
	out := filepath.Join(w.dir, "out.txt")
	if err := os.WriteFile(in, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("root", func(t *testing.T) {
		r := w.call(t, "GET", "/", nil)
		expectStatus(t, r, 200)
		m := r.object(t)
		for _, k := range []string{"version", "commit", "kafka_cluster_id"} {
			if s, _ := m[k].(string); s == "" {
				t.Fatalf("GET / lacks %s: %s", k, r.body)
			}
		}
	})
	t.Run("health", func(t *testing.T) {
		r := w.call(t, "GET", "/health", nil)
		expectStatus(t, r, 200)
		if m := r.object(t); m["status"] != "healthy" {
			t.Fatalf("health: %s", r.body)
		}
	})
	t.Run("plugins", func(t *testing.T) {
		r := w.call(t, "GET", "/connector-plugins", nil)
		expectStatus(t, r, 200)
		for _, c := range []string{"org.apache.kafka.connect.file.FileStreamSinkConnector", "org.apache.kafka.connect.file.FileStreamSourceConnector", "io.confluent.kafka.connect.datagen.DatagenConnector"} {
			if !strings.Contains(string(r.body), `"class":"`+c+`"`) {
				t.Fatalf("plugin %s missing: %s", c, r.body)
			}
		}
		if strings.Contains(string(r.body), `"converter"`) {
			t.Fatalf("connectorsOnly default should hide converters: %s", r.body)
		}
		r = w.call(t, "GET", "/connector-plugins?connectorsOnly=false", nil)
		if !strings.Contains(string(r.body), `"class":"org.apache.kafka.connect.json.JsonConverter","type":"converter"`) {
			t.Fatalf("converters missing: %s", r.body)
		}
		r = w.call(t, "GET", "/connector-plugins/FileStreamSource/config", nil)
		expectStatus(t, r, 200)
		if !strings.Contains(string(r.body), `"name":"topic"`) || !strings.Contains(string(r.body), `"name":"tasks.max"`) {
			t.Fatalf("plugin config: %s", r.body)
		}
		expectError(t, w.call(t, "GET", "/connector-plugins/NoSuchThing/config", nil), 404, "NoSuchThing")
	})
	t.Run("validate", func(t *testing.T) {
		r := w.call(t, "PUT", "/connector-plugins/FileStreamSink/config/validate",
			map[string]string{"connector.class": "FileStreamSink", "name": "v", "tasks.max": "0"})
		expectStatus(t, r, 200)
		m := r.object(t)
		if m["name"] != "FileStreamSink" || m["error_count"].(float64) < 2 {
			t.Fatalf("validate: %s", r.body)
		}
		for _, want := range []string{"Must configure one of topics or topics.regex", "Invalid value 0 for configuration tasks.max: Value must be at least 1", `"groups":["Common"`} {
			if !strings.Contains(string(r.body), want) {
				t.Fatalf("validate body lacks %q: %s", want, r.body)
			}
		}
		expectError(t, w.call(t, "PUT", "/connector-plugins/FileStreamSink/config/validate", map[string]string{"name": "v"}), 400, "contains no connector type")
		expectError(t, w.call(t, "PUT", "/connector-plugins/FileStreamSink/config/validate", map[string]string{"connector.class": "FileStreamSource"}), 400, "does not match request type")
	})
	t.Run("create", func(t *testing.T) {
		r := w.call(t, "POST", "/connectors", map[string]any{"name": src, "config": map[string]string{
			"connector.class": "FileStreamSource", "file": in, "topic": topic, "tasks.max": "1"}})
		expectStatus(t, r, 201)
		if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/connectors/"+src) {
			t.Fatalf("Location %q", loc)
		}
		m := r.object(t)
		if m["name"] != src || m["type"] != "source" || m["config"].(map[string]any)["name"] != src {
			t.Fatalf("create body: %s", r.body)
		}
		expectError(t, w.call(t, "POST", "/connectors", map[string]any{"name": src, "config": map[string]string{
			"connector.class": "FileStreamSource", "file": in, "topic": topic}}), 409, "already exists")
		r = w.call(t, "PUT", "/connectors/"+sink+"/config", map[string]string{
			"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "file": out, "topics": topic, "tasks.max": "1"})
		expectStatus(t, r, 201)
		w.waitState(t, src, "RUNNING", 1)
		st := w.waitState(t, sink, "RUNNING", 1)
		if st["type"] != "sink" || st["name"] != sink {
			t.Fatalf("status: %v", st)
		}
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			got := readLines(t, out)
			return len(got) == 3, strings.Join(got, "|")
		})
	})
	t.Run("list", func(t *testing.T) {
		r := w.call(t, "GET", "/connectors", nil)
		expectStatus(t, r, 200)
		if body := string(r.body); !strings.Contains(body, `"`+src+`"`) || !strings.Contains(body, `"`+sink+`"`) {
			t.Fatalf("list: %s", body)
		}
		r = w.call(t, "GET", "/connectors?expand=status&expand=info", nil)
		m := r.object(t)
		entry, _ := m[src].(map[string]any)
		if entry["status"] == nil || entry["info"] == nil {
			t.Fatalf("expand: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors?expand=bogus", nil)
		if m := r.object(t); len(m[src].(map[string]any)) != 0 {
			t.Fatalf("unknown expand: %s", r.body)
		}
	})
	t.Run("info config tasks", func(t *testing.T) {
		r := w.call(t, "GET", "/connectors/"+src, nil)
		expectStatus(t, r, 200)
		if tasks := r.object(t)["tasks"].([]any); len(tasks) != 1 {
			t.Fatalf("info: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors/"+src+"/config", nil)
		expectStatus(t, r, 200)
		if r.object(t)["topic"] != topic {
			t.Fatalf("config: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors/"+src+"/tasks", nil)
		expectStatus(t, r, 200)
		if !strings.Contains(string(r.body), `"task.class":"org.apache.kafka.connect.file.FileStreamSourceTask"`) {
			t.Fatalf("tasks: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors/"+src+"/tasks-config", nil)
		expectStatus(t, r, 200)
		if _, ok := r.object(t)[src+"-0"]; !ok {
			t.Fatalf("tasks-config: %s", r.body)
		}
		// Worker-to-worker endpoints do not exist in standalone mode.
		expectStatus(t, w.call(t, "POST", "/connectors/"+src+"/tasks", []map[string]string{}), 500)
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/fence", nil), 500)
		r = w.call(t, "GET", "/connectors/"+src+"/tasks/0/status", nil)
		expectStatus(t, r, 200)
		if m := r.object(t); m["id"] != float64(0) || m["state"] != "RUNNING" || m["worker_id"] == "" {
			t.Fatalf("task status: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors/"+sink+"/topics", nil)
		expectStatus(t, r, 200)
		if string(r.body) != `{"`+sink+`":{"topics":["`+topic+`"]}}` {
			t.Fatalf("topics: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors/"+src+"/topics", nil)
		if string(r.body) != `{"`+src+`":{"topics":["`+topic+`"]}}` {
			t.Fatalf("source topics: %s", r.body)
		}
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/topics/reset", nil), 202)
		r = w.call(t, "GET", "/connectors/"+src+"/topics", nil)
		if string(r.body) != `{"`+src+`":{"topics":[]}}` {
			t.Fatalf("topics after reset: %s", r.body)
		}
	})
	t.Run("not found", func(t *testing.T) {
		expectError(t, w.call(t, "GET", "/connectors/nope", nil), 404, "Connector nope not found")
		expectError(t, w.call(t, "GET", "/connectors/nope/config", nil), 404, "not found")
		expectError(t, w.call(t, "GET", "/connectors/nope/status", nil), 404, "No status found for connector nope")
		expectError(t, w.call(t, "GET", "/connectors/nope/tasks", nil), 404, "not found")
		expectError(t, w.call(t, "GET", "/connectors/"+src+"/tasks/7/status", nil), 404, "No status found for task")
		expectError(t, w.call(t, "PUT", "/connectors/nope/pause", nil), 404, "nope")
		expectError(t, w.call(t, "PUT", "/connectors/nope/resume", nil), 404, "nope")
		expectError(t, w.call(t, "POST", "/connectors/nope/restart", nil), 404, "nope")
		expectError(t, w.call(t, "POST", "/connectors/"+src+"/tasks/9/restart", nil), 404, "Unknown task")
		expectError(t, w.call(t, "DELETE", "/connectors/nope", nil), 404, "nope")
		expectError(t, w.call(t, "PATCH", "/connectors/nope/config", map[string]string{"a": "b"}), 404, "nope")
		expectError(t, w.call(t, "GET", "/connectors/nope/offsets", nil), 404, "nope")
		expectError(t, w.call(t, "GET", "/no/such/path", nil), 404, "")
	})
	t.Run("patch", func(t *testing.T) {
		r := w.call(t, "PATCH", "/connectors/"+src+"/config", map[string]any{"batch.size": "100"})
		expectStatus(t, r, 200)
		if r.object(t)["config"].(map[string]any)["batch.size"] != "100" {
			t.Fatalf("patch: %s", r.body)
		}
		r = w.call(t, "PATCH", "/connectors/"+src+"/config", map[string]any{"batch.size": nil})
		expectStatus(t, r, 200)
		if _, ok := r.object(t)["config"].(map[string]any)["batch.size"]; ok {
			t.Fatalf("patch null should remove the key: %s", r.body)
		}
		r = w.call(t, "PUT", "/connectors/"+src+"/config", map[string]string{
			"connector.class": "FileStreamSource", "file": in, "topic": topic, "tasks.max": "1"})
		expectStatus(t, r, 200)
		w.waitState(t, src, "RUNNING", 1)
	})
	t.Run("pause resume", func(t *testing.T) {
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/pause", nil), 202)
		w.waitState(t, src, "PAUSED", 1)
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/pause", nil), 202)
		f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("d\n")
		f.Close()
		// A paused source reads nothing: give it well over one poll cycle.
		time.Sleep(2 * time.Second)
		if got := readLines(t, out); len(got) != 3 {
			t.Fatalf("paused source produced records: %v", got)
		}
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/resume", nil), 202)
		w.waitState(t, src, "RUNNING", 1)
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			got := readLines(t, out)
			return len(got) == 4, strings.Join(got, "|")
		})
	})
	t.Run("restart", func(t *testing.T) {
		expectStatus(t, w.call(t, "POST", "/connectors/"+src+"/restart", nil), 204)
		expectStatus(t, w.call(t, "POST", "/connectors/"+src+"/tasks/0/restart", nil), 204)
		r := w.call(t, "POST", "/connectors/"+src+"/restart?includeTasks=true&onlyFailed=true", nil)
		expectStatus(t, r, 202)
		if m := r.object(t); m["connector"].(map[string]any)["state"] != "RUNNING" {
			t.Fatalf("onlyFailed must not restart a running connector: %s", r.body)
		}
		r = w.call(t, "POST", "/connectors/"+src+"/restart?includeTasks=true", nil)
		expectStatus(t, r, 202)
		if !strings.Contains(string(r.body), `"state":"RESTARTING"`) {
			t.Fatalf("restart plan: %s", r.body)
		}
		w.waitState(t, src, "RUNNING", 1)
	})
	t.Run("offsets", func(t *testing.T) {
		expectError(t, w.call(t, "DELETE", "/connectors/"+src+"/offsets", nil), 400, "STOPPED")
		r := w.call(t, "GET", "/connectors/"+src+"/offsets", nil)
		expectStatus(t, r, 200)
		testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			r = w.call(t, "GET", "/connectors/"+src+"/offsets", nil)
			return strings.Contains(string(r.body), `"position":8`), string(r.body)
		})
		if want := `{"offsets":[{"partition":{"filename":"` + in + `"},"offset":{"position":8}}]}`; string(r.body) != want {
			t.Fatalf("offsets body %s, want %s", r.body, want)
		}
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/stop", nil), 204)
		st := w.waitState(t, src, "STOPPED", 0)
		if len(st["tasks"].([]any)) != 0 {
			t.Fatalf("stopped connector has tasks: %v", st)
		}
		expectError(t, w.call(t, "PATCH", "/connectors/"+src+"/offsets", map[string]any{}), 400, "Partitions / offsets need to be provided")
		r = w.call(t, "PATCH", "/connectors/"+src+"/offsets", map[string]any{"offsets": []any{
			map[string]any{"partition": map[string]any{"filename": in}, "offset": map[string]any{"position": 2}}}})
		expectStatus(t, r, 200)
		if r.object(t)["message"] != "The offsets for this connector have been altered successfully" {
			t.Fatalf("alter: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors/"+src+"/offsets", nil)
		if !strings.Contains(string(r.body), `"position":2`) {
			t.Fatalf("after alter: %s", r.body)
		}
		// Sink offsets live in the consumer group; the sink must be stopped too.
		expectStatus(t, w.call(t, "PUT", "/connectors/"+sink+"/stop", nil), 204)
		w.waitState(t, sink, "STOPPED", 0)
		r = w.call(t, "GET", "/connectors/"+sink+"/offsets", nil)
		expectStatus(t, r, 200)
		if !strings.Contains(string(r.body), `"kafka_topic":"`+topic+`"`) || !strings.Contains(string(r.body), `"kafka_offset":4`) {
			t.Fatalf("sink offsets: %s", r.body)
		}
		// Resume the source from position 2: lines b, c and d again.
		expectStatus(t, w.call(t, "PUT", "/connectors/"+sink+"/resume", nil), 202)
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/resume", nil), 202)
		w.waitState(t, src, "RUNNING", 1)
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			got := readLines(t, out)
			return strings.Join(got, ",") == "a,b,c,d,b,c,d", strings.Join(got, ",")
		})
		expectStatus(t, w.call(t, "PUT", "/connectors/"+src+"/stop", nil), 204)
		w.waitState(t, src, "STOPPED", 0)
		r = w.call(t, "DELETE", "/connectors/"+src+"/offsets", nil)
		expectStatus(t, r, 200)
		if r.object(t)["message"] != "The offsets for this connector have been reset successfully" {
			t.Fatalf("reset: %s", r.body)
		}
		r = w.call(t, "GET", "/connectors/"+src+"/offsets", nil)
		if string(r.body) != `{"offsets":[]}` {
			t.Fatalf("after reset: %s", r.body)
		}
	})
	t.Run("loggers", func(t *testing.T) {
		r := w.call(t, "GET", "/admin/loggers", nil)
		expectStatus(t, r, 200)
		if !strings.Contains(string(r.body), `"root":{"level":"INFO"`) {
			t.Fatalf("loggers: %s", r.body)
		}
		r = w.call(t, "PUT", "/admin/loggers/org.apache.kafka.connect", map[string]string{"level": "DEBUG"})
		expectStatus(t, r, 200)
		r = w.call(t, "GET", "/admin/loggers/org.apache.kafka.connect", nil)
		if !strings.Contains(string(r.body), `"level":"DEBUG"`) {
			t.Fatalf("logger: %s", r.body)
		}
		expectStatus(t, w.call(t, "PUT", "/admin/loggers/org.apache.kafka.connect?scope=cluster", map[string]string{"level": "INFO"}), 204)
		expectError(t, w.call(t, "GET", "/admin/loggers/never.created", nil), 404, "not found")
		expectError(t, w.call(t, "PUT", "/admin/loggers/x", map[string]string{"level": "LOUD"}), 404, "invalid log level")
		expectError(t, w.call(t, "PUT", "/admin/loggers/x", map[string]string{}), 400, "level")
	})
	t.Run("delete", func(t *testing.T) {
		expectStatus(t, w.call(t, "DELETE", "/connectors/"+src, nil), 204)
		expectStatus(t, w.call(t, "DELETE", "/connectors/"+sink, nil), 204)
		expectError(t, w.call(t, "GET", "/connectors/"+src+"/status", nil), 404, "No status found")
		r := w.call(t, "GET", "/connectors", nil)
		if strings.Contains(string(r.body), src) {
			t.Fatalf("deleted connector still listed: %s", r.body)
		}
	})
}

// TestBadInput: malformed or invalid requests get Apache-style 4xx errors
// naming the problem, and the worker keeps serving.
func TestBadInput(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "t")
	good := map[string]string{"connector.class": "FileStreamSink", "topics": topic, "file": filepath.Join(w.dir, "o.txt")}
	cases := []struct {
		name, method, path string
		body               any
		code               int
		msg                string
	}{
		{"malformed json", "POST", "/connectors", `{"name": "x", "config": {`, 400, "JSON"},
		{"unknown class", "POST", "/connectors", map[string]any{"name": "x", "config": map[string]string{"connector.class": "com.example.Nope"}}, 400, "connector.class"},
		{"missing class", "POST", "/connectors", map[string]any{"name": "x", "config": map[string]string{"topics": "t"}}, 400, "contains no connector type"},
		{"missing required key", "POST", "/connectors", map[string]any{"name": "x", "config": map[string]string{"connector.class": "FileStreamSource", "file": "/tmp/x"}}, 400, `Missing required configuration "topic"`},
		{"wrong type", "POST", "/connectors", map[string]any{"name": "x", "config": mergeMaps(good, map[string]string{"tasks.max": "many"})}, 400, "Invalid value many for configuration tasks.max: Not a number of type INT"},
		{"tasks.max zero", "POST", "/connectors", map[string]any{"name": "x", "config": mergeMaps(good, map[string]string{"tasks.max": "0"})}, 400, "Invalid value 0 for configuration tasks.max: Value must be at least 1"},
		{"name mismatch", "PUT", "/connectors/x/config", mergeMaps(good, map[string]string{"name": "y"}), 400, "doesn't match"},
		{"config not a map", "PUT", "/connectors/x/config", `["a"]`, 400, ""},
		{"bad initial state", "POST", "/connectors", map[string]any{"name": "x", "initial_state": "SLEEPING", "config": good}, 400, "SLEEPING"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, w.call(t, c.method, c.path, c.body), c.code, c.msg)
		})
	}
	// Wrong content type: Apache answers 415.
	req, _ := http.NewRequest("POST", w.url+"/connectors", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("form body: status %d, want 415", resp.StatusCode)
	}
	expectStatus(t, w.call(t, "GET", "/connectors", nil), 200)
	if r := w.call(t, "GET", "/connectors", nil); string(r.body) != "[]" {
		t.Fatalf("no connector should have been created: %s", r.body)
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestTransformChainValidation: a bad transform chain is rejected on create
// with a 400 that names the key, instead of failing a task later.
func TestTransformChainValidation(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	base := map[string]string{"connector.class": "FileStreamSource", "topic": "t", "file": filepath.Join(w.dir, "in.txt")}
	cases := []struct {
		name  string
		extra map[string]string
		msg   string
	}{
		{"missing type", map[string]string{"transforms": "a"}, `Missing required configuration "transforms.a.type"`},
		{"unknown class", map[string]string{"transforms": "a", "transforms.a.type": "com.example.Nope"}, "transforms.a.type"},
		{"bad regex", map[string]string{"transforms": "a", "transforms.a.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.a.regex": "(", "transforms.a.replacement": "x"}, "transforms.a.regex"},
		{"unknown predicate", map[string]string{"transforms": "a", "transforms.a.type": "org.apache.kafka.connect.transforms.Filter", "transforms.a.predicate": "nope"}, "transforms.a.predicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, w.call(t, "PUT", "/connectors/chain/config", mergeMaps(base, c.extra)), 400, c.msg)
		})
	}
	r := w.call(t, "GET", "/connector-plugins?connectorsOnly=false", nil)
	for _, class := range []string{"org.apache.kafka.connect.transforms.RegexRouter", "org.apache.kafka.connect.transforms.InsertField$Value", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"} {
		if !strings.Contains(string(r.body), `"class":"`+class+`"`) {
			t.Errorf("%s not listed: %s", class, r.body)
		}
	}
}
