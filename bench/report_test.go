package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommas(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567"} {
		if got := commas(in); got != want {
			t.Errorf("commas(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMicro(t *testing.T) {
	path := filepath.Join(t.TempDir(), "micro.txt")
	out := "pkg: github.com/ferryhq/ferry/runtime/task\n" +
		"BenchmarkSourceLoop-2   5   212746649 ns/op   470043 records/s   102929171 B/op   536188 allocs/op\n"
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := parseMicro(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Package != "runtime/task" || got[0].AllocsPerOp != 536188 ||
		got[0].NsPerOp != 212746649 || got[0].Extra != "470043 records/s" {
		t.Fatalf("parseMicro = %+v", got)
	}
}

func TestLineCounterFollowsAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	c := &lineCounter{path: path}
	defer c.close()
	if n, err := c.count(t.Context()); err != nil || n != 0 {
		t.Fatalf("missing file: %d, %v", n, err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []string{"a\nb", "\nc\n"} {
		if _, err := f.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		if _, err := c.count(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if c.n != 3 {
		t.Fatalf("counted %d lines, want 3", c.n)
	}
	if err := checkFileLines(path, 3, func(i int) string { return string(rune('a' + i)) }); err != nil {
		t.Fatal(err)
	}
}

func TestOwnersSkipsWorkNotRunning(t *testing.T) {
	var a, b connectorStatus
	a.Connector.State, a.Connector.WorkerID = "RUNNING", "w1"
	b.Connector.State, b.Connector.WorkerID = "RUNNING", "w2"
	for i, w := range []string{"w1", "w2"} {
		a.Tasks = append(a.Tasks, struct {
			ID       int    `json:"id"`
			State    string `json:"state"`
			WorkerID string `json:"worker_id"`
			Trace    string `json:"trace"`
		}{ID: i, State: "RUNNING", WorkerID: w})
	}
	b.Tasks = append(b.Tasks, a.Tasks[0])
	b.Tasks[0].State = "UNASSIGNED"
	o, all, err := owners(map[string]connectorStatus{"a": a, "b": b}, []string{"a", "b"})
	if err != nil || all {
		t.Fatalf("all = %v, err = %v; want false, nil", all, err)
	}
	if got := len(o["w1"]) + len(o["w2"]); got != 4 || len(o["w1"]) != 2 {
		t.Fatalf("owners = %v", o)
	}
	if _, all, _ := owners(map[string]connectorStatus{"a": a}, []string{"a", "b"}); all {
		t.Fatal("a missing connector counts as running")
	}
}
