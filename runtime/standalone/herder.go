// Package standalone is the herder of a single Ferry worker: connectors,
// their task configs and target states live in this process (and, unlike
// Apache's standalone mode, in a config file so they survive a restart);
// source offsets live in a file.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage"
)

// Herder is the standalone implementation of herder.Herder.
//
// Locking: mu guards the connector table and is held only to read or
// update it, never across plugin code, a worker call or I/O, so REST reads
// never wait behind a slow connector. writeMu serialises changes (create,
// update, delete, restart, target states, new task configs) so that two
// changes to one connector cannot interleave; reads never take it. Under
// writeMu the herder only makes bounded worker calls (stopping tasks takes
// at most task.shutdown.graceful.timeout.ms, a connector
// runtime.ConnectorStopTimeout) and writes the config file; connector
// Start and TaskConfigs run on the connector's own goroutine.
type Herder struct {
	// The REST reads, validation, restart plans and server info are the
	// same as in distributed mode.
	*runtime.HerderCore

	cfg     *runtime.WorkerConfig
	reg     *connect.Registry
	worker  *runtime.Worker
	status  *runtime.StatusStore
	offsets storage.OffsetStore
	file    configFile
	logger  *slog.Logger
	version ServerVersion
	kafka   *kgo.Client
	admin   *kadm.Client
	started atomic.Bool

	// Task reconfiguration requests, coalesced per connector.
	reconfigMu  sync.Mutex
	reconfig    map[string]bool
	reconfigSig chan struct{}

	writeMu    sync.Mutex
	mu         sync.Mutex
	connectors map[string]*connState
}

// stored is the connector as the shared herder core reads it; call with
// mu held.
func (cs *connState) stored() runtime.StoredConnector {
	return runtime.StoredConnector{Config: cs.config, Target: cs.target, TaskConfigs: cs.taskConfigs}
}

type connState struct {
	config      map[string]string
	target      herder.TargetState
	taskConfigs []map[string]string
	// tasksUp is true once taskConfigs were started for the current
	// connector config; a new config or a stop clears it so the next
	// task configs start tasks even when equal to the old ones.
	tasksUp bool
}

// ServerVersion is what GET / reports.
type ServerVersion struct {
	Version string
	Commit  string
}

// Options wires a standalone herder.
type Options struct {
	Config   *runtime.WorkerConfig
	Registry *connect.Registry
	Offsets  storage.OffsetStore
	Logger   *slog.Logger
	// WorkerID is the advertised host:port shown in status.
	WorkerID string
	Version  ServerVersion
}

// New builds the herder and its worker. Nothing runs until Start.
func New(o Options) (*Herder, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	path := o.Config.String(runtime.WConfigFile)
	if path == "" {
		path = o.Config.String(runtime.WOffsetFile) + ".connectors.json"
	}
	kopts, err := o.Config.KafkaOpts(o.Logger, "connect-shared-admin")
	if err != nil {
		return nil, err
	}
	kc, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka admin client: %w", err)
	}
	h := &Herder{cfg: o.Config, reg: o.Registry, offsets: o.Offsets, file: configFile{path: path},
		logger: o.Logger, version: o.Version, kafka: kc, admin: kadm.NewClient(kc),
		status: runtime.NewStatusStore(o.WorkerID), connectors: map[string]*connState{},
		reconfig: map[string]bool{}, reconfigSig: make(chan struct{}, 1)}
	h.HerderCore = runtime.NewHerderCore(runtime.HerderCoreOptions{Config: o.Config, Registry: o.Registry, Logger: o.Logger,
		Configs: h, Statuses: h.status, Version: o.Version.Version, Commit: o.Version.Commit, Offsets: o.Offsets, Admin: h.admin})
	h.worker, err = runtime.NewWorker(runtime.WorkerOptions{Config: o.Config, Registry: o.Registry, Offsets: o.Offsets,
		Status: h.status, Logger: o.Logger, WorkerID: o.WorkerID, OnReconfigure: h.requestReconfigure})
	if err != nil {
		kc.Close()
		return nil, err
	}
	return h, nil
}

var _ herder.Herder = (*Herder)(nil)

// ConnectorNames lists the connectors, sorted (runtime.ConfigReader).
func (h *Herder) ConnectorNames() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.connectors))
}

// StoredConnector returns a connector's config, target and task configs
// (runtime.ConfigReader). The maps are never changed in place: updates
// replace them.
func (h *Herder) StoredConnector(name string) (runtime.StoredConnector, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.connectors[name]
	if cs == nil {
		return runtime.StoredConnector{}, false
	}
	return cs.stored(), true
}

