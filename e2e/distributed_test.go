package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/logging"
)

// cluster is the shared settings of one test's distributed workers.
type cluster struct {
	bootstrap string
	props     map[string]string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	if !testbed.IsRealKafka() {
		t.Skip("distributed mode needs a real broker (FERRY_TEST_KAFKA): kfake does not fully implement the group coordinator for protocol type \"connect\"")
	}
	bootstrap := testbed.Kafka(t)
	g := testbed.UniqueName(t, "dist")
	return &cluster{bootstrap: bootstrap, props: map[string]string{
		"bootstrap.servers":                 bootstrap,
		"group.id":                          g,
		"config.storage.topic":              g + "-configs",
		"offset.storage.topic":              g + "-offsets",
		"status.storage.topic":              g + "-status",
		"config.storage.replication.factor": "1",
		"offset.storage.replication.factor": "1",
		"status.storage.replication.factor": "1",
		"offset.storage.partitions":         "5",
		"status.storage.partitions":         "3",
		"key.converter":                     "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                   "org.apache.kafka.connect.json.JsonConverter",
		"offset.flush.interval.ms":          "500",
		"session.timeout.ms":                "6000",
		"heartbeat.interval.ms":             "1000",
		"scheduled.rebalance.max.delay.ms":  "0",
		"task.shutdown.graceful.timeout.ms": "3000",
		"consumer.session.timeout.ms":       "6000",
		"consumer.heartbeat.interval.ms":    "1000",
		"listeners":                         "http://127.0.0.1:0",
		"topic.tracking.enable":             "true",
		"worker.sync.timeout.ms":            "3000",
		"inter.worker.key.ttl.ms":           "3600000",
	}}
}

// startInProcess runs a distributed worker in this test process.
func (c *cluster) startInProcess(t *testing.T, name string) *worker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{bootstrap: c.bootstrap, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	levels := logging.NewLevels(logging.LevelInfo)
	logger := slog.New(logging.NewHandler(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}), levels)).With("w", name)
	go func() {
		w.done <- app.RunDistributed(ctx, maps.Clone(c.props), logger, levels, func(url string) { ready <- url })
	}()
	select {
	case u := <-ready:
		w.url = strings.TrimSuffix(u, "/")
	case err := <-w.done:
		t.Fatalf("worker %s exited during startup: %v", name, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %s did not start within 60s", name)
	}
	t.Cleanup(w.stop)
	return w
}

// startProcess runs a distributed worker as a child process of the built
// binary, so the test can kill it with SIGKILL.
func (c *cluster) startProcess(t *testing.T, dir string) (*worker, *process) {
	t.Helper()
	port := testbed.FreePort(t)
	props := maps.Clone(c.props)
	props["listeners"] = fmt.Sprintf("http://127.0.0.1:%d", port)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	writeFile(t, filepath.Join(dir, "worker.properties"), b.String())
	p := startFerry(t, dir, "distributed", "worker.properties")
	return &worker{url: fmt.Sprintf("http://127.0.0.1:%d", port), bootstrap: c.bootstrap}, p
}

func (w *worker) waitHealthy(t *testing.T) {
	t.Helper()
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		code, err := httpGet(w.url + "/health")
		return err == nil && code == 200, fmt.Sprint(code, err)
	})
}

// statusOf returns a connector's status, or nil when it has none yet.
func (w *worker) statusOf(t *testing.T, name string) map[string]any {
	t.Helper()
	r := w.call(t, "GET", "/connectors/"+name+"/status", nil)
	if r.status != 200 {
		return nil
	}
	return r.object(t)
}

// taskWorkers maps "c-n" to the worker id of each task of the connectors,
// or reports why not every task is RUNNING.
func (w *worker) taskWorkers(t *testing.T, tasks map[string]int) (map[string]string, string) {
	out := map[string]string{}
	for name, n := range tasks {
		st := w.statusOf(t, name)
		if st == nil {
			return nil, name + ": no status"
		}
		if c := st["connector"].(map[string]any); c["state"] != "RUNNING" {
			return nil, fmt.Sprintf("%s: connector %v", name, c)
		}
		ts := st["tasks"].([]any)
		if len(ts) != n {
			return nil, fmt.Sprintf("%s: %d tasks, want %d", name, len(ts), n)
		}
		for _, x := range ts {
			m := x.(map[string]any)
			if m["state"] != "RUNNING" {
				return nil, fmt.Sprintf("%s: task %v", name, m)
			}
			out[fmt.Sprintf("%s-%v", name, m["id"])] = m["worker_id"].(string)
		}
	}
	return out, ""
}

