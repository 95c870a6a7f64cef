package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/sslconf"
	"github.com/ferryhq/ferry/internal/testbed"
)

// fuzzRequests is how many generated requests TestRESTRequestFuzz sends.
const fuzzRequests = 6000

// fuzzEndpoint is one route of the API with the method it is served on.
type fuzzEndpoint struct{ method, path string }

var fuzzEndpoints = []fuzzEndpoint{
	{"GET", "/"}, {"GET", "/health"},
	{"GET", "/connectors"}, {"POST", "/connectors"}, {"GET", "/connectors/{c}"}, {"DELETE", "/connectors/{c}"},
	{"GET", "/connectors/{c}/config"}, {"PUT", "/connectors/{c}/config"}, {"PATCH", "/connectors/{c}/config"},
	{"GET", "/connectors/{c}/status"}, {"GET", "/connectors/{c}/tasks"}, {"POST", "/connectors/{c}/tasks"},
	{"GET", "/connectors/{c}/tasks-config"}, {"GET", "/connectors/{c}/tasks/{t}/status"},
	{"POST", "/connectors/{c}/tasks/{t}/restart"}, {"POST", "/connectors/{c}/restart"},
	{"PUT", "/connectors/{c}/pause"}, {"PUT", "/connectors/{c}/resume"}, {"PUT", "/connectors/{c}/stop"},
	{"PUT", "/connectors/{c}/fence"}, {"GET", "/connectors/{c}/topics"}, {"PUT", "/connectors/{c}/topics/reset"},
	{"GET", "/connectors/{c}/offsets"}, {"PATCH", "/connectors/{c}/offsets"}, {"DELETE", "/connectors/{c}/offsets"},
	{"GET", "/connectors/{c}/lag"},
	{"GET", "/connector-plugins"}, {"GET", "/connector-plugins/{p}/config"}, {"PUT", "/connector-plugins/{p}/config/validate"},
	{"GET", "/admin/loggers"}, {"GET", "/admin/loggers/{l}"}, {"PUT", "/admin/loggers/{l}"},
}

// fuzzGen makes requests: mostly well-aimed at a route, with names,
// paths, queries, headers and bodies that are often wrong.
type fuzzGen struct {
	r     *rand.Rand
	dir   string
	topic string
	auth  func() string // the Authorization header to send, "" for none; nil: never
}

func (g *fuzzGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *fuzzGen) junk(n int) string {
	b := make([]byte, g.r.IntN(n+1))
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return string(b)
}

// name is a path segment, escaped or deliberately not.
func (g *fuzzGen) name() string {
	switch g.r.IntN(10) {
	case 0, 1, 2:
		return g.pick("fz-src", "fz-sink")
	case 3:
		return url.PathEscape(g.junk(12))
	case 4:
		return g.pick("%2F", "a%2Fb", "%2e%2e", "%00", "%ZZ", "%", "%%", "..", ".", "", "a;b", "a%20b", "%C3%A9", "%FF%FE")
	case 5:
		return strings.Repeat("n", g.r.IntN(3000))
	case 6:
		return g.pick("-1", "0", "1", "999999999999999999999", "1e3", "0x1", "NaN")
	default:
		return g.pick("fz-new", "fz-other", "nope", "fz-src")
	}
}

