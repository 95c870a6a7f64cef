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
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage"
)

// Herder is the standalone implementation of herder.Herder.
type Herder struct {
	cfg      *runtime.WorkerConfig
	reg      *connect.Registry
	worker   *runtime.Worker
	status   *runtime.StatusStore
	offsets  storage.OffsetStore
	file     configFile
	logger   *slog.Logger
	version  ServerVersion
	kafka    *kgo.Client
	admin    *kadm.Client
	started  atomic.Bool
	reconfig chan string

	clusterMu sync.Mutex
	clusterID string

	// mu serialises every change to connectors; reads take it too, so REST
	// views are always consistent.
	mu         sync.Mutex
	connectors map[string]*connState
}

type connState struct {
	config      map[string]string
	target      herder.TargetState
	taskConfigs []map[string]string
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
		reconfig: make(chan string, 64)}
	h.worker, err = runtime.NewWorker(runtime.WorkerOptions{Config: o.Config, Registry: o.Registry, Offsets: o.Offsets,
		Status: h.status, Logger: o.Logger, WorkerID: o.WorkerID, OnReconfigure: h.requestReconfigure})
	if err != nil {
		kc.Close()
		return nil, err
	}
	return h, nil
}

var _ herder.Herder = (*Herder)(nil)

// SetWorkerID sets the worker id shown in status; call it before Start.
func (h *Herder) SetWorkerID(id string) { h.status.SetWorkerID(id) }

// Start restores the connectors saved in the config file, then applies the
// given connector configs (from the command line), and starts them all.
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
		h.mu.Lock()
		h.startConnectorLocked(name)
		h.mu.Unlock()
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

// Run serves reconfiguration requests from connectors until ctx ends.
func (h *Herder) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case name := <-h.reconfig:
			h.mu.Lock()
			if cs := h.connectors[name]; cs != nil && cs.target == herder.TargetStarted {
				h.refreshTasksLocked(name, false)
			}
			h.mu.Unlock()
		}
	}
}

// Close stops all connectors and tasks and releases the Kafka clients.
func (h *Herder) Close() {
	h.worker.Close()
	h.kafka.Close()
}

func (h *Herder) requestReconfigure(name string) {
	select {
	case h.reconfig <- name:
	default:
		h.logger.Warn("dropping task reconfiguration request: too many pending", "connector", name)
	}
}

func (h *Herder) saveLocked() error {
	out := make(map[string]storedConnector, len(h.connectors))
	for n, cs := range h.connectors {
		out[n] = storedConnector{Config: cs.config, Target: cs.target}
	}
	return h.file.save(out)
}

// startConnectorLocked starts a connector instance in its target state and,
// when started, its tasks.
func (h *Herder) startConnectorLocked(name string) {
	cs := h.connectors[name]
	if err := h.worker.StartConnector(name, cs.config, cs.target); err != nil {
		h.logger.Error("cannot start connector", "connector", name, "error", err)
		return
	}
	if cs.target == herder.TargetStarted {
		h.refreshTasksLocked(name, true)
	}
}

// refreshTasksLocked regenerates task configs; when they changed (or force)
// the tasks are restarted with the new configs.
func (h *Herder) refreshTasksLocked(name string, force bool) {
	cs := h.connectors[name]
	if !h.worker.IsRunning(name) {
		return
	}
	configs, err := h.worker.TaskConfigs(name)
	if err != nil {
		h.logger.Error("connector failed to generate task configs", "connector", name, "error", err)
		return
	}
	if !force && equalConfigs(configs, cs.taskConfigs) {
		return
	}
	h.stopTasksLocked(name)
	cs.taskConfigs = configs
	h.startTasksLocked(name)
}

func (h *Herder) startTasksLocked(name string) {
	cs := h.connectors[name]
	for i, tc := range cs.taskConfigs {
		id := herder.TaskID{Connector: name, Task: i}
		_ = h.worker.StartTask(id, cs.config, tc, cs.target)
	}
}

func (h *Herder) stopTasksLocked(name string) {
	cs := h.connectors[name]
	var ids []herder.TaskID
	for i := range cs.taskConfigs {
		ids = append(ids, herder.TaskID{Connector: name, Task: i})
	}
	ids = append(ids, h.worker.TaskIDs(name)...)
	h.worker.StopTasks(ids)
	for _, id := range ids {
		h.status.RemoveTask(id)
	}
}

