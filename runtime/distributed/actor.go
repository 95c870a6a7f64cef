package distributed

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ferryhq/ferry/rest"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/distributed/group"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/kafkastore"
)

// eventKind says what an inbox event is about.
type eventKind int

const (
	evConfig        eventKind = iota // the config topic changed
	evAssigned                       // a rebalance completed
	evReconfigure                    // a connector asked for new task configs
	evRestart                        // a restart request record was read
	evPublishFailed                  // task configs could not reach the leader
	evTaskConfigs                    // a connector answered a task configs request
)

type event struct {
	kind eventKind
	// rejoin asks for a rebalance (connector added or removed, task
	// configs committed).
	rejoin     bool
	connector  string
	rebalanced group.Rebalanced
	restart    kafkastore.RestartRequest
	// evTaskConfigs: the answer, and whether it must be published even
	// if equal to the committed configs.
	configs []map[string]string
	err     error
	force   bool
}

// mailbox is an unbounded queue: producers (the config store's reader,
// the group member, connectors) must never block on the actor.
type mailbox struct {
	mu     sync.Mutex
	queue  []event
	signal chan struct{}
}

func (m *mailbox) init() { m.signal = make(chan struct{}, 1) }

func (m *mailbox) push(e event) {
	m.mu.Lock()
	m.queue = append(m.queue, e)
	m.mu.Unlock()
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

func (m *mailbox) drain() []event {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue
	m.queue = nil
	return q
}

// call is a function the actor runs for a REST request or a revocation.
type call struct {
	fn   func(ctx context.Context) error
	done chan error
}

var errStopping = &herder.Error{Code: 503, Message: "The worker is shutting down."}

// do runs fn on the actor goroutine and waits for its result.
func (h *Herder) do(ctx context.Context, fn func(ctx context.Context) error) error {
	c := call{fn: fn, done: make(chan error, 1)}
	select {
	case h.calls <- c:
	case <-ctx.Done():
		return herder.Internal(ctx.Err(), "Request timed out")
	case <-h.stopped:
		return errStopping
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		// The actor finishes the call; its result is dropped.
		return herder.Internal(ctx.Err(), "Request timed out")
	}
}

type localConn struct {
	config map[string]string
	target herder.TargetState
}

type localTask struct {
	generation int
	target     herder.TargetState
}

// actorState is what the actor goroutine alone reads and writes.
type actorState struct {
	assignment *group.Rebalanced // last assignment acted on
	conns      map[string]*localConn
	tasks      map[herder.TaskID]*localTask
	known      map[string]bool // connectors of the config topic as last seen
	// retry holds connectors whose task configs could not be sent to the
	// leader, with the time to try again.
	retry map[string]time.Time
	// asking holds connectors whose task configs were asked for and not
	// answered yet; again those asked again meanwhile (true: forced).
	asking map[string]bool
	again  map[string]bool
	// forced holds connectors whose next task configs must be published
	// even if equal to the committed ones (their config changed while
	// they were not running yet).
	forced   map[string]bool
	rejoinAt time.Time // after leaving the group because sync failed
	// staleOffset is the config topic offset up to which a change needing
	// a rebalance (connector added or removed, task configs committed) was
	// read, while no completed assignment accounts for it yet; -1 when
	// none. Requests that route by the assignment answer 409 meanwhile.
	staleOffset int64
}

// noteRebalanceNeeded records that the config topic, read up to offset,
// holds a change that needs a rebalance.
func (s *actorState) noteRebalanceNeeded(offset int64) {
	if offset > s.staleOffset {
		s.staleOffset = offset
	}
}

// noteAssignment records a completed assignment computed from the config
// topic up to configOffset; it reports whether a rebalance is still needed
// (the leader computed it from an older config).
func (s *actorState) noteAssignment(configOffset int64) bool {
	if s.staleOffset >= 0 && configOffset >= s.staleOffset {
		s.staleOffset = -1
	}
	return s.staleOffset >= 0
}

// rebalancePending reports whether a needed rebalance has not completed.
func (s *actorState) rebalancePending() bool { return s.staleOffset >= 0 }

func (s *actorState) init() {
	s.conns = map[string]*localConn{}
	s.tasks = map[herder.TaskID]*localTask{}
	s.known = map[string]bool{}
	s.retry = map[string]time.Time{}
	s.asking = map[string]bool{}
	s.again = map[string]bool{}
	s.forced = map[string]bool{}
	s.staleOffset = -1
}

// loop is the actor: it runs until ctx ends or the group member fails.
func (h *Herder) loop(ctx context.Context, memberDone chan error) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-memberDone:
			memberDone <- nil // Run waits for it again
			if err == nil {
				err = errors.New("group member stopped")
			}
			return err
		case c := <-h.calls:
			c.done <- c.fn(ctx)
		case <-h.inbox.signal:
			h.handle(ctx, h.inbox.drain())
		case now := <-tick.C:
			h.onTick(ctx, now)
		}
	}
}

