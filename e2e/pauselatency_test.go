package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// allInState reports whether the connector and all its tasks show state.
func allInState(t *testing.T, w *worker, name, state string) bool {
	r := w.call(t, "GET", "/connectors/"+name+"/status", nil)
	if r.status != 200 {
		return false
	}
	st := r.object(t)
	if c, _ := st["connector"].(map[string]any); c["state"] != state {
		return false
	}
	ts, _ := st["tasks"].([]any)
	for _, x := range ts {
		if x.(map[string]any)["state"] != state {
			return false
		}
	}
	return len(ts) > 0
}

// The time from PUT /pause (or /resume) until GET /status shows every task
// PAUSED (RUNNING), for an idle FileStreamSink with the default 60 s
// offset.flush.interval.ms: the figure users see. Logged; the bound only
// catches a regression to the commit tick.
func TestIdleSinkPauseLatencyOverREST(t *testing.T) {
	w := startWorker(t, map[string]string{"offset.flush.interval.ms": "60000"})
	topic := testbed.UniqueName(t, "idle")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	name := testbed.UniqueName(t, "idle-sink")
	expectStatus(t, w.call(t, "POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
		"connector.class": "FileStreamSink", "topics": topic, "file": filepath.Join(w.dir, "out.txt"), "tasks.max": "1"}}), 201)
	w.waitState(t, name, "RUNNING", 1)
	time.Sleep(2 * time.Second) // let the consumer join its group and go idle

	const cycles = 20
	const bound = 5 * time.Second
	measure := func(verb, state string) time.Duration {
		start := time.Now()
		expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/"+verb, nil), 202)
		for !allInState(t, w, name, state) {
			if time.Since(start) > 60*time.Second {
				t.Fatalf("%s: not %s after 60 s", verb, state)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	var pauses, resumes []time.Duration
	for range cycles {
		pauses = append(pauses, measure("pause", "PAUSED"))
		resumes = append(resumes, measure("resume", "RUNNING"))
	}
	pct := func(ds []time.Duration, p int) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[max((len(s)*p+99)/100-1, 0)]
	}
	summary := fmt.Sprintf("pause p50 %v p99 %v, resume p50 %v p99 %v", pct(pauses, 50), pct(pauses, 99), pct(resumes, 50), pct(resumes, 99))
	t.Logf("idle FileStreamSink over REST, %d cycles: %s", cycles, summary)
	if pct(pauses, 99) > bound || pct(resumes, 99) > bound {
		t.Fatalf("state changes slower than %v: %s", bound, summary)
	}
}