func (g *fuzzGen) body(method, path string) (string, string) {
	ct := "application/json"
	switch g.r.IntN(12) {
	case 0:
		ct = g.pick("", "text/plain", "application/xml", "application/json; charset=utf-8", "*/*", "application/json;;", "bogus")
	}
	if method == "GET" || method == "DELETE" {
		if g.r.IntN(8) != 0 {
			return "", ""
		}
	}
	switch g.r.IntN(10) {
	case 0:
		return g.junk(200), ct
	case 1:
		return g.pick("", "{", "[", "null", "true", "1", `"x"`, "{}", "[]", `{"a":}`, `{"config":null}`, "[null]", `[{"a":1}]`, `{"offsets":null}`, `{"level":"NOPE"}`, `{"level":null}`), ct
	case 2:
		return randomJSON(g.r, 4), ct
	}
	switch {
	case strings.HasSuffix(path, "/offsets"):
		return fmt.Sprintf(`{"offsets":[{"partition":{"filename":%q},"offset":{"position":%d}}]}`, g.junk(5), g.r.IntN(100)-50), ct
	case strings.Contains(path, "/admin/loggers"):
		return fmt.Sprintf(`{"level":%q}`, g.pick("INFO", "WARN", "ERROR", "info", "TRACE", "OFF", "x")), ct
	case strings.HasSuffix(path, "/tasks"):
		return `[{"task.class":"x","file":"/etc/passwd"}]`, ct
	}
	cfg := map[string]any{"connector.class": g.pick("FileStreamSource", "FileStreamSink", "Nope", "org.apache.kafka.connect.file.FileStreamSourceConnector"),
		"tasks.max": g.pick("1", "0", "-1", "x", "2147483648"), "topic": g.topic, "topics": g.topic,
		"file": filepath.Join(g.dir, g.pick("in.txt", "out.txt", "missing.txt")), "name": g.pick("fz-new", "fz-other", "x")}
	if g.r.IntN(3) == 0 {
		cfg["transforms"] = "t"
		cfg["transforms.t.type"] = g.pick("org.apache.kafka.connect.transforms.InsertField$Value", "Nope", "")
	}
	if g.r.IntN(4) == 0 {
		cfg[g.junk(8)] = g.junk(8)
	}
	if strings.HasPrefix(path, "/connectors") && method == "POST" {
		if g.r.IntN(4) == 0 {
			b, _ := json.Marshal(cfg)
			return string(b), ct
		}
		b, _ := json.Marshal(map[string]any{"name": cfg["name"], "config": cfg})
		return string(b), ct
	}
	b, _ := json.Marshal(cfg)
	return string(b), ct
}

