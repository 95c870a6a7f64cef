package group

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Snapshot summarizes the config topic for the assignors.
type Snapshot struct {
	// Offset is the config topic position the snapshot reflects (last record
	// read plus one, -1 when empty).
	Offset int64
	// Tasks maps every configured connector to its committed task count; a
	// connector without committed tasks maps to 0.
	Tasks map[string]int
}

// connectors returns the configured connector names, sorted.
func (s Snapshot) connectors() []string {
	names := make([]string, 0, len(s.Tasks))
	for c := range s.Tasks {
		names = append(names, c)
	}
	slices.Sort(names)
	return names
}

// taskIDs returns every configured task, sorted by connector then number.
func (s Snapshot) taskIDs() []TaskID {
	var ids []TaskID
	for _, c := range s.connectors() {
		for n := range s.Tasks[c] {
			ids = append(ids, TaskID{Connector: c, Task: n})
		}
	}
	return ids
}

// MemberMetadata is one group member as the leader sees it in JoinGroup.
type MemberMetadata struct {
	ID    string
	State WorkerState
}

// LeaderInput is what an elected leader assigns from.
type LeaderInput struct {
	LeaderID string
	// Protocol is the sub-protocol the coordinator selected for this generation.
	Protocol string
	Members  []MemberMetadata
	// Snapshot is the leader's config snapshot, taken when it joined.
	Snapshot Snapshot
	// Fresh, when set, returns a newer snapshot; it is consulted when Snapshot
	// is behind another member's config offset.
	Fresh func() Snapshot
	// Generation is the generation being assigned; LastCompletedGeneration is
	// the last generation this member completed a sync for (-1 for none).
	Generation              int32
	LastCompletedGeneration int32
	// Now and MaxDelay (scheduled.rebalance.max.delay.ms) drive the cooperative
	// assignor's delays.
	Now      time.Time
	MaxDelay time.Duration
}

// Ownership tells which member runs each connector and task after a round, as
// computed by the leader. Members maps member ids to REST URLs.
type Ownership struct {
	Connectors map[string]string // connector → member id
	Tasks      map[TaskID]string // task → member id
	URLs       map[string]string // member id → REST URL
}

// ConnectorURL returns the REST URL of the member running connector c.
func (o *Ownership) ConnectorURL(c string) (string, bool) {
	if o == nil {
		return "", false
	}
	m, ok := o.Connectors[c]
	if !ok {
		return "", false
	}
	return o.URLs[m], true
}

// TaskURL returns the REST URL of the member running task t.
func (o *Ownership) TaskURL(t TaskID) (string, bool) {
	if o == nil {
		return "", false
	}
	m, ok := o.Tasks[t]
	if !ok {
		return "", false
	}
	return o.URLs[m], true
}

// Result is the leader's output for one round.
type Result struct {
	// Assignments maps every member id to its assignment.
	Assignments map[string]Assignment
	// Ownership is nil when the round failed with ConfigMismatch.
	Ownership *Ownership
	// Snapshot is the snapshot the assignment was computed from.
	Snapshot Snapshot
}

// Assign runs the leader's algorithm for one round: it checks that the leader's
// config snapshot has caught up with every member (taking a fresh one when
// needed, else failing the round with ConfigMismatch) and then runs the eager
// or the cooperative assignor depending on the selected protocol. st is the
// cooperative assignor's memory from earlier rounds (zero for a new leader);
// the updated memory is returned.
func Assign(in LeaderInput, st LeaderState) (Result, LeaderState, error) {
	version, err := ProtocolVersion(in.Protocol)
	if err != nil {
		return Result{}, st, err
	}
	if len(in.Members) == 0 {
		return Result{}, st, fmt.Errorf("group: no members to assign")
	}
	var leaderURL string
	found := false
	maxOffset := in.Members[0].State.ConfigOffset
	for _, m := range in.Members {
		maxOffset = max(maxOffset, m.State.ConfigOffset)
		if m.ID == in.LeaderID {
			leaderURL, found = m.State.URL, true
		}
	}
	if !found {
		return Result{}, st, fmt.Errorf("group: leader %q is not among the members", in.LeaderID)
	}

	snap := in.Snapshot
	if snap.Offset < maxOffset && in.Fresh != nil {
		snap = in.Fresh()
	}
	if snap.Offset < maxOffset {
		// Assigning from stale configs could start deleted work or miss new work;
		// every member reads to the end of the config topic and rejoins instead.
		res := Result{Assignments: make(map[string]Assignment, len(in.Members)), Snapshot: snap}
		for _, m := range in.Members {
			res.Assignments[m.ID] = Assignment{
				Version: version, Error: ConfigMismatch, Leader: in.LeaderID,
				LeaderURL: leaderURL, ConfigOffset: maxOffset,
			}
		}
		return res, st, nil
	}
	if snap.Offset > maxOffset {
		maxOffset = snap.Offset
	}

	var res Result
	if version == V0 {
		res = AssignEager(in.LeaderID, leaderURL, maxOffset, in.Members, snap)
	} else {
		res, st = AssignCooperative(CooperativeInput{
			LeaderID: in.LeaderID, LeaderURL: leaderURL, Version: version,
			ConfigOffset: maxOffset, Members: in.Members, Snapshot: snap,
			Generation: in.Generation, LastCompletedGeneration: in.LastCompletedGeneration,
			Now: in.Now, MaxDelay: in.MaxDelay,
		}, st)
	}
	res.Snapshot = snap
	return res, st, nil
}

// AssignEager computes complete version 0 assignments: one circular walk over
// the sorted member ids hands out every connector (sorted by name), then, going
// on with the same walk, every task (connectors by name, tasks by number).
func AssignEager(leaderID, leaderURL string, configOffset int64, members []MemberMetadata, snap Snapshot) Result {
	ids := make([]string, 0, len(members))
	own := &Ownership{
		Connectors: make(map[string]string), Tasks: make(map[TaskID]string),
		URLs: make(map[string]string, len(members)),
	}
	for _, m := range members {
		ids = append(ids, m.ID)
		own.URLs[m.ID] = m.State.URL
	}
	slices.Sort(ids)

	conns := make(map[string][]string)
	tasks := make(map[string][]TaskID)
	next := 0
	pick := func() string {
		id := ids[next%len(ids)]
		next++
		return id
	}
	for _, c := range snap.connectors() {
		m := pick()
		conns[m] = append(conns[m], c)
		own.Connectors[c] = m
	}
	for _, t := range snap.taskIDs() {
		m := pick()
		tasks[m] = append(tasks[m], t)
		own.Tasks[t] = m
	}

	res := Result{Assignments: make(map[string]Assignment, len(ids)), Ownership: own}
	for _, id := range ids {
		res.Assignments[id] = Assignment{
			Version: V0, Error: NoError, Leader: leaderID, LeaderURL: leaderURL,
			ConfigOffset: configOffset, Connectors: conns[id], Tasks: tasks[id],
		}
	}
	return res
}

// compareTasks orders task ids by connector name, then task number.
func compareTasks(a, b TaskID) int {
	if c := cmp.Compare(a.Connector, b.Connector); c != 0 {
		return c
	}
	return cmp.Compare(a.Task, b.Task)
}
