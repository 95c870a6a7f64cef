package rest

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/sslconf"
	"github.com/ferryhq/ferry/internal/testbed"
)

// runServer runs s until the test ends.
func runServer(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// basicAuthFiles writes a JAAS file and its credentials file.
func basicAuthFiles(t *testing.T, creds string) string {
	t.Helper()
	file := writeTemp(t, "credentials.properties", creds)
	return writeTemp(t, "connect_jaas.conf", `/* REST credentials */
KafkaConnect {
  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
  file="`+file+`";
};
// another application's entry
Other { com.example.Module optional debug=true; };
`)
}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestBasicAuth(t *testing.T) {
	auth, err := NewBasicAuth(basicAuthFiles(t, "# users\nadmin=s3cret\nreader: r:ead\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, newFakeHerder(), WithAuthenticator(auth))
	h := s.Handler()
	unauthorized := func(name string, rec interface {
		Result() *http.Response
	}) {
		t.Helper()
		resp := rec.Result()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 401 || string(body) != Unauthorized || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: got %d %q %v, want 401 %q without WWW-Authenticate", name, resp.StatusCode, body, resp.Header, Unauthorized)
		}
	}
	for name, hdr := range map[string]string{
		"none":           "",
		"bearer":         "Bearer abc",
		"no space":       "Basic",
		"bad base64":     "Basic !!!",
		"no colon":       "Basic " + base64.StdEncoding.EncodeToString([]byte("admin")),
		"empty user":     basicHeader("", "s3cret"),
		"unknown user":   basicHeader("nobody", "s3cret"),
		"wrong password": basicHeader("admin", "s3cret2"),
		"other's pw":     basicHeader("admin", "r:ead"),
	} {
		for _, path := range []string{"/", "/health", "/connectors", "/connectors/local-file-source/config", "/admin/loggers"} {
			unauthorized(name+" "+path, do(t, h, req{method: "GET", path: path, header: map[string]string{"Authorization": hdr}}))
		}
		unauthorized(name+" create", do(t, h, req{method: "POST", path: "/connectors", body: `{"name":"x","config":{}}`,
			header: map[string]string{"Authorization": hdr}}))
	}
	for _, hdr := range []string{basicHeader("admin", "s3cret"), "basic " + base64.StdEncoding.EncodeToString([]byte("reader:r:ead")),
		"BASIC " + base64.StdEncoding.EncodeToString([]byte("admin:s3cret"))} {
		if rec := do(t, h, req{method: "GET", path: "/connectors", header: map[string]string{"Authorization": hdr}}); rec.Code != 200 {
			t.Errorf("%q: %d %s", hdr, rec.Code, rec.Body)
		}
	}
	// Worker-to-worker endpoints are signed instead (KIP-507); a
	// standalone herder answers them 500 as Apache's does.
	for _, r := range []req{{method: "POST", path: "/connectors/local-file-source/tasks", body: `[]`},
		{method: "PUT", path: "/connectors/local-file-source/fence"}} {
		if rec := do(t, h, r); rec.Code == 401 {
			t.Errorf("%s %s needs no credentials: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
	}
	// Unrouted requests are answered before authentication, as JAX-RS
	// filters run after matching.
	expect(t, do(t, h, req{method: "GET", path: "/nope"}), 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
}

func TestBasicAuthSeparateAdminListener(t *testing.T) {
	auth, err := NewBasicAuth(basicAuthFiles(t, "admin=s3cret\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, newFakeHerder(), WithAuthenticator(auth), WithAdminListeners([]string{"http://127.0.0.1:0"}))
	// As in Apache, a separate admin listener gets no REST extension.
	if rec := do(t, s.AdminHandler(), req{method: "GET", path: "/admin/loggers"}); rec.Code != 200 {
		t.Errorf("admin listener: %d %s", rec.Code, rec.Body)
	}
}

func TestBasicAuthEmptyFileAdmitsAll(t *testing.T) {
	auth, err := NewBasicAuth(basicAuthFiles(t, "# nobody\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !auth.Open() {
		t.Error("an empty credentials file is not open")
	}
	s := newTestServer(t, newFakeHerder(), WithAuthenticator(auth))
	if rec := do(t, s.Handler(), req{method: "GET", path: "/connectors"}); rec.Code != 200 {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

func TestBasicAuthConfigErrors(t *testing.T) {
	creds := writeTemp(t, "c.properties", "a=b\n")
	for name, tc := range map[string]struct{ jaas, want string }{
		"no path":      {"", "needs a JAAS file"},
		"missing file": {"/no/such/jaas.conf", "reading JAAS file"},
		"no entry":     {writeTemp(t, "j", `Other { `+PropertyFileModule+` required file="`+creds+`"; };`), "no KafkaConnect entry"},
		"other module": {writeTemp(t, "j", `KafkaConnect { com.example.Ldap required; };`), "exactly one"},
		"no file opt":  {writeTemp(t, "j", `KafkaConnect { `+PropertyFileModule+` required; };`), "file= option"},
		"no creds":     {writeTemp(t, "j", `KafkaConnect { `+PropertyFileModule+` required file="/no/such"; };`), "credentials file"},
		"bad flag":     {writeTemp(t, "j", `KafkaConnect { `+PropertyFileModule+` always file="`+creds+`"; };`), "control flag"},
		"unterminated": {writeTemp(t, "j", `KafkaConnect { `+PropertyFileModule+` required file="`), "unterminated"},
	} {
		if _, err := NewBasicAuth(tc.jaas); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

func TestLoginConfigFromJavaOpts(t *testing.T) {
	for opts, want := range map[string]string{
		"": "",
		"-Xmx1g -Djava.security.auth.login.config=/etc/jaas.conf -Dx=y":             "/etc/jaas.conf",
		`-Djava.security.auth.login.config="/etc/my jaas.conf"`:                     "/etc/my jaas.conf",
		"-Djava.security.auth.login.config==/only.conf":                             "/only.conf",
		"-Djava.security.auth.login.config=/a -Djava.security.auth.login.config=/b": "/b",
	} {
		if got := LoginConfigFromJavaOpts(opts); got != want {
			t.Errorf("%q: %q, want %q", opts, got, want)
		}
	}
}

func TestResponseHeaders(t *testing.T) {
	rules, err := ParseHeaderConfig(`set X-Frame-Options: DENY, add Cache-Control: no-store, "add X-List: a,b", setDate Expires: 3600000`)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, newFakeHerder(), WithResponseHeaders(rules))
	rec := do(t, s.Handler(), req{method: "GET", path: "/connectors"})
	h := rec.Header()
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("X-List") != "a,b" {
		t.Errorf("headers: %v", h)
	}
	if exp, err := http.ParseTime(h.Get("Expires")); err != nil || exp.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("Expires %q: %v", h.Get("Expires"), err)
	}
	for _, bad := range []string{"set", "set NoColon", "remove X: y", "setDate X: soon", "set : v"} {
		if _, err := ParseHeaderConfig(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// errorShape checks a non-2xx answer is Apache's {"error_code","message"}
// with error_code equal to the status.
func errorShape(status int, header http.Header, body []byte) error {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("not JSON: %q", body)
	}
	code, ok := m["error_code"].(float64)
	if _, hasMsg := m["message"].(string); !ok || !hasMsg || len(m) != 2 || int(code) != status {
		return fmt.Errorf("not {error_code,message} with error_code %d: %s", status, body)
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("Content-Type %q", ct)
	}
	if header.Get("Location") != "" {
		return fmt.Errorf("redirect to %s", header.Get("Location"))
	}
	return nil
}

func TestNonCanonicalPaths(t *testing.T) {
	s := newTestServer(t, newFakeHerder())
	for _, p := range []string{
		"/connectors/./local-file-source", "/connectors/../connectors", "//connectors", "/connectors//local-file-source/status",
		"/connectors/local-file-source/.", "/connectors/local-file-source/..", "/%2e%2e/connectors", "/connectors/%2E/status",
		"/connectors/a%2F..%2Fb", "/./", "/connectors/local-file-source/tasks/0/..//status",
	} {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			rec := do(t, s.Handler(), req{method: m, path: p})
			if rec.Code != 400 {
				t.Errorf("%s %s: %d %s", m, p, rec.Code, rec.Body)
			}
			if err := errorShape(rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
				t.Errorf("%s %s: %v", m, p, err)
			}
		}
	}
	// Trailing slashes that Apache routes stay routed.
	if rec := do(t, s.Handler(), req{method: "GET", path: "/connectors/"}); rec.Code != 200 {
		t.Errorf("/connectors/: %d", rec.Code)
	}
}

// rawRequest sends request bytes as is and reads one response.
func rawRequest(t *testing.T, addr string, cfg *tls.Config, raw string) (*http.Response, []byte) {
	t.Helper()
	var c net.Conn
	var err error
	if cfg != nil {
		c, err = tls.Dial("tcp", addr, cfg)
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// net/http's own answers to requests it cannot parse come out as JSON.
func TestMalformedRequestsOverTheWire(t *testing.T) {
	s := newTestServer(t, newFakeHerder(), WithMaxBodyBytes(1024))
	runServer(t, s)
	addr := s.Addrs()[0]
	for _, tc := range []struct {
		raw    string
		status int
	}{
		{"GET /connectors/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /connectors/% HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /%%%/../ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /connectors HTTP/1.1\r\n\r\n", 400}, // no Host
		{"GET /connectors HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400},
		{"GET /connectors HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", 431},
		{"GET /./connectors HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET //connectors HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"POST /connectors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("x", 5000), 413},
		{"POST /connectors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + strings.Repeat("x", 4096) + "\r\n0\r\n\r\n", 413},
		{"PUT /connectors/a/config HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + strings.Repeat("{", 2048), 413},
	} {
		resp, body := rawRequest(t, addr, nil, tc.raw)
		short := tc.raw[:min(len(tc.raw), 60)]
		if resp.StatusCode != tc.status {
			t.Errorf("%q: %d %s, want %d", short, resp.StatusCode, body, tc.status)
			continue
		}
		if err := errorShape(resp.StatusCode, resp.Header, body); err != nil {
			t.Errorf("%q: %v", short, err)
		}
	}
	resp, body := rawRequest(t, addr, nil, "POST /connectors HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
	if want := `{"error_code":413,"message":"Request body is larger than the limit of 1024 bytes"}`; resp.StatusCode != 413 || string(body) != want {
		t.Errorf("413 body %s", body)
	}
}

func tlsServer(t *testing.T, cs *testbed.CertSet, clientAuth string, opts ...Opt) *Server {
	t.Helper()
	cfg, err := sslconf.Server(map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": cs.ServerP12,
		"ssl.keystore.password": testbed.StorePassword, "ssl.truststore.type": "JKS", "ssl.truststore.location": cs.TrustJKS,
		"ssl.truststore.password": testbed.StorePassword, "ssl.client.auth": clientAuth})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, newFakeHerder(), append([]Opt{WithListeners([]string{"https://127.0.0.1:0"}), WithTLS(cfg)}, opts...)...)
	runServer(t, s)
	return s
}

func tlsClient(t *testing.T, cs *testbed.CertSet, withCert bool) *http.Client {
	t.Helper()
	props := map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": cs.CA}
	if withCert {
		props["ssl.keystore.type"], props["ssl.keystore.location"] = "PEM", cs.ClientPEM
	}
	cfg, err := sslconf.Client(props)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func get(c *http.Client, url, auth string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestHTTPSClientAuth(t *testing.T) {
	cs := testbed.Certs(t)
	for _, tc := range []struct {
		mode                 string
		withCert, withoutCrt bool // whether each client gets an answer
	}{
		{"required", true, false},
		{"requested", true, true},
		{"none", true, true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := tlsServer(t, cs, tc.mode)
			url := "https://" + s.Addrs()[0] + "/connectors"
			for _, withCert := range []bool{true, false} {
				code, body, err := get(tlsClient(t, cs, withCert), url, "")
				want := tc.withoutCrt
				if withCert {
					want = tc.withCert
				}
				if want && (err != nil || code != 200) {
					t.Errorf("cert=%v: %d %s %v", withCert, code, body, err)
				}
				if !want && err == nil {
					t.Errorf("cert=%v: answered %d without a client certificate", withCert, code)
				}
			}
			// Locations name the https scheme; a client certificate, when
			// sent, is seen by the handlers.
			resp, err := tlsClient(t, cs, true).Post("https://"+s.Addrs()[0]+"/connectors", "application/json",
				strings.NewReader(`{"name":"tls-made","config":{"connector.class":"FileStreamSource"}}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != 201 || !strings.HasPrefix(loc, "https://") {
				t.Errorf("create over https: %d Location %q", resp.StatusCode, loc)
			}
			// A client that does not trust the server's CA is refused.
			if _, _, err := get(&http.Client{Timeout: 5 * time.Second}, url, ""); err == nil {
				t.Error("a client without the CA was answered")
			}
			// Plain HTTP on the https port gets no API answer.
			if code, _, err := get(http.DefaultClient, "http://"+s.Addrs()[0]+"/connectors", ""); err == nil && code == 200 {
				t.Error("plain HTTP was served on an https listener")
			}
		})
	}
}

// curl against an https listener with mTLS and basic auth.
func TestHTTPSWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	cs := testbed.Certs(t)
	auth, err := NewBasicAuth(basicAuthFiles(t, "admin=s3cret\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := tlsServer(t, cs, "required", WithAuthenticator(auth))
	url := "https://" + s.Addrs()[0] + "/connectors"
	run := func(args ...string) (string, error) {
		out, err := exec.Command(curl, append([]string{"-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10", "--cacert", cs.CA}, args...)...).CombinedOutput()
		return string(out), err
	}
	mtls := []string{"--cert", cs.ClientCert, "--key", cs.ClientKey}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(mtls, url), Unauthorized + "\n401"},
		{append(mtls, "-u", "admin:wrong", url), Unauthorized + "\n401"},
		{append(mtls, "-u", "admin:s3cret", url), `["local-file-source"]` + "\n200"},
	} {
		out, err := run(tc.args...)
		if err != nil || out != tc.want {
			t.Errorf("curl %v: %q %v, want %q", tc.args[len(tc.args)-3:], out, err, tc.want)
		}
	}
	if out, err := run("-u", "admin:s3cret", url); err == nil {
		t.Errorf("curl without a client certificate was answered: %s", out)
	}
}

// FuzzRouter sends arbitrary methods, paths and bodies through the
// handler: no panic, and every non-2xx answer in Apache's error shape.
func FuzzRouter(f *testing.F) {
	for _, seed := range []struct{ method, path, body string }{
		{"GET", "/", ""}, {"GET", "/connectors?expand=status&expand=info", ""},
		{"POST", "/connectors", `{"name":"a","config":{"connector.class":"x"}}`},
		{"PUT", "/connectors/a/config", `{"k":1}`}, {"PATCH", "/connectors/local-file-source/config", `{"k":null}`},
		{"PUT", "/connector-plugins/FileStreamSource/config/validate", `{"connector.class":"FileStreamSource"}`},
		{"PATCH", "/connectors/local-file-source/offsets", `{"offsets":[{"partition":{},"offset":{}}]}`},
		{"POST", "/connectors/local-file-source/tasks", `[{"a":"b"}]`}, {"PUT", "/connectors/a/fence", ""},
		{"PUT", "/admin/loggers/root", `{"level":"DEBUG"}`}, {"GET", "/connectors/%2e%2e/status", ""},
		{"DELETE", "/connectors/a%2Fb", ""}, {"GET", "/connectors/local-file-source/tasks/-1/status", ""},
		{"POST", "/connectors/local-file-source/restart?includeTasks=true&onlyFailed=x", ""},
		{"GET", "//", ""}, {"TRACE", "/connectors", "\x00\xff"}, {"PUT", "/connectors/a/config", `[`},
	} {
		f.Add(seed.method, seed.path, seed.body, "")
		f.Add(seed.method, seed.path, seed.body, basicHeader("admin", "pw"))
		f.Add(seed.method, seed.path, seed.body, "Basic !!")
	}
	creds := filepath.Join(f.TempDir(), "creds.properties")
	jaasFile := filepath.Join(f.TempDir(), "jaas.conf")
	if err := os.WriteFile(creds, []byte("admin=pw\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(jaasFile, []byte("KafkaConnect { "+PropertyFileModule+" required file=\""+creds+"\"; };"), 0o600); err != nil {
		f.Fatal(err)
	}
	auth, err := NewBasicAuth(jaasFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, body, authorization string) {
		if !validMethod(method) {
			t.Skip()
		}
		hr, err := http.NewRequest(method, "http://localhost:8083"+path, strings.NewReader(body))
		if err != nil || hr.URL.Host != "localhost:8083" {
			t.Skip() // net/http itself answers what it cannot parse; see TestMalformedRequestsOverTheWire
		}
		hr.RequestURI = hr.URL.RequestURI()
		var opts []Opt
		if authorization != "" {
			hr.Header.Set("Authorization", authorization)
			opts = append(opts, WithAuthenticator(auth))
		}
		s := newFuzzServer(t, opts...)
		rec := newRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Handler().ServeHTTP(rec, hr)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %q %q: no answer within 10 s", method, path, body)
		}
		if rec.code >= 200 && rec.code < 300 {
			return
		}
		if rec.code == http.StatusUnauthorized {
			if authorization == "" || rec.body.String() != Unauthorized {
				t.Fatalf("%s %q: 401 %q", method, path, rec.body.String())
			}
			return
		}
		if rec.code == http.StatusInternalServerError && strings.Contains(rec.body.String(), standaloneInternal) {
			return
		}
		if rec.code >= 500 {
			t.Fatalf("%s %q: %d %s", method, path, rec.code, rec.body.String())
		}
		if err := errorShape(rec.code, rec.header, []byte(rec.body.String())); err != nil {
			t.Fatalf("%s %q: %v", method, path, err)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}

func newFuzzServer(t *testing.T, opts ...Opt) *Server {
	t.Helper()
	s, err := NewServer(append([]Opt{WithHerder(newFakeHerder()), WithListeners([]string{"http://127.0.0.1:0"}), WithMaxBodyBytes(4096)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // only the handler is used
	return s
}

// recorder2 is a minimal ResponseWriter that records the status, headers
// and body (httptest.ResponseRecorder panics on some status codes).
type recorder2 struct {
	header http.Header
	code   int
	body   strings.Builder
}

func newRecorder() *recorder2            { return &recorder2{header: http.Header{}} }
func (r *recorder2) Header() http.Header { return r.header }
func (r *recorder2) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
}
func (r *recorder2) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(b)
}

// Admin listeners serve https with their own TLS settings.
func TestHTTPSAdminListener(t *testing.T) {
	cs := testbed.Certs(t)
	cfg, err := sslconf.Server(map[string]string{"ssl.keystore.type": "JKS", "ssl.keystore.location": cs.ServerJKS,
		"ssl.keystore.password": testbed.StorePassword})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, newFakeHerder(), WithAdminListeners([]string{"https://127.0.0.1:0"}), WithAdminTLS(cfg))
	runServer(t, s)
	code, body, err := get(tlsClient(t, cs, false), "https://"+s.AdminAddrs()[0]+"/admin/loggers", "")
	if err != nil || code != 200 {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if code, _, _ := get(http.DefaultClient, "http://"+s.Addrs()[0]+"/admin/loggers", ""); code != 404 {
		t.Errorf("admin endpoints on the regular listener: %d", code)
	}
	if _, err := NewServer(WithHerder(newFakeHerder()), WithListeners([]string{"http://127.0.0.1:0"}),
		WithAdminListeners([]string{"https://127.0.0.1:0"})); err == nil || !strings.Contains(err.Error(), "admin.listeners.https") {
		t.Errorf("https admin listener without TLS: %v", err)
	}
}