// SetWorkerID sets the worker id shown in status; call it before Start.
func (h *Herder) SetWorkerID(id string) { h.status.SetWorkerID(id) }

// Start restores the connectors saved in the config file, then applies the
// given connector configs (from the command line), and starts them all. A
// stored connector that cannot start does not stop the worker: it shows
// FAILED with its trace and can be fixed or deleted over REST.
func (h *Herder) Start(ctx context.Context, initial []map[string]string) error {
	stored, err := h.file.load()
	if err != nil {
		return err
	}
	h.mu.Lock()
	for name, sc := range stored {
		if sc.Target == "" {
			sc.Target = herder.TargetStarted
		}
		h.connectors[name] = &connState{config: sc.Config, target: sc.Target}
	}
	names := slices.Sorted(maps.Keys(h.connectors))
	h.mu.Unlock()
	for _, name := range names {
		h.writeMu.Lock()
		h.startConnector(name)
		h.writeMu.Unlock()
	}
	for _, cfg := range initial {
		name := strings.TrimSpace(cfg[runtime.KeyName])
		if name == "" {
			return fmt.Errorf("connector config %s has no name", runtime.JavaMapString(runtime.RedactProps(cfg)))
		}
		if _, _, err := h.PutConnectorConfig(ctx, name, cfg, "", true); err != nil {
			return fmt.Errorf("connector %s: %w", name, err)
		}
	}
	h.started.Store(true)
	return nil
}

// Run serves task reconfiguration requests (a connector started, or asked
// for new task configs) until ctx ends.
func (h *Herder) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.reconfigSig:
		}
		h.reconfigMu.Lock()
		names := slices.Sorted(maps.Keys(h.reconfig))
		clear(h.reconfig)
		h.reconfigMu.Unlock()
		for _, name := range names {
			if ctx.Err() != nil {
				return nil
			}
			h.refreshTasks(ctx, name)
		}
	}
}

// Close stops all connectors and tasks (bounded, see runtime.Worker.Close)
// and releases the Kafka clients.
func (h *Herder) Close() {
	h.worker.Close()
	h.kafka.Close()
}

// requestReconfigure queues a task reconfiguration; requests for one
// connector coalesce, so none is dropped and none piles up.
func (h *Herder) requestReconfigure(name string) {
	h.reconfigMu.Lock()
	h.reconfig[name] = true
	h.reconfigMu.Unlock()
	select {
	case h.reconfigSig <- struct{}{}:
	default:
	}
}

// save writes the config file; call with writeMu held.
func (h *Herder) save() error {
	h.mu.Lock()
	out := make(map[string]storedConnector, len(h.connectors))
	for n, cs := range h.connectors {
		out[n] = storedConnector{Config: cs.config, Target: cs.target}
	}
	h.mu.Unlock()
	return h.file.save(out)
}

// get returns a connector's state and a copy of what callers need.
func (h *Herder) get(name string) (cs *connState, config map[string]string, target herder.TargetState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs = h.connectors[name]
	if cs == nil {
		return nil, nil, ""
	}
	return cs, cs.config, cs.target
}

// startConnector starts a connector instance in its target state; its
// tasks follow once it runs (the worker asks for a reconfiguration). Call
// with writeMu held.
func (h *Herder) startConnector(name string) {
	cs, config, target := h.get(name)
	if cs == nil {
		return
	}
	if err := h.worker.StartConnector(name, config, target); err != nil {
		h.logger.Error("cannot start connector", "connector", name, "error", err)
	}
}

