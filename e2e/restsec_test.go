package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/sslconf"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/logging"
)

// secWorker is a worker run in this process whose logs (DEBUG and up)
// are kept, reached through client (TLS and credentials as configured).
type secWorker struct {
	worker
	logs   *syncBuffer
	client *http.Client
	auth   string // Authorization header sent by call
}

// startLogged runs a standalone (distributed=false) or distributed worker
// with props and keeps its logs.
func startLogged(t *testing.T, name string, props map[string]string, distributed bool, conns ...map[string]string) *secWorker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &secWorker{worker: worker{cancel: cancel, done: make(chan error, 1)}, logs: &syncBuffer{},
		client: &http.Client{Timeout: 120 * time.Second}}
	ready := make(chan string, 1)
	levels := logging.NewLevels(logging.LevelDebug)
	logger := slog.New(logging.NewHandler(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}), levels)).With("w", name)
	props = maps.Clone(props)
	go func() {
		if distributed {
			w.done <- app.RunDistributed(ctx, props, logger, levels, func(url string) { ready <- url })
		} else {
			w.done <- app.RunStandalone(ctx, props, conns, logger, levels, func(url string) { ready <- url })
		}
	}()
	select {
	case u := <-ready:
		w.url = strings.TrimSuffix(u, "/")
	case err := <-w.done:
		t.Fatalf("worker %s exited during startup: %v\n%s", name, err, w.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %s did not start within 60s", name)
	}
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("logs of %s:\n%s", name, w.logs)
		}
	})
	return w
}

// do sends a request with the worker's client and credentials.
func (w *secWorker) do(t *testing.T, method, path string, body any) response {
	t.Helper()
	return send(t, w.client, method, w.url+path, body, w.auth)
}

