package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/logging"
	"github.com/ferryhq/ferry/runtime/herder"
)

func newTestServer(t *testing.T, h herder.Herder, opts ...Opt) *Server {
	t.Helper()
	opts = append([]Opt{WithHerder(h), WithListeners([]string{"http://127.0.0.1:0"})}, opts...)
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type req struct {
	method, path, body string
	header             map[string]string
}

// do sends a request; a body gets Content-Type application/json unless
// the header map sets one ("" removes it).
func do(t *testing.T, h http.Handler, r req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	hr.Host = "localhost:8083"
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	return rec
}

func expect(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || rec.Body.String() != body {
		t.Fatalf("got %d %s\nwant %d %s", rec.Code, rec.Body.String(), status, body)
	}
	if body != "" && rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type = %q", rec.Header().Get("Content-Type"))
	}
}

func TestEndpoints(t *testing.T) {
	const src = `{"name":"local-file-source","config":{"connector.class":"FileStreamSource","name":"local-file-source","tasks.max":"1"},"tasks":[{"connector":"local-file-source","task":0}],"type":"source"}`
	const srcStatus = `{"name":"local-file-source","connector":{"state":"RUNNING","worker_id":"127.0.0.1:8083"},"tasks":[{"id":0,"state":"FAILED","worker_id":"127.0.0.1:8083","trace":"boom"}],"type":"source"}`
	const notFound = `{"error_code":404,"message":"Connector nope not found"}`
	const unknown = `{"error_code":404,"message":"Unknown connector nope"}`
	const jaxNotFound = `{"error_code":404,"message":"HTTP 404 Not Found"}`

	tests := []struct {
		name   string
		req    req
		status int
		body   string
		call   string // expected last herder call, if any
	}{
		{"root", req{method: "GET", path: "/"}, 200, `{"version":"3.9.0","commit":"abc","kafka_cluster_id":"kc"}`, "ServerInfo"},
		{"health", req{method: "GET", path: "/health"}, 200, `{"status":"healthy","message":"Worker has completed startup and is ready to handle requests."}`, "Health"},
		{"list", req{method: "GET", path: "/connectors"}, 200, `["local-file-source"]`, "Connectors"},
		{"list slash", req{method: "GET", path: "/connectors/"}, 200, `["local-file-source"]`, "Connectors"},
		{"expand status", req{method: "GET", path: "/connectors?expand=status"}, 200, `{"local-file-source":{"status":` + srcStatus + `}}`, ""},
		{"expand both", req{method: "GET", path: "/connectors?expand=status&expand=info"}, 200, `{"local-file-source":{"info":` + src + `,"status":` + srcStatus + `}}`, ""},
		{"expand unknown", req{method: "GET", path: "/connectors?expand=foo"}, 200, `{"local-file-source":{}}`, "Connectors"},
		{"get", req{method: "GET", path: "/connectors/local-file-source"}, 200, src, "ConnectorInfo(local-file-source)"},
		{"get 404", req{method: "GET", path: "/connectors/nope"}, 404, notFound, ""},
		{"config", req{method: "GET", path: "/connectors/local-file-source/config"}, 200, `{"connector.class":"FileStreamSource","name":"local-file-source","tasks.max":"1"}`, ""},
		{"config 404", req{method: "GET", path: "/connectors/nope/config"}, 404, notFound, ""},
		{"status", req{method: "GET", path: "/connectors/local-file-source/status"}, 200, srcStatus, ""},
		{"status 404", req{method: "GET", path: "/connectors/nope/status"}, 404, `{"error_code":404,"message":"No status found for connector nope"}`, ""},
		{"tasks", req{method: "GET", path: "/connectors/local-file-source/tasks"}, 200, `[{"id":{"connector":"local-file-source","task":0},"config":{"task.class":"FileStreamSourceTask"}}]`, ""},
		{"tasks 404", req{method: "GET", path: "/connectors/nope/tasks"}, 404, notFound, ""},
		{"tasks-config", req{method: "GET", path: "/connectors/local-file-source/tasks-config"}, 200, `{"local-file-source-0":{"task.class":"FileStreamSourceTask"}}`, ""},
		{"task status", req{method: "GET", path: "/connectors/local-file-source/tasks/0/status"}, 200, `{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:8083"}`, "TaskStatus(local-file-source-0)"},
		{"task status 404", req{method: "GET", path: "/connectors/local-file-source/tasks/3/status"}, 404, `{"error_code":404,"message":"No status found for task local-file-source-3"}`, ""},
		{"task status non-int", req{method: "GET", path: "/connectors/local-file-source/tasks/x/status"}, 404, jaxNotFound, ""},
		{"task restart", req{method: "POST", path: "/connectors/local-file-source/tasks/0/restart"}, 204, "", "RestartTask(local-file-source-0)"},
		{"task restart non-int", req{method: "POST", path: "/connectors/local-file-source/tasks/1.5/restart"}, 404, jaxNotFound, ""},
		{"restart plain", req{method: "POST", path: "/connectors/local-file-source/restart"}, 204, "", "RestartConnector(local-file-source)"},
		{"restart plain false", req{method: "POST", path: "/connectors/local-file-source/restart?includeTasks=false&onlyFailed=FALSE"}, 204, "", "RestartConnector(local-file-source)"},
		{"restart 404", req{method: "POST", path: "/connectors/nope/restart"}, 404, unknown, ""},
		{"restart plan", req{method: "POST", path: "/connectors/local-file-source/restart?includeTasks=TRUE&onlyFailed=true"}, 202,
			`{"name":"local-file-source","connector":{"state":"RESTARTING","worker_id":"w:1"},"tasks":[],"type":"source"}`,
			"RestartConnectorAndTasks(local-file-source,true,true)"},
		{"restart plan only failed", req{method: "POST", path: "/connectors/local-file-source/restart?onlyFailed=true"}, 202,
			`{"name":"local-file-source","connector":{"state":"RESTARTING","worker_id":"w:1"},"tasks":[],"type":"source"}`,
			"RestartConnectorAndTasks(local-file-source,false,true)"},
		{"pause", req{method: "PUT", path: "/connectors/local-file-source/pause"}, 202, "", "PauseConnector(local-file-source)"},
		{"pause 404", req{method: "PUT", path: "/connectors/nope/pause"}, 404, unknown, ""},
		{"resume", req{method: "PUT", path: "/connectors/local-file-source/resume"}, 202, "", "ResumeConnector(local-file-source)"},
		{"stop", req{method: "PUT", path: "/connectors/local-file-source/stop"}, 204, "", "StopConnector(local-file-source)"},
		{"stop 500", req{method: "PUT", path: "/connectors/quirk/stop"}, 500, `{"error_code":500,"message":"No connector ` + "`quirk`" + ` configured"}`, ""},
		{"topics", req{method: "GET", path: "/connectors/local-file-source/topics"}, 200, `{"local-file-source":{"topics":["connect-test"]}}`, ""},
		{"topics unknown", req{method: "GET", path: "/connectors/other/topics"}, 200, `{"other":{"topics":[]}}`, ""},
		{"topics reset", req{method: "PUT", path: "/connectors/local-file-source/topics/reset"}, 202, "", "ResetConnectorTopics(local-file-source)"},
		{"offsets", req{method: "GET", path: "/connectors/local-file-source/offsets"}, 200, `{"offsets":[{"partition":{"filename":"/tmp/in.txt"},"offset":{"position":2048}}]}`, ""},
		{"offsets 404", req{method: "GET", path: "/connectors/nope/offsets"}, 404, notFound, ""},
		{"offsets reset", req{method: "DELETE", path: "/connectors/local-file-source/offsets"}, 200, `{"message":"The offsets for this connector have been reset successfully"}`, ""},
		{"offsets alter", req{method: "PATCH", path: "/connectors/local-file-source/offsets", body: `{"offsets":[{"partition":{"filename":"/tmp/in.txt"},"offset":{"position":5}}]}`}, 200,
			`{"message":"The offsets for this connector have been altered successfully"}`, ""},
		{"offsets alter empty", req{method: "PATCH", path: "/connectors/local-file-source/offsets", body: `{"offsets":[]}`}, 400,
			`{"error_code":400,"message":"Partitions / offsets need to be provided for an alter offsets request"}`, ""},
		{"offsets alter missing", req{method: "PATCH", path: "/connectors/local-file-source/offsets", body: `{}`}, 400,
			`{"error_code":400,"message":"Partitions / offsets need to be provided for an alter offsets request"}`, ""},
		{"plugins", req{method: "GET", path: "/connector-plugins"}, 200, `[{"class":"org.apache.kafka.connect.file.FileStreamSinkConnector","type":"sink","version":"3.9.0"}]`, "Plugins(true)"},
		{"plugins all", req{method: "GET", path: "/connector-plugins?connectorsOnly=false"}, 200,
			`[{"class":"org.apache.kafka.connect.file.FileStreamSinkConnector","type":"sink","version":"3.9.0"},{"class":"org.apache.kafka.connect.transforms.InsertField$Value","type":"transformation"}]`, "Plugins(false)"},
		{"plugin config", req{method: "GET", path: "/connector-plugins/FileStreamSink/config"}, 200,
			`[{"name":"file","type":"STRING","required":false,"default_value":null,"importance":"HIGH","documentation":"dest","group":null,"width":"NONE","display_name":"file","dependents":[],"order":-1}]`, ""},
		{"plugin config dollar", req{method: "GET", path: "/connector-plugins/org.apache.kafka.connect.transforms.InsertField$Value/config"}, 200,
			`[{"name":"file","type":"STRING","required":false,"default_value":null,"importance":"HIGH","documentation":"dest","group":null,"width":"NONE","display_name":"file","dependents":[],"order":-1}]`,
			"PluginConfig(org.apache.kafka.connect.transforms.InsertField$Value)"},
		{"plugin config 404", req{method: "GET", path: "/connector-plugins/Nope/config"}, 404, `{"error_code":404,"message":"Unknown plugin Nope."}`, ""},
		{"internal tasks", req{method: "POST", path: "/connectors/local-file-source/tasks", body: `[{"task.class":"x"}]`}, 500,
			`{"error_code":500,"message":"Internal request not supported in standalone mode"}`, ""},
		{"internal fence", req{method: "PUT", path: "/connectors/local-file-source/fence"}, 500,
			`{"error_code":500,"message":"Internal request not supported in standalone mode"}`, ""},
		{"delete", req{method: "DELETE", path: "/connectors/local-file-source"}, 204, "", "DeleteConnector(local-file-source)"},
		{"delete 404", req{method: "DELETE", path: "/connectors/nope"}, 404, notFound, ""},
		{"unknown path", req{method: "GET", path: "/nope"}, 404, jaxNotFound, ""},
		{"unknown subpath", req{method: "GET", path: "/connectors/a/b/c/d/e"}, 404, jaxNotFound, ""},
		{"wrong method", req{method: "DELETE", path: "/connectors"}, 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`, ""},
		{"wrong method 2", req{method: "POST", path: "/connectors/x/status"}, 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHerder()
			s := newTestServer(t, f)
			rec := do(t, s.Handler(), tc.req)
			expect(t, rec, tc.status, tc.body)
			if tc.call != "" && f.lastCall() != tc.call {
				t.Fatalf("last herder call = %q, want %q", f.lastCall(), tc.call)
			}
		})
	}
}

func TestCreateConnector(t *testing.T) {
	const body = `{"name":" my-sink ","config":{"connector.class":"FileStreamSink","tasks.max":1,"file":"/tmp/out.txt","enabled":true},"initial_state":"paused"}`
	f := newFakeHerder()
	s := newTestServer(t, f)
	rec := do(t, s.Handler(), req{method: "POST", path: "/connectors", body: body})
	expect(t, rec, 201, `{"name":"my-sink","config":{"connector.class":"FileStreamSink","enabled":"true","file":"/tmp/out.txt","name":"my-sink","tasks.max":"1"},"tasks":[],"type":"sink"}`)
	if loc := rec.Header().Get("Location"); loc != "http://localhost:8083/connectors/my-sink" {
		t.Fatalf("Location = %q", loc)
	}
	if f.lastInitial != herder.TargetPaused || f.lastCall() != "PutConnectorConfig(my-sink,false)" {
		t.Fatalf("initial %q call %q", f.lastInitial, f.lastCall())
	}

	// Already exists.
	rec = do(t, s.Handler(), req{method: "POST", path: "/connectors", body: body})
	expect(t, rec, 409, `{"error_code":409,"message":"Connector my-sink already exists"}`)

	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"running", `{"name":"a b/c","config":{"connector.class":"X"},"initial_state":"Running"}`, 201, ""},
		{"stopped", `{"name":"s","config":{"connector.class":"X"},"initial_state":"stopped"}`, 201, ""},
		{"bad state", `{"name":"q","config":{"connector.class":"X"},"initial_state":"FLYING"}`, 400,
			`{"error_code":400,"message":"Invalid initial_state 'FLYING': must be one of RUNNING, PAUSED, STOPPED"}`},
		{"mismatch", `{"name":"a","config":{"connector.class":"X","name":"b"}}`, 400,
			`{"error_code":400,"message":"Connector name configuration (b) doesn't match connector name in the URL (a)"}`},
		{"no class", `{"name":"a","config":{"tasks.max":"1","file":"/tmp/x"}}`, 400,
			`{"error_code":400,"message":"Connector config {file=/tmp/x, tasks.max=1, name=a} contains no connector type"}`},
		{"no config", `{"name":"a"}`, 400, `{"error_code":400,"message":"Connector config {name=a} contains no connector type"}`},
		{"object value", `{"name":"a","config":{"connector.class":{"x":1}}}`, 400,
			`{"error_code":400,"message":"Malformed JSON in request body: the value of \"connector.class\" must be a string, not a JSON object"}`},
		{"config not object", `{"name":"a","config":"x"}`, 400,
			`{"error_code":400,"message":"Malformed JSON in request body: cannot use a JSON string for config (expected a JSON object)"}`},
		{"null value", `{"name":"a","config":{"connector.class":"X","topics":null}}`, 400,
			`{"error_code":400,"message":"Connector configuration is invalid and contains the following 1 error(s):\nNull value can not be supplied as the configuration value.\nYou can also find the above list of errors at the endpoint ` + "`/connector-plugins/{connectorType}/config/validate`" + `"}`},
		{"malformed", `{"name":`, 400, `{"error_code":400,"message":"Malformed JSON in request body: unexpected end of JSON input"}`},
		{"empty", ` `, 400, `{"error_code":400,"message":"Malformed JSON in request body: the body is empty"}`},
		{"trailing", `{} {}`, 400, `{"error_code":400,"message":"Malformed JSON in request body: unexpected data after the JSON value"}`},
		{"herder 400", `{"name":"b","config":{"connector.class":"Broken"}}`, 400, `{"error_code":400,"message":"Connector configuration is invalid"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, s.Handler(), req{method: "POST", path: "/connectors", body: tc.body})
			if tc.want == "" {
				if want := map[string]herder.TargetState{"running": herder.TargetStarted, "stopped": herder.TargetStopped}[tc.name]; f.lastInitial != want {
					t.Fatalf("initial = %q, want %q", f.lastInitial, want)
				}
				if rec.Code != tc.status {
					t.Fatalf("status %d body %s", rec.Code, rec.Body)
				}
				return
			}
			expect(t, rec, tc.status, tc.want)
		})
	}

	// Location escapes the name.
	rec = do(t, s.Handler(), req{method: "POST", path: "/connectors", body: `{"name":"x y/z","config":{"connector.class":"X"}}`})
	if loc := rec.Header().Get("Location"); loc != "http://localhost:8083/connectors/x%20y%2Fz" {
		t.Fatalf("Location = %q", loc)
	}
	// ... and the escaped name routes back to the connector.
	rec = do(t, s.Handler(), req{method: "GET", path: "/connectors/x%20y%2Fz/config"})
	expect(t, rec, 200, `{"connector.class":"X","name":"x y/z"}`)
}