func equalConfigs(a, b []map[string]string) bool {
	return slices.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

func (h *Herder) lookup(name string) (*connState, error) {
	cs := h.connectors[name]
	if cs == nil {
		return nil, herder.NotFound("Connector %s not found", name)
	}
	return cs, nil
}

// Connectors lists connector names, sorted.
func (h *Herder) Connectors(context.Context) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.connectors)), nil
}

func (h *Herder) infoLocked(name string, cs *connState) *herder.ConnectorInfo {
	info := &herder.ConnectorInfo{Name: name, Config: runtime.RedactConfig(h.reg, cs.config), Tasks: []herder.TaskID{}, Type: herder.TypeUnknown}
	if p, ok := h.reg.LookupConnector(cs.config[runtime.KeyConnectorClass]); ok {
		info.Type = runtime.ConnectorType(p)
	}
	for i := range cs.taskConfigs {
		info.Tasks = append(info.Tasks, herder.TaskID{Connector: name, Task: i})
	}
	return info
}

// ConnectorInfo returns a connector's config and tasks.
func (h *Herder) ConnectorInfo(_ context.Context, name string) (*herder.ConnectorInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	return h.infoLocked(name, cs), nil
}

// ConnectorConfig returns the stored config, passwords hidden.
func (h *Herder) ConnectorConfig(_ context.Context, name string) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	return runtime.RedactConfig(h.reg, cs.config), nil
}

// PutConnectorConfig validates and applies a connector config.
func (h *Herder) PutConnectorConfig(_ context.Context, name string, config map[string]string, initial herder.TargetState, allowReplace bool) (bool, *herder.ConnectorInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.putLocked(name, config, initial, allowReplace)
}

func (h *Herder) putLocked(name string, config map[string]string, initial herder.TargetState, allowReplace bool) (bool, *herder.ConnectorInfo, error) {
	config = maps.Clone(config)
	config[runtime.KeyName] = name
	existing := h.connectors[name]
	if existing != nil && !allowReplace {
		return false, nil, herder.Conflict("Connector %s already exists", name)
	}
	if existing != nil {
		runtime.RestoreHidden(existing.config, config)
	}
	infos, _, err := runtime.ValidateConnectorConfig(h.reg, config, runtime.WithWorker(h.cfg, h.logger))
	if err != nil {
		return false, nil, err
	}
	if infos.ErrorCount > 0 {
		return false, nil, herder.BadRequest("%s", runtime.ErrorsMessage(infos))
	}
	if existing != nil && maps.Equal(existing.config, config) {
		// Same config: nothing to restart.
		return false, h.infoLocked(name, existing), nil
	}
	target := herder.TargetStarted
	if initial != "" {
		target = initial
	}
	if existing != nil {
		target = existing.target
		h.stopTasksLocked(name)
		h.worker.StopConnector(name)
	}
	cs := &connState{config: config, target: target}
	h.connectors[name] = cs
	if err := h.saveLocked(); err != nil {
		return false, nil, err
	}
	h.startConnectorLocked(name)
	return existing == nil, h.infoLocked(name, cs), nil
}

// PatchConnectorConfig merges a partial config into the stored one.
func (h *Herder) PatchConnectorConfig(_ context.Context, name string, patch map[string]*string) (*herder.ConnectorInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(cs.config)
	for k, v := range patch {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = *v
		}
	}
	_, info, err := h.putLocked(name, merged, "", true)
	return info, err
}

// DeleteConnector stops and removes a connector.
func (h *Herder) DeleteConnector(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.lookup(name); err != nil {
		return err
	}
	h.stopTasksLocked(name)
	h.worker.StopConnector(name)
	delete(h.connectors, name)
	h.status.RemoveConnector(name)
	return h.saveLocked()
}

