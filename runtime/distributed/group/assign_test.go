package group

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// snapshotOf returns a snapshot of n connectors c00..c(n-1), each with tasks tasks.
func snapshotOf(offset int64, n, tasks int) Snapshot {
	s := Snapshot{Offset: offset, Tasks: make(map[string]int)}
	for i := range n {
		s.Tasks[fmt.Sprintf("c%02d", i)] = tasks
	}
	return s
}

// cluster simulates the members of a cooperative group: each round it builds
// their metadata from what they run, lets the leader assign, and applies the
// deltas the way members do.
type cluster struct {
	t        *testing.T
	snap     Snapshot
	now      time.Time
	maxDelay time.Duration
	protocol string
	leader   string
	st       LeaderState
	gen      int32
	lastGen  int32 // the leader's last completed generation
	running  map[string]*Assignment
}

func newCluster(t *testing.T, snap Snapshot, maxDelay time.Duration, members ...string) *cluster {
	c := &cluster{
		t: t, snap: snap, now: time.UnixMilli(1_700_000_000_000), maxDelay: maxDelay,
		protocol: ProtocolSessioned, lastGen: -1, running: make(map[string]*Assignment),
	}
	for _, m := range members {
		c.join(m)
	}
	c.leader = members[0]
	return c
}

func (c *cluster) join(id string)  { c.running[id] = nil }
func (c *cluster) leave(id string) { delete(c.running, id) }

func (c *cluster) members() []MemberMetadata {
	var out []MemberMetadata
	for _, id := range slices.Sorted(maps.Keys(c.running)) {
		out = append(out, MemberMetadata{ID: id, State: WorkerState{
			Version: V2, URL: "http://" + id + "/", ConfigOffset: c.snap.Offset, Allocation: c.running[id].clone(),
		}})
	}
	return out
}

// round runs one rebalance and returns the assignments sent.
func (c *cluster) round() map[string]Assignment {
	c.t.Helper()
	c.gen++
	res, st, err := Assign(LeaderInput{
		LeaderID: c.leader, Protocol: c.protocol, Members: c.members(), Snapshot: c.snap,
		Generation: c.gen, LastCompletedGeneration: c.lastGen, Now: c.now, MaxDelay: c.maxDelay,
	}, c.st)
	if err != nil {
		c.t.Fatalf("assign: %v", err)
	}
	c.st = st
	c.lastGen = c.gen
	for id, a := range res.Assignments {
		if a.Error != NoError {
			continue
		}
		cur := c.running[id]
		next := a
		next.RevokedConnectors, next.RevokedTasks, next.Delay = nil, nil, 0
		next.Connectors, next.Tasks = nil, nil
		if cur != nil {
			for _, x := range cur.Connectors {
				if !slices.Contains(a.RevokedConnectors, x) {
					next.Connectors = append(next.Connectors, x)
				}
			}
			for _, x := range cur.Tasks {
				if !slices.Contains(a.RevokedTasks, x) {
					next.Tasks = append(next.Tasks, x)
				}
			}
		} else if len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 {
			c.t.Fatalf("member %s without work had work revoked: %+v", id, a)
		}
		next.Connectors = append(next.Connectors, a.Connectors...)
		next.Tasks = append(next.Tasks, a.Tasks...)
		c.running[id] = &next
	}
	c.checkNoDuplicates()
	return res.Assignments
}

// settle runs rounds until one revokes nothing, as members request a rejoin
// after every revocation.
func (c *cluster) settle() map[string]Assignment {
	c.t.Helper()
	for range 10 {
		as := c.round()
		revoked := false
		for _, a := range as {
			if len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 {
				revoked = true
			}
		}
		if !revoked {
			return as
		}
	}
	c.t.Fatal("assignments did not settle in 10 rounds")
	return nil
}

func (c *cluster) checkNoDuplicates() {
	c.t.Helper()
	conns := map[string]string{}
	tasks := map[TaskID]string{}
	for id, a := range c.running {
		if a == nil {
			continue
		}
		for _, x := range a.Connectors {
			if o, ok := conns[x]; ok {
				c.t.Fatalf("connector %s runs on %s and %s", x, o, id)
			}
			conns[x] = id
		}
		for _, x := range a.Tasks {
			if o, ok := tasks[x]; ok {
				c.t.Fatalf("task %s runs on %s and %s", x, o, id)
			}
			tasks[x] = id
		}
	}
}

