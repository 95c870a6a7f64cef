package runtime_test

import (
	"maps"
	"testing"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/plugins"
	"github.com/ferryhq/ferry/runtime"
)

func TestRedactTaskConfig(t *testing.T) {
	reg, err := plugins.Registry()
	if err != nil {
		t.Fatal(err)
	}
	task := map[string]string{"connection.password": "s3cret", "connection.user": "u", "task.class": "x"}
	got := runtime.RedactTaskConfig(reg, "io.confluent.connect.jdbc.JdbcSinkConnector", task)
	if got["connection.password"] != connect.HiddenValue || got["connection.user"] != "u" {
		t.Fatalf("redacted: %v", got)
	}
	if task["connection.password"] != "s3cret" {
		t.Fatal("the input map was modified")
	}
	ph := map[string]string{"connection.password": "${file:/s.properties:pw}"}
	if got := runtime.RedactTaskConfig(reg, "JdbcSink", ph); got["connection.password"] != ph["connection.password"] {
		t.Fatalf("a provider placeholder holds no secret and stays visible: %v", got)
	}
}

func TestRedactByNameAndURL(t *testing.T) {
	reg, err := plugins.Registry()
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{"connector.class": "FileStreamSource", "producer.override.sasl.jaas.config": "x required password=\"p\";",
		"my.password": "p", "connection.url": "jdbc:mysql://u:p@h/db?password=q", "topic": "t"}
	got := runtime.RedactConfig(reg, cfg)
	want := map[string]string{"connector.class": "FileStreamSource", "producer.override.sasl.jaas.config": connect.HiddenValue,
		"my.password": connect.HiddenValue, "connection.url": "jdbc:mysql://u:[hidden]@h/db?password=[hidden]", "topic": "t"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Sending back what GET returned keeps the stored secrets; a changed
	// URL or a new password replaces them.
	back := maps.Clone(got)
	runtime.RestoreHidden(cfg, back)
	if !maps.Equal(back, cfg) {
		t.Errorf("restored %v, want %v", back, cfg)
	}
	changed := maps.Clone(got)
	changed["connection.url"] = "jdbc:mysql://u:new@h/db"
	changed["my.password"] = "new"
	runtime.RestoreHidden(cfg, changed)
	if changed["connection.url"] != "jdbc:mysql://u:new@h/db" || changed["my.password"] != "new" {
		t.Errorf("changed values were replaced: %v", changed)
	}
}
