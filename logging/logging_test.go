package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	for _, s := range []string{"OFF", "fatal", "Error", "WARN", "info", "DEBUG", "trace", "ALL"} {
		l, err := ParseLevel(s)
		if err != nil {
			t.Fatalf("ParseLevel(%q): %v", s, err)
		}
		if l.String() != strings.ToUpper(s) {
			t.Errorf("ParseLevel(%q).String() = %q", s, l)
		}
	}
	if _, err := ParseLevel("VERBOSE"); err == nil {
		t.Error("ParseLevel(VERBOSE) succeeded")
	}
	if _, err := ParseLevel(""); err == nil {
		t.Error("ParseLevel(\"\") succeeded")
	}
	if got := Level(2).String(); got != "INFO" {
		t.Errorf("Level(2) = %s, want INFO", got)
	}
}

func newTestLogger(levels *Levels, name string) (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	return levels.Logger(base, name), &buf
}

func TestHandlerFiltersByLoggerLevel(t *testing.T) {
	levels := NewLevels(LevelInfo)
	worker, buf := newTestLogger(levels, "org.apache.kafka.connect.runtime.Worker")

	worker.Debug("hidden")
	worker.Info("shown")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "msg=shown") ||
		!strings.Contains(got, "logger=org.apache.kafka.connect.runtime.Worker") {
		t.Fatalf("output = %q", got)
	}

	buf.Reset()
	levels.SetLevel("org.apache.kafka.connect", LevelDebug)
	worker.Debug("now shown")
	if !strings.Contains(buf.String(), "now shown") {
		t.Fatalf("debug record filtered after SetLevel: %q", buf.String())
	}

	// A logger created after the change inherits the namespace level.
	later, buf2 := newTestLogger(levels, "org.apache.kafka.connect.storage.X")
	later.Debug("inherited")
	if !strings.Contains(buf2.String(), "inherited") {
		t.Fatalf("new logger did not inherit DEBUG: %q", buf2.String())
	}

	// An unrelated logger keeps the root level.
	other, buf3 := newTestLogger(levels, "com.example")
	other.Debug("nope")
	if buf3.Len() != 0 {
		t.Fatalf("unrelated logger passed debug: %q", buf3.String())
	}

	levels.SetLevel("root", LevelOff)
	buf.Reset()
	worker.Error("off")
	if buf.Len() != 0 {
		t.Fatalf("OFF let a record through: %q", buf.String())
	}
}

func TestHandlerGroupsAndNoName(t *testing.T) {
	levels := NewLevels(LevelWarn)
	var buf bytes.Buffer
	l := slog.New(NewHandler(slog.NewTextHandler(&buf, nil), levels))
	l.Info("root filtered")
	if buf.Len() != 0 {
		t.Fatalf("root WARN let INFO through: %q", buf.String())
	}
	levels.Configure("a", LevelDebug)
	// A logger attribute inside a group does not name the logger.
	l.WithGroup("g").With(LoggerKey, "a").Info("grouped")
	if buf.Len() != 0 {
		t.Fatalf("grouped logger attribute changed the level: %q", buf.String())
	}
	l.With(LoggerKey, "a").WithGroup("g").Info("named")
	if !strings.Contains(buf.String(), "named") {
		t.Fatalf("named logger filtered: %q", buf.String())
	}
}

func TestSetLevelSemantics(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	levels := NewLevels(LevelInfo, WithClock(func() time.Time { return now }))
	levels.Register("org.apache.kafka.connect.runtime.Worker")
	levels.Register("org.apache.kafka.clients.Consumer")
	levels.Configure("org.apache.zookeeper", LevelWarn)

	if _, ok := levels.Get("nope"); ok {
		t.Fatal("Get of an unknown logger succeeded")
	}
	got, ok := levels.Get("org.apache.kafka.connect.runtime.Worker")
	if !ok || got.Level != LevelInfo || !got.LastModified.IsZero() {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if got, ok := levels.Get("ROOT"); !ok || got.Level != LevelInfo {
		t.Fatalf("Get(ROOT) = %+v, %v", got, ok)
	}

	// Prefix match is not dot-aware.
	names := levels.SetLevel("org.apache.kafka.conn", LevelDebug)
	want := []string{"org.apache.kafka.conn", "org.apache.kafka.connect.runtime.Worker"}
	if !slices.Equal(names, want) {
		t.Fatalf("SetLevel = %v, want %v", names, want)
	}
	got, _ = levels.Get("org.apache.kafka.connect.runtime.Worker")
	if got.Level != LevelDebug || !got.LastModified.Equal(now) {
		t.Fatalf("after SetLevel: %+v", got)
	}
	if levels.Effective("org.apache.kafka.connector.New") != LevelDebug {
		t.Fatal("unregistered child does not inherit the namespace level")
	}
	if levels.Effective("org.apache.kafka.clients.Consumer") != LevelInfo {
		t.Fatal("sibling changed")
	}

	all := levels.All()
	var keys []string
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wantKeys := []string{"org.apache.kafka.conn", "org.apache.kafka.connect.runtime.Worker", "org.apache.zookeeper", "root"}
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("All keys = %v, want %v", keys, wantKeys)
	}
	if !all["org.apache.zookeeper"].LastModified.IsZero() {
		t.Fatal("Configure stamped LastModified")
	}

	// Setting the same level again lists the loggers but keeps timestamps.
	now = now.Add(time.Minute)
	levels.SetLevel("org.apache.kafka.conn", LevelDebug)
	got, _ = levels.Get("org.apache.kafka.conn")
	if got.LastModified.Equal(now) {
		t.Fatal("unchanged level got a new LastModified")
	}

	// Root covers every logger.
	names = levels.SetLevel("Root", LevelError)
	if len(names) != 5 || names[len(names)-1] != "root" {
		t.Fatalf("root SetLevel = %v", names)
	}
	for n, l := range levels.All() {
		if l.Level != LevelError {
			t.Errorf("%s = %s after root change", n, l.Level)
		}
	}
}

func TestLoggerRenames(t *testing.T) {
	levels := NewLevels(LevelInfo)
	a, buf := newTestLogger(levels, "a")
	b := levels.Logger(a.With("k", "v"), "b")
	b.Info("hi")
	if got := buf.String(); strings.Count(got, "logger=") != 1 || !strings.Contains(got, "logger=b") {
		t.Fatalf("output = %q", got)
	}
	levels.Configure("b", LevelError)
	buf.Reset()
	b.Warn("filtered")
	a.Warn("passes")
	if got := buf.String(); strings.Contains(got, "filtered") || !strings.Contains(got, "passes") {
		t.Fatalf("output = %q", got)
	}
}

func TestHandlerHidesURLCredentials(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(slog.NewTextHandler(&buf, nil), NewLevels(LevelInfo)))
	l.Info("connecting to jdbc:mysql://u:pw1@h/db", "url", "postgres://a:pw2@h?password=pw3",
		"err", errors.New("dial jdbc:mysql://u:pw4@h failed"), slog.Group("g", "u", "x://a:pw5@h"), "n", 1, "list", []string{"a"}, "nilerr", error(nil))
	out := buf.String()
	for _, s := range []string{"pw1", "pw2", "pw3", "pw4", "pw5"} {
		if strings.Contains(out, s) {
			t.Errorf("%s in %s", s, out)
		}
	}
	if !strings.Contains(out, "n=1") || !strings.Contains(out, "u:[hidden]@h") {
		t.Errorf("log line: %s", out)
	}
}