// handle acts on a batch of events: the latest assignment first, then
// config changes, with at most one reconciliation.
func (h *Herder) handle(ctx context.Context, evs []event) {
	var assigned *group.Rebalanced
	rejoin, configChanged, configRejoin := false, false, false
	var reconfig []string
	var restarts []kafkastore.RestartRequest
	var answers []event
	for _, e := range evs {
		switch e.kind {
		case evAssigned:
			r := e.rebalanced
			if len(r.RevokedConnectors)+len(r.RevokedTasks) > 0 {
				rejoin = true
			}
			assigned = &r
		case evConfig:
			configChanged = true
			configRejoin = configRejoin || e.rejoin
		case evReconfigure:
			reconfig = append(reconfig, e.connector)
		case evRestart:
			restarts = append(restarts, e.restart)
		case evPublishFailed:
			h.st.retry[e.connector] = time.Now().Add(time.Second)
		case evTaskConfigs:
			answers = append(answers, e)
		}
	}
	if configChanged {
		snap := h.configs.Snapshot()
		known := connectorSet(snap)
		if !maps.Equal(known, h.st.known) {
			configRejoin = true
		}
		h.st.known = known
		if configRejoin {
			h.st.noteRebalanceNeeded(snap.Offset)
			rejoin = true
		}
	}
	if rejoin && h.member != nil {
		h.member.RequestRejoin()
	}
	if assigned != nil {
		h.onAssigned(ctx, *assigned)
	} else if configChanged {
		h.reconcile(ctx, h.configs.Snapshot())
	}
	for _, c := range reconfig {
		if _, ok := h.st.conns[c]; ok {
			h.reconfigure(ctx, h.configs.Snapshot(), c, false)
		}
	}
	for _, r := range restarts {
		h.applyRestart(ctx, r)
	}
	for _, e := range answers {
		h.onTaskConfigs(ctx, e)
	}
}

// onAssigned acts on a completed rebalance (spec §5.9).
func (h *Herder) onAssigned(ctx context.Context, r group.Rebalanced) {
	h.generation.Store(r.Generation)
	if r.Failed() {
		h.logger.Info("assignment failed: the leader was behind the config topic; reading to the end and rejoining")
		rctx, cancel := context.WithTimeout(ctx, ms(h.cfg.Int(runtime.WWorkerSyncTimeout)))
		_ = h.configs.ReadToEnd(rctx)
		cancel()
		h.member.RequestRejoin()
		return
	}
	snap := h.configs.Snapshot()
	if snap.Offset < r.ConfigOffset {
		rctx, cancel := context.WithTimeout(ctx, ms(h.cfg.Int(runtime.WWorkerSyncTimeout)))
		err := h.configs.ReadToEnd(rctx)
		cancel()
		snap = h.configs.Snapshot()
		if err != nil || snap.Offset < r.ConfigOffset {
			backoff := ms(h.cfg.Int(runtime.WWorkerUnsyncBackoff))
			h.logger.Warn("could not catch up with the config topic; leaving the group for a while",
				"offset", snap.Offset, "assignment_offset", r.ConfigOffset, "backoff", backoff, "error", err)
			h.member.Leave()
			h.st.rejoinAt = time.Now().Add(backoff)
			return
		}
	}
	if h.st.noteAssignment(r.ConfigOffset) {
		// The leader assigned from an older config than a change this
		// worker has read: another round is needed.
		h.member.RequestRejoin()
	}
	h.st.assignment = &r
	h.reconcile(ctx, snap)
	if r.IsLeader {
		h.leaderDuties(ctx, snap)
	}
	h.ready.Store(true)
}