func basicAuthorization(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// writeJAAS writes a JAAS file for the basic auth extension and its
// credentials file.
func writeJAAS(t *testing.T, dir, creds string) string {
	t.Helper()
	cf := filepath.Join(dir, "credentials.properties")
	writeFile(t, cf, creds)
	jf := filepath.Join(dir, "connect_jaas.conf")
	writeFile(t, jf, "KafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\""+cf+"\";\n};\n")
	return jf
}

// Two distributed workers with https listeners that demand client
// certificates and the basic auth extension: requests sent to the
// follower are forwarded to the leader with the caller's credentials,
// the follower's task configs reach the leader over the signed internal
// endpoint, and every request without good credentials gets Apache's 401.
func TestDistributedHTTPSBasicAuthForwarding(t *testing.T) {
	c := newCluster(t)
	cs := testbed.Certs(t)
	dir := t.TempDir()
	c.props["listeners"] = "https://127.0.0.1:0"
	c.props["rest.extension.classes"] = "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
	c.props["listeners.https.ssl.keystore.type"] = "PKCS12"
	c.props["listeners.https.ssl.keystore.location"] = cs.ServerP12
	c.props["listeners.https.ssl.keystore.password"] = testbed.StorePassword
	c.props["listeners.https.ssl.truststore.type"] = "JKS"
	c.props["listeners.https.ssl.truststore.location"] = cs.TrustJKS
	c.props["listeners.https.ssl.truststore.password"] = testbed.StorePassword
	c.props["listeners.https.ssl.client.auth"] = "required"
	jaas := writeJAAS(t, dir, "admin=adm1n-pw\nops=0ps-pw\n")

	// One worker names the JAAS file with the worker key, the other
	// through KAFKA_OPTS, as a JVM worker would get it.
	props1 := maps.Clone(c.props)
	props1["java.security.auth.login.config"] = jaas
	w1 := startLogged(t, "w1", props1, true)
	t.Setenv("KAFKA_OPTS", "-Xmx256m -Djava.security.auth.login.config="+jaas)
	w2 := startLogged(t, "w2", c.props, true)

	cli, err := sslconf.Client(map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": cs.CA,
		"ssl.keystore.type": "PEM", "ssl.keystore.location": cs.ClientPEM})
	if err != nil {
		t.Fatal(err)
	}
	httpsClient := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{TLSClientConfig: cli}}
	for _, w := range []*secWorker{w1, w2} {
		if !strings.HasPrefix(w.url, "https://") {
			t.Fatalf("advertised URL %s is not https", w.url)
		}
		w.client = httpsClient
		w.auth = basicAuthorization("admin", "adm1n-pw")
	}
	for _, w := range []*secWorker{w1, w2} {
		testbed.WaitFor(t, 90*time.Second, 200*time.Millisecond, func() (bool, string) {
			r := w.do(t, "GET", "/health", nil)
			return r.status == 200, string(r.body)
		})
	}

	// 401 without, with unknown and with wrong credentials, on both workers.
	for _, w := range []*secWorker{w1, w2} {
		for _, a := range []string{"", basicAuthorization("admin", "wrong"), basicAuthorization("nobody", "adm1n-pw")} {
			u := *w
			u.auth = a
			for _, p := range []string{"/", "/connectors", "/health"} {
				r := u.do(t, "GET", p, nil)
				if r.status != 401 || string(r.body) != "User cannot access the resource." {
					t.Errorf("%s%s with %q: %d %s", w.url, p, a, r.status, r.body)
				}
			}
		}
	}
	// Without a client certificate the TLS handshake fails.
	plain, err := sslconf.Client(map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": cs.CA})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", w1.url+"/connectors", nil)
	req.Header.Set("Authorization", w1.auth)
	if resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: plain}}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("answered %d without a client certificate", resp.StatusCode)
	}

	// Connectors are created through both workers: one of them is the
	// follower and forwards to the leader.
	topic := testbed.UniqueName(t, "restsec")
	var names []string
	for i, w := range []*secWorker{w2, w1, w2, w1} {
		name := fmt.Sprintf("%s-%d", topic, i)
		in := filepath.Join(dir, name+".txt")
		writeFile(t, in, "a\nb\n")
		// Operators' credentials differ; both are relayed as sent.
		if i%2 == 1 {
			u := *w
			u.auth = basicAuthorization("ops", "0ps-pw")
			w = &u
		}
		r := w.do(t, "POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
			"connector.class": "FileStreamSource", "file": in, "topic": topic, "tasks.max": "1"}})
		if r.status != 201 {
			t.Fatalf("create %s on %s: %d %s", name, w.url, r.status, r.body)
		}
		names = append(names, name)
	}
	for _, name := range names {
		for _, w := range []*secWorker{w1, w2} {
			testbed.WaitFor(t, 90*time.Second, 200*time.Millisecond, func() (bool, string) {
				r := w.do(t, "GET", "/connectors/"+name+"/status", nil)
				if r.status != 200 {
					return false, string(r.body)
				}
				var st struct {
					Connector struct{ State string }
					Tasks     []struct{ State string }
				}
				_ = json.Unmarshal(r.body, &st)
				return st.Connector.State == "RUNNING" && len(st.Tasks) == 1 && st.Tasks[0].State == "RUNNING", string(r.body)
			})
		}
	}
	// The leader's access log shows the forwarded create (the follower
	// relayed the caller's credentials, or it would be a 401) and the
	// follower's task configs on the signed internal endpoint.
	logs := w1.logs.String() + w2.logs.String()
	for _, want := range []string{`uri="/connectors?forward=true" status=201`, `/tasks?forward=true" status=204`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no request %s in the access logs", want)
		}
	}
	// A write through each worker, forwarded or not, with credentials.
	for _, w := range []*secWorker{w1, w2} {
		for _, name := range names[:2] {
			r := w.do(t, "PUT", "/connectors/"+name+"/pause", nil)
			if r.status != 202 {
				t.Errorf("pause %s via %s: %d %s", name, w.url, r.status, r.body)
			}
			r = w.do(t, "POST", "/connectors/"+name+"/restart", nil)
			if r.status != 204 {
				t.Errorf("restart %s via %s: %d %s", name, w.url, r.status, r.body)
			}
		}
	}
	// Deleting through a worker without credentials is refused on the
	// spot, never forwarded.
	u := *w2
	u.auth = ""
	if r := u.do(t, "DELETE", "/connectors/"+names[0], nil); r.status != 401 {
		t.Errorf("delete without credentials: %d %s", r.status, r.body)
	}
	for _, name := range names {
		if r := w2.do(t, "DELETE", "/connectors/"+name, nil); r.status != 204 {
			t.Errorf("delete %s: %d %s", name, r.status, r.body)
		}
	}
	for _, w := range []*secWorker{w1, w2} {
		if strings.Contains(w.logs.String(), "adm1n-pw") || strings.Contains(w.logs.String(), "0ps-pw") {
			t.Errorf("a password reached the log of %s", w.url)
		}
	}
}

