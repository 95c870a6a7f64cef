package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferryhq/ferry/internal/backoff"
)

// Defaults for the worker group settings (DistributedConfig).
const (
	DefaultSessionTimeout    = 10 * time.Second
	DefaultRebalanceTimeout  = 60 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRetryBackoff      = 100 * time.Millisecond
	DefaultMaxDelay          = 300 * time.Second
)

// leaveTimeout bounds the LeaveGroup request a stopping member sends.
const leaveTimeout = 3 * time.Second

// maxRetryBackoff caps the backoff between failed join attempts
// (retry.backoff.max.ms).
const maxRetryBackoff = time.Second

// Listener receives the outcome of rebalances. Its methods are called one at a
// time from the goroutine running [Member.Run]; heartbeats continue in the
// background while they run.
//
// The contract mirrors Apache's worker:
//
//   - Eager protocol (version 0): before every rejoin the member calls
//     OnRevoked with everything it was assigned; every OnAssigned then carries
//     a complete assignment.
//   - Cooperative protocols (versions 1 and 2): work keeps running through a
//     rebalance. When an assignment revokes work, OnRevoked is called with just
//     that work before OnAssigned. Once the herder has acted on an assignment
//     that revoked anything it must call [Member.RequestRejoin], so the leader
//     can hand the revoked work to another member.
//   - An assignment with Error ConfigMismatch carries no work: the herder reads
//     the config topic to the end and calls RequestRejoin. An assignment whose
//     ConfigOffset is ahead of the herder's must not be acted on until the
//     herder has read that far (see [Member.Leave] for giving up).
//   - When an assignment has a Delay, the member rejoins by itself after it.
//   - When the member loses contact with the coordinator for longer than the
//     session timeout, it calls OnRevoked with everything it runs, since the
//     group has given that work to others.
type Listener interface {
	// OnRevoked must stop the given connectors and tasks before returning.
	OnRevoked(leader string, connectors []string, tasks []TaskID)
	// OnAssigned delivers the result of a completed rebalance. It should return
	// promptly (hand the work to the herder's own loop).
	OnAssigned(r Rebalanced)
}

// Rebalanced is the outcome of one completed rebalance for this member.
type Rebalanced struct {
	// Assignment holds the leader, config offset and error of the round. Its
	// Connectors and Tasks are everything this member should now run (for
	// cooperative protocols: what it ran, minus revocations, plus new work);
	// RevokedConnectors and RevokedTasks are the work revoked in this round;
	// Delay is the leader's scheduled follow-up rebalance.
	Assignment
	// NewConnectors and NewTasks are the work first given to this member in
	// this round (equal to Connectors and Tasks for the eager protocol).
	NewConnectors []string
	NewTasks      []TaskID
	Generation    int32
	MemberID      string
	// Protocol is the sub-protocol the group uses ("default", "compatible" or
	// "sessioned").
	Protocol string
	// IsLeader reports whether this member computed the assignment.
	IsLeader bool
}

