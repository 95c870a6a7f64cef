package e2e

import (
	"encoding/json"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestStandaloneHostileTasksMax: defect 1. POST /connectors with a
// FileStreamSink and tasks.max=1000000000 is a 400 naming tasks.max; a
// connector stored with that value (before the limit, or edited into the
// file) does not keep the worker from starting: it is FAILED with a trace,
// and is fixed and then deleted over REST.
func TestStandaloneHostileTasksMax(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	dir := t.TempDir()
	w := startWorkerIn(t, bootstrap, dir, nil)
	name := testbed.UniqueName(t, "hostile")
	cfg := map[string]string{"connector.class": "FileStreamSink", "tasks.max": "1000000000",
		"topics": name, "file": filepath.Join(dir, "out.txt")}
	expectError(t, w.call(t, "POST", "/connectors", map[string]any{"name": name, "config": cfg}), 400,
		"Invalid value 1000000000 for configuration tasks.max")
	w.stop()

	stored := map[string]string{"name": name}
	for k, v := range cfg {
		stored[k] = v
	}
	b, err := json.Marshal(map[string]any{"version": 1, "connectors": map[string]any{
		name: map[string]any{"config": stored, "target": "STARTED"}}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "connect.offsets.connectors.json"), string(b))

	w = startWorkerIn(t, bootstrap, dir, nil)
	st := w.waitState(t, name, "FAILED", 0)
	conn := st["connector"].(map[string]any)
	if trace, _ := conn["trace"].(string); !strings.Contains(trace, "tasks.max.limit") {
		t.Fatalf("trace %q", trace)
	}
	if _, ok := conn["restart"]; ok {
		t.Fatalf("a config error is restarted automatically: %v", conn)
	}
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	t.Logf("heap in use with the hostile connector FAILED: %d MiB", ms.HeapInuse>>20)

	cfg["tasks.max"] = "1"
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", cfg), 200)
	w.waitState(t, name, "RUNNING", 1)
	expectStatus(t, w.call(t, "DELETE", "/connectors/"+name, nil), 204)
	expectStatus(t, w.call(t, "GET", "/connectors/"+name, nil), 404)
}