// REST settings Ferry cannot honour stop the worker at start with a clear
// error: an unknown REST extension, the basic auth extension without a
// JAAS file, an https listener without a keystore, bad TLS or header
// settings.
func TestBadRESTSettingsRefuseToStart(t *testing.T) {
	dir := t.TempDir()
	cs := testbed.Certs(t)
	t.Setenv("KAFKA_OPTS", "")
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"rest.extension.classes": "com.example.MyRestExtension"}, "unknown REST extension class com.example.MyRestExtension"},
		{map[string]string{"rest.extension.classes": "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"}, "needs a JAAS file"},
		{map[string]string{"rest.extension.classes": "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension",
			"java.security.auth.login.config": filepath.Join(dir, "missing.conf")}, "reading JAAS file"},
		{map[string]string{"listeners": "https://127.0.0.1:0"}, "ssl.keystore.location is required"},
		{map[string]string{"listeners": "https://127.0.0.1:0", "ssl.keystore.type": "PEM", "ssl.keystore.location": cs.ServerPEM,
			"ssl.client.auth": "sometimes"}, "ssl.client.auth"},
		{map[string]string{"listeners": "https://127.0.0.1:0", "listeners.https.ssl.keystore.location": cs.ServerJKS,
			"listeners.https.ssl.keystore.password": "wrong"}, "keystore"},
		{map[string]string{"admin.listeners": "https://127.0.0.1:0"}, "REST https admin listeners"},
		{map[string]string{"response.http.headers.config": "remove X-Powered-By"}, "response.http.headers.config"},
	} {
		props := map[string]string{
			"bootstrap.servers": "127.0.0.1:1", "key.converter": "org.apache.kafka.connect.json.JsonConverter",
			"value.converter": "org.apache.kafka.connect.json.JsonConverter", "listeners": "http://127.0.0.1:0",
			"offset.storage.file.filename": filepath.Join(dir, "offsets"),
		}
		maps.Copy(props, tc.props)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := app.RunStandalone(ctx, props, nil, slog.New(slog.DiscardHandler), logging.NewLevels(logging.LevelInfo), nil)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.props, err, tc.want)
		}
	}
}

// kcpyScript drives a Ferry worker with the kafka-connect-py client from
// PyPI, over https (verifying the server with the test CA) with basic
// authentication, and prints what it got as JSON.
const kcpyScript = `
import json, os, time
from kafka_connect import KafkaConnect
from requests.exceptions import HTTPError

url, ca, pw, name = os.environ["URL"], os.environ["CA"], os.environ["PW"], os.environ["NAME"]
out = {}

def status(fn):
    try:
        fn()
        return 200
    except HTTPError as e:
        return e.response.status_code

out["no_auth"] = status(lambda: KafkaConnect(url, ssl_verify=ca).list_connectors())
out["bad_auth"] = status(lambda: KafkaConnect(url, auth="admin:wrong", ssl_verify=ca).get_cluster_info())
kc = KafkaConnect(url, auth="admin:" + pw, ssl_verify=ca)
out["info"] = kc.get_cluster_info()
out["create"] = kc.create_connector(json.loads(os.environ["CONNECTOR"]))
out["list"] = kc.list_connectors()
out["config"] = kc.get_connector_config(name)
for _ in range(100):
    st = kc.get_connector_status(name)
    if st["connector"]["state"] == "RUNNING" and st["tasks"] and st["tasks"][0]["state"] == "RUNNING":
        break
    time.sleep(0.2)
out["status"] = st
kc.pause_connector(name)
cfg = dict(json.loads(os.environ["CONNECTOR"])["config"], name=name)
out["validate"] = kc.validate_connector_config("FileStreamSource", cfg)["error_count"]
out["plugins"] = len(kc.list_connector_plugins())
kc.delete_connector(name)
out["after_delete"] = kc.list_connectors()
print(json.dumps(out))
`

