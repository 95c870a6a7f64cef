package group

import (
	"math"
	"slices"
	"strings"
	"time"
)

// LeaderState is the incremental cooperative assignor's memory between the
// rounds one member leads. The zero value is the state of a freshly elected
// leader. A LeaderState is a value: AssignCooperative never modifies the one it
// is given.
type LeaderState struct {
	previous           workSet // what the last round left assigned (including held lost work)
	previousRevocation workSet // what the last round revoked
	previousGeneration int32
	previousMembers    []string
	revokedInPrevious  bool     // the last round revoked work to balance load
	successiveRevoking int      // consecutive balancing revocations, for the backoff
	candidates         []string // members that joined empty while lost work was held
	scheduledRebalance int64    // unix ms when held lost work is reassigned; 0 = none
	delay              int32    // ms until scheduledRebalance, as sent to members
}

// Delay returns the delay the last round scheduled (0 = none).
func (s LeaderState) Delay() time.Duration { return time.Duration(s.delay) * time.Millisecond }

// CooperativeInput is what AssignCooperative assigns from.
type CooperativeInput struct {
	LeaderID  string
	LeaderURL string
	// Version is 1 (compatible) or 2 (sessioned); assignments carry it.
	Version      int16
	ConfigOffset int64
	Members      []MemberMetadata
	Snapshot     Snapshot
	// Generation is the generation being assigned; LastCompletedGeneration is
	// the leader's last completed one. When the generation the state was
	// computed in is not the last completed one, the leader's memory of the
	// previous assignment is stale and dropped.
	Generation              int32
	LastCompletedGeneration int32
	Now                     time.Time
	// MaxDelay is scheduled.rebalance.max.delay.ms: how long work of a departed
	// member is held for it before being given to others.
	MaxDelay time.Duration
}