// Config configures a Member.
type Config struct {
	// Client sends the group requests; group requests are routed to the group
	// coordinator by the client. The Member does not close it.
	Client *kgo.Client
	// GroupID is the worker's group.id.
	GroupID string
	// URL is the worker's advertised REST URL, sent to the other members.
	URL string
	// Mode is connect.protocol; empty means sessioned.
	Mode Mode
	// SessionTimeout, RebalanceTimeout and HeartbeatInterval default to the
	// worker defaults (10 s, 60 s, 3 s) when zero.
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	HeartbeatInterval time.Duration
	// RetryBackoff is the first backoff after a failed join (retry.backoff.ms,
	// 100 ms when zero); it doubles up to one second.
	RetryBackoff time.Duration
	// MaxDelay is scheduled.rebalance.max.delay.ms. Zero is a valid setting
	// (reassign lost work at once); use DefaultMaxDelay for the default.
	MaxDelay time.Duration
	// Snapshot returns the herder's current config snapshot. It is called when
	// joining (the offset goes into the metadata) and, when leading, to assign.
	// It must not block on the herder's loop.
	Snapshot func() Snapshot
	// Listener receives revocations and assignments.
	Listener Listener
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Member is one worker's membership in the Connect group. Run drives it; the
// other methods are safe for concurrent use.
type Member struct {
	cfg Config
	log *slog.Logger

	rejoinCh chan struct{}
	leaveCh  chan struct{}

	mu            sync.Mutex
	memberID      string
	generation    int32
	protocol      string
	leaderID      string
	leaderURL     string
	ownership     *Ownership
	assignment    *Assignment // everything currently assigned; nil before the first sync
	lastCompleted int32
	leaderState   LeaderState
	rejoinPending bool
	joinPrepared  bool // the current rebalance's preparation ran
}

// New validates cfg, fills in defaults and returns a Member that has not joined yet.
func New(cfg Config) (*Member, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("group: Config.Client is required")
	case cfg.GroupID == "":
		return nil, errors.New("group: Config.GroupID is required")
	case cfg.Snapshot == nil:
		return nil, errors.New("group: Config.Snapshot is required")
	case cfg.Listener == nil:
		return nil, errors.New("group: Config.Listener is required")
	case cfg.MaxDelay < 0:
		return nil, errors.New("group: Config.MaxDelay must not be negative")
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeSessioned
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, err
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.RebalanceTimeout <= 0 {
		cfg.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HeartbeatInterval >= cfg.SessionTimeout {
		return nil, fmt.Errorf("group: heartbeat interval %v must be lower than the session timeout %v",
			cfg.HeartbeatInterval, cfg.SessionTimeout)
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Member{
		cfg:           cfg,
		log:           cfg.Logger.With("group", cfg.GroupID),
		rejoinCh:      make(chan struct{}, 1),
		leaveCh:       make(chan struct{}, 1),
		generation:    -1,
		lastCompleted: -1,
	}, nil
}

// RequestRejoin asks the member to rejoin the group (a new rebalance). Requests
// made while a rebalance is under way lead to one more rebalance after it. It
// also resumes a member that left with Leave.
func (m *Member) RequestRejoin() {
	m.mu.Lock()
	m.rejoinPending = true
	m.mu.Unlock()
	select {
	case m.rejoinCh <- struct{}{}:
	default:
	}
}

// Leave makes the member leave the group now and stay out until RequestRejoin
// is called (a worker that cannot catch up with the config topic leaves, backs
// off and rejoins). It does not call OnRevoked: the herder decides what to stop.
// Cancelling Run's context also leaves the group.
func (m *Member) Leave() {
	select {
	case m.leaveCh <- struct{}{}:
	default:
	}
}

// MemberID returns the id the coordinator gave this member ("" before joining).
func (m *Member) MemberID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberID
}

// Generation returns the generation of the last completed rebalance, -1 before the first.
func (m *Member) Generation() int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastCompleted
}

// Protocol returns the sub-protocol of the last completed rebalance ("" before the first).
func (m *Member) Protocol() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.protocol
}

// IsLeader reports whether this member led the last completed rebalance.
func (m *Member) IsLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberID != "" && m.leaderID == m.memberID
}

// LeaderURL returns the REST URL of the leader of the last completed rebalance.
func (m *Member) LeaderURL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaderURL
}

// Assignment returns a copy of everything currently assigned to this member, or
// nil before the first completed rebalance.
func (m *Member) Assignment() *Assignment {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.assignment.clone()
}

// ConnectorOwnerURL returns the REST URL of the member running connector c. Only
// the leader knows, and only while no rebalance is pending.
func (m *Member) ConnectorOwnerURL(c string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rejoinPending {
		return "", false
	}
	return m.ownership.ConnectorURL(c)
}

// TaskOwnerURL is ConnectorOwnerURL for a task.
func (m *Member) TaskOwnerURL(t TaskID) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rejoinPending {
		return "", false
	}
	return m.ownership.TaskURL(t)
}

// errFatal marks errors after which the member cannot continue.
type errFatal struct{ err error }

func (e errFatal) Error() string { return e.err.Error() }
func (e errFatal) Unwrap() error { return e.err }

