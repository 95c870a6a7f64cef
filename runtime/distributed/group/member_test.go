package group

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHerder stands in for the distributed herder: it tracks what runs, stops
// revoked work and asks for the follow-up rebalance as the contract says.
type fakeHerder struct {
	mu      sync.Mutex
	member  *Member
	running map[string]bool // "c" for connectors, "c/n" for tasks
	last    Rebalanced
	rounds  int
	delays  map[time.Duration]bool // every delay seen
}

func (h *fakeHerder) OnRevoked(_ string, connectors []string, tasks []TaskID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range connectors {
		delete(h.running, c)
	}
	for _, t := range tasks {
		delete(h.running, taskKey(t))
	}
}

func (h *fakeHerder) OnAssigned(r Rebalanced) {
	h.mu.Lock()
	h.last = r
	h.rounds++
	if h.delays != nil {
		h.delays[r.Delay] = true
	}
	if r.Error == NoError {
		// Eager assignments are complete; cooperative ones were merged by the member.
		h.running = map[string]bool{}
		for _, c := range r.Connectors {
			h.running[c] = true
		}
		for _, t := range r.Tasks {
			h.running[taskKey(t)] = true
		}
	}
	revoked := len(r.RevokedConnectors)+len(r.RevokedTasks) > 0
	m := h.member
	h.mu.Unlock()
	if revoked || r.Error != NoError {
		m.RequestRejoin()
	}
}

func (h *fakeHerder) snapshot() (running []string, last Rebalanced) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.running {
		running = append(running, k)
	}
	return running, h.last
}

func taskKey(t TaskID) string { return fmt.Sprintf("%s/%d", t.Connector, t.Task) }

// configs is a config snapshot the test can change while members run.
type configs struct {
	mu   sync.Mutex
	snap Snapshot
}

func (c *configs) get() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Snapshot{Offset: c.snap.Offset, Tasks: make(map[string]int)}
	for k, v := range c.snap.Tasks {
		s.Tasks[k] = v
	}
	return s
}

func (c *configs) set(s Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap = s
}

// worker is one running Member with its herder.
type worker struct {
	name   string
	member *Member
	herder *fakeHerder
	client *kgo.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with its error in err
	err    error
}

func (w *worker) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	<-w.done
	if w.err != nil {
		t.Errorf("%s: Run: %v", w.name, w.err)
	}
}

func startWorker(t *testing.T, bootstrap, group, name string, mode Mode, cfgs *configs, maxDelay time.Duration) *worker {
	t.Helper()
	return startWorkerWith(t, bootstrap, group, name, mode, cfgs.get, maxDelay)
}