// refreshTasks asks a running connector for its task configs and, when
// they changed (or its tasks are not up), restarts its tasks with them.
// The connector is asked without any lock held.
func (h *Herder) refreshTasks(ctx context.Context, name string) {
	cs, _, target := h.get(name)
	if cs == nil || target != herder.TargetStarted || !h.worker.IsRunning(name) {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, runtime.TaskConfigTimeout)
	configs, err := h.worker.TaskConfigs(tctx, name)
	cancel()
	if err != nil {
		// A failing connector logs its own failure; one that stopped
		// meanwhile asks again when it starts.
		if errors.Is(err, context.DeadlineExceeded) {
			h.logger.Warn("the connector did not return its task configs in time; its tasks keep their configs", "connector", name, "timeout", runtime.TaskConfigTimeout)
		} else {
			h.logger.Debug("no task configs from the connector", "connector", name, "error", err)
		}
		return
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	h.mu.Lock()
	current := h.connectors[name] == cs && cs.target == herder.TargetStarted
	unchanged := cs.tasksUp && equalConfigs(configs, cs.taskConfigs)
	h.mu.Unlock()
	if !current || unchanged {
		return // a newer change asks again once it applied
	}
	h.stopTasks(name)
	h.mu.Lock()
	cs.taskConfigs, cs.tasksUp = configs, true
	h.mu.Unlock()
	h.startTasks(name)
}

// startTasks starts a connector's tasks; call with writeMu held.
func (h *Herder) startTasks(name string) {
	h.mu.Lock()
	cs := h.connectors[name]
	if cs == nil {
		h.mu.Unlock()
		return
	}
	config, target, tcs := cs.config, cs.target, cs.taskConfigs
	h.mu.Unlock()
	for i, tc := range tcs {
		id := herder.TaskID{Connector: name, Task: i}
		_ = h.worker.StartTask(id, config, tc, target)
	}
}

// stopTasks stops a connector's tasks and forgets their statuses; call with
// writeMu held.
func (h *Herder) stopTasks(name string) {
	var ids []herder.TaskID
	h.mu.Lock()
	if cs := h.connectors[name]; cs != nil {
		for i := range cs.taskConfigs {
			ids = append(ids, herder.TaskID{Connector: name, Task: i})
		}
	}
	h.mu.Unlock()
	ids = append(ids, h.worker.TaskIDs(name)...)
	h.worker.StopTasks(ids)
	for _, id := range ids {
		h.status.RemoveTask(id)
	}
}

func equalConfigs(a, b []map[string]string) bool {
	return slices.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

// PutConnectorConfig validates and applies a connector config.
func (h *Herder) PutConnectorConfig(_ context.Context, name string, config map[string]string, initial herder.TargetState, allowReplace bool) (bool, *herder.ConnectorInfo, error) {
	config, err := h.PrepareConfig(name, config, allowReplace)
	if err != nil {
		return false, nil, err
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	return h.apply(name, config, initial, allowReplace)
}

// apply stores a validated config and (re)starts the connector; call with
// writeMu held.
func (h *Herder) apply(name string, config map[string]string, initial herder.TargetState, allowReplace bool) (bool, *herder.ConnectorInfo, error) {
	existing, oldConfig, oldTarget := h.get(name)
	if existing != nil && !allowReplace {
		return false, nil, herder.Conflict("Connector %s already exists", name)
	}
	if existing != nil && maps.Equal(oldConfig, config) {
		// Same config: nothing to restart.
		h.mu.Lock()
		defer h.mu.Unlock()
		return false, h.Info(name, existing.stored()), nil
	}
	target := herder.TargetStarted
	if initial != "" {
		target = initial
	}
	if existing != nil {
		target = oldTarget
		h.stopTasks(name)
		h.worker.StopConnector(name)
	}
	cs := &connState{config: config, target: target}
	h.mu.Lock()
	h.connectors[name] = cs
	h.mu.Unlock()
	if err := h.save(); err != nil {
		return false, nil, err
	}
	h.startConnector(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	return existing == nil, h.Info(name, cs.stored()), nil
}

// PatchConnectorConfig merges a partial config into the stored one.
func (h *Herder) PatchConnectorConfig(_ context.Context, name string, patch map[string]*string) (*herder.ConnectorInfo, error) {
	merged, err := h.PatchedConfig(name, patch)
	if err != nil {
		return nil, err
	}
	merged, err = h.PrepareConfig(name, merged, true)
	if err != nil {
		return nil, err
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	_, info, err := h.apply(name, merged, "", true)
	return info, err
}

// DeleteConnector stops and removes a connector.
func (h *Herder) DeleteConnector(_ context.Context, name string) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if cs, _, _ := h.get(name); cs == nil {
		return herder.NotFound("Connector %s not found", name)
	}
	h.stopTasks(name)
	h.worker.StopConnector(name)
	h.mu.Lock()
	delete(h.connectors, name)
	h.mu.Unlock()
	h.status.RemoveConnector(name)
	return h.save()
}

// RestartConnector restarts the connector instance only.
func (h *Herder) RestartConnector(_ context.Context, name string) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if cs, _, _ := h.get(name); cs == nil {
		return herder.NotFound("Unknown connector: %s", name)
	}
	h.worker.StopConnector(name)
	h.startConnector(name)
	return nil
}

// RestartConnectorAndTasks restarts the connector and/or tasks selected by
// the flags and returns the status with them marked RESTARTING.
func (h *Herder) RestartConnectorAndTasks(_ context.Context, name string, includeTasks, onlyFailed bool) (*herder.ConnectorStateInfo, error) {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	plan, err := h.PlanRestart(name, includeTasks, onlyFailed)
	if err != nil {
		return nil, err
	}
	if plan.RestartConnector {
		h.status.PutConnector(name, herder.StateRestarting, nil)
		h.worker.StopConnector(name)
		h.startConnector(name)
	}
	for _, t := range plan.RestartTasks {
		h.restartTask(herder.TaskID{Connector: name, Task: t})
	}
	return plan.Status, nil
}

// restartTask stops and starts one task; call with writeMu held.
func (h *Herder) restartTask(id herder.TaskID) {
	h.mu.Lock()
	cs := h.connectors[id.Connector]
	if cs == nil || id.Task >= len(cs.taskConfigs) {
		h.mu.Unlock()
		return
	}
	config, tc, target := cs.config, cs.taskConfigs[id.Task], cs.target
	h.mu.Unlock()
	h.status.PutTask(id, herder.StateRestarting, nil)
	h.worker.StopTasks([]herder.TaskID{id})
	_ = h.worker.StartTask(id, config, tc, target)
}

// RestartTask restarts one task in place.
func (h *Herder) RestartTask(_ context.Context, id herder.TaskID) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	h.mu.Lock()
	cs := h.connectors[id.Connector]
	n := 0
	if cs != nil {
		n = len(cs.taskConfigs)
	}
	h.mu.Unlock()
	if cs == nil {
		return herder.NotFound("Unknown connector: %s", id.Connector)
	}
	if id.Task < 0 || id.Task >= n {
		return herder.NotFound("Unknown task: %s", id)
	}
	h.restartTask(id)
	return nil
}

func (h *Herder) setTarget(name string, target herder.TargetState) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	h.mu.Lock()
	cs := h.connectors[name]
	if cs == nil {
		h.mu.Unlock()
		return herder.NotFound("Unknown connector %s", name)
	}
	prev := cs.target
	if prev == target {
		h.mu.Unlock()
		return nil
	}
	cs.target = target
	ntasks := len(cs.taskConfigs)
	h.mu.Unlock()
	if err := h.save(); err != nil {
		return err
	}
	switch target {
	case herder.TargetStopped:
		h.stopTasks(name)
		h.mu.Lock()
		cs.taskConfigs, cs.tasksUp = nil, false
		h.mu.Unlock()
		h.worker.SetConnectorTarget(name, target)
	case herder.TargetPaused:
		h.worker.SetConnectorTarget(name, target)
		for i := range ntasks {
			h.worker.SetTaskTarget(herder.TaskID{Connector: name, Task: i}, target)
		}
	case herder.TargetStarted:
		for i := range ntasks {
			h.worker.SetTaskTarget(herder.TaskID{Connector: name, Task: i}, target)
		}
		// Once it runs again the connector is asked for its task configs
		// (tasks start then if they were stopped).
		h.worker.SetConnectorTarget(name, target)
	}
	return nil
}

// PauseConnector pauses a connector and its tasks.
func (h *Herder) PauseConnector(_ context.Context, name string) error {
	return h.setTarget(name, herder.TargetPaused)
}

// ResumeConnector resumes a paused or stopped connector.
func (h *Herder) ResumeConnector(_ context.Context, name string) error {
	return h.setTarget(name, herder.TargetStarted)
}

// StopConnector stops a connector and removes its tasks.
func (h *Herder) StopConnector(_ context.Context, name string) error {
	return h.setTarget(name, herder.TargetStopped)
}

// ResetConnectorTopics forgets the topics a connector used.
func (h *Herder) ResetConnectorTopics(_ context.Context, name string) error {
	if err := h.CheckTopicsReset(); err != nil {
		return err
	}
	h.status.ResetTopics(name)
	return nil
}

// Health reports whether startup completed.
func (h *Herder) Health(context.Context) error {
	if !h.started.Load() {
		return &herder.Error{Code: 503, Message: "Worker is still starting up."}
	}
	return nil
}

var errNotStopped = errors.New("not stopped")

// stoppedConfig returns the config of a connector that is STOPPED with no
// tasks running; call with writeMu held.
func (h *Herder) stoppedConfig(name string) (map[string]string, error) {
	cs, config, target := h.get(name)
	if cs == nil {
		return nil, herder.NotFound("Connector %s not found", name)
	}
	if target != herder.TargetStopped || len(h.worker.TaskIDs(name)) > 0 {
		return nil, &herder.Error{Code: 400, Err: errNotStopped, Message: fmt.Sprintf("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)}
	}
	return config, nil
}
