package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The soak test's own services and workers: a private broker, MariaDB,
// PostgreSQL and BigQuery emulator started with scripts/testbed.sh (which the
// test stops and starts again on their data), and distributed workers run
// as child processes of the built binary, restarted by the test as a
// process supervisor would.

// soakServices are the kinds of service the soak starts, in testbed.sh's
// command names.
var soakServices = []string{"kafka", "mariadb", "postgres", "bigquery"}

// soakService is one private service started by scripts/testbed.sh.
type soakService struct {
	kind  string
	dir   string
	ports []int    // kafka: broker (controller is +1); bigquery: REST, gRPC
	env   []string // the KEY=VALUE lines its start printed
}

func testbedScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../scripts/testbed.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// soakNeedsTestbed skips the test when the test bed is not installed, except
// in CI (CI=true), where it fails.
func soakNeedsTestbed(t *testing.T) {
	t.Helper()
	out, err := exec.Command(testbedScript(t), "check").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("the soak test starts its own Kafka, MariaDB, PostgreSQL and BigQuery emulator, and the test bed is incomplete: %s",
		strings.TrimSpace(string(out)))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func (s *soakService) startArgs() []string {
	args := []string{"start-" + s.kind, "--dir", s.dir, "--keep", "--port", strconv.Itoa(s.ports[0])}
	if s.kind == "bigquery" {
		args = append(args, "--grpc-port", strconv.Itoa(s.ports[1]))
	}
	return args
}

// start runs testbed.sh start-KIND --keep: the first start makes a fresh
// service, later ones bring it back on its data.
func (s *soakService) start(script string) error {
	cmd := exec.Command(script, s.startArgs()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("testbed.sh %s: %w\n%s", strings.Join(s.startArgs(), " "), err, stderr.String())
	}
	s.env = strings.Fields(string(out))
	return nil
}

func (s *soakService) stop(script string) error {
	out, err := exec.Command(script, "stop-"+s.kind, "--dir", s.dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testbed.sh stop-%s: %w\n%s", s.kind, err, out)
	}
	return nil
}

// value returns what its start printed for key (e.g. FERRY_TEST_KAFKA).
func (s *soakService) value(key string) string {
	for _, kv := range s.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// portAllocator hands out ports that are free now, counting up from a base,
// so the soak's services stay in one range of the machine.
type portAllocator struct{ next int }

// take returns the first port p ≥ next with p…p+n-1 all free.
func (a *portAllocator) take(t *testing.T, n int) int {
	t.Helper()
	for p := a.next; p < a.next+1000; p++ {
		ok := true
		for i := range n {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			a.next = p + n
			return p
		}
	}
	t.Fatalf("no %d free ports from %d on", n, a.next)
	return 0
}

// soakWorker is a distributed worker process with a fixed REST port and
// directory, restarted in place after a kill.
type soakWorker struct {
	idx  int
	dir  string
	url  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

func newSoakWorker(t *testing.T, idx int, dir string, port int, props map[string]string) *soakWorker {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	props = maps.Clone(props)
	props["listeners"] = fmt.Sprintf("http://127.0.0.1:%d", port)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	writeFile(t, filepath.Join(dir, "worker.properties"), b.String())
	return &soakWorker{idx: idx, dir: dir, url: fmt.Sprintf("http://127.0.0.1:%d", port),
		args: []string{"distributed", "worker.properties"}}
}

func (w *soakWorker) logPath() string { return filepath.Join(w.dir, "worker.log") }

// start runs the worker from bin; every run appends to the same log file.
func (w *soakWorker) start(bin string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w.runs++
	fmt.Fprintf(f, "===== soak: worker %d run %d started %s\n", w.idx, w.runs, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, w.args...)
	cmd.Dir = w.dir
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	w.cmd, w.done = cmd, done
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *soakWorker) kill() {
	w.mu.Lock()
	cmd, done := w.cmd, w.done
	w.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// exited reports whether the current run ended on its own.
func (w *soakWorker) exited() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// exitState describes how the current run ended.
func (w *soakWorker) exitState() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return w.cmd.ProcessState.String()
	default:
		return "running"
	}
}

// logTail returns the last n lines of the worker's log.
func (w *soakWorker) logTail(n int) string {
	b, err := os.ReadFile(w.logPath())
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logGrep returns the worker log's lines that contain any of words, at
// most n of them (the first ones).
func (w *soakWorker) logGrep(n int, words ...string) []string {
	f, err := os.Open(w.logPath())
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(out) < n {
		line := sc.Text()
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// taskStatus and connStatus are the parts of GET /connectors?expand=status
// the soak reads.
type taskStatus struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace"`
}

type connStatus struct {
	Connector taskStatus   `json:"connector"`
	Tasks     []taskStatus `json:"tasks"`
}

var soakHTTP = &http.Client{Timeout: 5 * time.Second}

// clusterStatus asks the workers in turn for every connector's status and
// returns the first answer.
func clusterStatus(ctx context.Context, urls []string) (map[string]connStatus, error) {
	var errs []string
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/connectors?expand=status", nil)
		if err != nil {
			return nil, err
		}
		resp, err := soakHTTP.Do(req)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Sprintf("%s: %d %s", u, resp.StatusCode, b))
			continue
		}
		var raw map[string]struct {
			Status connStatus `json:"status"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v in %s", u, err, b))
			continue
		}
		out := make(map[string]connStatus, len(raw))
		for name, v := range raw {
			out[name] = v.Status
		}
		return out, nil
	}
	return nil, fmt.Errorf("no worker answered: %s", strings.Join(errs, "; "))
}

// notRunning lists, for the expected connectors and task counts, every
// connector or task that is not RUNNING ("" when all are).
func notRunning(st map[string]connStatus, want map[string]int) string {
	var bad []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		c, ok := st[name]
		if !ok {
			bad = append(bad, name+": no status")
			continue
		}
		if c.Connector.State != "RUNNING" {
			bad = append(bad, fmt.Sprintf("%s: connector %s%s", name, c.Connector.State, traceSuffix(c.Connector.Trace)))
		}
		if len(c.Tasks) != want[name] {
			bad = append(bad, fmt.Sprintf("%s: %d tasks, want %d", name, len(c.Tasks), want[name]))
		}
		for _, tk := range c.Tasks {
			if tk.State != "RUNNING" {
				bad = append(bad, fmt.Sprintf("%s: task %d %s%s", name, tk.ID, tk.State, traceSuffix(tk.Trace)))
			}
		}
	}
	return strings.Join(bad, "; ")
}

// traceSuffix is the first line of a trace, as ": line", or "".
func traceSuffix(trace string) string {
	if trace == "" {
		return ""
	}
	l, _, _ := strings.Cut(trace, "\n")
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	return ": " + l
}

// soakMonitor watches the cluster for the soak: it restarts workers that
// exited, and records every connector or task state other than RUNNING
// it sees, by the phase of the test it saw it in.
type soakMonitor struct {
	urls []string
	want map[string]int

	mu      sync.Mutex
	phase   string
	phases  []string                   // in order of first use
	seen    map[string]map[string]bool // phase → "name: task 0 FAILED: …"
	held    map[int]bool               // workers the test stops and starts itself
	crashed []string                   // exits nobody asked for
}

func newSoakMonitor(urls []string, want map[string]int) *soakMonitor {
	return &soakMonitor{urls: urls, want: want, seen: map[string]map[string]bool{}, held: map[int]bool{}}
}

func (m *soakMonitor) setPhase(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phase = p
}

// hold keeps the watcher from restarting worker idx (the test kills and
// starts it itself) until release.
func (m *soakMonitor) hold(idx int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held[idx] = true
}

func (m *soakMonitor) release(idx int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, idx)
}

func (m *soakMonitor) crashes() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.crashed)
}

// seenIn lists the non-RUNNING states seen in a phase.
func (m *soakMonitor) seenIn(phase string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.seen[phase]))
}

// notRunning polls the cluster and records what is not RUNNING; "" when
// every expected connector and task is.
func (m *soakMonitor) notRunning() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := clusterStatus(ctx, m.urls)
	if err != nil {
		m.record("status: " + err.Error())
		return err.Error()
	}
	msg := notRunning(st, m.want)
	if msg != "" {
		for _, s := range strings.Split(msg, "; ") {
			m.record(s)
		}
	}
	return msg
}

// record notes s under the current phase. Traces of the same failure
// differ in their details, so only the state and the trace's first line
// are kept.
func (m *soakMonitor) record(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[m.phase] == nil {
		m.seen[m.phase] = map[string]bool{}
	}
	m.seen[m.phase][s] = true
}

// watch polls every second until ctx ends: it restarts any worker whose
// process ended and records states.
func (m *soakMonitor) watch(ctx context.Context, workers []*soakWorker, bin string) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		for _, w := range workers {
			m.mu.Lock()
			held := m.held[w.idx]
			m.mu.Unlock()
			if held || !w.exited() {
				continue
			}
			m.mu.Lock()
			m.crashed = append(m.crashed, fmt.Sprintf("worker %d (%s) during %q: %s", w.idx, w.exitState(), m.phase,
				strings.Join(w.logGrep(3, "panic", "fatal error", "level=ERROR"), " | ")))
			m.mu.Unlock()
			if err := w.start(bin); err != nil {
				m.record(fmt.Sprintf("restarting worker %d: %v", w.idx, err))
			}
		}
		m.notRunning()
	}
}

// settle waits, at most limit, until every connector and task has been
// RUNNING for stable and caughtUp reports the sinks hold what they should.
// It returns how long after the call the RUNNING stretch began and when
// caughtUp first held (-1 for what did not happen), and what was still
// wrong when it gave up.
func (m *soakMonitor) settle(ctx context.Context, limit, stable time.Duration, caughtUp func() (bool, string)) (running, caught time.Duration, stuck string) {
	start := time.Now()
	running, caught = -1, -1
	var since time.Time // start of the current RUNNING stretch
	for ctx.Err() == nil {
		msg := m.notRunning()
		now := time.Now()
		switch {
		case msg != "":
			since, running = time.Time{}, -1
		case since.IsZero():
			since = now
		case now.Sub(since) >= stable:
			running = since.Sub(start)
		}
		if caught < 0 {
			if ok, why := caughtUp(); ok {
				caught = time.Since(start)
			} else {
				msg = strings.Join(slices.DeleteFunc([]string{msg, why}, func(s string) bool { return s == "" }), "; ")
			}
		}
		if running >= 0 && caught >= 0 {
			return running, caught, ""
		}
		if time.Since(start) >= limit {
			if msg == "" {
				msg = "RUNNING for less than " + stable.String()
			}
			return running, caught, msg
		}
		time.Sleep(500 * time.Millisecond)
	}
	return running, caught, "interrupted"
}

// movedOff waits, at most limit, until every connector and task is
// RUNNING on a worker other than gone (a worker id, host:port).
func (m *soakMonitor) movedOff(ctx context.Context, gone string, limit time.Duration) (time.Duration, string) {
	start := time.Now()
	last := ""
	for time.Since(start) < limit && ctx.Err() == nil {
		last = m.notRunning()
		if last == "" {
			st, err := clusterStatus(ctx, m.urls)
			if err != nil {
				last = err.Error()
			} else {
				var on []string
				for name, c := range st {
					if c.Connector.WorkerID == gone {
						on = append(on, name)
					}
					for _, tk := range c.Tasks {
						if tk.WorkerID == gone {
							on = append(on, fmt.Sprintf("%s-%d", name, tk.ID))
						}
					}
				}
				if len(on) == 0 {
					return time.Since(start), ""
				}
				slices.Sort(on)
				last = fmt.Sprintf("still on %s: %v", gone, on)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return -1, last
}

// busiestWorker is the index of the worker running the most tasks and
// connectors (the first on a tie).
func (m *soakMonitor) busiestWorker(workers []*soakWorker) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := clusterStatus(ctx, m.urls)
	if err != nil {
		return 0
	}
	n := map[string]int{}
	for _, c := range st {
		n[c.Connector.WorkerID]++
		for _, tk := range c.Tasks {
			n[tk.WorkerID]++
		}
	}
	best := 0
	for i, w := range workers {
		if n[strings.TrimPrefix(w.url, "http://")] > n[strings.TrimPrefix(workers[best].url, "http://")] {
			best = i
		}
	}
	return best
}

// waitUp polls url until it answers 200, at most limit.
func waitUp(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		code, err := httpGet(url)
		if err == nil && code == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not up within %v: %d %v", url, limit, code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