// checkRebalance is the guard of requests that act on the assignment
// (restarts, offset changes): it first takes in the events already read
// (so a change this request raced with is seen), then answers 409 with a
// Retry-After hint while a needed rebalance has not completed. It runs on
// the actor.
func (h *Herder) checkRebalance(ctx context.Context) error {
	if evs := h.inbox.drain(); len(evs) > 0 {
		h.handle(ctx, evs)
	}
	if h.st.rebalancePending() {
		return herder.Conflict("%s", rest.MsgStaleConfig)
	}
	return nil
}

// onRevoked stops revoked work; it runs on the actor goroutine.
func (h *Herder) onRevoked(connectors []string, tasks []herder.TaskID) {
	h.stopTasks(tasks, false)
	for _, c := range connectors {
		h.worker.StopConnector(c)
		delete(h.st.conns, c)
	}
	if a := h.st.assignment; a != nil {
		a.Connectors = slices.DeleteFunc(slices.Clone(a.Connectors), func(c string) bool { return slices.Contains(connectors, c) })
		a.Tasks = slices.DeleteFunc(slices.Clone(a.Tasks), func(t herder.TaskID) bool { return slices.Contains(tasks, t) })
	}
}

func (h *Herder) stopTasks(ids []herder.TaskID, destroyed bool) {
	if len(ids) == 0 {
		return
	}
	if destroyed {
		for _, id := range ids {
			h.sink.destroyTask(id)
		}
	}
	h.worker.StopTasks(ids)
	for _, id := range ids {
		delete(h.st.tasks, id)
	}
}

// reconcile makes what runs here match the assignment and the snapshot:
// it stops work that is gone, starts assigned work that does not run yet,
// restarts connectors whose config changed and tasks whose configs were
// re-committed, and applies target states.
func (h *Herder) reconcile(ctx context.Context, snap *kafkastore.Snapshot) {
	a := h.st.assignment
	if a == nil {
		return
	}
	wantConns := map[string]bool{}
	for _, c := range a.Connectors {
		wantConns[c] = true
	}
	wantTasks := map[herder.TaskID]bool{}
	for _, t := range a.Tasks {
		wantTasks[t] = true
	}

	// Stop what is no longer assigned or configured.
	var stopGone, stopOther []herder.TaskID
	for id := range h.st.tasks {
		cc := snap.Connectors[id.Connector]
		switch {
		case cc == nil:
			stopGone = append(stopGone, id)
		case !wantTasks[id] || !taskVisible(cc, id) || cc.TargetState == herder.TargetStopped:
			stopOther = append(stopOther, id)
		}
	}
	for name := range h.st.conns {
		if snap.Connectors[name] == nil {
			h.sink.destroy(name)
		}
	}
	h.stopTasks(stopGone, true)
	h.stopTasks(stopOther, false)
	for name := range h.st.conns {
		if snap.Connectors[name] == nil || !wantConns[name] {
			h.worker.StopConnector(name)
			delete(h.st.conns, name)
		}
	}

	// Connectors.
	for _, name := range a.Connectors {
		cc := snap.Connectors[name]
		if cc == nil {
			continue
		}
		lc := h.st.conns[name]
		switch {
		case lc == nil:
			h.startConnector(ctx, snap, cc)
		case !maps.Equal(lc.config, cc.Config):
			h.logger.Info("connector config changed; restarting it", "connector", name)
			h.worker.StopConnector(name)
			delete(h.st.conns, name)
			h.startConnector(ctx, snap, cc)
			h.reconfigure(ctx, snap, name, true)
		case lc.target != cc.TargetState:
			lc.target = cc.TargetState
			h.worker.SetConnectorTarget(name, cc.TargetState)
			if cc.TargetState == herder.TargetStarted {
				h.reconfigure(ctx, snap, name, false)
			}
		case cc.Inconsistent && cc.TargetState == herder.TargetStarted:
			h.reconfigure(ctx, snap, name, false)
		}
	}

	// Tasks.
	var restart []herder.TaskID
	for _, id := range a.Tasks {
		cc := snap.Connectors[id.Connector]
		if cc == nil || !taskVisible(cc, id) || cc.TargetState == herder.TargetStopped {
			continue
		}
		lt := h.st.tasks[id]
		switch {
		case lt == nil:
		case lt.generation != cc.Generation:
			restart = append(restart, id)
		case lt.target != cc.TargetState:
			lt.target = cc.TargetState
			h.worker.SetTaskTarget(id, cc.TargetState)
		}
	}
	h.stopTasks(restart, false)
	for _, id := range a.Tasks {
		cc := snap.Connectors[id.Connector]
		if cc == nil || !taskVisible(cc, id) || cc.TargetState == herder.TargetStopped || h.st.tasks[id] != nil {
			continue
		}
		h.startTask(snap, cc, id)
	}
}

