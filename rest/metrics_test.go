package rest

import (
	"net/http"
	"strings"
	"testing"
)

func TestMetricsEndpoint(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("up 1\n"))
	})
	auth, err := NewBasicAuth(basicAuthFiles(t, "admin=s3cret\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := newTestServer(t, newFakeHerder(), WithMetrics(metrics), WithAuthenticator(auth)).Handler()
	ok := map[string]string{"Authorization": basicHeader("admin", "s3cret")}

	rec := do(t, h, req{method: "GET", path: "/metrics", header: ok})
	if rec.Code != 200 || rec.Body.String() != "up 1\n" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	if rec := do(t, h, req{method: "GET", path: "/metrics"}); rec.Code != 401 || rec.Body.String() != Unauthorized {
		t.Errorf("GET /metrics without credentials: %d %q, want 401", rec.Code, rec.Body)
	}
	rec = do(t, h, req{method: "POST", path: "/metrics", header: ok})
	expect(t, rec, 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`)

	// Without the option the path is not routed.
	h = newTestServer(t, newFakeHerder()).Handler()
	expect(t, do(t, h, req{method: "GET", path: "/metrics"}), 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
}