// checkComplete verifies every configured item runs exactly once.
func (c *cluster) checkComplete() {
	c.t.Helper()
	want := 0
	for _, n := range c.snap.Tasks {
		want += 1 + n
	}
	got := 0
	for _, a := range c.running {
		if a != nil {
			got += len(a.Connectors) + len(a.Tasks)
			for _, x := range a.Connectors {
				if _, ok := c.snap.Tasks[x]; !ok {
					c.t.Fatalf("unconfigured connector %s runs", x)
				}
			}
			for _, x := range a.Tasks {
				if x.Task >= c.snap.Tasks[x.Connector] {
					c.t.Fatalf("unconfigured task %s runs", x)
				}
			}
		}
	}
	if got != want {
		c.t.Fatalf("%d items run, want %d: %v", got, want, c.loads())
	}
}

// checkBalanced verifies no member runs more than one connector or task above
// another member.
func (c *cluster) checkBalanced() {
	c.t.Helper()
	var cs, ts []int
	for _, a := range c.running {
		if a == nil {
			cs, ts = append(cs, 0), append(ts, 0)
			continue
		}
		cs, ts = append(cs, len(a.Connectors)), append(ts, len(a.Tasks))
	}
	if slices.Max(cs)-slices.Min(cs) > 1 || slices.Max(ts)-slices.Min(ts) > 1 {
		c.t.Fatalf("unbalanced: %v", c.loads())
	}
}

func (c *cluster) loads() map[string]string {
	out := map[string]string{}
	for id, a := range c.running {
		if a == nil {
			out[id] = "none"
			continue
		}
		out[id] = fmt.Sprintf("%d connectors, %d tasks", len(a.Connectors), len(a.Tasks))
	}
	return out
}

func (c *cluster) count(id string) int {
	a := c.running[id]
	if a == nil {
		return 0
	}
	return len(a.Connectors) + len(a.Tasks)
}

func TestEagerRoundRobin(t *testing.T) {
	members := []MemberMetadata{
		{ID: "w3", State: WorkerState{URL: "http://w3/"}},
		{ID: "w1", State: WorkerState{URL: "http://w1/"}},
		{ID: "w2", State: WorkerState{URL: "http://w2/"}},
	}
	res, _, err := Assign(LeaderInput{
		LeaderID: "w1", Protocol: ProtocolDefault, Members: members, Snapshot: snapshotOf(5, 10, 3),
	}, LeaderState{})
	if err != nil {
		t.Fatal(err)
	}
	w1, w2, w3 := res.Assignments["w1"], res.Assignments["w2"], res.Assignments["w3"]
	if len(w1.Connectors) != 4 || len(w2.Connectors) != 3 || len(w3.Connectors) != 3 {
		t.Fatalf("connectors: %v %v %v", w1.Connectors, w2.Connectors, w3.Connectors)
	}
	if len(w1.Tasks) != 10 || len(w2.Tasks) != 10 || len(w3.Tasks) != 10 {
		t.Fatalf("tasks: %d %d %d", len(w1.Tasks), len(w2.Tasks), len(w3.Tasks))
	}
	// One walk over the sorted members: c00→w1, c01→w2, ..., c09→w1, then the
	// first task continues with w2.
	if w1.Connectors[0] != "c00" || w2.Connectors[0] != "c01" || w1.Connectors[3] != "c09" {
		t.Fatalf("connector order: %v %v", w1.Connectors, w2.Connectors)
	}
	if w2.Tasks[0] != (TaskID{Connector: "c00", Task: 0}) || w3.Tasks[0] != (TaskID{Connector: "c00", Task: 1}) {
		t.Fatalf("task order: %v %v", w2.Tasks[:1], w3.Tasks[:1])
	}
	for _, a := range res.Assignments {
		if a.Version != V0 || a.Leader != "w1" || a.LeaderURL != "http://w1/" || a.ConfigOffset != 5 {
			t.Fatalf("header: %+v", a)
		}
	}
	if u, ok := res.Ownership.ConnectorURL("c01"); !ok || u != "http://w2/" {
		t.Fatalf("owner of c01: %q %v", u, ok)
	}
}