// ConnectorStatus returns the connector's and its tasks' states.
func (h *Herder) ConnectorStatus(_ context.Context, name string) (*herder.ConnectorStateInfo, error) {
	h.mu.Lock()
	cs := h.connectors[name]
	h.mu.Unlock()
	st, ok := h.status.Connector(name)
	if !ok {
		return nil, herder.NotFound("No status found for connector %s", name)
	}
	typ := herder.TypeUnknown
	if cs != nil {
		if p, ok := h.reg.LookupConnector(cs.config[runtime.KeyConnectorClass]); ok {
			typ = runtime.ConnectorType(p)
		}
	}
	return &herder.ConnectorStateInfo{Name: name, Connector: st, Tasks: h.status.Tasks(name), Type: typ}, nil
}

// TaskStatus returns one task's state.
func (h *Herder) TaskStatus(_ context.Context, id herder.TaskID) (*herder.TaskState, error) {
	st, ok := h.status.Task(id)
	if !ok {
		return nil, herder.NotFound("No status found for task %s", id)
	}
	return &st, nil
}

// Tasks returns the task configs, passwords hidden.
func (h *Herder) Tasks(_ context.Context, name string) ([]herder.TaskInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	out := []herder.TaskInfo{}
	for i, tc := range cs.taskConfigs {
		redacted := runtime.RedactTaskConfig(h.reg, cs.config[runtime.KeyConnectorClass], tc)
		out = append(out, herder.TaskInfo{ID: herder.TaskID{Connector: name, Task: i}, Config: redacted})
	}
	return out, nil
}

// RestartConnector restarts the connector instance only.
func (h *Herder) RestartConnector(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.connectors[name]
	if cs == nil {
		return herder.NotFound("Unknown connector: %s", name)
	}
	h.worker.StopConnector(name)
	h.startConnectorLocked(name)
	return nil
}

// RestartConnectorAndTasks restarts the connector and/or tasks selected by
// the flags and returns the status with them marked RESTARTING.
func (h *Herder) RestartConnectorAndTasks(ctx context.Context, name string, includeTasks, onlyFailed bool) (*herder.ConnectorStateInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.connectors[name]
	if cs == nil {
		return nil, herder.NotFound("Unknown connector: %s", name)
	}
	st, ok := h.status.Connector(name)
	if !ok {
		return nil, herder.NotFound("Status for connector %s not found", name)
	}
	plan := &herder.ConnectorStateInfo{Name: name, Connector: st, Tasks: h.status.Tasks(name), Type: herder.TypeUnknown}
	if p, ok := h.reg.LookupConnector(cs.config[runtime.KeyConnectorClass]); ok {
		plan.Type = runtime.ConnectorType(p)
	}
	restartConn := !onlyFailed || st.State == herder.StateFailed
	if restartConn {
		plan.Connector.State = herder.StateRestarting
		plan.Connector.Trace = ""
	}
	var restartTasks []int
	for i := range plan.Tasks {
		t := &plan.Tasks[i]
		if includeTasks && (!onlyFailed || t.State == herder.StateFailed) {
			restartTasks = append(restartTasks, t.ID)
			t.State, t.Trace = herder.StateRestarting, ""
		}
	}
	if restartConn {
		h.status.PutConnector(name, herder.StateRestarting, nil)
		h.worker.StopConnector(name)
		if err := h.worker.StartConnector(name, cs.config, cs.target); err != nil {
			h.logger.Error("connector restart failed", "connector", name, "error", err)
		}
	}
	for _, t := range restartTasks {
		h.restartTaskLocked(herder.TaskID{Connector: name, Task: t})
	}
	return plan, nil
}

func (h *Herder) restartTaskLocked(id herder.TaskID) {
	cs := h.connectors[id.Connector]
	h.status.PutTask(id, herder.StateRestarting, nil)
	h.worker.StopTasks([]herder.TaskID{id})
	_ = h.worker.StartTask(id, cs.config, cs.taskConfigs[id.Task], cs.target)
}

// RestartTask restarts one task in place.
func (h *Herder) RestartTask(_ context.Context, id herder.TaskID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.connectors[id.Connector]
	if cs == nil {
		return herder.NotFound("Unknown connector: %s", id.Connector)
	}
	if id.Task < 0 || id.Task >= len(cs.taskConfigs) {
		return herder.NotFound("Unknown task: %s", id)
	}
	h.restartTaskLocked(id)
	return nil
}