// AssignCooperative computes incremental cooperative assignments (protocol
// versions 1 and 2) for one round. Each member is sent only the work newly
// given to it and the work it must stop; members keep everything else they run.
//
// The round: work the leader assigned before but no member reports is lost;
// it is held for up to MaxDelay when a member departed (so a restarting worker
// gets it back) and reassigned immediately otherwise. Deleted and duplicated
// work is revoked. When no delay is pending, overloaded members have work
// revoked so that at most T%W members run T/W+1 items and the rest T/W
// (separately for connectors and tasks); revoked work is handed out in the
// next round, which the members request after stopping it. New and reassigned
// work goes to the least loaded members first.
func AssignCooperative(in CooperativeInput, st LeaderState) (Result, LeaderState) {
	now := in.Now.UnixMilli()
	maxDelay := clampMillis(in.MaxDelay)

	previous := st.previous
	if st.previousGeneration != in.LastCompletedGeneration {
		// The last round's sync did not complete (or someone else led since).
		previous = workSet{}
	}

	configured := workSet{}
	configured.addConnectors(in.Snapshot.connectors()...)
	configured.addTasks(in.Snapshot.taskIDs()...)

	// Member allocations in a stable order; ids sorted.
	members := slices.Clone(in.Members)
	slices.SortFunc(members, func(a, b MemberMetadata) int { return strings.Compare(a.ID, b.ID) })
	allocs := make([]*load, len(members))
	urls := make(map[string]string, len(members))
	active := workSet{}
	connCount := make(map[string]int)
	taskCount := make(map[TaskID]int)
	for i, m := range members {
		l := &load{id: m.ID}
		if a := m.State.Allocation; a != nil {
			l.conns = dedup(a.Connectors)
			l.tasks = dedup(a.Tasks)
		}
		allocs[i] = l
		urls[m.ID] = m.State.URL
		active.addConnectors(l.conns...)
		active.addTasks(l.tasks...)
		for _, c := range l.conns {
			connCount[c]++
		}
		for _, t := range l.tasks {
			taskCount[t]++
		}
	}

	// A revocation that did not take effect: trust what members report.
	if !st.previousRevocation.empty() && st.previousRevocation.intersects(active) {
		previous = active
	}

	deleted := previous.minus(configured)
	duplicated := workSet{}
	for c, n := range connCount {
		if n > 1 {
			duplicated.addConnectors(c)
		}
	}
	for t, n := range taskCount {
		if n > 1 {
			duplicated.addTasks(t)
		}
	}
	lost := previous.minus(active).minus(deleted)
	created := configured.minus(previous).minus(active)

	// What each member runs, minus deleted work: the base for the deltas.
	current := make(map[string]*load, len(allocs))
	for _, l := range allocs {
		current[l.id] = l.without(deleted)
	}

	toRevoke := make(map[string]*load)
	revokeFrom := func(id string) *load {
		r, ok := toRevoke[id]
		if !ok {
			r = &load{id: id}
			toRevoke[id] = r
		}
		return r
	}
	next := make([]*load, len(allocs))
	for i, l := range allocs {
		for _, c := range l.conns {
			if deleted.conns[c] || duplicated.conns[c] {
				revokeFrom(l.id).conns = append(revokeFrom(l.id).conns, c)
			}
		}
		for _, t := range l.tasks {
			if deleted.tasks[t] || duplicated.tasks[t] {
				revokeFrom(l.id).tasks = append(revokeFrom(l.id).tasks, t)
			}
		}
		next[i] = l.without(deleted).without(duplicated)
	}

	// Lost work: reassign now, hand to candidates, or hold with a delay.
	ns := st
	ns.candidates = slices.Clone(st.candidates)
	reassign := workSet{}
	ns.handleLost(lost, &reassign, next, now, maxDelay)

	if ns.delay == 0 {
		balance := balancingRevocations(configured, next)
		switch {
		case ns.revokedInPrevious && len(balance) > 0:
			// Back-to-back balancing revocations: back off to avoid a storm.
			ns.successiveRevoking++
			ns.delay = revocationBackoff(ns.successiveRevoking, maxDelay)
			if ns.delay != 0 {
				ns.scheduledRebalance = now + int64(ns.delay)
			} else {
				applyRevocations(balance, next, revokeFrom)
			}
		case len(balance) > 0:
			applyRevocations(balance, next, revokeFrom)
			ns.revokedInPrevious = true
		case ns.revokedInPrevious:
			// Converged: reset the backoff.
			ns.revokedInPrevious = false
			ns.successiveRevoking = 0
		}
	} else {
		ns.revokedInPrevious = false
	}

	toAssignConns := append(created.sortedConnectors(), reassign.sortedConnectors()...)
	toAssignTasks := append(created.sortedTasks(), reassign.sortedTasks()...)
	fillConnectors(next, toAssignConns)
	fillTasks(next, toAssignTasks)

	res := Result{
		Assignments: make(map[string]Assignment, len(next)),
		Ownership: &Ownership{
			Connectors: make(map[string]string), Tasks: make(map[TaskID]string), URLs: urls,
		},
	}
	newPrevious := workSet{}
	newRevocation := workSet{}
	for _, l := range next {
		cur := current[l.id]
		rev := toRevoke[l.id]
		if rev == nil {
			rev = &load{id: l.id}
		}
		revSet := workSet{}
		revSet.addConnectors(rev.conns...)
		revSet.addTasks(rev.tasks...)
		newRevocation.addConnectors(rev.conns...)
		newRevocation.addTasks(rev.tasks...)

		curSet := workSet{}
		curSet.addConnectors(cur.conns...)
		curSet.addTasks(cur.tasks...)
		var newConns []string
		var newTasks []TaskID
		for _, c := range l.conns {
			if !curSet.conns[c] {
				newConns = append(newConns, c)
			}
			if !revSet.conns[c] {
				res.Ownership.Connectors[c] = l.id
				newPrevious.addConnectors(c)
			}
		}
		for _, t := range l.tasks {
			if !curSet.tasks[t] {
				newTasks = append(newTasks, t)
			}
			if !revSet.tasks[t] {
				res.Ownership.Tasks[t] = l.id
				newPrevious.addTasks(t)
			}
		}
		res.Assignments[l.id] = Assignment{
			Version: in.Version, Error: NoError, Leader: in.LeaderID, LeaderURL: in.LeaderURL,
			ConfigOffset: in.ConfigOffset, Connectors: newConns, Tasks: newTasks,
			RevokedConnectors: rev.conns, RevokedTasks: rev.tasks,
			Delay: time.Duration(ns.delay) * time.Millisecond,
		}
	}
	// Lost work still counts as assigned so that it is recognised as lost (and
	// not new) in the rounds that follow.
	newPrevious.addConnectors(lost.sortedConnectors()...)
	newPrevious.addTasks(lost.sortedTasks()...)
	ns.previous = newPrevious
	ns.previousRevocation = newRevocation
	ns.previousGeneration = in.Generation
	ns.previousMembers = make([]string, len(next))
	for i, l := range next {
		ns.previousMembers[i] = l.id
	}
	return res, ns
}