// Run joins the group and keeps this member in it until ctx is cancelled, then
// leaves the group and returns nil. It returns an error only for conditions a
// retry cannot fix (authorization, a group id used by other kinds of clients,
// an invalid session timeout).
func (m *Member) Run(ctx context.Context) error {
	defer m.sendLeave(context.WithoutCancel(ctx))
	retry := backoff.New(backoff.Policy{Initial: m.cfg.RetryBackoff, Max: max(maxRetryBackoff, m.cfg.RetryBackoff)})
	paused := false
	for {
		if paused {
			select {
			case <-ctx.Done():
				return nil
			case <-m.rejoinCh:
				paused = false
				select {
				case <-m.leaveCh: // left already
				default:
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-m.leaveCh:
			m.sendLeave(ctx)
			paused = true
			continue
		default:
		}
		done, err := m.joinAndSync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var fatal errFatal
			if errors.As(err, &fatal) {
				return err
			}
			wait := retry.Next()
			m.log.Warn("group rebalance failed, retrying", "err", err, "backoff", wait)
			if !backoff.Sleep(ctx, wait) {
				return nil
			}
			continue
		}
		if !done {
			continue // rejoin at once (e.g. the coordinator asked for a member id)
		}
		retry.Reset()
		paused = m.stable(ctx)
	}
}

// stable heartbeats until a rebalance is needed. It returns true when the
// member left the group with Leave.
func (m *Member) stable(ctx context.Context) (paused bool) {
	m.mu.Lock()
	gen, id := m.generation, m.memberID
	var delay time.Duration
	if m.assignment != nil {
		delay = m.assignment.Delay
	}
	m.mu.Unlock()

	hbCtx, stopHB := context.WithCancel(ctx)
	events := make(chan hbEvent, 1)
	var wg sync.WaitGroup
	wg.Go(func() { m.heartbeat(hbCtx, gen, id, events) })
	// Heartbeats go on until the member actually sends its JoinGroup.
	defer func() {
		stopHB()
		wg.Wait()
	}()

	var delayC <-chan time.Time
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		delayC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-m.rejoinCh:
			m.log.Debug("rejoining group on request")
			return false
		case <-delayC:
			m.log.Debug("rejoining group after the scheduled delay", "delay", delay)
			m.setRejoinPending()
			return false
		case <-m.leaveCh:
			stopHB()
			wg.Wait()
			m.sendLeave(ctx)
			return true
		case ev := <-events:
			m.setRejoinPending()
			switch ev {
			case hbRebalance:
				m.log.Info("group is rebalancing")
			case hbReset:
				m.log.Info("group membership lost; rejoining as a new member")
				m.resetMember()
			case hbLost:
				m.log.Warn("coordinator unreachable for longer than the session timeout; revoking all work",
					"session_timeout", m.cfg.SessionTimeout)
				m.revokeAll()
			}
			return false
		}
	}
}

type hbEvent int

const (
	hbRebalance hbEvent = iota // the group is rebalancing: rejoin
	hbReset                    // the coordinator no longer knows this member
	hbLost                     // no successful heartbeat within the session timeout
)