func (h *Herder) setTarget(name string, target herder.TargetState) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.connectors[name]
	if cs == nil {
		return herder.NotFound("Unknown connector %s", name)
	}
	prev := cs.target
	if prev == target {
		return nil
	}
	cs.target = target
	if err := h.saveLocked(); err != nil {
		return err
	}
	switch target {
	case herder.TargetStopped:
		h.stopTasksLocked(name)
		cs.taskConfigs = nil
		h.worker.SetConnectorTarget(name, target)
	case herder.TargetPaused:
		h.worker.SetConnectorTarget(name, target)
		for i := range cs.taskConfigs {
			h.worker.SetTaskTarget(herder.TaskID{Connector: name, Task: i}, target)
		}
	case herder.TargetStarted:
		h.worker.SetConnectorTarget(name, target)
		if prev == herder.TargetStopped || len(cs.taskConfigs) == 0 {
			h.refreshTasksLocked(name, true)
			return nil
		}
		for i := range cs.taskConfigs {
			h.worker.SetTaskTarget(herder.TaskID{Connector: name, Task: i}, target)
		}
		// The connector may produce new task configs after resuming.
		h.refreshTasksLocked(name, false)
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

// ConnectorTopics returns the topics a connector used.
func (h *Herder) ConnectorTopics(_ context.Context, name string) ([]string, error) {
	if !h.cfg.Bool(runtime.WTopicTracking) {
		return nil, herder.Forbidden("Topic tracking is disabled.")
	}
	return h.status.Topics(name), nil
}

// ResetConnectorTopics forgets the topics a connector used.
func (h *Herder) ResetConnectorTopics(_ context.Context, name string) error {
	if !h.cfg.Bool(runtime.WTopicTracking) {
		return herder.Forbidden("Topic tracking is disabled.")
	}
	if !h.cfg.Bool(runtime.WTopicTrackingReset) {
		return herder.Forbidden("Topic tracking reset is disabled.")
	}
	h.status.ResetTopics(name)
	return nil
}

// ValidateConfig validates a connector config.
func (h *Herder) ValidateConfig(_ context.Context, config map[string]string) (*herder.ConfigInfos, error) {
	infos, _, err := runtime.ValidateConnectorConfig(h.reg, config, runtime.WithWorker(h.cfg, h.logger))
	return infos, err
}

// PluginConfig describes a plugin's config keys.
func (h *Herder) PluginConfig(_ context.Context, plugin string) ([]herder.ConfigKeyInfo, error) {
	return runtime.PluginConfig(h.reg, plugin)
}

// Plugins lists the installed plugins.
func (h *Herder) Plugins(_ context.Context, connectorsOnly bool) ([]herder.PluginInfo, error) {
	return runtime.PluginInfos(h.reg, connectorsOnly), nil
}

// ServerInfo reports the version and the Kafka cluster id.
func (h *Herder) ServerInfo(ctx context.Context) (*herder.ServerInfo, error) {
	id, err := h.ClusterID(ctx)
	if err != nil {
		return nil, herder.Internal(err, "Could not reach the Kafka cluster: %v", err)
	}
	return &herder.ServerInfo{Version: h.version.Version, Commit: h.version.Commit, KafkaClusterID: id}, nil
}

// ClusterID returns the Kafka cluster id, asking the brokers once.
func (h *Herder) ClusterID(ctx context.Context) (string, error) {
	h.clusterMu.Lock()
	defer h.clusterMu.Unlock()
	if h.clusterID != "" {
		return h.clusterID, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := h.admin.BrokerMetadata(ctx)
	if err != nil {
		return "", err
	}
	h.clusterID = md.Cluster
	return h.clusterID, nil
}

// Health reports whether startup completed.
func (h *Herder) Health(context.Context) error {
	if !h.started.Load() {
		return &herder.Error{Code: 503, Message: "Worker is still starting up."}
	}
	return nil
}

var errNotStopped = errors.New("not stopped")

func (h *Herder) stoppedLocked(name string) (*connState, error) {
	cs, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	if cs.target != herder.TargetStopped || len(h.worker.TaskIDs(name)) > 0 {
		return nil, &herder.Error{Code: 400, Err: errNotStopped, Message: fmt.Sprintf("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)}
	}
	return cs, nil
}