func randomJSON(r *rand.Rand, depth int) string {
	switch n := r.IntN(7); {
	case depth == 0 || n == 0:
		return fmt.Sprint(r.IntN(1000) - 500)
	case n == 1:
		return fmt.Sprintf("%q", strings.Repeat("s", r.IntN(20)))
	case n == 2:
		return []string{"null", "true", "false", "1.5e300", "-0"}[r.IntN(5)]
	case n < 5:
		parts := make([]string, r.IntN(4))
		for i := range parts {
			parts[i] = randomJSON(r, depth-1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		parts := make([]string, r.IntN(4))
		for i := range parts {
			parts[i] = fmt.Sprintf("%q:%s", []string{"name", "config", "connector.class", "tasks.max", "k", "offsets", "level"}[r.IntN(7)], randomJSON(r, depth-1))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
}

// request builds one raw HTTP/1.1 request.
func (g *fuzzGen) request() (method, target, raw string) {
	ep := fuzzEndpoints[g.r.IntN(len(fuzzEndpoints))]
	method = ep.method
	if g.r.IntN(10) == 0 {
		method = g.pick("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO")
	}
	path := ep.path
	path = strings.ReplaceAll(path, "{c}", g.name())
	path = strings.ReplaceAll(path, "{t}", g.pick("0", "1", "-1", "x", "99999999999", g.name()))
	path = strings.ReplaceAll(path, "{p}", g.pick("FileStreamSource", "FileStreamSink", "org.apache.kafka.connect.transforms.InsertField$Value", "Nope", g.name()))
	path = strings.ReplaceAll(path, "{l}", g.pick("root", "org.apache.kafka.connect", "ferry", g.name()))
	switch g.r.IntN(12) {
	case 0:
		i := g.r.IntN(len(path) + 1)
		path = path[:i] + g.pick("/./", "/../", "//", "/%2e/", "%zz", "/", "%", "?") + path[i:]
	case 1:
		path += "/"
	}
	switch g.r.IntN(6) {
	case 0:
		path += "?" + g.pick("expand=status", "expand=info&expand=status", "expand=", "forward=true", "forward=false",
			"includeTasks=true&onlyFailed=true", "includeTasks=x", "scope=cluster", "scope=x", "a=%zz", "&&&=", "forward")
	}
	body, ct := g.body(method, path)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, path)
	if ct != "" && body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ct)
	}
	if g.auth != nil {
		if a := g.auth(); a != "" {
			fmt.Fprintf(&b, "Authorization: %s\r\n", a)
		}
	}
	if g.r.IntN(20) == 0 {
		fmt.Fprintf(&b, "X-Connect-Authorization: %s\r\nX-Connect-Request-Signature-Algorithm: %s\r\n", g.junk(10), g.pick("HmacSHA256", "x"))
	}
	if g.r.IntN(30) == 0 {
		fmt.Fprintf(&b, "Origin: http://%s\r\n", g.pick("evil.example", "localhost"))
	}
	if body != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return method, path, b.String()
}

// fuzzResult is what one request got.
type fuzzResult struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func sendRaw(dial func() (net.Conn, error), method, raw string) fuzzResult {
	c, err := dial()
	if err != nil {
		return fuzzResult{err: err}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(120 * time.Second))
	// Write while reading: the server may answer (413) and close before
	// it has read all of a large body.
	werr := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, raw)
		werr <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		if werr := <-werr; werr != nil {
			err = fmt.Errorf("%w (writing: %v)", err, werr)
		}
		return fuzzResult{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return fuzzResult{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

// checkErrorShape reports whether a non-2xx body is Apache's
// {"error_code":N,"message":"..."} with N the status.
func checkErrorShape(res fuzzResult) error {
	var m map[string]any
	if err := json.Unmarshal(res.body, &m); err != nil {
		return fmt.Errorf("body is not JSON: %q", res.body)
	}
	code, ok := m["error_code"].(float64)
	if _, isStr := m["message"].(string); !ok || !isStr || len(m) != 2 || int(code) != res.status {
		return fmt.Errorf("body is not {error_code:%d,message}: %s", res.status, res.body)
	}
	if res.header.Get("Location") != "" {
		return fmt.Errorf("redirect to %s", res.header.Get("Location"))
	}
	return nil
}

// TestRESTRequestFuzz sends fuzzRequests generated requests over every
// endpoint to a running standalone worker, then fuzzSecureRequests to one
// with an https listener that demands client certificates and the basic
// auth extension (credentials good, wrong or missing): each request gets
// an answer (no dropped connection, which is what a handler panic gives),
// no 5xx but the 500 Apache's standalone worker gives its internal
// endpoints, every non-2xx answer in Apache's error shape (a 401 in the
// extension's plain text), no panic in the log. Bodies over the limit,
// sized and chunked, get 413.
func TestRESTRequestFuzz(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	bootstrap := testbed.Kafka(t)
	t.Run("http", func(t *testing.T) {
		w, g := startFuzzWorker(t, bootstrap, nil)
		addr := strings.TrimPrefix(w.url, "http://")
		dial := func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 10*time.Second) }
		runFuzz(t, w, g, fuzzRequests, dial, false)
	})
	t.Run("https-mtls-basic-auth", func(t *testing.T) {
		cs := testbed.Certs(t)
		jaas := writeJAAS(t, t.TempDir(), "admin=fuzz-pw\n")
		w, g := startFuzzWorker(t, bootstrap, map[string]string{
			"listeners":                               "https://127.0.0.1:0",
			"listeners.https.ssl.keystore.type":       "PEM",
			"listeners.https.ssl.keystore.location":   cs.ServerPEM,
			"listeners.https.ssl.truststore.type":     "PEM",
			"listeners.https.ssl.truststore.location": cs.CA,
			"listeners.https.ssl.client.auth":         "required",
			"rest.extension.classes":                  "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension",
			"java.security.auth.login.config":         jaas,
		})
		cfg, err := sslconf.Client(map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": cs.CA,
			"ssl.keystore.type": "PEM", "ssl.keystore.location": cs.ClientPEM})
		if err != nil {
			t.Fatal(err)
		}
		w.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		w.auth = basicAuthorization("admin", "fuzz-pw")
		g.auth = func() string {
			switch g.r.IntN(10) {
			case 0:
				return ""
			case 1:
				return basicAuthorization("admin", g.junk(6))
			case 2:
				return g.pick("Bearer x", "Basic", "Basic !!", "basic "+g.junk(8))
			}
			return w.auth
		}
		addr := strings.TrimPrefix(w.url, "https://")
		dial := func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		}
		runFuzz(t, w, g, fuzzSecureRequests, dial, true)
	})
}

