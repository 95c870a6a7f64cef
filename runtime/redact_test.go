package runtime_test

import (
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