func startWorkerWith(t *testing.T, bootstrap, group, name string, mode Mode, snapshot func() Snapshot, maxDelay time.Duration) *worker {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHerder{running: map[string]bool{}, delays: map[time.Duration]bool{}}
	m, err := New(Config{
		Client: cl, GroupID: group, URL: "http://" + name + ":8083/", Mode: mode,
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 15 * time.Second, HeartbeatInterval: time.Second,
		MaxDelay: maxDelay, Snapshot: snapshot, Listener: h,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.member = m
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{name: name, member: m, herder: h, client: cl, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = m.Run(ctx)
		cl.Close()
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// waitFor polls cond until it returns "" or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// converged reports why the workers do not yet run every configured item
// exactly once in one generation, balanced, with agreeing leader info.
func converged(ws []*worker, snap Snapshot, balanced bool) string {
	want := map[string]bool{}
	for c, n := range snap.Tasks {
		want[c] = true
		for i := range n {
			want[taskKey(TaskID{Connector: c, Task: i})] = true
		}
	}
	owner := map[string]string{}
	var gen int32 = -2
	leader := ""
	var loads []int
	for _, w := range ws {
		running, last := w.herder.snapshot()
		if last.Generation == 0 && last.MemberID == "" {
			return w.name + " has no assignment yet"
		}
		if g := w.member.Generation(); gen == -2 {
			gen = g
		} else if g != gen {
			return fmt.Sprintf("generations differ: %d and %d", gen, g)
		}
		if leader == "" {
			leader = last.LeaderURL
		} else if last.LeaderURL != leader {
			return "leader URLs differ"
		}
		if last.ConfigOffset != snap.Offset {
			return fmt.Sprintf("%s assigned at config offset %d, want %d", w.name, last.ConfigOffset, snap.Offset)
		}
		for _, k := range running {
			if o, ok := owner[k]; ok {
				return fmt.Sprintf("%s runs on %s and %s", k, o, w.name)
			}
			if !want[k] {
				return fmt.Sprintf("%s runs unconfigured %s", w.name, k)
			}
			owner[k] = w.name
		}
		loads = append(loads, len(running))
	}
	if len(owner) != len(want) {
		return fmt.Sprintf("%d of %d items run", len(owner), len(want))
	}
	if balanced && slices.Max(loads)-slices.Min(loads) > 2 {
		return fmt.Sprintf("unbalanced loads %v", loads)
	}
	return ""
}

func TestMemberGroupLifecycle(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	group := testbed.UniqueName(t, "connect")
	cfgs := &configs{snap: snapshotOf(12, 10, 3)}

	var ws []*worker
	for i := range 3 {
		ws = append(ws, startWorker(t, bootstrap, group, fmt.Sprintf("w%d", i+1), ModeSessioned, cfgs, 0))
	}
	waitFor(t, 90*time.Second, func() string { return converged(ws, cfgs.get(), true) })

	leaders := 0
	for _, w := range ws {
		if w.member.IsLeader() {
			leaders++
			if u, ok := w.member.TaskOwnerURL(TaskID{Connector: "c00", Task: 0}); !ok || u == "" {
				t.Errorf("leader does not know the owner of c00/0")
			}
		}
		if got := w.member.Protocol(); got != ProtocolSessioned {
			t.Errorf("%s: protocol %q, want sessioned", w.name, got)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders", leaders)
	}

	// One member leaves: with no scheduled delay the others take its work at once.
	ws[2].stop(t)
	rest := ws[:2]
	waitFor(t, 60*time.Second, func() string { return converged(rest, cfgs.get(), true) })

	// A member (re)joins: load spreads back through revocation and reassignment.
	w4 := startWorker(t, bootstrap, group, "w4", ModeSessioned, cfgs, 0)
	all := append(slices.Clone(rest), w4)
	waitFor(t, 90*time.Second, func() string {
		if why := converged(all, cfgs.get(), true); why != "" {
			return why
		}
		if running, _ := w4.herder.snapshot(); len(running) == 0 {
			return "new member runs nothing"
		}
		return ""
	})

	// A config change: the herders rejoin and the new connector gets assigned.
	next := cfgs.get()
	next.Offset = 15
	next.Tasks["added"] = 2
	cfgs.set(next)
	for _, w := range all {
		w.member.RequestRejoin()
	}
	waitFor(t, 60*time.Second, func() string { return converged(all, cfgs.get(), true) })
}

func TestMemberCrashHeldForScheduledDelay(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	group := testbed.UniqueName(t, "connect")
	cfgs := &configs{snap: snapshotOf(4, 6, 2)}
	const maxDelay = 3 * time.Second
	var ws []*worker
	for i := range 3 {
		ws = append(ws, startWorker(t, bootstrap, group, fmt.Sprintf("w%d", i+1), ModeSessioned, cfgs, maxDelay))
	}
	waitFor(t, 90*time.Second, func() string { return converged(ws, cfgs.get(), true) })

	// A follower dies without leaving: closing its client first makes the
	// LeaveGroup on the way out fail, so the coordinator notices only after the
	// session timeout. The leader (which remembers the previous round; a new
	// leader would not) holds the lost work for the scheduled delay, and the
	// members rejoin by themselves when it expires.
	victim := slices.IndexFunc(ws, func(w *worker) bool { return !w.member.IsLeader() })
	ws[victim].client.Close()
	ws[victim].cancel()
	<-ws[victim].done
	rest := slices.Delete(slices.Clone(ws), victim, victim+1)
	waitFor(t, 90*time.Second, func() string { return converged(rest, cfgs.get(), true) })
	for _, w := range rest {
		w.herder.mu.Lock()
		held := w.herder.delays[maxDelay] || len(w.herder.delays) > 1
		w.herder.mu.Unlock()
		if !held {
			t.Errorf("%s never saw a scheduled delay", w.name)
		}
	}
}

func TestMemberEagerAndMixedGroups(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	cfgs := &configs{snap: snapshotOf(3, 4, 2)}

	t.Run("eager", func(t *testing.T) {
		group := testbed.UniqueName(t, "connect")
		ws := []*worker{
			startWorker(t, bootstrap, group, "e1", ModeEager, cfgs, 0),
			startWorker(t, bootstrap, group, "e2", ModeEager, cfgs, 0),
		}
		waitFor(t, 60*time.Second, func() string { return converged(ws, cfgs.get(), true) })
		for _, w := range ws {
			_, last := w.herder.snapshot()
			if last.Version != V0 || last.Protocol != ProtocolDefault {
				t.Errorf("%s: version %d protocol %q", w.name, last.Version, last.Protocol)
			}
		}
	})

	t.Run("one compatible member downgrades the group", func(t *testing.T) {
		group := testbed.UniqueName(t, "connect")
		ws := []*worker{
			startWorker(t, bootstrap, group, "s1", ModeSessioned, cfgs, 0),
			startWorker(t, bootstrap, group, "c1", ModeCompatible, cfgs, 0),
		}
		waitFor(t, 60*time.Second, func() string { return converged(ws, cfgs.get(), true) })
		for _, w := range ws {
			_, last := w.herder.snapshot()
			if last.Version != V1 || last.Protocol != ProtocolCompatible {
				t.Errorf("%s: version %d protocol %q", w.name, last.Version, last.Protocol)
			}
		}
	})
}

func TestMemberConfigMismatch(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	group := testbed.UniqueName(t, "connect")
	// The second worker has read further than the first; whichever leads, the
	// leader catches up through its fresh snapshot (shared here), so the group
	// settles at the higher offset after the behind member rejoins.
	behind := &configs{snap: snapshotOf(5, 2, 1)}
	ahead := &configs{snap: snapshotOf(9, 3, 1)}
	w1 := startWorker(t, bootstrap, group, "w1", ModeSessioned, behind, 0)
	waitFor(t, 60*time.Second, func() string { return converged([]*worker{w1}, behind.get(), false) })
	w2 := startWorker(t, bootstrap, group, "w2", ModeSessioned, ahead, 0)

	// w1 leads (it was first) and is behind: every member gets CONFIG_MISMATCH
	// at offset 9 until w1 catches up.
	waitFor(t, 60*time.Second, func() string {
		_, last := w2.herder.snapshot()
		if last.Error != ConfigMismatch || last.ConfigOffset != 9 {
			return fmt.Sprintf("w2 last assignment %+v", last.Assignment)
		}
		return ""
	})
	behind.set(ahead.get()) // w1 reads to the end of the config topic
	w1.member.RequestRejoin()
	waitFor(t, 60*time.Second, func() string { return converged([]*worker{w1, w2}, ahead.get(), true) })
}

func TestNewValidates(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ok := Config{Client: cl, GroupID: "g", Snapshot: func() Snapshot { return Snapshot{} }, Listener: &fakeHerder{}}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no client":   func(c *Config) { c.Client = nil },
		"no group":    func(c *Config) { c.GroupID = "" },
		"no snapshot": func(c *Config) { c.Snapshot = nil },
		"no listener": func(c *Config) { c.Listener = nil },
		"bad mode":    func(c *Config) { c.Mode = "range" },
		"heartbeat":   func(c *Config) { c.HeartbeatInterval = time.Minute },
		"max delay":   func(c *Config) { c.MaxDelay = -1 },
	} {
		c := ok
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}