// handleLost decides what happens to lost work this round.
func (s *LeaderState) handleLost(lost workSet, reassign *workSet, next []*load, now int64, maxDelay int32) {
	if lost.empty() && !s.revokedInPrevious {
		s.resetDelay()
		return
	}
	present := make(map[string]bool, len(next))
	for _, l := range next {
		present[l.id] = true
	}
	allStayed := true
	for _, id := range s.previousMembers {
		if !present[id] {
			allStayed = false
			break
		}
	}
	if s.scheduledRebalance <= 0 && allStayed {
		// Nobody left: the work went missing some other way (a member missed
		// its assignment); give it out again as new work.
		reassign.addAll(lost)
		return
	}
	if maxDelay == 0 {
		reassign.addAll(lost)
		return
	}
	if s.scheduledRebalance > 0 && now >= s.scheduledRebalance {
		// The delay expired: the departed member did not come back in time.
		var cands []*load
		for _, id := range s.candidates {
			for _, l := range next {
				if l.id == id {
					cands = append(cands, l)
				}
			}
		}
		if len(cands) > 0 {
			for i, c := range lost.sortedConnectors() {
				cands[i%len(cands)].conns = append(cands[i%len(cands)].conns, c)
			}
			for i, t := range lost.sortedTasks() {
				cands[i%len(cands)].tasks = append(cands[i%len(cands)].tasks, t)
			}
		} else {
			reassign.addAll(lost)
		}
		s.resetDelay()
		s.revokedInPrevious = false
		return
	}
	// Hold the lost work: remember members that are empty now (likely the
	// departed ones restarted) and (re)compute the delay.
	for _, l := range next {
		if l.empty() && !slices.Contains(s.candidates, l.id) {
			s.candidates = append(s.candidates, l.id)
		}
	}
	if now < s.scheduledRebalance {
		s.delay = int32(min(s.scheduledRebalance-now, int64(maxDelay)))
	} else {
		s.delay = maxDelay
	}
	s.scheduledRebalance = now + int64(s.delay)
}

func (s *LeaderState) resetDelay() {
	s.candidates = nil
	s.scheduledRebalance = 0
	s.delay = 0
}

// revocationBackoff is an exponential backoff starting at 1 ms, multiplied by
// 40 per attempt, capped at maxDelay, without jitter (0 when maxDelay is 0).
// It keeps Apache's float formula (ExponentialBackoff in the assignor)
// rather than backoff.Policy: the delay goes into the assignment other
// members read, and a mixed Apache/Ferry group must agree on it to the
// millisecond, roundings included.
func revocationBackoff(attempts int, maxDelay int32) int32 {
	if maxDelay <= 1 {
		return maxDelay
	}
	expMax := math.Log(float64(maxDelay)) / math.Log(40)
	exp := min(float64(attempts), expMax)
	return int32(min(int64(math.Pow(40, exp)), int64(maxDelay)))
}

// balancingRevocations returns, per member, the work to revoke so that no
// member runs more than its share. Connectors and tasks are balanced
// separately; members are walked in id order and lose their first surplus
// items.
func balancingRevocations(configured workSet, workers []*load) map[string]*load {
	allEmpty := true
	for _, w := range workers {
		if !w.empty() {
			allEmpty = false
		}
	}
	if allEmpty || configured.empty() {
		return nil
	}
	out := make(map[string]*load)
	get := func(id string) *load {
		r, ok := out[id]
		if !ok {
			r = &load{id: id}
			out[id] = r
		}
		return r
	}
	for id, items := range surplus(len(configured.conns), workers, func(l *load) []string { return l.conns }) {
		get(id).conns = items
	}
	for id, items := range surplus(len(configured.tasks), workers, func(l *load) []TaskID { return l.tasks }) {
		get(id).tasks = items
	}
	return out
}

func surplus[E any](total int, workers []*load, items func(*load) []E) map[string][]E {
	n := len(workers)
	minPer, extra := total/n, total%n
	atMin, atExtra := 0, 0
	for _, w := range workers {
		switch len(items(w)) {
		case minPer:
			atMin++
		case minPer + 1:
			atExtra++
		}
	}
	if atExtra == extra && atMin+atExtra == n {
		return nil
	}
	out := make(map[string][]E)
	given := 0
	for _, w := range workers {
		have := len(items(w))
		if have <= minPer {
			continue
		}
		limit := minPer
		if given < extra {
			given++
			if have == minPer+1 {
				continue
			}
			limit = minPer + 1
		}
		out[w.id] = slices.Clone(items(w)[:have-limit])
	}
	return out
}

