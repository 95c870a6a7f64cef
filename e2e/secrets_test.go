package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestSecretsNeverLeak configures secrets at every level — worker client
// keys, a config provider, connector client overrides, converter and
// transform keys, keys named *.password, credentials inside URLs, a JDBC
// connector's PASSWORD keys — runs a standalone worker, calls every
// endpoint (including validation, failing creates and read-modify-write
// of the config with the redacted values) and searches every response
// and the whole log: no secret appears, and the stored config keeps the
// real values.
func TestSecretsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "secrets")
	secretsFile := filepath.Join(dir, "secrets.properties")
	writeFile(t, secretsFile, "db.password=PSECRET-provider\n")
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\n")
	secrets := []string{"WSECRET-jaas", "WSECRET-truststore", "WSECRET-adminkey", "PSECRET-provider",
		"CSECRET-override", "CSECRET-okey", "CSECRET-mypw", "CSECRET-conv", "CSECRET-transform", "CSECRET-userinfo",
		"CSECRET-query", "JSECRET-url", "JSECRET-pw", "JSECRET-semi"}

	offsets := filepath.Join(dir, "offsets")
	w := startLogged(t, "secrets", map[string]string{
		"bootstrap.servers": bootstrap, "key.converter": "org.apache.kafka.connect.json.JsonConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "listeners": "http://127.0.0.1:0",
		"offset.storage.file.filename": offsets, "offset.flush.interval.ms": "1000",
		"producer.sasl.jaas.config":        `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="WSECRET-jaas";`,
		"consumer.ssl.truststore.password": "WSECRET-truststore",
		"admin.ssl.key.password":           "WSECRET-adminkey",
		"config.providers":                 "file",
		"config.providers.file.class":      "org.apache.kafka.common.config.provider.FileConfigProvider",
	}, false)

	src := map[string]string{
		"connector.class": "FileStreamSource", "tasks.max": "1", "topic": topic, "file": filepath.Join(dir, "in.txt"),
		"producer.override.sasl.jaas.config":   `org.apache.kafka.common.security.scram.ScramLoginModule required username="c" password="CSECRET-override";`,
		"producer.override.ssl.key.password":   "CSECRET-okey",
		"my.password":                          "CSECRET-mypw",
		"value.converter":                      "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.basic.auth.user.info": "user:CSECRET-conv",
		"transforms":                           "ins",
		"transforms.ins.type":                  "org.apache.kafka.connect.transforms.InsertHeader",
		"transforms.ins.header":                "f",
		"transforms.ins.value.literal":         "v",
		"transforms.ins.api.secret":            "CSECRET-transform",
		"connection.url":                       "jdbc:mysql://admin:CSECRET-userinfo@127.0.0.1:1/db?ssl=true&password=CSECRET-query",
		"provider.password":                    "${file:" + secretsFile + ":db.password}",
		"provided.value":                       "${file:" + secretsFile + ":db.password}",
	}
	jdbc := map[string]string{
		"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "tasks.max": "1", "topics": topic,
		"connection.url":      "jdbc:postgresql://127.0.0.1:1/db?user=u&password=JSECRET-url",
		"connection.user":     "u",
		"connection.password": "JSECRET-pw",
		"auto.create":         "true",
	}
	sqlserver := map[string]string{
		"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector", "tasks.max": "1", "topic.prefix": topic,
		"connection.url": "jdbc:sqlserver://127.0.0.1:1;databaseName=db;user=u;password=JSECRET-semi", "mode": "bulk",
	}

	var responses []string
	call := func(method, path string, body any) response {
		t.Helper()
		r := w.do(t, method, path, body)
		responses = append(responses, method+" "+path+" -> "+string(r.body))
		return r
	}
	if r := call("POST", "/connectors", map[string]any{"name": "sec-src", "config": src}); r.status != 201 {
		t.Fatalf("create sec-src: %d %s", r.status, r.body)
	}
	call("POST", "/connectors", map[string]any{"name": "sec-jdbc", "config": jdbc})
	call("POST", "/connectors", map[string]any{"name": "sec-mssql", "config": sqlserver})
	w.waitState(t, "sec-src", "RUNNING", 1)

	// Failing requests that quote configs.
	noClass := map[string]string{"my.password": "CSECRET-mypw", "connection.url": src["connection.url"]}
	call("POST", "/connectors", map[string]any{"name": "sec-bad", "config": noClass})
	call("PUT", "/connectors/sec-bad2/config", noClass)
	bad := map[string]string{}
	for k, v := range src {
		bad[k] = v
	}
	bad["tasks.max"] = "not-a-number"
	bad["producer.override.ssl.key.password"] = "CSECRET-okey"
	call("POST", "/connectors", map[string]any{"name": "sec-bad3", "config": bad})
	call("PUT", "/connectors/sec-bad3/config", bad)

	// Let the JDBC tasks fail and report their traces.
	time.Sleep(3 * time.Second)
	for _, c := range []string{"sec-src", "sec-jdbc", "sec-mssql"} {
		for _, p := range []string{"", "/config", "/status", "/tasks", "/tasks-config", "/tasks/0/status", "/topics", "/offsets"} {
			call("GET", "/connectors/"+c+p, nil)
		}
	}
	for _, p := range []string{"/", "/health", "/connectors", "/connectors?expand=info", "/connectors?expand=status&expand=info",
		"/connector-plugins", "/connector-plugins?connectorsOnly=false", "/admin/loggers"} {
		call("GET", p, nil)
	}
	for _, cfg := range []map[string]string{src, jdbc, sqlserver, bad} {
		call("PUT", "/connector-plugins/"+cfg["connector.class"]+"/config/validate", cfg)
	}

	// Read-modify-write with what GET returned keeps the real secrets.
	var got map[string]string
	if err := json.Unmarshal(call("GET", "/connectors/sec-src/config", nil).body, &got); err != nil {
		t.Fatal(err)
	}
	if got["my.password"] != "[hidden]" || got["producer.override.sasl.jaas.config"] != "[hidden]" ||
		got["connection.url"] != "jdbc:mysql://admin:[hidden]@127.0.0.1:1/db?ssl=true&password=[hidden]" ||
		got["provider.password"] != src["provider.password"] {
		t.Errorf("GET config: %v", got)
	}
	got["topic"] = topic + "-2"
	if r := call("PUT", "/connectors/sec-src/config", got); r.status != 200 {
		t.Fatalf("PUT back: %d %s", r.status, r.body)
	}
	if r := call("PATCH", "/connectors/sec-src/config", map[string]any{"my.password": "[hidden]", "topic": topic}); r.status != 200 {
		t.Fatalf("PATCH back: %d %s", r.status, r.body)
	}
	stored, err := os.ReadFile(offsets + ".connectors.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"CSECRET-mypw", "CSECRET-override", "CSECRET-okey", "CSECRET-userinfo", "CSECRET-query", "CSECRET-conv", "CSECRET-transform"} {
		if !strings.Contains(string(stored), s) {
			t.Errorf("the stored config lost %s after writing back the redacted values", s)
		}
	}
	w.waitState(t, "sec-src", "RUNNING", 1)
	for _, p := range []string{"/connectors/sec-src", "/connectors/sec-src/tasks", "/connectors?expand=info"} {
		call("GET", p, nil)
	}
	for _, c := range []string{"sec-src", "sec-jdbc", "sec-mssql"} {
		call("DELETE", "/connectors/"+c, nil)
	}

	all := strings.Join(responses, "\n")
	for _, r := range responses {
		if strings.HasPrefix(r, "GET /connectors/sec-jdbc/status") || strings.HasPrefix(r, "GET /connectors/sec-jdbc/config") {
			t.Log(r)
		}
	}
	logs := w.logs.String()
	for _, s := range secrets {
		if i := strings.Index(all, s); i >= 0 {
			t.Errorf("secret %s in a REST response: …%s…", s, all[max(0, i-300):min(len(all), i+100)])
		}
		if i := strings.Index(logs, s); i >= 0 {
			t.Errorf("secret %s in the log: …%s…", s, logs[max(0, i-300):min(len(logs), i+100)])
		}
	}
	t.Logf("%d responses (%d bytes) and %d bytes of log searched for %d secrets", len(responses), len(all), len(logs), len(secrets))
}