// heartbeat sends heartbeats every interval until ctx is done. It reports the
// first event that needs a rejoin, and keeps heartbeating through a rebalance
// so the member is not expired while it prepares to rejoin.
func (m *Member) heartbeat(ctx context.Context, gen int32, id string, events chan<- hbEvent) {
	t := time.NewTicker(m.cfg.HeartbeatInterval)
	defer t.Stop()
	lastOK := time.Now()
	report := func(ev hbEvent) {
		select {
		case events <- ev:
		default:
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group = m.cfg.GroupID
		req.Generation = gen
		req.MemberID = id
		reqCtx, cancel := context.WithTimeout(ctx, m.cfg.SessionTimeout)
		resp, err := request[*kmsg.HeartbeatResponse](reqCtx, m.cfg.Client, req)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		switch {
		case err == nil:
			lastOK = time.Now()
		case errors.Is(err, kerr.RebalanceInProgress):
			lastOK = time.Now()
			report(hbRebalance)
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
			errors.Is(err, kerr.FencedInstanceID):
			report(hbReset)
			return
		default:
			m.log.Debug("heartbeat failed", "err", err)
			if time.Since(lastOK) > m.cfg.SessionTimeout {
				report(hbLost)
				return
			}
		}
	}
}

// joinAndSync runs one JoinGroup/SyncGroup exchange. done is false (with a nil
// error) when the member should immediately join again.
func (m *Member) joinAndSync(ctx context.Context) (done bool, err error) {
	m.prepareJoin()

	// Requests made from here on need another rebalance after this one.
	select {
	case <-m.rejoinCh:
	default:
	}
	snap := m.cfg.Snapshot()
	protos, err := m.protocols(snap)
	if err != nil {
		return false, errFatal{err}
	}

	m.mu.Lock()
	memberID := m.memberID
	m.mu.Unlock()

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = m.cfg.GroupID
	join.SessionTimeoutMillis = int32(m.cfg.SessionTimeout.Milliseconds())
	join.RebalanceTimeoutMillis = int32(m.cfg.RebalanceTimeout.Milliseconds())
	join.MemberID = memberID
	join.ProtocolType = ProtocolType
	join.Protocols = protos
	joinCtx, cancel := context.WithTimeout(ctx, m.cfg.RebalanceTimeout+m.cfg.SessionTimeout)
	jr, err := request[*kmsg.JoinGroupResponse](joinCtx, m.cfg.Client, join)
	cancel()
	if err != nil {
		return false, fmt.Errorf("join group: %w", err)
	}
	if err := kerr.ErrorForCode(jr.ErrorCode); err != nil {
		switch {
		case errors.Is(err, kerr.MemberIDRequired):
			// KIP-394: the coordinator assigned an id; join again with it.
			m.setMemberID(jr.MemberID)
			return false, nil
		case errors.Is(err, kerr.UnknownMemberID):
			m.resetMember()
			return false, nil
		case errors.Is(err, kerr.RebalanceInProgress):
			return false, fmt.Errorf("join group: %w", err)
		case errors.Is(err, kerr.InconsistentGroupProtocol), errors.Is(err, kerr.InvalidSessionTimeout),
			errors.Is(err, kerr.InvalidGroupID), errors.Is(err, kerr.GroupAuthorizationFailed),
			errors.Is(err, kerr.GroupMaxSizeReached), errors.Is(err, kerr.UnsupportedVersion):
			return false, errFatal{fmt.Errorf("group: join group %q: %w", m.cfg.GroupID, err)}
		default:
			return false, fmt.Errorf("join group: %w", err)
		}
	}
	if jr.Protocol == nil {
		return false, fmt.Errorf("join group: coordinator selected no protocol")
	}
	protocol := *jr.Protocol
	version, err := ProtocolVersion(protocol)
	if err != nil {
		return false, errFatal{err}
	}
	m.setMemberID(jr.MemberID)
	m.mu.Lock()
	m.generation = jr.Generation
	m.mu.Unlock()
	isLeader := jr.LeaderID == jr.MemberID
	m.log.Debug("joined group", "generation", jr.Generation, "member", jr.MemberID,
		"leader", jr.LeaderID, "protocol", protocol)

	var ownership *Ownership
	var assignments []kmsg.SyncGroupRequestGroupAssignment
	if isLeader {
		ownership, assignments, err = m.lead(jr, protocol, snap)
		if err != nil {
			return false, err
		}
	}

	syncReq := kmsg.NewPtrSyncGroupRequest()
	syncReq.Group = m.cfg.GroupID
	syncReq.Generation = jr.Generation
	syncReq.MemberID = jr.MemberID
	syncReq.ProtocolType = kmsg.StringPtr(ProtocolType)
	syncReq.Protocol = kmsg.StringPtr(protocol)
	syncReq.GroupAssignment = assignments
	syncCtx, cancel := context.WithTimeout(ctx, m.cfg.RebalanceTimeout+m.cfg.SessionTimeout)
	sr, err := request[*kmsg.SyncGroupResponse](syncCtx, m.cfg.Client, syncReq)
	cancel()
	if err != nil {
		return false, fmt.Errorf("sync group: %w", err)
	}
	if err := kerr.ErrorForCode(sr.ErrorCode); err != nil {
		switch {
		case errors.Is(err, kerr.RebalanceInProgress):
			return false, nil
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration):
			m.resetMember()
			return false, nil
		case errors.Is(err, kerr.GroupAuthorizationFailed):
			return false, errFatal{fmt.Errorf("group: sync group %q: %w", m.cfg.GroupID, err)}
		default:
			return false, fmt.Errorf("sync group: %w", err)
		}
	}
	a, err := DecodeAssignment(sr.MemberAssignment)
	if err != nil {
		return false, fmt.Errorf("sync group: %w", err)
	}
	m.complete(jr.Generation, jr.MemberID, protocol, version, isLeader, ownership, a)
	return true, nil
}

