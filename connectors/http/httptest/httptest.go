// Package httptest is the HTTP sink's test bed: a receiver that records
// every request and can be told to refuse some, with an OAuth2
// client-credentials token endpoint, placed behind a real nginx (started
// through scripts/testbed.sh) that adds basic authentication on /basic/.
package httptest

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request the receiver got.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

// Reply is a scripted answer.
type Reply struct {
	Status     int
	RetryAfter string
	Body       string
}

// Receiver records requests. Paths under /token issue OAuth2 tokens;
// paths under /bearer/ need a current token; /apikey/ needs X-API-Key;
// everything else is accepted (nginx guards /basic/).
type Receiver struct {
	srv *http.Server
	ln  net.Listener

	mu           sync.Mutex
	reqs         []Request
	script       []Reply
	tokens       map[string]bool
	tokenCount   int
	tokenForms   []string
	tokenAuth    []string
	tokenLife    int
	ClientID     string
	ClientSecret string
	APIKey       string
	refuseIf     string
	refuseStatus int
	discard      bool
	count        int
}

// Discard stops recording requests (for benchmarks); Count still counts.
func (r *Receiver) Discard() {
	r.mu.Lock()
	r.discard = true
	r.mu.Unlock()
}

// Count returns how many non-token requests arrived.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// StartReceiver listens on a free loopback port until the test ends.
func StartReceiver(t testing.TB) *Receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{ln: ln, tokens: map[string]bool{}, tokenLife: 3600, ClientID: "ferry-client", ClientSecret: "s3cret/+", APIKey: "k-123"}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	t.Cleanup(func() { _ = r.srv.Close() })
	return r
}

// Addr is host:port of the receiver.
func (r *Receiver) Addr() string { return r.ln.Addr().String() }

// Script queues answers for the next requests to non-token paths.
func (r *Receiver) Script(replies ...Reply) {
	r.mu.Lock()
	r.script = append(r.script, replies...)
	r.mu.Unlock()
}

// RefuseContaining answers status to every request whose body contains s.
func (r *Receiver) RefuseContaining(s string, status int) {
	r.mu.Lock()
	r.refuseIf, r.refuseStatus = s, status
	r.mu.Unlock()
}

// SetTokenLifetime sets expires_in of the tokens issued from now on.
func (r *Receiver) SetTokenLifetime(secs int) {
	r.mu.Lock()
	r.tokenLife = secs
	r.mu.Unlock()
}

// RevokeTokens makes every issued token invalid.
func (r *Receiver) RevokeTokens() {
	r.mu.Lock()
	clear(r.tokens)
	r.mu.Unlock()
}

// TokenFetches returns how many tokens were issued, with the form bodies
// and Authorization headers of the token requests.
func (r *Receiver) TokenFetches() (int, []string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tokenCount, append([]string(nil), r.tokenForms...), append([]string(nil), r.tokenAuth...)
}

// Requests returns the recorded non-token requests.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Reset forgets the recorded requests.
func (r *Receiver) Reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// Bodies returns the bodies of the recorded requests that were accepted
// (answered 2xx), in arrival order.
func (r *Receiver) Bodies() []string {
	var out []string
	for _, q := range r.Requests() {
		if q.Header.Get("X-Test-Status") == "" {
			out = append(out, q.Body)
		}
	}
	return out
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if strings.HasPrefix(req.URL.Path, "/token") {
		r.token(w, req, string(body))
		return
	}
	r.mu.Lock()
	status, reply := http.StatusOK, Reply{}
	switch {
	case strings.HasPrefix(req.URL.Path, "/bearer/"):
		tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !r.tokens[tok] {
			status = http.StatusUnauthorized
		}
	case strings.HasPrefix(req.URL.Path, "/apikey/"):
		if req.Header.Get("X-API-Key") != r.APIKey {
			status = http.StatusForbidden
		}
	}
	if status == http.StatusOK && r.refuseIf != "" && strings.Contains(string(body), r.refuseIf) {
		status = r.refuseStatus
		reply = Reply{Status: status, Body: `{"error":"refused record"}`}
	}
	if status == http.StatusOK && len(r.script) > 0 {
		reply = r.script[0]
		r.script = r.script[1:]
		status = reply.Status
	}
	r.count++
	if !r.discard {
		h := req.Header.Clone()
		if status >= 300 {
			h.Set("X-Test-Status", fmt.Sprint(status)) // marks a refused request in Bodies
		}
		r.reqs = append(r.reqs, Request{Method: req.Method, Path: req.URL.RequestURI(), Header: h, Body: string(body)})
	}
	r.mu.Unlock()
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	w.WriteHeader(status)
	if reply.Body != "" {
		_, _ = io.WriteString(w, reply.Body)
	} else if status == http.StatusOK {
		_, _ = fmt.Fprintf(w, `{"accepted":%d}`, len(body))
	}
}

func (r *Receiver) token(w http.ResponseWriter, req *http.Request, form string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokenForms = append(r.tokenForms, form)
	r.tokenAuth = append(r.tokenAuth, req.Header.Get("Authorization"))
	ok := false
	if u, p, has := req.BasicAuth(); has {
		ok = u == r.ClientID && p == r.ClientSecret
	} else if vals, err := url.ParseQuery(form); err == nil {
		ok = vals.Get("client_id") == r.ClientID && vals.Get("client_secret") == r.ClientSecret
	}
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	r.tokenCount++
	tok := fmt.Sprintf("tok-%d", r.tokenCount)
	r.tokens[tok] = true
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": r.tokenLife})
}

// BasicAuth returns the Authorization header value for user and password.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// Nginx is a private nginx in front of a receiver.
type Nginx struct {
	URL       string
	port      int
	dir       string
	upstream  string
	user, pwd string
	script    string
}

// NginxUser and NginxPassword guard /basic/.
const (
	NginxUser     = "ferry"
	NginxPassword = "p@ss word"
)

// StartNginx starts nginx on a free port in front of upstream. The test is
// skipped when nginx is not installed (scripts/testbed.sh install adds it).
func StartNginx(t testing.TB, upstream string) *Nginx {
	t.Helper()
	script := filepath.Join(moduleRoot(t), "scripts", "testbed.sh")
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			t.Skip("nginx is not installed; run scripts/testbed.sh install")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	n := &Nginx{port: port, dir: filepath.Join(t.TempDir(), "nginx"), upstream: upstream, user: NginxUser, pwd: NginxPassword, script: script}
	n.Start(t)
	t.Cleanup(func() { n.Stop(t) })
	return n
}

// Start (re)starts nginx on its port.
func (n *Nginx) Start(t testing.TB) {
	t.Helper()
	out, err := exec.Command(n.script, "start-nginx", "--port", fmt.Sprint(n.port), "--dir", n.dir,
		"--upstream", n.upstream, "--user", n.user, "--password", n.pwd).CombinedOutput()
	if err != nil {
		t.Fatalf("start nginx: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "FERRY_TEST_NGINX="); ok {
			n.URL = u
		}
	}
	if n.URL == "" {
		t.Fatalf("start nginx printed no URL:\n%s", out)
	}
}

// Stop stops nginx; Start brings it back on the same port.
func (n *Nginx) Stop(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(n.script, "stop-nginx", "--dir", n.dir).CombinedOutput(); err != nil {
		t.Errorf("stop nginx: %v\n%s", err, out)
	}
}

func moduleRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}
