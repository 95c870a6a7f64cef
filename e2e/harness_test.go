package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/logging"
)

// worker is a standalone worker running in this test process.
type worker struct {
	url       string
	bootstrap string
	dir       string
	cancel    context.CancelFunc
	done      chan error
}

// startWorker runs a standalone worker with JsonConverter defaults on the
// test broker. extra overrides worker properties.
func startWorker(t *testing.T, extra map[string]string, conns ...map[string]string) *worker {
	t.Helper()
	bootstrap := testbed.Kafka(t)
	dir := t.TempDir()
	return startWorkerIn(t, bootstrap, dir, extra, conns...)
}

func startWorkerIn(t *testing.T, bootstrap, dir string, extra map[string]string, conns ...map[string]string) *worker {
	t.Helper()
	props := map[string]string{
		"bootstrap.servers":                 bootstrap,
		"key.converter":                     "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                   "org.apache.kafka.connect.json.JsonConverter",
		"offset.storage.file.filename":      filepath.Join(dir, "connect.offsets"),
		"offset.flush.interval.ms":          "500",
		"listeners":                         "http://127.0.0.1:0",
		"task.shutdown.graceful.timeout.ms": "5000",
	}
	for k, v := range extra {
		props[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{bootstrap: bootstrap, dir: dir, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	levels := logging.NewLevels(logging.LevelInfo)
	logger := slog.New(logging.NewHandler(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}), levels))
	go func() {
		w.done <- app.RunStandalone(ctx, props, conns, logger, levels, func(url string) { ready <- url })
	}()
	select {
	case u := <-ready:
		w.url = strings.TrimSuffix(u, "/")
	case err := <-w.done:
		t.Fatalf("worker exited during startup: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("worker did not start within 60s")
	}
	t.Cleanup(w.stop)
	return w
}

func (w *worker) stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
	}
}

// testWriter sends worker logs to the test log, shown only on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response is not JSON (%d): %q", r.status, r.body)
	}
	return v
}

func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("response is not a JSON object: %s", r.body)
	}
	return m
}

// call sends a request; body may be a string (sent as is) or a value
// (encoded as JSON).
func (w *worker) call(t *testing.T, method, path string, body any) response {
	t.Helper()
	return send(t, http.DefaultClient, method, w.url+path, body, "")
}

// send sends a request with client, as call; auth, when set, is the
// Authorization header.
func send(t *testing.T, client *http.Client, method, url string, body any, auth string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func expectStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
}

// expectError checks Apache's error body {"error_code":N,"message":...}.
func expectError(t *testing.T, r response, code int, msgPart string) {
	t.Helper()
	expectStatus(t, r, code)
	m := r.object(t)
	if len(m) != 2 || m["error_code"] != float64(code) {
		t.Fatalf("error body %s, want {error_code:%d, message}", r.body, code)
	}
	if msg, _ := m["message"].(string); !strings.Contains(msg, msgPart) {
		t.Fatalf("error message %q does not contain %q", msg, msgPart)
	}
}

// waitState waits until the connector and all its tasks report state.
func (w *worker) waitState(t *testing.T, name, state string, tasks int) map[string]any {
	t.Helper()
	var last map[string]any
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		r := w.call(t, "GET", "/connectors/"+name+"/status", nil)
		if r.status != 200 {
			return false, string(r.body)
		}
		last = r.object(t)
		conn, _ := last["connector"].(map[string]any)
		if conn["state"] != state {
			return false, string(r.body)
		}
		ts, _ := last["tasks"].([]any)
		if len(ts) != tasks {
			return false, string(r.body)
		}
		for _, x := range ts {
			if x.(map[string]any)["state"] != state {
				return false, string(r.body)
			}
		}
		return true, ""
	})
	return last
}

// waitTaskFailed waits until the connector's only task is FAILED and
// returns the trace its status shows.
func (w *worker) waitTaskFailed(t *testing.T, name string) string {
	t.Helper()
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
	return trace
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var httpClient = &http.Client{Timeout: 30 * time.Second}