// TestKafkaConnectPyClient runs an existing Connect REST client,
// kafka-connect-py (installed by scripts/testbed.sh install), against a
// standalone worker with an https listener configured by the top-level
// ssl.* keys and the basic auth extension with its JAAS file given in
// KAFKA_OPTS.
func TestKafkaConnectPyClient(t *testing.T) {
	cache := os.Getenv("FERRY_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "ferry")
	}
	python := filepath.Join(cache, "kafka-connect-py-1.0.0", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Skipf("kafka-connect-py is not installed (scripts/testbed.sh install): %v", err)
	}
	dir := t.TempDir()
	cs := testbed.Certs(t)
	t.Setenv("KAFKA_OPTS", "-Djava.security.auth.login.config="+writeJAAS(t, dir, "admin=py-s3cret\n"))
	pwFile := filepath.Join(dir, "tls.properties")
	writeFile(t, pwFile, "ks="+testbed.StorePassword+"\n")
	topic := testbed.UniqueName(t, "kcpy")
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\n")
	w := startLogged(t, "kcpy", map[string]string{
		"bootstrap.servers": testbed.Kafka(t), "key.converter": "org.apache.kafka.connect.json.JsonConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "listeners": "https://127.0.0.1:0",
		"offset.storage.file.filename": filepath.Join(dir, "offsets"),
		"ssl.keystore.type":            "JKS", "ssl.keystore.location": cs.ServerJKS,
		// Store passwords may come from a config provider, as in Apache.
		"ssl.keystore.password":       "${file:" + pwFile + ":ks}",
		"config.providers":            "file",
		"config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
		"ssl.truststore.type":         "PKCS12", "ssl.truststore.location": cs.TrustP12, "ssl.truststore.password": testbed.StorePassword,
		"rest.extension.classes": "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension",
	}, false)
	name := "kcpy-src"
	conn, _ := json.Marshal(map[string]any{"name": name, "config": map[string]string{
		"connector.class": "FileStreamSource", "file": filepath.Join(dir, "in.txt"), "topic": topic, "tasks.max": "1"}})
	script := filepath.Join(dir, "client.py")
	writeFile(t, script, kcpyScript)
	cmd := exec.Command(python, script)
	cmd.Env = append(os.Environ(), "URL="+w.url, "CA="+cs.CA, "PW=py-s3cret", "NAME="+name, "CONNECTOR="+string(conn))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kafka-connect-py: %v\n%s\n%s", err, out, stderr)
	}
	var got struct {
		NoAuth      int               `json:"no_auth"`
		BadAuth     int               `json:"bad_auth"`
		Info        map[string]any    `json:"info"`
		Create      map[string]any    `json:"create"`
		List        []string          `json:"list"`
		Config      map[string]string `json:"config"`
		Status      struct{ Connector struct{ State string } }
		Validate    int      `json:"validate"`
		Plugins     int      `json:"plugins"`
		AfterDelete []string `json:"after_delete"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// ferry lag reaches the same worker with --cacert and --user.
	lag := func(args ...string) string {
		out, _ := exec.Command(ferryBinary(t), append([]string{"lag", name, "--url", w.url, "--cacert", cs.CA}, args...)...).CombinedOutput()
		return string(out)
	}
	if out := lag(); !strings.Contains(out, "HTTP 401: User cannot access the resource.") {
		t.Errorf("ferry lag without --user: %s", out)
	}
	if out := lag("--user", "admin:py-s3cret"); !strings.Contains(out, "not found (HTTP 404)") {
		t.Errorf("ferry lag with --user: %s", out)
	}
	if got.NoAuth != 401 || got.BadAuth != 401 {
		t.Errorf("without and with wrong credentials: %d, %d; want 401", got.NoAuth, got.BadAuth)
	}
	if got.Info["version"] == nil || got.Create["name"] != name || len(got.List) != 1 || got.List[0] != name ||
		got.Config["topic"] != topic || got.Status.Connector.State != "RUNNING" || got.Validate != 0 || got.Plugins == 0 ||
		len(got.AfterDelete) != 0 {
		t.Errorf("kafka-connect-py saw %s", out)
	}
}