// taskVisible reports whether id is one of the connector's committed tasks.
func taskVisible(cc *kafkastore.ConnectorConfig, id herder.TaskID) bool {
	return !cc.Inconsistent && id.Task < cc.TaskCount && id.Task < len(cc.TaskConfigs) && cc.TaskConfigs[id.Task] != nil
}

func (h *Herder) startConnector(ctx context.Context, snap *kafkastore.Snapshot, cc *kafkastore.ConnectorConfig) {
	h.sink.revive(cc.Name)
	h.sink.setVersion(cc.Name, h.pluginVersion(cc.Config))
	h.st.conns[cc.Name] = &localConn{config: maps.Clone(cc.Config), target: cc.TargetState}
	if err := h.worker.StartConnector(cc.Name, cc.Config, cc.TargetState); err != nil {
		h.logger.Error("cannot start connector", "connector", cc.Name, "error", err)
		return
	}
	if cc.TargetState == herder.TargetStarted {
		h.reconfigure(ctx, snap, cc.Name, false)
	}
}

func (h *Herder) startTask(snap *kafkastore.Snapshot, cc *kafkastore.ConnectorConfig, id herder.TaskID) {
	tc, _ := snap.TaskConfig(id)
	h.sink.revive(id.Connector)
	h.sink.setVersion(id.Connector, h.pluginVersion(cc.Config))
	h.st.tasks[id] = &localTask{generation: cc.Generation, target: cc.TargetState}
	_ = h.worker.StartTask(id, cc.Config, tc, cc.TargetState)
}

func (h *Herder) pluginVersion(config map[string]string) string {
	if p, ok := h.reg.LookupConnector(config[runtime.KeyConnectorClass]); ok {
		return p.Version
	}
	return ""
}

// reconfigure asks a connector running here for its task configs; the
// answer comes back as an evTaskConfigs event, so the actor never waits on
// plugin code. Requests for a connector already being asked coalesce into
// one more request once the answer is in.
func (h *Herder) reconfigure(ctx context.Context, snap *kafkastore.Snapshot, name string, force bool) {
	if force {
		h.st.forced[name] = true
	}
	cc := snap.Connectors[name]
	if cc == nil || cc.TargetState != herder.TargetStarted || !h.worker.IsRunning(name) {
		return // a connector that starts asks by itself
	}
	if h.st.asking[name] {
		h.st.again[name] = h.st.again[name] || force
		return
	}
	h.st.asking[name] = true
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		tctx, cancel := context.WithTimeout(ctx, runtime.TaskConfigTimeout)
		configs, err := h.worker.TaskConfigs(tctx, name)
		cancel()
		h.inbox.push(event{kind: evTaskConfigs, connector: name, configs: configs, err: err, force: force})
	}()
}