func applyRevocations(revoke map[string]*load, next []*load, revokeFrom func(string) *load) {
	for _, l := range next {
		r, ok := revoke[l.id]
		if !ok {
			continue
		}
		dst := revokeFrom(l.id)
		dst.conns = append(dst.conns, r.conns...)
		dst.tasks = append(dst.tasks, r.tasks...)
		set := workSet{}
		set.addConnectors(r.conns...)
		set.addTasks(r.tasks...)
		*l = *l.without(set)
	}
}

// fillConnectors hands out connectors one at a time to the least loaded
// members (ties broken by member id), filling the lowest level first.
func fillConnectors(workers []*load, items []string) {
	waterFill(workers, items, func(l *load) int { return len(l.conns) },
		func(l *load, c string) { l.conns = append(l.conns, c) })
}

// fillTasks is fillConnectors for tasks.
func fillTasks(workers []*load, items []TaskID) {
	waterFill(workers, items, func(l *load) int { return len(l.tasks) },
		func(l *load, t TaskID) { l.tasks = append(l.tasks, t) })
}

func waterFill[E any](workers []*load, items []E, size func(*load) int, give func(*load, E)) {
	if len(workers) == 0 || len(items) == 0 {
		return
	}
	order := slices.Clone(workers)
	slices.SortStableFunc(order, func(a, b *load) int {
		if d := size(a) - size(b); d != 0 {
			return d
		}
		return strings.Compare(a.id, b.id)
	})
	i := 0
	for i < len(items) {
		level := size(order[0])
		upTo := len(order)
		for j, w := range order {
			if size(w) > level {
				upTo = j
				break
			}
		}
		for _, w := range order[:upTo] {
			give(w, items[i])
			i++
			if i == len(items) {
				return
			}
		}
	}
}

// load is what one member runs, in order.
type load struct {
	id    string
	conns []string
	tasks []TaskID
}

func (l *load) empty() bool { return len(l.conns) == 0 && len(l.tasks) == 0 }

// without returns a copy of l minus the work in s.
func (l *load) without(s workSet) *load {
	out := &load{id: l.id}
	for _, c := range l.conns {
		if !s.conns[c] {
			out.conns = append(out.conns, c)
		}
	}
	for _, t := range l.tasks {
		if !s.tasks[t] {
			out.tasks = append(out.tasks, t)
		}
	}
	return out
}

// workSet is a set of connectors and tasks. Its maps are never modified once
// the set is stored in a LeaderState.
type workSet struct {
	conns map[string]bool
	tasks map[TaskID]bool
}

func (s *workSet) addConnectors(cs ...string) {
	if s.conns == nil {
		s.conns = make(map[string]bool)
	}
	for _, c := range cs {
		s.conns[c] = true
	}
}

func (s *workSet) addTasks(ts ...TaskID) {
	if s.tasks == nil {
		s.tasks = make(map[TaskID]bool)
	}
	for _, t := range ts {
		s.tasks[t] = true
	}
}

func (s *workSet) addAll(o workSet) {
	s.addConnectors(o.sortedConnectors()...)
	s.addTasks(o.sortedTasks()...)
}

func (s workSet) empty() bool { return len(s.conns) == 0 && len(s.tasks) == 0 }

func (s workSet) intersects(o workSet) bool {
	for c := range s.conns {
		if o.conns[c] {
			return true
		}
	}
	for t := range s.tasks {
		if o.tasks[t] {
			return true
		}
	}
	return false
}

func (s workSet) minus(o workSet) workSet {
	out := workSet{}
	for c := range s.conns {
		if !o.conns[c] {
			out.addConnectors(c)
		}
	}
	for t := range s.tasks {
		if !o.tasks[t] {
			out.addTasks(t)
		}
	}
	return out
}

func (s workSet) sortedConnectors() []string {
	out := make([]string, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

func (s workSet) sortedTasks() []TaskID {
	out := make([]TaskID, 0, len(s.tasks))
	for t := range s.tasks {
		out = append(out, t)
	}
	slices.SortFunc(out, compareTasks)
	return out
}

func dedup[E comparable](in []E) []E {
	seen := make(map[E]bool, len(in))
	var out []E
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func clampMillis(d time.Duration) int32 {
	ms := d.Milliseconds()
	if ms < 0 {
		return 0
	}
	if ms > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(ms)
}
