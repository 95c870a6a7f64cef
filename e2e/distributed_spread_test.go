package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestDistributedSpreadAndDelay: 10 connectors × tasks.max=3 over three
// workers are spread evenly (no worker more than one task above the mean);
// after a worker is killed with SIGKILL under scheduled.rebalance.max.delay.ms
// = 5 s, its tasks run on the others once the session timeout and the delay
// have passed, still evenly.
func TestDistributedSpreadAndDelay(t *testing.T) {
	c := newCluster(t)
	c.props["scheduled.rebalance.max.delay.ms"] = "5000"
	topic := testbed.UniqueName(t, "spread")
	testbed.CreateTopic(t, c.bootstrap, topic, 3)
	w1 := c.startInProcess(t, "w1")
	w2 := c.startInProcess(t, "w2")
	dir := t.TempDir()
	w3, p3 := c.startProcess(t, dir)
	for _, w := range []*worker{w1, w2, w3} {
		w.waitHealthy(t)
	}
	tasks := map[string]int{}
	for i := range 10 {
		name := fmt.Sprintf("sink%d", i)
		tasks[name] = 3
		r := w2.call(t, "PUT", "/connectors/"+name+"/config", map[string]string{
			"connector.class": "FileStreamSink", "tasks.max": "3", "topics": topic,
			"file": filepath.Join(dir, name+".txt"),
		})
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", name, r.status, r.body)
		}
	}
	perWorker := func(owners map[string]string) map[string]int {
		n := map[string]int{}
		for _, w := range owners {
			n[w]++
		}
		return n
	}
	var owners map[string]string
	testbed.WaitFor(t, 90*time.Second, 100*time.Millisecond, func() (bool, string) {
		var why string
		owners, why = w1.taskWorkers(t, tasks)
		if owners == nil {
			return false, why
		}
		n := perWorker(owners)
		return len(n) == 3 && maxCount(n) <= 11, fmt.Sprint(n)
	})
	t.Logf("spread of 30 tasks over 3 workers: %v", perWorker(owners))

	killed := strings.TrimPrefix(w3.url, "http://")
	p3.kill()
	start := time.Now()
	testbed.WaitFor(t, 90*time.Second, 100*time.Millisecond, func() (bool, string) {
		var why string
		owners, why = w1.taskWorkers(t, tasks)
		if owners == nil {
			return false, why
		}
		n := perWorker(owners)
		if _, still := n[killed]; still {
			return false, fmt.Sprint(n)
		}
		return len(n) == 2 && maxCount(n) <= 16, fmt.Sprint(n)
	})
	took := time.Since(start)
	t.Logf("tasks of the killed worker RUNNING elsewhere after %v: %v", took.Round(10*time.Millisecond), perWorker(owners))
	// The lost work is held for the scheduled delay before it moves.
	if took < 5*time.Second {
		t.Errorf("lost tasks moved after %v, before the 5 s scheduled delay", took)
	}
}

func maxCount(n map[string]int) int {
	m := 0
	for _, v := range n {
		m = max(m, v)
	}
	return m
}