// onTaskConfigs has the leader commit a connector's task configs when they
// differ from the committed ones (always when forced: the connector config
// changed).
func (h *Herder) onTaskConfigs(ctx context.Context, e event) {
	name := e.connector
	delete(h.st.asking, name)
	snap := h.configs.Snapshot()
	if force, ok := h.st.again[name]; ok {
		// Asked again meanwhile: this answer may be stale.
		delete(h.st.again, name)
		if _, ok := h.st.conns[name]; ok {
			h.reconfigure(ctx, snap, name, force || e.force)
		}
		return
	}
	if e.err != nil {
		// A failing connector logs its own failure; one that stopped
		// meanwhile asks again when it starts.
		if errors.Is(e.err, context.DeadlineExceeded) {
			h.logger.Warn("the connector did not return its task configs in time; its tasks keep their configs", "connector", name, "timeout", runtime.TaskConfigTimeout)
		} else {
			h.logger.Debug("no task configs from the connector", "connector", name, "error", e.err)
		}
		return
	}
	cc := snap.Connectors[name]
	if _, ok := h.st.conns[name]; !ok || cc == nil || cc.TargetState != herder.TargetStarted {
		return
	}
	configs := e.configs
	force := e.force || h.st.forced[name]
	delete(h.st.forced, name)
	if !force && !cc.Inconsistent && cc.TaskCount == len(configs) &&
		slices.EqualFunc(configs, cc.TaskConfigs, func(a, b map[string]string) bool { return maps.Equal(a, b) }) {
		return
	}
	h.publishTaskConfigs(ctx, name, configs)
}

// publishTaskConfigs writes task configs when this worker leads, else
// sends them to the leader in the background.
func (h *Herder) publishTaskConfigs(ctx context.Context, name string, configs []map[string]string) {
	delete(h.st.retry, name)
	if h.member.IsLeader() {
		if err := h.writeTaskConfigs(ctx, name, configs); err != nil {
			h.logger.Warn("cannot write task configs; will retry", "connector", name, "error", err)
			h.st.retry[name] = time.Now().Add(time.Second)
		}
		return
	}
	leader := h.member.LeaderURL()
	if leader == "" {
		h.st.retry[name] = time.Now().Add(time.Second)
		return
	}
	key := h.currentSessionKey()
	sessioned := h.member.Protocol() == group.ProtocolSessioned
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		if err := h.postTaskConfigs(ctx, leader, name, configs, key, sessioned); err != nil {
			h.logger.Warn("cannot send task configs to the leader; will retry", "connector", name, "leader", leader, "error", err)
			h.inbox.push(event{kind: evPublishFailed, connector: name})
		}
	}()
}

// writeTaskConfigs is the leader's task config write (§4.1.3).
func (h *Herder) writeTaskConfigs(ctx context.Context, name string, configs []map[string]string) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.configs.ReadToEnd(wctx); err != nil {
		return herder.Internal(err, "Failed to read the config topic: %v", err)
	}
	cc := h.configs.Snapshot().Connectors[name]
	if cc == nil {
		return herder.NotFound("Connector %s not found", name)
	}
	if cc.TargetState == herder.TargetStopped && len(configs) > 0 {
		return herder.BadRequest("Cannot submit non-empty set of task configs for stopped connector %s", name)
	}
	if err := h.configs.PutTaskConfigs(wctx, name, configs); err != nil {
		return herder.Internal(err, "Failed to write task configs: %v", err)
	}
	return nil
}

// onTick retries failed task config submissions and rejoins after an
// unsync backoff.
func (h *Herder) onTick(ctx context.Context, now time.Time) {
	if !h.st.rejoinAt.IsZero() && now.After(h.st.rejoinAt) {
		h.st.rejoinAt = time.Time{}
		h.member.RequestRejoin()
	}
	if len(h.st.retry) > 0 {
		snap := h.configs.Snapshot()
		for name, at := range h.st.retry {
			if now.After(at) {
				delete(h.st.retry, name)
				if _, ok := h.st.conns[name]; ok {
					h.reconfigure(ctx, snap, name, true)
				}
			}
		}
	}
	if h.st.assignment != nil && h.st.assignment.IsLeader && h.member.IsLeader() {
		h.rotateSessionKey(ctx, h.configs.Snapshot(), now)
	}
}