// TestDistributedCluster runs three workers (two in this process, one a
// child process that is killed with SIGKILL) with the cooperative and the
// eager group protocol.
func TestDistributedCluster(t *testing.T) {
	for _, protocol := range []string{"sessioned", "eager"} {
		t.Run(protocol, func(t *testing.T) { testCluster(t, protocol) })
	}
}

func testCluster(t *testing.T, protocol string) {
	c := newCluster(t)
	c.props["connect.protocol"] = protocol
	dir := t.TempDir()
	topic := testbed.UniqueName(t, "dist-data")
	testbed.CreateTopic(t, c.bootstrap, topic, 3)

	start := time.Now()
	// The child process joins first and so leads the group: killing it
	// later also shows a new leader taking over the writes.
	w3, p3 := c.startProcess(t, dir)
	w3.waitHealthy(t)
	w1 := c.startInProcess(t, "w1")
	w2 := c.startInProcess(t, "w2")
	workers := []*worker{w1, w2, w3}
	for _, w := range workers {
		w.waitHealthy(t)
	}
	t.Logf("3 workers healthy after %v", time.Since(start))

	in := filepath.Join(dir, "in.txt")
	out := filepath.Join(dir, "out.txt")
	writeFile(t, in, "")
	conns := []map[string]any{
		{"name": "src", "config": map[string]string{"connector.class": "FileStreamSource", "tasks.max": "1", "file": in, "topic": topic}},
		{"name": "sink", "config": map[string]string{"connector.class": "FileStreamSink", "tasks.max": "3", "file": out, "topics": topic}},
		{"name": "sink2", "config": map[string]string{"connector.class": "FileStreamSink", "tasks.max": "3", "file": filepath.Join(dir, "out2.txt"), "topics": topic}},
	}
	tasks := map[string]int{"src": 1, "sink": 3, "sink2": 3}
	// One create through each worker: at least two go through a follower
	// and are forwarded to the leader.
	created := time.Now()
	for i, conn := range conns {
		var r response
		testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			r = workers[i].call(t, "POST", "/connectors", conn)
			return r.status != 409, string(r.body) // 409 while a rebalance is under way
		})
		expectStatus(t, r, 201)
	}
	// A duplicate create is a conflict whichever worker receives it.
	expectError(t, w2.call(t, "POST", "/connectors", conns[0]), 409, "already exists")
	// Validation happens on the receiving worker.
	expectStatus(t, w3.call(t, "PUT", "/connectors/bad/config", map[string]string{"connector.class": "NoSuchConnector"}), 400)

	var owners map[string]string
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		var msg string
		owners, msg = w1.taskWorkers(t, tasks)
		return owners != nil, msg
	})
	t.Logf("all 7 tasks RUNNING %v after the creates: %v", time.Since(created), owners)
	perWorker := map[string]int{}
	for _, id := range owners {
		perWorker[id]++
	}
	if len(perWorker) != 3 {
		t.Errorf("tasks run on %d workers, want 3: %v", len(perWorker), owners)
	}
	for _, w := range workers {
		r := w.call(t, "GET", "/connectors", nil)
		expectStatus(t, r, 200)
		got := fmt.Sprint(r.json(t))
		if got != "[sink sink2 src]" {
			t.Errorf("%s GET /connectors = %s", w.url, got)
		}
	}
	r := w2.call(t, "GET", "/connectors/sink/tasks", nil)
	expectStatus(t, r, 200)
	if n := len(r.json(t).([]any)); n != 3 {
		t.Errorf("sink has %d task configs, want 3", n)
	}

	// Data flows from the source file through the topic to the sink files.
	var lines strings.Builder
	for i := range 300 {
		fmt.Fprintf(&lines, "line-%04d\n", i)
	}
	appendFile(t, in, lines.String())
	waitLines(t, out, 300)

	// Pause and resume through followers (any worker writes target states).
	expectStatus(t, w3.call(t, "PUT", "/connectors/src/pause", nil), 202)
	w1.waitState(t, "src", "PAUSED", 1)
	expectStatus(t, w2.call(t, "PUT", "/connectors/src/resume", nil), 202)
	w1.waitState(t, "src", "RUNNING", 1)

	// Stop (a leader write, forwarded) removes the tasks; resume brings them back.
	var sr response
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		sr = w3.call(t, "PUT", "/connectors/sink2/stop", nil)
		return sr.status != 409, string(sr.body)
	})
	expectStatus(t, sr, 204)
	w2.waitState(t, "sink2", "STOPPED", 0)
	r = w1.call(t, "GET", "/connectors/sink2/offsets", nil)
	expectStatus(t, r, 200)
	expectStatus(t, w3.call(t, "PUT", "/connectors/sink2/resume", nil), 202)
	w2.waitState(t, "sink2", "RUNNING", 3)

	// Restarts go to the worker running the connector or task.
	for _, w := range workers {
		var rr response
		testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			rr = w.call(t, "POST", "/connectors/sink/tasks/1/restart", nil)
			return rr.status != 409, string(rr.body)
		})
		expectStatus(t, rr, 204)
		testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			rr = w.call(t, "POST", "/connectors/src/restart", nil)
			return rr.status != 409, string(rr.body)
		})
		expectStatus(t, rr, 204)
	}
	w1.waitState(t, "sink", "RUNNING", 3)

	// Kill the worker process, the leader (no LeaveGroup): its work moves
	// to the others once the coordinator expires its session, and one of
	// them becomes the leader.
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		var msg string
		owners, msg = w1.taskWorkers(t, tasks)
		return owners != nil, msg
	})
	w3id := strings.TrimPrefix(w3.url, "http://")
	var lost []string
	for task, id := range owners {
		if id == w3id {
			lost = append(lost, task)
		}
	}
	sort.Strings(lost)
	p3.kill()
	killed := time.Now()
	testbed.WaitFor(t, 45*time.Second, 100*time.Millisecond, func() (bool, string) {
		now, msg := w1.taskWorkers(t, tasks)
		if now == nil {
			return false, msg
		}
		for task, id := range now {
			if id == w3id {
				return false, task + " still on the killed worker"
			}
		}
		return true, ""
	})
	t.Logf("worker %s killed with tasks %v; all tasks RUNNING on the other workers %v later", w3id, lost, time.Since(killed))

	// The pipeline goes on with two workers.
	lines.Reset()
	for i := 300; i < 400; i++ {
		fmt.Fprintf(&lines, "line-%04d\n", i)
	}
	appendFile(t, in, lines.String())
	waitLines(t, out, 400)

	// A worker joining again gets a share of the work back.
	rejoined := time.Now()
	w3, _ = c.startProcess(t, dir)
	w3.waitHealthy(t)
	w3id = strings.TrimPrefix(w3.url, "http://")
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		now, msg := w1.taskWorkers(t, tasks)
		if now == nil {
			return false, msg
		}
		for _, id := range now {
			if id == w3id {
				return true, ""
			}
		}
		return false, fmt.Sprint("no task on the new worker: ", now)
	})
	t.Logf("a worker joining got tasks and all tasks were RUNNING %v after it started", time.Since(rejoined))

	// A config update through any worker restarts the connector where it
	// runs; its new task configs are committed and the extra task's status
	// is removed.
	var pr response
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		pr = w2.call(t, "PATCH", "/connectors/sink2/config", map[string]string{"tasks.max": "2"})
		return pr.status != 409, string(pr.body)
	})
	expectStatus(t, pr, 200)
	w1.waitState(t, "sink2", "RUNNING", 2)

	// Delete through a follower; every worker stops listing it.
	var dr response
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		dr = w2.call(t, "DELETE", "/connectors/sink2", nil)
		return dr.status != 409, string(dr.body)
	})
	expectStatus(t, dr, 204)
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		a := fmt.Sprint(w1.call(t, "GET", "/connectors", nil).json(t))
		b := fmt.Sprint(w2.call(t, "GET", "/connectors", nil).json(t))
		return a == "[sink src]" && b == a, a + " / " + b
	})
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		r := w1.call(t, "GET", "/connectors/sink2/status", nil)
		return r.status == 404, string(r.body)
	})
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// waitLines waits until path holds the lines line-0000 … line-(n-1),
// in any order (sink tasks share the file); duplicates are allowed.
func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		b, _ := os.ReadFile(path)
		seen := map[string]bool{}
		for l := range strings.SplitSeq(string(b), "\n") {
			seen[l] = true
		}
		for i := range n {
			if !seen[fmt.Sprintf("line-%04d", i)] {
				return false, fmt.Sprintf("line-%04d missing (%d distinct lines)", i, len(seen))
			}
		}
		return true, ""
	})
}

