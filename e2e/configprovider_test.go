package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestConfigProviderFile runs a FileStreamSink whose output file comes from
// a properties file through the worker's FileConfigProvider: the sink
// writes to the resolved path, while the REST API and the stored task
// configs keep the placeholder.
func TestConfigProviderFile(t *testing.T) {
	dir := t.TempDir()
	secretsDir := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secretsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "resolved-out.txt")
	secrets := filepath.Join(secretsDir, "secrets.properties")
	writeFile(t, secrets, "out="+out+"\n")

	w := startWorker(t, map[string]string{
		"config.providers":                          "file",
		"config.providers.file.class":               "org.apache.kafka.common.config.provider.FileConfigProvider",
		"config.providers.file.param.allowed.paths": secretsDir,
		"value.converter":                           "org.apache.kafka.connect.storage.StringConverter",
	})
	topic := testbed.UniqueName(t, "cp")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	placeholder := "${file:" + secrets + ":out}"
	r := w.call(t, "POST", "/connectors", map[string]any{"name": "sink", "config": map[string]string{
		"connector.class": "FileStreamSink", "tasks.max": "1", "topics": topic, "file": placeholder,
	}})
	expectStatus(t, r, 201)
	w.waitState(t, "sink", "RUNNING", 1)

	recs := make([]*kgo.Record, 20)
	for i := range recs {
		recs[i] = &kgo.Record{Value: fmt.Appendf(nil, "secret-line-%02d", i)}
	}
	testbed.Produce(t, w.bootstrap, topic, recs...)
	testbed.WaitFor(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		n := countLines(out)
		return n == len(recs), fmt.Sprint(n, " lines in ", out)
	})
	if got := readLines(t, out); got[0] != "secret-line-00" || got[19] != "secret-line-19" {
		t.Errorf("sink file holds %q", got)
	}

	r = w.call(t, "GET", "/connectors/sink/config", nil)
	expectStatus(t, r, 200)
	if got := r.object(t)["file"]; got != placeholder {
		t.Errorf("GET config file = %v, want the raw placeholder", got)
	}
	r = w.call(t, "GET", "/connectors/sink/tasks", nil)
	expectStatus(t, r, 200)
	if strings.Contains(string(r.body), out) || !strings.Contains(string(r.body), "${file:") {
		t.Errorf("task configs expose the resolved value or lost the placeholder: %s", r.body)
	}
}