// leaderDuties runs after each rebalance this worker led: session key
// rotation and removal of statuses of deleted connectors and tasks.
func (h *Herder) leaderDuties(ctx context.Context, snap *kafkastore.Snapshot) {
	h.rotateSessionKey(ctx, snap, time.Now())
	for _, name := range h.statuses.Connectors() {
		cc := snap.Connectors[name]
		if cc == nil {
			h.sink.tombstoneConnector(name)
		}
		for _, ts := range h.statuses.TaskStatuses(name) {
			if cc == nil || ts.ID.Task >= cc.TaskCount {
				h.sink.tombstoneTask(ts.ID)
			}
		}
	}
}

// applyRestart runs the part of a restart request that concerns the work
// running here.
func (h *Herder) applyRestart(ctx context.Context, r kafkastore.RestartRequest) {
	snap := h.configs.Snapshot()
	cc := snap.Connectors[r.Connector]
	if cc == nil {
		return
	}
	if _, ok := h.st.conns[r.Connector]; ok {
		st, _ := h.statuses.Connector(r.Connector)
		if !r.OnlyFailed || st.State == herder.StateFailed {
			h.restartConnector(ctx, snap, cc)
		}
	}
	if !r.IncludeTasks {
		return
	}
	for id := range h.st.tasks {
		if id.Connector != r.Connector {
			continue
		}
		st, _ := h.statuses.Task(id)
		if !r.OnlyFailed || st.State == herder.StateFailed {
			h.restartTask(snap, cc, id)
		}
	}
}

func (h *Herder) restartConnector(ctx context.Context, snap *kafkastore.Snapshot, cc *kafkastore.ConnectorConfig) {
	h.sink.PutConnector(cc.Name, herder.StateRestarting, nil)
	h.worker.StopConnector(cc.Name)
	delete(h.st.conns, cc.Name)
	h.startConnector(ctx, snap, cc)
}

func (h *Herder) restartTask(snap *kafkastore.Snapshot, cc *kafkastore.ConnectorConfig, id herder.TaskID) {
	h.sink.PutTask(id, herder.StateRestarting, nil)
	h.stopTasks([]herder.TaskID{id}, false)
	if taskVisible(cc, id) && cc.TargetState != herder.TargetStopped {
		h.startTask(snap, cc, id)
	}
}

// requestReconfigure is the worker's callback for a connector asking for
// new task configs; it may be called from any goroutine.
func (h *Herder) requestReconfigure(name string) {
	h.inbox.push(event{kind: evReconfigure, connector: name})
}

// configListener receives config topic events.
type configListener Herder

var _ kafkastore.Listener = (*configListener)(nil)

func (l *configListener) OnConnectorConfigUpdate(string) {
	l.inbox.push(event{kind: evConfig})
}
func (l *configListener) OnConnectorRemoved(string) {
	l.inbox.push(event{kind: evConfig, rejoin: true})
}
func (l *configListener) OnTaskConfigsUpdate([]herder.TaskID) {
	l.inbox.push(event{kind: evConfig, rejoin: true})
}
func (l *configListener) OnTargetStateChange(string) {
	l.inbox.push(event{kind: evConfig})
}
func (l *configListener) OnSessionKeyUpdate(key kafkastore.SessionKey) {
	(*Herder)(l).setSessionKey(&key)
}
func (l *configListener) OnRestartRequest(req kafkastore.RestartRequest) {
	l.inbox.push(event{kind: evRestart, restart: req})
}

// groupListener receives rebalance outcomes.
type groupListener Herder

var _ group.Listener = (*groupListener)(nil)

// OnRevoked stops the revoked work through the actor, so it never races
// with the actor starting work; it returns once the work has stopped.
func (l *groupListener) OnRevoked(_ string, connectors []string, tasks []herder.TaskID) {
	h := (*Herder)(l)
	err := h.do(context.Background(), func(context.Context) error {
		h.onRevoked(connectors, tasks)
		return nil
	})
	if err != nil { // the actor has stopped: so has all work
		h.logger.Debug("revocation after shutdown", "error", err)
	}
}

func (l *groupListener) OnAssigned(r group.Rebalanced) {
	l.inbox.push(event{kind: evAssigned, rebalanced: r})
}