// startApacheDistributed runs Apache's ConnectDistributed with props; the
// returned function stops it with SIGTERM (a clean shutdown that flushes
// offsets and leaves the group) and waits for it to exit.
func startApacheDistributed(t *testing.T, lib, dir string, props map[string]string) func() {
	t.Helper()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	path := filepath.Join(dir, "apache-worker.properties")
	writeFile(t, path, b.String())
	log4j, err := filepath.Abs("../scripts/testbed/log4j2-quiet.properties")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(javaBin(), "-Xmx512m", "-Dlog4j2.configurationFile="+log4j,
		"-cp", filepath.Join(lib, "*"), "org.apache.kafka.connect.cli.ConnectDistributed", path)
	cmd.Dir = dir
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("Apache Connect log:\n%s", out.String())
		}
	})
	return stop
}

// TestDistributedTakeoverFromApache stops an Apache Connect 4.1.1
// distributed worker in the middle of a FileStreamSource's file and starts
// Ferry on the same group and topics: the connector comes back RUNNING and
// continues from the offset Apache stored, without re-reading or skipping
// a line.
func TestDistributedTakeoverFromApache(t *testing.T) {
	lib := connectLib(t)
	c := newCluster(t)
	dir := t.TempDir()
	topic := testbed.UniqueName(t, "takeover")
	testbed.CreateTopic(t, c.bootstrap, topic, 1)
	in := filepath.Join(dir, "in.txt")
	var lines strings.Builder
	for i := range 500 {
		fmt.Fprintf(&lines, "line-%04d\n", i)
	}
	writeFile(t, in, lines.String())

	port := testbed.FreePort(t)
	props := maps.Clone(c.props)
	props["listeners"] = fmt.Sprintf("http://127.0.0.1:%d", port)
	props["plugin.discovery"] = "service_load"
	delete(props, "topic.tracking.enable")
	stopApache := startApacheDistributed(t, lib, dir, props)
	apache := &worker{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	conf := map[string]string{"connector.class": "FileStreamSource", "tasks.max": "1", "file": in, "topic": topic}
	testbed.WaitFor(t, 90*time.Second, 250*time.Millisecond, func() (bool, string) {
		code, err := httpGet(apache.url + "/")
		if err != nil || code != 200 {
			return false, fmt.Sprint("Apache REST: ", code, err)
		}
		r := apache.call(t, "PUT", "/connectors/src/config", conf)
		return r.status == 201 || r.status == 200, string(r.body)
	})
	apache.waitState(t, "src", "RUNNING", 1)
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		n := endOffset(t, c.bootstrap, topic)
		return n == 500, fmt.Sprint(n, " records")
	})
	// Wait until Apache committed the offset of the last line.
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		r := apache.call(t, "GET", "/connectors/src/offsets", nil)
		return strings.Contains(string(r.body), fmt.Sprintf(`"position":%d`, len(lines.String()))), string(r.body)
	})
	stopApache()

	lines.Reset()
	for i := 500; i < 800; i++ {
		fmt.Fprintf(&lines, "line-%04d\n", i)
	}
	appendFile(t, in, lines.String())

	started := time.Now()
	f := c.startInProcess(t, "ferry")
	f.waitHealthy(t)
	f.waitState(t, "src", "RUNNING", 1)
	t.Logf("Ferry took over the Apache connector, RUNNING %v after start", time.Since(started))
	r := f.call(t, "GET", "/connectors/src/config", nil)
	expectStatus(t, r, 200)
	if got := r.object(t); got["file"] != in || got["topic"] != topic || got["name"] != "src" {
		t.Errorf("config after takeover: %s", r.body)
	}
	recs := testbed.ConsumeN(t, c.bootstrap, topic, 800, 60*time.Second)
	for i, rec := range recs {
		if want := fmt.Sprintf(`"payload":"line-%04d"`, i); !strings.Contains(string(rec.Value), want) {
			t.Fatalf("record %d is %s, want %s", i, rec.Value, want)
		}
	}
	// Nothing beyond the 800 lines (no line read twice).
	if n := endOffset(t, c.bootstrap, topic); n != 800 {
		t.Fatalf("topic holds %d records, want 800", n)
	}

	// A second source, created on Ferry, copies a file; it is then stopped
	// and its offsets reset (a tombstone) through Ferry.
	topic2 := testbed.UniqueName(t, "takeover-reset")
	testbed.CreateTopic(t, c.bootstrap, topic2, 1)
	in2 := filepath.Join(dir, "in2.txt")
	lines.Reset()
	for i := range 100 {
		fmt.Fprintf(&lines, "line-%04d\n", i)
	}
	writeFile(t, in2, lines.String())
	var cr response
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		cr = f.call(t, "PUT", "/connectors/src2/config", map[string]string{"connector.class": "FileStreamSource", "tasks.max": "1", "file": in2, "topic": topic2})
		return cr.status != 409, string(cr.body)
	})
	expectStatus(t, cr, 201)
	lineLen := len("line-0000\n")
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		r := f.call(t, "GET", "/connectors/src2/offsets", nil)
		return strings.Contains(string(r.body), fmt.Sprintf(`"position":%d`, 100*lineLen)), string(r.body)
	})
	stop := func(name string) {
		t.Helper()
		var sr response
		testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			sr = f.call(t, "PUT", "/connectors/"+name+"/stop", nil)
			return sr.status != 409, string(sr.body)
		})
		expectStatus(t, sr, 204)
		f.waitState(t, name, "STOPPED", 0)
	}
	stop("src2")
	var dr response
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		dr = f.call(t, "DELETE", "/connectors/src2/offsets", nil)
		return dr.status != 409, string(dr.body) // 409 until the stop's rebalance is done
	})
	expectStatus(t, dr, 200)

	// And back: Ferry stops the connector and rewinds its offset to line
	// 600 through the offsets REST API; Apache reads that offset record
	// and, once resumed, re-reads the file from there.
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		r := f.call(t, "GET", "/connectors/src/offsets", nil)
		return strings.Contains(string(r.body), fmt.Sprintf(`"position":%d`, 800*lineLen)), string(r.body)
	})
	stop("src")
	rewind := map[string]any{"offsets": []any{map[string]any{
		"partition": map[string]any{"filename": in}, "offset": map[string]any{"position": 600 * lineLen}}}}
	var pr response
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		pr = f.call(t, "PATCH", "/connectors/src/offsets", rewind)
		return pr.status != 409, string(pr.body) // 409 until the stop's rebalance is done
	})
	expectStatus(t, pr, 200)
	f.stop()
	lines.Reset()
	for i := 800; i < 1000; i++ {
		fmt.Fprintf(&lines, "line-%04d\n", i)
	}
	appendFile(t, in, lines.String())
	startApacheDistributed(t, lib, dir, props)
	waitHTTP(t, apache.url)
	apache.waitState(t, "src", "STOPPED", 0)
	r = apache.call(t, "GET", "/connectors/src/offsets", nil)
	expectStatus(t, r, 200)
	if !strings.Contains(string(r.body), fmt.Sprintf(`"position":%d`, 600*lineLen)) {
		t.Fatalf("Apache reads the offsets Ferry wrote as %s", r.body)
	}
	expectStatus(t, apache.call(t, "PUT", "/connectors/src/resume", nil), 202)
	apache.waitState(t, "src", "RUNNING", 1)
	recs = testbed.ConsumeN(t, c.bootstrap, topic, 1200, 90*time.Second)
	for i, rec := range recs {
		line := i
		if i >= 800 {
			line = 600 + i - 800 // re-read from the rewound position
		}
		if want := fmt.Sprintf(`"payload":"line-%04d"`, line); !strings.Contains(string(rec.Value), want) {
			t.Fatalf("record %d is %s, want %s", i, rec.Value, want)
		}
	}
	if n := endOffset(t, c.bootstrap, topic); n != 1200 {
		t.Fatalf("topic holds %d records, want 1200", n)
	}

	// Apache reads the reset as no offset: resumed, src2 copies its file
	// again from the start.
	apache.waitState(t, "src2", "STOPPED", 0)
	r = apache.call(t, "GET", "/connectors/src2/offsets", nil)
	expectStatus(t, r, 200)
	if got := string(r.body); got != `{"offsets":[]}` {
		t.Fatalf("Apache reads the offsets of the reset connector as %s", got)
	}
	expectStatus(t, apache.call(t, "PUT", "/connectors/src2/resume", nil), 202)
	recs = testbed.ConsumeN(t, c.bootstrap, topic2, 200, 90*time.Second)
	for i, rec := range recs {
		if want := fmt.Sprintf(`"payload":"line-%04d"`, i%100); !strings.Contains(string(rec.Value), want) {
			t.Fatalf("%s record %d is %s, want %s", topic2, i, rec.Value, want)
		}
	}
}

