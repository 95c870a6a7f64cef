package elasticsearch

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/connect"
)

// fakeCluster answers bulk requests from a script of responses, so the
// retry paths run without stopping a real node.
type fakeCluster struct {
	mu     sync.Mutex
	bodies []string
	script []func(w http.ResponseWriter, body string)
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if !strings.HasPrefix(r.URL.Path, "/_bulk") {
		w.WriteHeader(200) // index exists
		_, _ = io.WriteString(w, `{}`)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	n := len(f.bodies)
	f.mu.Unlock()
	if n <= len(f.script) {
		f.script[n-1](w, string(b))
		return
	}
	lines := strings.Count(string(b), "\n") / 2
	_, _ = io.WriteString(w, `{"errors":false,"items":[`+strings.Repeat(`{"index":{"status":201}},`, lines-1)+`{"index":{"status":201}}]}`)
}

func TestTransientFailuresRetried(t *testing.T) {
	f := &fakeCluster{script: []func(http.ResponseWriter, string){
		func(w http.ResponseWriter, _ string) { w.WriteHeader(503) },
		func(w http.ResponseWriter, _ string) {
			_, _ = io.WriteString(w, `{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},{"index":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"old"}}}]}`)
		},
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	task := startTask(t, confluent, map[string]string{ConnectionURL: srv.URL, SchemaIgnore: "true", RetryBackoff: "1"}, &taskCtx{})
	recs := []*connect.SinkRecord{rec("t", 0, "a", map[string]any{"x": int64(0)}), rec("t", 1, "b", map[string]any{"x": int64(1)}), rec("t", 2, "c", map[string]any{"x": int64(2)})}
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if len(f.bodies) != 3 {
		t.Fatalf("%d bulk requests, want 3", len(f.bodies))
	}
	if strings.Count(f.bodies[2], "\n") != 2 || !strings.Contains(f.bodies[2], `"_id":"b"`) {
		t.Errorf("the retry should carry only the rejected document: %s", f.bodies[2])
	}
}

func TestRetriesExhaustedAreRetriable(t *testing.T) {
	f := &fakeCluster{}
	for range 10 {
		f.script = append(f.script, func(w http.ResponseWriter, _ string) { w.WriteHeader(429) })
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	task := startTask(t, confluent, map[string]string{ConnectionURL: srv.URL, SchemaIgnore: "true", RetryBackoff: "1", MaxRetries: "2"}, &taskCtx{})
	err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, "a", map[string]any{"x": int64(0)})})
	if !connect.IsRetriable(err) || len(f.bodies) != 3 {
		t.Fatalf("Put: %v after %d requests, want a retriable error after 3", err, len(f.bodies))
	}
}

// TestTLS: elastic.security.protocol=SSL with a PEM trust store; an empty
// endpoint identification algorithm skips the host name check only.
func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(&fakeCluster{})
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	put := func(cfg map[string]string) error {
		cfg[ConnectionURL] = srv.URL
		cfg[SchemaIgnore] = "true"
		cfg[MaxRetries] = "0"
		task := startTask(t, confluent, cfg, &taskCtx{})
		return task.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, "a", map[string]any{"x": int64(0)})})
	}
	if err := put(map[string]string{SecurityProtocol: "SSL", HTTPSPrefix + sslTruststoreLocation: ca}); err != nil {
		t.Errorf("trusted CA: %v", err)
	}
	if err := put(map[string]string{SecurityProtocol: "SSL", HTTPSPrefix + sslTruststoreLocation: ca, HTTPSPrefix + sslEndpointIdent: ""}); err != nil {
		t.Errorf("trusted CA, no host check: %v", err)
	}
	if err := put(map[string]string{SecurityProtocol: "SSL"}); err == nil {
		t.Error("an unknown CA was accepted")
	}
	if _, err := parseSettings(confluent, map[string]string{ConnectionURL: srv.URL, SecurityProtocol: "SSL", HTTPSPrefix + sslTruststoreType: "JKS"}); err == nil {
		t.Error("a JKS trust store was accepted")
	}
}