func TestCooperativeEvenSpread(t *testing.T) {
	c := newCluster(t, snapshotOf(10, 10, 3), 300*time.Second, "w1", "w2", "w3")
	as := c.round()
	for id, a := range as {
		if a.Version != V2 || a.Leader != "w1" || a.LeaderURL != "http://w1/" || a.ConfigOffset != 10 || a.Delay != 0 {
			t.Fatalf("%s header: %+v", id, a)
		}
		if len(a.RevokedConnectors)+len(a.RevokedTasks) != 0 {
			t.Fatalf("%s: revocations on first round: %+v", id, a)
		}
		if n := len(a.Tasks); n != 10 {
			t.Fatalf("%s: %d tasks, want 10", id, n)
		}
	}
	c.checkComplete()
	c.checkBalanced()
	// A further round with nothing changed assigns and revokes nothing.
	for id, a := range c.round() {
		if len(a.Connectors)+len(a.Tasks)+len(a.RevokedConnectors)+len(a.RevokedTasks) != 0 {
			t.Fatalf("%s: stable round changed work: %+v", id, a)
		}
	}
}

func TestCooperativeCompatibleVersion(t *testing.T) {
	c := newCluster(t, snapshotOf(1, 1, 1), 0, "w1")
	c.protocol = ProtocolCompatible
	if a := c.round()["w1"]; a.Version != V1 {
		t.Fatalf("version %d, want 1", a.Version)
	}
}

func TestCooperativeMemberLeavesNoDelay(t *testing.T) {
	c := newCluster(t, snapshotOf(10, 10, 3), 0, "w1", "w2", "w3")
	c.round()
	c.leave("w3")
	as := c.round()
	for id, a := range as {
		if a.Delay != 0 {
			t.Fatalf("%s: delay %v with max delay 0", id, a.Delay)
		}
	}
	c.checkComplete()
	c.checkBalanced()
}

func TestCooperativeMemberLeavesHeldForDelay(t *testing.T) {
	const maxDelay = 300 * time.Second
	c := newCluster(t, snapshotOf(10, 10, 3), maxDelay, "w1", "w2", "w3")
	c.round()
	lostCount := c.count("w3")
	c.leave("w3")

	as := c.round()
	for id, a := range as {
		if a.Delay != maxDelay {
			t.Fatalf("%s: delay %v, want %v", id, a.Delay, maxDelay)
		}
		if len(a.Connectors)+len(a.Tasks) != 0 {
			t.Fatalf("%s: lost work reassigned during the delay: %+v", id, a)
		}
	}
	if c.count("w1")+c.count("w2") != 40-lostCount {
		t.Fatal("lost work was assigned")
	}

	// Another rebalance inside the delay keeps holding, with the remaining time.
	c.now = c.now.Add(100 * time.Second)
	for id, a := range c.round() {
		if a.Delay != 200*time.Second || len(a.Connectors)+len(a.Tasks) != 0 {
			t.Fatalf("%s: %+v", id, a)
		}
	}

	// At expiry the lost work goes to the remaining members.
	c.now = c.now.Add(200 * time.Second)
	for id, a := range c.round() {
		if a.Delay != 0 {
			t.Fatalf("%s: delay %v after expiry", id, a.Delay)
		}
	}
	c.settle()
	c.checkComplete()
	c.checkBalanced()
}

func TestCooperativeMemberReturnsWithinDelay(t *testing.T) {
	const maxDelay = 60 * time.Second
	c := newCluster(t, snapshotOf(10, 10, 3), maxDelay, "w1", "w2", "w3")
	c.round()
	lost := c.count("w3")
	c.leave("w3")
	c.round() // delay starts

	// w3 restarts empty (new member id) inside the delay: it becomes a candidate.
	c.now = c.now.Add(10 * time.Second)
	c.join("w3b")
	for id, a := range c.round() {
		if a.Delay != 50*time.Second || len(a.Connectors)+len(a.Tasks) != 0 {
			t.Fatalf("%s: %+v", id, a)
		}
	}
	c.now = c.now.Add(50 * time.Second)
	as := c.round()
	if got := len(as["w3b"].Connectors) + len(as["w3b"].Tasks); got != lost {
		t.Fatalf("returning member got %d items, want the %d lost ones", got, lost)
	}
	c.checkComplete()
	c.checkBalanced()
}