// TestDistributedRollingRestart restarts each of three worker processes in
// turn (SIGTERM, then start again) while a datagen → topic → FileStreamSink
// pipeline runs: the sink file ends up with every generated record. At
// least once delivery allows duplicates; they are counted and reported.
func TestDistributedRollingRestart(t *testing.T) {
	c := newCluster(t)
	const iterations = 3000
	topic := testbed.UniqueName(t, "rolling")
	testbed.CreateTopic(t, c.bootstrap, topic, 3)
	dir := t.TempDir()
	out := filepath.Join(dir, "sink.txt")
	// The sink's file comes from a config provider, which each worker
	// resolves when it starts the sink's tasks.
	secrets := filepath.Join(dir, "secrets.properties")
	writeFile(t, secrets, "out="+out+"\n")
	c.props["config.providers"] = "file"
	c.props["config.providers.file.class"] = "org.apache.kafka.common.config.provider.FileConfigProvider"

	start := time.Now()
	workers := make([]*worker, 3)
	procs := make([]*process, 3)
	dirs := make([]string, 3)
	for i := range workers {
		dirs[i] = filepath.Join(dir, fmt.Sprintf("w%d", i))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
		workers[i], procs[i] = c.startProcess(t, dirs[i])
	}
	for _, w := range workers {
		w.waitHealthy(t)
	}
	t.Logf("3 worker processes healthy after %v", time.Since(start))

	tasks := map[string]int{"gen": 1, "sink": 3}
	create := func(name string, config map[string]string) {
		var r response
		testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			r = workers[0].call(t, "PUT", "/connectors/"+name+"/config", config)
			return r.status != 409, string(r.body)
		})
		expectStatus(t, r, 201)
	}
	create("sink", map[string]string{"connector.class": "FileStreamSink", "tasks.max": "3", "file": "${file:" + secrets + ":out}", "topics": topic})
	// A few ms a record: generation goes on through the restarts.
	create("gen", map[string]string{"connector.class": "DatagenConnector", "tasks.max": "1", "kafka.topic": topic,
		"quickstart": "orders", "iterations": fmt.Sprint(iterations), "max.interval": "10"})
	// allRunning waits until every task is RUNNING on a worker other than
	// gone (the id of a stopped worker, or "").
	allRunning := func(w *worker, gone, why string) {
		t.Helper()
		began := time.Now()
		var owners map[string]string
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			var msg string
			owners, msg = w.taskWorkers(t, tasks)
			if owners == nil {
				return false, msg
			}
			for task, id := range owners {
				if id == gone {
					return false, task + " still on the stopped worker"
				}
			}
			return true, ""
		})
		t.Logf("%s: all tasks RUNNING %v later: %v", why, time.Since(began).Round(time.Millisecond), owners)
	}
	allRunning(workers[0], "", "created")
	if r := workers[2].call(t, "GET", "/connectors/sink/tasks", nil); strings.Contains(string(r.body), out) || !strings.Contains(string(r.body), "${file:") {
		t.Errorf("stored task configs hold the resolved file or lost the placeholder: %s", r.body)
	}

	for i := range workers {
		// Restart while records flow: wait for some progress first.
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			n := countLines(out)
			return n >= 700*(i+1), fmt.Sprint(n, " lines")
		})
		gone := strings.TrimPrefix(workers[i].url, "http://")
		restarted := time.Now()
		sigterm(t, procs[i])
		t.Logf("worker %d (%s) stopped in %v with %d lines in the sink", i, gone, time.Since(restarted).Round(time.Millisecond), countLines(out))
		workers[i], procs[i] = c.startProcess(t, dirs[i])
		workers[i].waitHealthy(t)
		allRunning(workers[(i+1)%3], gone, fmt.Sprintf("worker %d restarted and healthy %v after the SIGTERM", i, time.Since(restarted).Round(time.Millisecond)))
	}

	// Every order id the datagen task generated reaches the sink file.
	orderID := regexp.MustCompile(`orderid=(\d+)`)
	var seen map[int]int
	testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		seen = map[int]int{}
		for _, l := range readLines(t, out) {
			if m := orderID.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				seen[n]++
			}
		}
		for i := range iterations {
			if seen[i] == 0 {
				return false, fmt.Sprintf("order %d missing (%d distinct of %d)", i, len(seen), iterations)
			}
		}
		return true, ""
	})
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if len(seen) != iterations {
		t.Errorf("sink holds %d distinct orders, want %d", len(seen), iterations)
	}
	t.Logf("all %d records in the sink %v after the first worker start; %d duplicates", iterations, time.Since(start).Round(time.Millisecond), dups)
}

// sigterm stops a worker process as a service manager would and waits for
// its clean exit.
func sigterm(t *testing.T, p *process) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("ferry did not exit within 30s of SIGTERM")
	}
}