// fuzzSecureRequests is how many requests go to the secured worker.
const fuzzSecureRequests = 2000

func startFuzzWorker(t *testing.T, bootstrap string, extra map[string]string) (*secWorker, *fuzzGen) {
	t.Helper()
	dir := t.TempDir()
	topic := testbed.UniqueName(t, "restfuzz")
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\n")
	props := map[string]string{
		"bootstrap.servers": bootstrap, "key.converter": "org.apache.kafka.connect.json.JsonConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "listeners": "http://127.0.0.1:0",
		"offset.storage.file.filename": filepath.Join(dir, "offsets"), "offset.flush.interval.ms": "1000",
		"task.shutdown.graceful.timeout.ms": "2000",
	}
	maps.Copy(props, extra)
	w := startLogged(t, "fuzz", props, false,
		map[string]string{"name": "fz-src", "connector.class": "FileStreamSource", "file": filepath.Join(dir, "in.txt"), "topic": topic, "tasks.max": "1"},
		map[string]string{"name": "fz-sink", "connector.class": "FileStreamSink", "file": filepath.Join(dir, "out.txt"), "topics": topic, "tasks.max": "1"})
	return w, &fuzzGen{r: rand.New(rand.NewPCG(13, 2026)), dir: dir, topic: topic}
}

func runFuzz(t *testing.T, w *secWorker, g *fuzzGen, n int, dial func() (net.Conn, error), secured bool) {
	t.Helper()
	statuses := map[int]int{}
	var failures []string
	fail := func(format string, args ...any) {
		if len(failures) < 30 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	dropped, fivexx := 0, 0
	start := time.Now()
	for i := range n {
		method, target, raw := g.request()
		res := sendRaw(dial, method, raw)
		if res.err != nil {
			dropped++
			fail("#%d %s %q: no answer: %v", i, method, target, res.err)
			continue
		}
		statuses[res.status]++
		internal := res.status == 500 && strings.Contains(string(res.body), "Internal request not supported in standalone mode")
		if res.status >= 500 && !internal {
			fivexx++
			fail("#%d %s %q: %d %s", i, method, target, res.status, res.body)
		}
		switch {
		case method == "HEAD" && len(res.body) == 0:
			// A HEAD answer has no body to check.
		case res.status == 401:
			if !secured || string(res.body) != "User cannot access the resource." {
				fail("#%d %s %q: 401 %q", i, method, target, res.body)
			}
		case res.status >= 300:
			if err := checkErrorShape(res); err != nil {
				fail("#%d %s %q: %d: %v", i, method, target, res.status, err)
			}
		}
	}
	auth := ""
	if g.auth != nil {
		auth = "Authorization: " + w.auth + "\r\n"
	}
	for _, path := range []string{"/connectors", "/connectors/fz-src/config"} {
		method := "POST"
		if strings.HasSuffix(path, "config") {
			method = "PUT"
		}
		big := strings.Repeat(" ", 33<<20)
		for _, raw := range []string{
			fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", method, path, auth, len(big), big),
			fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", method, path, auth, len(big), big),
		} {
			res := sendRaw(dial, method, raw)
			if res.err != nil || res.status != 413 || checkErrorShape(res) != nil {
				fail("oversized %s %s: %d %s %v", method, path, res.status, res.body, res.err)
			}
		}
	}
	logs := w.logs.String()
	panics := strings.Count(logs, "panic")
	t.Logf("%d requests in %v: statuses %v; no answer %d, unexpected 5xx %d, panics in the log %d",
		n, time.Since(start).Round(time.Millisecond), statuses, dropped, fivexx, panics)
	if panics > 0 {
		i := strings.Index(logs, "panic")
		fail("panic in the log: %s", logs[max(0, i-200):min(len(logs), i+800)])
	}
	for _, f := range failures {
		t.Error(f)
	}
	// The worker still serves normally afterwards.
	if r := w.do(t, "GET", "/connectors", nil); r.status != 200 {
		t.Errorf("after the fuzz: %d %s", r.status, r.body)
	}
}