func TestCooperativeMemberJoinsRebalancesByRevocation(t *testing.T) {
	c := newCluster(t, snapshotOf(10, 10, 3), 300*time.Second, "w1", "w2", "w3")
	c.round()
	c.join("w4")

	as := c.round()
	revoked := 0
	for id, a := range as {
		revoked += len(a.RevokedConnectors) + len(a.RevokedTasks)
		if len(a.Connectors)+len(a.Tasks) != 0 {
			t.Fatalf("%s: work assigned in the revoking round: %+v", id, a)
		}
	}
	if revoked == 0 {
		t.Fatal("joining member caused no revocations")
	}
	if len(as["w4"].RevokedTasks) != 0 {
		t.Fatal("new member had work revoked")
	}

	// The members stop the revoked work and rejoin; the next round hands it out.
	as = c.round()
	if len(as["w4"].Tasks) == 0 {
		t.Fatalf("new member got no tasks: %+v", as["w4"])
	}
	c.checkComplete()
	c.checkBalanced()
	if n := len(c.running["w4"].Tasks); n != 7 && n != 8 {
		t.Fatalf("new member runs %d tasks, want 7 or 8", n)
	}
}

func TestCooperativeSuccessiveRevocationsBackOff(t *testing.T) {
	c := newCluster(t, snapshotOf(1, 4, 4), 300*time.Second, "w1", "w2")
	c.round()
	c.join("w3")
	c.round() // revokes for balance
	// Another member joins before the revoked work was handed out: the next
	// balancing revocation backs off 40 ms instead of revoking at once.
	c.join("w4")
	as := c.round()
	for id, a := range as {
		if a.Delay != 40*time.Millisecond {
			t.Fatalf("%s: delay %v, want 40ms", id, a.Delay)
		}
		if len(a.RevokedConnectors)+len(a.RevokedTasks) != 0 {
			t.Fatalf("%s: revoked during backoff: %+v", id, a)
		}
	}
	c.now = c.now.Add(40 * time.Millisecond)
	c.settle()
	c.checkComplete()
	c.checkBalanced()
}

func TestCooperativeDeletedAndNewConnectors(t *testing.T) {
	c := newCluster(t, snapshotOf(10, 4, 2), 300*time.Second, "w1", "w2")
	c.round()
	owner := ""
	for id, a := range c.running {
		if slices.Contains(a.Connectors, "c02") {
			owner = id
		}
	}
	c.snap.Offset = 11
	delete(c.snap.Tasks, "c02")
	c.snap.Tasks["new"] = 2
	as := c.round()
	if !slices.Contains(as[owner].RevokedConnectors, "c02") || len(as[owner].RevokedTasks) == 0 {
		t.Fatalf("deleted connector not revoked from %s: %+v", owner, as[owner])
	}
	c.settle()
	c.checkComplete()
	c.checkBalanced()
}

func TestCooperativeDuplicatesRevoked(t *testing.T) {
	c := newCluster(t, snapshotOf(1, 2, 1), 0, "w1", "w2")
	dup := TaskID{Connector: "c00", Task: 0}
	c.running["w1"] = &Assignment{Version: V2, Leader: "w1", Connectors: []string{"c00"}, Tasks: []TaskID{dup}}
	c.running["w2"] = &Assignment{Version: V2, Leader: "w1", Connectors: []string{"c01"}, Tasks: []TaskID{dup}}
	as := c.round()
	for _, id := range []string{"w1", "w2"} {
		if !slices.Contains(as[id].RevokedTasks, dup) {
			t.Fatalf("%s: duplicate not revoked: %+v", id, as[id])
		}
	}
	c.settle()
	c.checkComplete()
}

func TestCooperativeLeaderChange(t *testing.T) {
	c := newCluster(t, snapshotOf(10, 10, 3), 300*time.Second, "w1", "w2", "w3")
	c.round()
	before := c.loads()

	// w2 becomes leader: it has no memory and its last completed generation is
	// the one w1 assigned, so it works from what members report.
	c.leader = "w2"
	c.st = LeaderState{}
	as := c.round()
	for id, a := range as {
		if a.Leader != "w2" || a.LeaderURL != "http://w2/" {
			t.Fatalf("%s: leader %q %q", id, a.Leader, a.LeaderURL)
		}
		if len(a.Connectors)+len(a.Tasks)+len(a.RevokedConnectors)+len(a.RevokedTasks) != 0 {
			t.Fatalf("%s: new leader moved work: %+v", id, a)
		}
	}
	if !maps.Equal(before, c.loads()) {
		t.Fatal("loads changed")
	}

	// The old leader leaves at the same time another leader takes over: the new
	// leader cannot know the work was lost and gives it out as new, at once.
	c.leave("w1")
	c.leader = "w3"
	c.st = LeaderState{}
	for id, a := range c.round() {
		if a.Delay != 0 {
			t.Fatalf("%s: delay %v", id, a.Delay)
		}
	}
	c.checkComplete()
	c.checkBalanced()
}