// prepareJoin is the start of a rebalance: an eager member stops everything.
// It runs once per rebalance, however many JoinGroup attempts it takes.
func (m *Member) prepareJoin() {
	m.mu.Lock()
	if m.joinPrepared {
		m.mu.Unlock()
		return
	}
	m.joinPrepared = true
	m.ownership = nil
	eager := m.cfg.Mode == ModeEager
	if m.protocol != "" {
		eager = m.protocol == ProtocolDefault
	}
	a := m.assignment
	m.mu.Unlock()
	if eager && a != nil && !a.Failed() {
		m.cfg.Listener.OnRevoked(a.Leader, slices.Clone(a.Connectors), slices.Clone(a.Tasks))
	}
}

// protocols builds the JoinGroup protocol list for the configured mode.
func (m *Member) protocols(snap Snapshot) ([]kmsg.JoinGroupRequestProtocol, error) {
	m.mu.Lock()
	var alloc *Assignment
	if m.assignment != nil {
		// Members report what they run; revocations and delay are not part of it.
		alloc = m.assignment.clone()
		alloc.RevokedConnectors, alloc.RevokedTasks, alloc.Delay = nil, nil, 0
	}
	m.mu.Unlock()
	var out []kmsg.JoinGroupRequestProtocol
	for _, name := range m.cfg.Mode.Protocols() {
		version, _ := ProtocolVersion(name)
		ws := WorkerState{Version: version, URL: m.cfg.URL, ConfigOffset: snap.Offset}
		if version > V0 {
			ws.Allocation = alloc
		}
		md, err := EncodeMetadata(ws)
		if err != nil {
			return nil, err
		}
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = name
		p.Metadata = md
		out = append(out, p)
	}
	return out, nil
}

// lead runs the assignor over every member's metadata.
func (m *Member) lead(jr *kmsg.JoinGroupResponse, protocol string, snap Snapshot) (*Ownership, []kmsg.SyncGroupRequestGroupAssignment, error) {
	members := make([]MemberMetadata, 0, len(jr.Members))
	for _, jm := range jr.Members {
		ws, err := DecodeMetadata(jm.ProtocolMetadata)
		if err != nil {
			return nil, nil, fmt.Errorf("metadata of member %s: %w", jm.MemberID, err)
		}
		members = append(members, MemberMetadata{ID: jm.MemberID, State: ws})
	}
	m.mu.Lock()
	st, lastCompleted := m.leaderState, m.lastCompleted
	m.mu.Unlock()
	res, st, err := Assign(LeaderInput{
		LeaderID: jr.LeaderID, Protocol: protocol, Members: members,
		Snapshot: snap, Fresh: m.cfg.Snapshot,
		Generation: jr.Generation, LastCompletedGeneration: lastCompleted,
		Now: time.Now(), MaxDelay: m.cfg.MaxDelay,
	}, st)
	if err != nil {
		return nil, nil, fmt.Errorf("assign: %w", err)
	}
	m.mu.Lock()
	m.leaderState = st
	m.mu.Unlock()
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(res.Assignments))
	for _, id := range slices.Sorted(maps.Keys(res.Assignments)) {
		b, err := EncodeAssignment(res.Assignments[id])
		if err != nil {
			return nil, nil, fmt.Errorf("assignment for %s: %w", id, err)
		}
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID = id
		a.MemberAssignment = b
		out = append(out, a)
	}
	m.log.Info("computed group assignment", "generation", jr.Generation, "members", len(members),
		"protocol", protocol, "config_offset", res.Snapshot.Offset)
	return res.Ownership, out, nil
}