func TestContentType(t *testing.T) {
	s := newTestServer(t, newFakeHerder())
	body := `{"name":"a","config":{"connector.class":"X"}}`
	rec := do(t, s.Handler(), req{method: "POST", path: "/connectors", body: body,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	expect(t, rec, 415, `{"error_code":415,"message":"HTTP 415 Unsupported Media Type"}`)

	rec = do(t, s.Handler(), req{method: "PUT", path: "/connectors/a/config", body: body,
		header: map[string]string{"Content-Type": "text/plain"}})
	expect(t, rec, 415, `{"error_code":415,"message":"HTTP 415 Unsupported Media Type"}`)

	rec = do(t, s.Handler(), req{method: "POST", path: "/connectors", body: body,
		header: map[string]string{"Content-Type": "application/json; charset=UTF-8"}})
	if rec.Code != 201 {
		t.Fatalf("charset param: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, s.Handler(), req{method: "POST", path: "/connectors", body: strings.Replace(body, `"a"`, `"b"`, 1),
		header: map[string]string{"Content-Type": ""}})
	if rec.Code != 201 {
		t.Fatalf("no Content-Type: %d %s", rec.Code, rec.Body)
	}
}

func TestPutConnectorConfig(t *testing.T) {
	f := newFakeHerder()
	s := newTestServer(t, f)

	rec := do(t, s.Handler(), req{method: "PUT", path: "/connectors/new/config", body: `{"connector.class":"FileStreamSink","tasks.max":"2"}`})
	expect(t, rec, 201, `{"name":"new","config":{"connector.class":"FileStreamSink","name":"new","tasks.max":"2"},"tasks":[],"type":"sink"}`)
	if loc := rec.Header().Get("Location"); loc != "http://localhost:8083/connectors/new" {
		t.Fatalf("Location = %q", loc)
	}
	if f.lastCall() != "PutConnectorConfig(new,true)" {
		t.Fatal(f.lastCall())
	}

	rec = do(t, s.Handler(), req{method: "PUT", path: "/connectors/new/config", body: `{"connector.class":"FileStreamSink","tasks.max":"3","name":"new"}`})
	expect(t, rec, 200, `{"name":"new","config":{"connector.class":"FileStreamSink","name":"new","tasks.max":"3"},"tasks":[],"type":"sink"}`)
	if rec.Header().Get("Location") != "" {
		t.Fatal("Location on update")
	}

	rec = do(t, s.Handler(), req{method: "PUT", path: "/connectors/new/config", body: `{"connector.class":"X","name":"other"}`})
	expect(t, rec, 400, `{"error_code":400,"message":"Connector name configuration (other) doesn't match connector name in the URL (new)"}`)

	rec = do(t, s.Handler(), req{method: "PUT", path: "/connectors/new/config", body: `{"tasks.max":"3"}`})
	expect(t, rec, 400, `{"error_code":400,"message":"Connector config {tasks.max=3, name=new} contains no connector type"}`)

	rec = do(t, s.Handler(), req{method: "PUT", path: "/connectors/new/config", body: `["x"]`})
	expect(t, rec, 400, `{"error_code":400,"message":"Malformed JSON in request body: cannot use a JSON array for the body (expected a JSON object)"}`)

	// PATCH: null removes, values overwrite, always 200.
	rec = do(t, s.Handler(), req{method: "PATCH", path: "/connectors/new/config", body: `{"tasks.max":4,"connector.class":null,"x":"y"}`})
	expect(t, rec, 200, `{"name":"new","config":{"name":"new","tasks.max":"4","x":"y"},"tasks":[],"type":"sink"}`)
	if v, ok := f.lastPatch["connector.class"]; !ok || v != nil {
		t.Fatalf("patch = %v", f.lastPatch)
	}
	rec = do(t, s.Handler(), req{method: "PATCH", path: "/connectors/nope/config", body: `{"a":"b"}`})
	expect(t, rec, 404, `{"error_code":404,"message":"Connector nope not found"}`)
}

func TestExpandOmitsVanished(t *testing.T) {
	f := newFakeHerder()
	f.connectors["no-status"] = &fakeConn{config: map[string]string{}, typ: herder.TypeSink}
	s := newTestServer(t, f)
	rec := do(t, s.Handler(), req{method: "GET", path: "/connectors?expand=status"})
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "no-status") || !strings.Contains(rec.Body.String(), "local-file-source") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = do(t, s.Handler(), req{method: "GET", path: "/connectors?expand=info"})
	if !strings.Contains(rec.Body.String(), `"no-status":{"info":{"name":"no-status","config":{},"tasks":[],"type":"sink"}}`) {
		t.Fatalf("%s", rec.Body)
	}
}

func TestAlterOffsetsDecoding(t *testing.T) {
	f := newFakeHerder()
	s := newTestServer(t, f)
	rec := do(t, s.Handler(), req{method: "PATCH", path: "/connectors/local-file-source/offsets",
		body: `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":{"kafka_offset":9007199254740993}},{"partition":{"kafka_topic":"t","kafka_partition":1},"offset":null}]}`})
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	o := f.lastOffsets.Offsets
	if len(o) != 2 || o[0].Offset["kafka_offset"] != int64(9007199254740993) || o[0].Partition["kafka_partition"] != int64(0) || o[1].Offset != nil {
		t.Fatalf("offsets = %#v", o)
	}
	rec = do(t, s.Handler(), req{method: "PATCH", path: "/connectors/nope/offsets", body: `{"offsets":[{"partition":{"a":1},"offset":{"b":2.5}}]}`})
	expect(t, rec, 404, `{"error_code":404,"message":"Connector nope not found"}`)
	if f.lastOffsets.Offsets[0].Offset["b"] != 2.5 {
		t.Fatalf("float offset = %#v", f.lastOffsets.Offsets[0].Offset["b"])
	}
}

func TestValidate(t *testing.T) {
	f := newFakeHerder()
	s := newTestServer(t, f)
	const want = `{"name":"org.apache.kafka.connect.file.FileStreamSinkConnector","error_count":1,"groups":["Common"],"configs":[{"definition":{"name":"topics","type":"LIST","required":false,"default_value":"","importance":"HIGH","documentation":"List of <b>topics</b>","group":"Common","width":"LONG","display_name":"Topics","dependents":[],"order":4},"value":{"name":"topics","value":"","recommended_values":[],"errors":["Must configure one of topics or topics.regex"],"visible":true}}]}`
	for _, p := range []string{"FileStreamSink", "FileStreamSinkConnector", "org.apache.kafka.connect.file.FileStreamSinkConnector", "Sink"} {
		rec := do(t, s.Handler(), req{method: "PUT", path: "/connector-plugins/" + p + "/config/validate",
			body: `{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector","tasks.max":1}`})
		expect(t, rec, 200, want)
	}
	if f.lastConfig["tasks.max"] != "1" || f.lastConfig["name"] != "" {
		t.Fatalf("validated config = %v", f.lastConfig)
	}
	rec := do(t, s.Handler(), req{method: "PUT", path: "/connector-plugins/FileStreamSource/config/validate",
		body: `{"connector.class":"FileStreamSinkConnector"}`})
	expect(t, rec, 400, `{"error_code":400,"message":"Included connector type FileStreamSinkConnector does not match request type FileStreamSource"}`)
	rec = do(t, s.Handler(), req{method: "PUT", path: "/connector-plugins/FileStreamSink/config/validate",
		body: `{"topics":"t"}`})
	expect(t, rec, 400, `{"error_code":400,"message":"Connector config {topics=t} contains no connector type"}`)
	rec = do(t, s.Handler(), req{method: "PUT", path: "/connector-plugins/FileStreamSink/config/validate",
		body: `{"topics":"t"}`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	expect(t, rec, 415, `{"error_code":415,"message":"HTTP 415 Unsupported Media Type"}`)
	rec = do(t, s.Handler(), req{method: "GET", path: "/connector-plugins/FileStreamSink/config/validate"})
	expect(t, rec, 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`)
}

func TestHealth(t *testing.T) {
	f := newFakeHerder()
	s := newTestServer(t, f, WithHealthTimeout(time.Millisecond))

	f.healthErr = &herder.Error{Code: 503, Message: "Currently reading the config topic."}
	expect(t, do(t, s.Handler(), req{method: "GET", path: "/health"}), 503,
		`{"status":"starting","message":"Worker is still starting up. Currently reading the config topic."}`)

	f.healthErr = herder.Internal(nil, "tick thread is stuck")
	expect(t, do(t, s.Handler(), req{method: "GET", path: "/health"}), 500,
		`{"status":"unhealthy","message":"Worker was unable to handle this request and may be unable to handle other requests. tick thread is stuck"}`)

	f.healthErr = nil
	f.block = true
	expect(t, do(t, s.Handler(), req{method: "GET", path: "/health"}), 500,
		`{"status":"unhealthy","message":"Worker was unable to handle this request and may be unable to handle other requests."}`)
}

func TestRequestTimeout(t *testing.T) {
	f := newFakeHerder()
	f.block = true
	s := newTestServer(t, f, WithRequestTimeout(time.Millisecond))
	expect(t, do(t, s.Handler(), req{method: "GET", path: "/connectors"}), 500, `{"error_code":500,"message":"Request timed out"}`)
}

func TestTopicTrackingDisabled(t *testing.T) {
	s := newTestServer(t, newFakeHerder(), WithTopicTracking(false, false))
	expect(t, do(t, s.Handler(), req{method: "GET", path: "/connectors/a/topics"}), 403, `{"error_code":403,"message":"Topic tracking is disabled."}`)
	expect(t, do(t, s.Handler(), req{method: "PUT", path: "/connectors/a/topics/reset"}), 403, `{"error_code":403,"message":"Topic tracking is disabled."}`)
	s = newTestServer(t, newFakeHerder(), WithTopicTracking(true, false))
	expect(t, do(t, s.Handler(), req{method: "PUT", path: "/connectors/a/topics/reset"}), 403, `{"error_code":403,"message":"Topic tracking reset is disabled."}`)
}

func TestInternalEndpoints(t *testing.T) {
	f := &internalFake{fakeHerder: newFakeHerder()}
	s := newTestServer(t, f)
	rec := do(t, s.Handler(), req{method: "POST", path: "/connectors/c/tasks?forward=true", body: `[{"task.class":"x","n":1}]`,
		header: map[string]string{"X-Connect-Authorization": "sig", "X-Connect-Request-Signature-Algorithm": "HmacSHA256"}})
	expect(t, rec, 204, "")
	if string(f.sig.Body) != `[{"task.class":"x","n":1}]` || f.sig.Signature != "sig" || f.sig.Algorithm != "HmacSHA256" || f.configs[0]["n"] != "1" {
		t.Fatalf("sig %+v configs %v", f.sig, f.configs)
	}
	rec = do(t, s.Handler(), req{method: "POST", path: "/connectors/c/tasks", body: `[]`})
	expect(t, rec, 400, `{"error_code":400,"message":"Internal request missing required signature"}`)
	expect(t, do(t, s.Handler(), req{method: "PUT", path: "/connectors/c/fence"}), 204, "")

	// Cluster-scoped logger levels go to the herder.
	rec = do(t, s.Handler(), req{method: "PUT", path: "/admin/loggers/org.apache?scope=Cluster", body: `{"level":"debug"}`})
	expect(t, rec, 204, "")
	if f.level != "org.apache=DEBUG" {
		t.Fatalf("cluster level = %q", f.level)
	}
}

func TestLoggers(t *testing.T) {
	levels := logging.NewLevels(logging.LevelInfo, logging.WithClock(func() time.Time { return time.UnixMilli(1700000000000) }))
	levels.Register("org.apache.kafka.connect.runtime.Worker")
	levels.Register("org.apache.kafka.clients.consumer.KafkaConsumer")
	s := newTestServer(t, newFakeHerder(), WithLevels(levels))
	h := s.Handler()

	expect(t, do(t, h, req{method: "GET", path: "/admin/loggers"}), 200, `{"root":{"level":"INFO","last_modified":null}}`)
	expect(t, do(t, h, req{method: "GET", path: "/admin/loggers/org.apache.kafka.connect.runtime.Worker"}), 200, `{"level":"INFO","last_modified":null}`)
	expect(t, do(t, h, req{method: "GET", path: "/admin/loggers/ROOT"}), 200, `{"level":"INFO","last_modified":null}`)
	expect(t, do(t, h, req{method: "GET", path: "/admin/loggers/nope"}), 404, `{"error_code":404,"message":"Logger nope not found."}`)

	expect(t, do(t, h, req{method: "PUT", path: "/admin/loggers/org.apache.kafka.connect", body: `{"level":"debug"}`}), 200,
		`["org.apache.kafka.connect","org.apache.kafka.connect.runtime.Worker","org.apache.kafka.connect.runtime.rest.RestServer"]`)
	expect(t, do(t, h, req{method: "GET", path: "/admin/loggers/org.apache.kafka.connect.runtime.Worker"}), 200, `{"level":"DEBUG","last_modified":1700000000000}`)
	expect(t, do(t, h, req{method: "GET", path: "/admin/loggers/"}), 200,
		`{"org.apache.kafka.connect":{"level":"DEBUG","last_modified":1700000000000},"org.apache.kafka.connect.runtime.Worker":{"level":"DEBUG","last_modified":1700000000000},"org.apache.kafka.connect.runtime.rest.RestServer":{"level":"DEBUG","last_modified":1700000000000},"root":{"level":"INFO","last_modified":null}}`)

	expect(t, do(t, h, req{method: "PUT", path: "/admin/loggers/x", body: `{}`}), 400,
		`{"error_code":400,"message":"Desired 'level' parameter was not specified in request."}`)
	expect(t, do(t, h, req{method: "PUT", path: "/admin/loggers/x", body: `{"level":"LOUD"}`}), 404,
		`{"error_code":404,"message":"invalid log level 'LOUD'."}`)
	expect(t, do(t, h, req{method: "PUT", path: "/admin/loggers/x", body: `{"level":"WARN"}`, header: map[string]string{"Content-Type": "text/plain"}}), 415,
		`{"error_code":415,"message":"HTTP 415 Unsupported Media Type"}`)
	// Cluster scope without a cluster-capable herder applies locally.
	expect(t, do(t, h, req{method: "PUT", path: "/admin/loggers/org.apache.kafka.clients?scope=cluster", body: `{"level":"ERROR"}`}), 204, "")
	if levels.Effective("org.apache.kafka.clients.consumer.KafkaConsumer") != logging.LevelError {
		t.Fatal("cluster scope not applied locally")
	}
	// Unknown scope falls back to worker.
	expect(t, do(t, h, req{method: "PUT", path: "/admin/loggers/org.apache.kafka.clients?scope=galaxy", body: `{"level":"ERROR"}`}), 200,
		`["org.apache.kafka.clients","org.apache.kafka.clients.consumer.KafkaConsumer"]`)
	expect(t, do(t, h, req{method: "DELETE", path: "/admin/loggers/x"}), 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`)
}

func TestCORS(t *testing.T) {
	s := newTestServer(t, newFakeHerder(), WithCORS("http://ui.example.com", "GET,PUT"))
	rec := do(t, s.Handler(), req{method: "GET", path: "/connectors", header: map[string]string{"Origin": "http://ui.example.com"}})
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "http://ui.example.com" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	rec = do(t, s.Handler(), req{method: "OPTIONS", path: "/connectors", header: map[string]string{
		"Origin": "http://ui.example.com", "Access-Control-Request-Method": "PUT"}})
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Methods") != "GET,PUT" {
		t.Fatalf("preflight %d %v", rec.Code, rec.Header())
	}
	rec = do(t, s.Handler(), req{method: "GET", path: "/connectors", header: map[string]string{"Origin": "http://evil.example.com"}})
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("foreign origin allowed")
	}
	if !originAllowed("http://*.example.com", "http://a.example.com") || originAllowed("http://*.example.com", "http://a.example.org") {
		t.Fatal("wildcard origin matching")
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Opt
		want string
	}{
		{"no herder", []Opt{WithListeners([]string{"http://127.0.0.1:0"})}, "WithHerder is required"},
		{"https", []Opt{WithHerder(newFakeHerder()), WithListeners([]string{"https://:8443"})}, "is https but no TLS settings are given"},
		{"scheme", []Opt{WithHerder(newFakeHerder()), WithListeners([]string{"ftp://:21"})}, "scheme must be http"},
		{"no port", []Opt{WithHerder(newFakeHerder()), WithListeners([]string{"http://localhost"})}, "has no port"},
		{"empty", []Opt{WithHerder(newFakeHerder()), WithListeners(nil)}, "no listeners"},
		{"timeout", []Opt{WithHerder(newFakeHerder()), WithListeners([]string{"http://127.0.0.1:0"}), WithRequestTimeout(0)}, "timeouts must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	s, err := NewServer(WithHerder(newFakeHerder()),
		WithListeners([]string{"http://127.0.0.1:0", "HTTP://[::1]:0"}),
		WithAdminListeners([]string{"http://127.0.0.1:0"}))
	if err != nil {
		t.Skipf("cannot bind: %v", err) // hosts without IPv6
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	get := func(addr, path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, a := range s.Addrs() {
		if code, body := get(a, "/connectors"); code != 200 || body != `["local-file-source"]` {
			t.Fatalf("%s: %d %s", a, code, body)
		}
		// Admin endpoints live on the admin listener only.
		if code, _ := get(a, "/admin/loggers"); code != 404 {
			t.Fatalf("admin on regular listener: %d", code)
		}
	}
	if code, body := get(s.AdminAddrs()[0], "/admin/loggers"); code != 200 || body != `{"root":{"level":"INFO","last_modified":null}}` {
		t.Fatalf("admin: %d %s", code, body)
	}
	if code, _ := get(s.AdminAddrs()[0], "/connectors"); code != 404 {
		t.Fatalf("connectors on admin listener: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("second Run succeeded")
	}
	if _, err := http.Get("http://" + s.Addrs()[0] + "/"); err == nil {
		t.Fatal("server still serving after shutdown")
	}
}

func TestAdminDisabled(t *testing.T) {
	s := newTestServer(t, newFakeHerder(), WithAdminListeners([]string{}))
	expect(t, do(t, s.Handler(), req{method: "GET", path: "/admin/loggers"}), 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
	if s.AdminHandler() != nil || len(s.AdminAddrs()) != 0 {
		t.Fatal("admin handler present")
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		msg  string
	}{
		{herder.Conflict("Connector a already exists"), 409, "Connector a already exists"},
		{fmt.Errorf("wrapped: %w", herder.Forbidden("no")), 403, "no"},
		{&herder.Error{Code: 0, Err: errors.New("inner")}, 500, "inner"},
		{errors.New("plain"), 500, "plain"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 500, "Request timed out"},
	} {
		code, msg := mapError(tc.err)
		if code != tc.code || msg != tc.msg {
			t.Errorf("mapError(%v) = %d %q, want %d %q", tc.err, code, msg, tc.code, tc.msg)
		}
	}
}