func TestCooperativeStalePreviousAfterFailedSync(t *testing.T) {
	// When the generation the leader assigned never completed, its memory of the
	// previous assignment is dropped rather than used to detect lost work.
	c := newCluster(t, snapshotOf(1, 3, 1), 300*time.Second, "w1", "w2")
	c.round()
	c.lastGen = 77 // a later generation completed without this leader's assignment
	c.leave("w2")
	for id, a := range c.round() {
		if a.Delay != 0 {
			t.Fatalf("%s: delay %v; stale memory was used", id, a.Delay)
		}
	}
	c.checkComplete()
}

func TestConfigMismatch(t *testing.T) {
	members := []MemberMetadata{
		{ID: "w1", State: WorkerState{Version: V2, URL: "http://w1/", ConfigOffset: 5}},
		{ID: "w2", State: WorkerState{Version: V2, URL: "http://w2/", ConfigOffset: 7}},
	}
	in := LeaderInput{
		LeaderID: "w1", Protocol: ProtocolSessioned, Members: members, Snapshot: snapshotOf(5, 2, 2),
		Fresh: func() Snapshot { return snapshotOf(6, 2, 2) },
	}
	for _, proto := range []string{ProtocolSessioned, ProtocolDefault} {
		in.Protocol = proto
		res, _, err := Assign(in, LeaderState{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Ownership != nil {
			t.Fatal("ownership on a failed round")
		}
		for id, a := range res.Assignments {
			if a.Error != ConfigMismatch || a.ConfigOffset != 7 || a.Leader != "w1" || a.LeaderURL != "http://w1/" ||
				len(a.Connectors)+len(a.Tasks) != 0 || !a.Failed() {
				t.Fatalf("%s %s: %+v", proto, id, a)
			}
		}
		b, err := EncodeAssignment(res.Assignments["w2"])
		if err != nil {
			t.Fatal(err)
		}
		if b[2] != 0 || b[3] != 1 {
			t.Fatalf("error code bytes %x, want 0001", b[2:4])
		}
	}

	// A fresh snapshot that caught up (or went past) is used instead.
	in.Protocol = ProtocolSessioned
	in.Fresh = func() Snapshot { return snapshotOf(8, 2, 2) }
	res, _, err := Assign(in, LeaderState{})
	if err != nil {
		t.Fatal(err)
	}
	for id, a := range res.Assignments {
		if a.Error != NoError || a.ConfigOffset != 8 {
			t.Fatalf("%s: %+v", id, a)
		}
	}
}

func TestAssignRejectsBadInput(t *testing.T) {
	if _, _, err := Assign(LeaderInput{LeaderID: "x", Protocol: "range"}, LeaderState{}); err == nil {
		t.Error("unknown protocol: want error")
	}
	if _, _, err := Assign(LeaderInput{LeaderID: "x", Protocol: ProtocolDefault}, LeaderState{}); err == nil {
		t.Error("no members: want error")
	}
	if _, _, err := Assign(LeaderInput{LeaderID: "x", Protocol: ProtocolDefault,
		Members: []MemberMetadata{{ID: "y"}}}, LeaderState{}); err == nil {
		t.Error("leader not a member: want error")
	}
}

func TestRevocationBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempts int
		max      int32
		want     int32
	}{
		{1, 300000, 40}, {2, 300000, 1600}, {3, 300000, 64000}, {4, 300000, 300000},
		{1, 0, 0}, {5, 0, 0}, {1, 1, 1}, {1, 10, 10},
	} {
		if got := revocationBackoff(tc.attempts, tc.max); got != tc.want {
			t.Errorf("backoff(%d, max %d) = %d, want %d", tc.attempts, tc.max, got, tc.want)
		}
	}
}