// complete applies a received assignment and tells the listener.
func (m *Member) complete(gen int32, memberID, protocol string, version int16, isLeader bool, own *Ownership, a Assignment) {
	m.mu.Lock()
	prev := m.assignment
	m.mu.Unlock()

	ev := Rebalanced{
		Generation: gen, MemberID: memberID, Protocol: protocol, IsLeader: isLeader,
		NewConnectors: slices.Clone(a.Connectors), NewTasks: slices.Clone(a.Tasks),
	}
	full := a
	if version > V0 {
		if len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 {
			m.cfg.Listener.OnRevoked(a.Leader, slices.Clone(a.RevokedConnectors), slices.Clone(a.RevokedTasks))
		}
		if prev != nil {
			full.Connectors = mergeKeep(prev.Connectors, a.RevokedConnectors, a.Connectors)
			full.Tasks = mergeKeep(prev.Tasks, a.RevokedTasks, a.Tasks)
		}
	}
	ev.Assignment = *full.clone()

	m.mu.Lock()
	m.assignment = full.clone()
	m.protocol = protocol
	m.leaderID = a.Leader
	m.leaderURL = a.LeaderURL
	m.lastCompleted = gen
	m.rejoinPending = false
	m.joinPrepared = false
	if isLeader {
		m.ownership = own
	}
	m.mu.Unlock()

	m.log.Info("joined group", "generation", gen, "member", memberID, "leader", a.Leader,
		"protocol", protocol, "error", a.Error, "config_offset", a.ConfigOffset,
		"connectors", len(full.Connectors), "tasks", len(full.Tasks),
		"revoked", len(a.RevokedConnectors)+len(a.RevokedTasks), "delay", a.Delay)
	m.cfg.Listener.OnAssigned(ev)
}

// revokeAll stops everything after the member lost contact with the group.
func (m *Member) revokeAll() {
	m.mu.Lock()
	a := m.assignment
	m.assignment = nil
	m.ownership = nil
	m.mu.Unlock()
	if a != nil && !a.Failed() {
		m.cfg.Listener.OnRevoked(a.Leader, slices.Clone(a.Connectors), slices.Clone(a.Tasks))
	}
}

// sendLeave sends LeaveGroup for the current member id (best effort) and forgets it.
func (m *Member) sendLeave(ctx context.Context) {
	m.mu.Lock()
	id := m.memberID
	m.memberID = ""
	m.generation = -1
	m.ownership = nil
	m.mu.Unlock()
	if id == "" {
		return
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.cfg.GroupID
	req.MemberID = id
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = id
	lm.Reason = kmsg.StringPtr("the worker is leaving the group")
	req.Members = []kmsg.LeaveGroupRequestMember{lm}
	// Leaving is a courtesy that saves the others a session timeout; a
	// shutdown does not wait longer than leaveTimeout for it.
	ctx, cancel := context.WithTimeout(ctx, min(m.cfg.SessionTimeout, leaveTimeout))
	defer cancel()
	resp, err := request[*kmsg.LeaveGroupResponse](ctx, m.cfg.Client, req)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		m.log.Warn("leave group failed", "member", id, "err", err)
		return
	}
	m.log.Info("left group", "member", id)
}

func (m *Member) setMemberID(id string) {
	m.mu.Lock()
	m.memberID = id
	m.mu.Unlock()
}

func (m *Member) resetMember() {
	m.mu.Lock()
	m.memberID = ""
	m.generation = -1
	m.mu.Unlock()
}

func (m *Member) setRejoinPending() {
	m.mu.Lock()
	m.rejoinPending = true
	m.mu.Unlock()
}

// mergeKeep returns have minus drop, followed by the items of add not yet in it.
func mergeKeep[E comparable](have, drop, add []E) []E {
	var out []E
	seen := make(map[E]bool)
	for _, x := range have {
		if !slices.Contains(drop, x) && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	for _, x := range add {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// request sends req and returns its answer, or ctx's error as soon as ctx
// ends. kgo waits for the answer of a request it has written until the
// request's own deadline (its timeout field plus 10 s) whatever ctx says,
// which would hold a stopping worker that long when the broker stopped
// answering; the request left behind ends at that deadline or when the
// client closes.
func request[T kmsg.Response](ctx context.Context, cl *kgo.Client, req kmsg.Request) (T, error) {
	type result struct {
		resp kmsg.Response
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := cl.Request(ctx, req)
		ch <- result{resp, err}
	}()
	var zero T
	select {
	case r := <-ch:
		if r.err != nil {
			return zero, r.err
		}
		return r.resp.(T), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
