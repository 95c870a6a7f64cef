package distributed

import (
	"context"
	"maps"
	"time"

	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/kafkastore"
)

// writeTimeout bounds a config topic write sequence (Apache: 30 s).
const writeTimeout = 30 * time.Second

// leaderOrForward returns nil on the leader, else a ForwardError to it.
// It runs on the actor.
func (h *Herder) leaderOrForward() error {
	if h.member != nil && h.st.assignment != nil && h.member.IsLeader() {
		return nil
	}
	url := ""
	if h.member != nil {
		url = h.member.LeaderURL()
	}
	return &herder.ForwardError{URL: url, Reason: "this worker is not the leader"}
}

// readToEnd catches up with the config topic before a leader write.
func (h *Herder) readToEnd(ctx context.Context) (*kafkastore.Snapshot, error) {
	if err := h.configs.ReadToEnd(ctx); err != nil {
		return nil, herder.Internal(err, "Failed to read to end of config topic: %v", err)
	}
	return h.configs.Snapshot(), nil
}

func (h *Herder) connectorType(config map[string]string) herder.ConnectorType {
	if p, ok := h.reg.LookupConnector(config[runtime.KeyConnectorClass]); ok {
		return runtime.ConnectorType(p)
	}
	return herder.TypeUnknown
}

func (h *Herder) info(snap *kafkastore.Snapshot, cc *kafkastore.ConnectorConfig) *herder.ConnectorInfo {
	tasks := snap.Tasks(cc.Name)
	if tasks == nil {
		tasks = []herder.TaskID{}
	}
	return &herder.ConnectorInfo{Name: cc.Name, Config: runtime.RedactConfig(h.reg, cc.Config), Tasks: tasks, Type: h.connectorType(cc.Config)}
}

func lookup(snap *kafkastore.Snapshot, name string) (*kafkastore.ConnectorConfig, error) {
	cc := snap.Connectors[name]
	if cc == nil {
		return nil, herder.NotFound("Connector %s not found", name)
	}
	return cc, nil
}

// Connectors lists connector names, sorted.
func (h *Herder) Connectors(context.Context) ([]string, error) {
	return h.configs.Snapshot().ConnectorNames(), nil
}

// ConnectorInfo returns a connector's config and tasks.
func (h *Herder) ConnectorInfo(_ context.Context, name string) (*herder.ConnectorInfo, error) {
	snap := h.configs.Snapshot()
	cc, err := lookup(snap, name)
	if err != nil {
		return nil, err
	}
	return h.info(snap, cc), nil
}

// ConnectorConfig returns the stored config, passwords hidden.
func (h *Herder) ConnectorConfig(_ context.Context, name string) (map[string]string, error) {
	cc, err := lookup(h.configs.Snapshot(), name)
	if err != nil {
		return nil, err
	}
	return runtime.RedactConfig(h.reg, cc.Config), nil
}

// PutConnectorConfig validates the config here, then has the leader write it.
func (h *Herder) PutConnectorConfig(ctx context.Context, name string, config map[string]string, initial herder.TargetState, allowReplace bool) (bool, *herder.ConnectorInfo, error) {
	config = maps.Clone(config)
	config[runtime.KeyName] = name
	if existing := h.configs.Snapshot().Connectors[name]; existing != nil {
		runtime.RestoreHidden(existing.Config, config)
	}
	infos, _, err := runtime.ValidateConnectorConfig(h.reg, config, runtime.WithWorker(h.cfg, h.logger))
	if err != nil {
		return false, nil, err
	}
	if infos.ErrorCount > 0 {
		return false, nil, herder.BadRequest("%s", runtime.ErrorsMessage(infos))
	}
	var created bool
	var info *herder.ConnectorInfo
	err = h.do(ctx, func(ctx context.Context) error {
		if err := h.leaderOrForward(); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		snap, err := h.readToEnd(wctx)
		if err != nil {
			return err
		}
		existing := snap.Connectors[name]
		if existing != nil && !allowReplace {
			return herder.Conflict("Connector %s already exists", name)
		}
		if existing != nil && maps.Equal(existing.Config, config) {
			info = h.info(snap, existing)
			return nil
		}
		target := herder.TargetState("")
		if existing == nil {
			target = initial
		}
		if err := h.configs.PutConnectorConfig(wctx, name, config, target); err != nil {
			return herder.Internal(err, "Failed to write connector config: %v", err)
		}
		snap = h.configs.Snapshot()
		cc := snap.Connectors[name]
		if cc == nil {
			return herder.Internal(nil, "Connector %s disappeared while it was written", name)
		}
		created, info = existing == nil, h.info(snap, cc)
		return nil
	})
	return created, info, err
}

// PatchConnectorConfig merges a partial config into the stored one.
func (h *Herder) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (*herder.ConnectorInfo, error) {
	cc, err := lookup(h.configs.Snapshot(), name)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(cc.Config)
	for k, v := range patch {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = *v
		}
	}
	_, info, err := h.PutConnectorConfig(ctx, name, merged, "", true)
	return info, err
}

// DeleteConnector has the leader tombstone the connector.
func (h *Herder) DeleteConnector(ctx context.Context, name string) error {
	return h.do(ctx, func(ctx context.Context) error {
		if err := h.leaderOrForward(); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		snap, err := h.readToEnd(wctx)
		if err != nil {
			return err
		}
		if _, err := lookup(snap, name); err != nil {
			return err
		}
		if err := h.configs.DeleteConnector(wctx, name); err != nil {
			return herder.Internal(err, "Failed to delete connector: %v", err)
		}
		return nil
	})
}

// ConnectorStatus reads the status topic cache.
func (h *Herder) ConnectorStatus(_ context.Context, name string) (*herder.ConnectorStateInfo, error) {
	st, ok := h.statuses.Connector(name)
	if !ok {
		return nil, herder.NotFound("No status found for connector %s", name)
	}
	typ := herder.TypeUnknown
	if cc := h.configs.Snapshot().Connectors[name]; cc != nil {
		typ = h.connectorType(cc.Config)
	}
	return &herder.ConnectorStateInfo{Name: name, Connector: st, Tasks: h.statuses.Tasks(name), Type: typ}, nil
}

// TaskStatus returns one task's state.
func (h *Herder) TaskStatus(_ context.Context, id herder.TaskID) (*herder.TaskState, error) {
	st, ok := h.statuses.Task(id)
	if !ok {
		return nil, herder.NotFound("No status found for task %s", id)
	}
	return &st, nil
}

// Tasks returns the committed task configs, passwords hidden.
func (h *Herder) Tasks(_ context.Context, name string) ([]herder.TaskInfo, error) {
	snap := h.configs.Snapshot()
	cc, err := lookup(snap, name)
	if err != nil {
		return nil, err
	}
	out := []herder.TaskInfo{}
	for _, id := range snap.Tasks(name) {
		tc, _ := snap.TaskConfig(id)
		redacted := runtime.RedactTaskConfig(h.reg, cc.Config[runtime.KeyConnectorClass], tc)
		if redacted == nil {
			redacted = map[string]string{}
		}
		out = append(out, herder.TaskInfo{ID: id, Config: redacted})
	}
	return out, nil
}

// RestartConnector restarts the connector instance on the worker running it.
func (h *Herder) RestartConnector(ctx context.Context, name string) error {
	return h.do(ctx, func(ctx context.Context) error {
		if err := h.checkRebalance(ctx); err != nil {
			return err
		}
		snap := h.configs.Snapshot()
		cc := snap.Connectors[name]
		if cc == nil {
			return herder.NotFound("Unknown connector: %s", name)
		}
		if _, ok := h.st.conns[name]; ok {
			h.restartConnector(ctx, snap, cc)
			return nil
		}
		return h.ownerForward(func() (string, bool) { return h.member.ConnectorOwnerURL(name) }, "connector "+name+" is not running on this worker")
	})
}

// ownerForward forwards to the owner (known to the leader) or the leader.
func (h *Herder) ownerForward(owner func() (string, bool), reason string) error {
	if h.member != nil && h.member.IsLeader() {
		url, _ := owner()
		return &herder.ForwardError{URL: url, Reason: reason}
	}
	return h.leaderOrForward()
}

// RestartTask restarts a task on the worker running it.
func (h *Herder) RestartTask(ctx context.Context, id herder.TaskID) error {
	return h.do(ctx, func(ctx context.Context) error {
		if err := h.checkRebalance(ctx); err != nil {
			return err
		}
		snap := h.configs.Snapshot()
		cc := snap.Connectors[id.Connector]
		if cc == nil {
			return herder.NotFound("Unknown connector: %s", id.Connector)
		}
		if !taskVisible(cc, id) {
			return herder.NotFound("Unknown task: %s", id)
		}
		if _, ok := h.st.tasks[id]; ok {
			h.restartTask(snap, cc, id)
			return nil
		}
		return h.ownerForward(func() (string, bool) { return h.member.TaskOwnerURL(id) }, "task "+id.String()+" is not running on this worker")
	})
}

// RestartConnectorAndTasks has the leader write a restart request that
// every worker applies to the work it runs (KIP-745).
func (h *Herder) RestartConnectorAndTasks(ctx context.Context, name string, includeTasks, onlyFailed bool) (*herder.ConnectorStateInfo, error) {
	var plan *herder.ConnectorStateInfo
	err := h.do(ctx, func(ctx context.Context) error {
		if err := h.checkRebalance(ctx); err != nil {
			return err
		}
		if err := h.leaderOrForward(); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		snap, err := h.readToEnd(wctx)
		if err != nil {
			return err
		}
		cc := snap.Connectors[name]
		if cc == nil {
			return herder.NotFound("Unknown connector: %s", name)
		}
		st, ok := h.statuses.Connector(name)
		if !ok {
			return herder.NotFound("Status for connector %s not found", name)
		}
		plan = &herder.ConnectorStateInfo{Name: name, Connector: st, Tasks: h.statuses.Tasks(name), Type: h.connectorType(cc.Config)}
		if !onlyFailed || st.State == herder.StateFailed {
			plan.Connector.State, plan.Connector.Trace = herder.StateRestarting, ""
		}
		if includeTasks {
			for i := range plan.Tasks {
				t := &plan.Tasks[i]
				if !onlyFailed || t.State == herder.StateFailed {
					t.State, t.Trace = herder.StateRestarting, ""
				}
			}
		}
		err = h.configs.PutRestartRequest(wctx, kafkastore.RestartRequest{Connector: name, IncludeTasks: includeTasks, OnlyFailed: onlyFailed})
		if err != nil {
			return herder.Internal(err, "Failed to write restart request: %v", err)
		}
		return nil
	})
	return plan, err
}

// PauseConnector writes the PAUSED target state (any worker may).
func (h *Herder) PauseConnector(ctx context.Context, name string) error {
	return h.putTarget(ctx, name, herder.TargetPaused)
}

// ResumeConnector writes the STARTED target state (any worker may).
func (h *Herder) ResumeConnector(ctx context.Context, name string) error {
	return h.putTarget(ctx, name, herder.TargetStarted)
}

func (h *Herder) putTarget(ctx context.Context, name string, target herder.TargetState) error {
	if _, err := lookup(h.configs.Snapshot(), name); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := h.configs.PutTargetState(wctx, name, target); err != nil {
		return herder.Internal(err, "Failed to write target state: %v", err)
	}
	return nil
}

// StopConnector has the leader remove the tasks and write STOPPED.
func (h *Herder) StopConnector(ctx context.Context, name string) error {
	return h.do(ctx, func(ctx context.Context) error {
		if err := h.leaderOrForward(); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		snap, err := h.readToEnd(wctx)
		if err != nil {
			return err
		}
		if _, err := lookup(snap, name); err != nil {
			return err
		}
		if err := h.configs.PutTaskConfigs(wctx, name, nil); err != nil {
			return herder.Internal(err, "Failed to write task configs: %v", err)
		}
		if err := h.configs.PutTargetState(wctx, name, herder.TargetStopped); err != nil {
			return herder.Internal(err, "Failed to write target state: %v", err)
		}
		if _, err := h.readToEnd(wctx); err != nil {
			return err
		}
		return nil
	})
}

// ConnectorTopics returns the topics a connector used.
func (h *Herder) ConnectorTopics(_ context.Context, name string) ([]string, error) {
	if !h.cfg.Bool(runtime.WTopicTracking) {
		return nil, herder.Forbidden("Topic tracking is disabled.")
	}
	return h.statuses.Topics(name), nil
}

// ResetConnectorTopics tombstones a connector's topic records.
func (h *Herder) ResetConnectorTopics(ctx context.Context, name string) error {
	if !h.cfg.Bool(runtime.WTopicTracking) {
		return herder.Forbidden("Topic tracking is disabled.")
	}
	if !h.cfg.Bool(runtime.WTopicTrackingReset) {
		return herder.Forbidden("Topic tracking reset is disabled.")
	}
	if _, err := lookup(h.configs.Snapshot(), name); err != nil {
		return err
	}
	for _, t := range h.statuses.Topics(name) {
		if err := h.statuses.DeleteTopic(ctx, name, t); err != nil {
			return herder.Internal(err, "Failed to reset topics: %v", err)
		}
	}
	return nil
}

func (h *Herder) offsetsAPI() *runtime.OffsetsAPI {
	return &runtime.OffsetsAPI{Registry: h.reg, Offsets: h.offsets, Admin: h.admin}
}

// ConnectorOffsets returns a connector's source offsets or sink consumer offsets.
func (h *Herder) ConnectorOffsets(ctx context.Context, name string) (*herder.ConnectorOffsets, error) {
	cc, err := lookup(h.configs.Snapshot(), name)
	if err != nil {
		return nil, err
	}
	return h.offsetsAPI().Get(ctx, name, cc.Config)
}

// stoppedConfig checks, on the leader, that a connector is stopped with no
// tasks, and returns its config.
func (h *Herder) stoppedConfig(ctx context.Context, name string) (map[string]string, error) {
	var config map[string]string
	err := h.do(ctx, func(ctx context.Context) error {
		if err := h.checkRebalance(ctx); err != nil {
			return err
		}
		if err := h.leaderOrForward(); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		snap, err := h.readToEnd(wctx)
		if err != nil {
			return err
		}
		cc, err := lookup(snap, name)
		if err != nil {
			return err
		}
		if cc.TargetState != herder.TargetStopped || len(snap.Tasks(name)) > 0 {
			return herder.BadRequest("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
		}
		config = cc.Config
		return nil
	})
	return config, err
}

// AlterConnectorOffsets changes offsets of a stopped connector (leader).
func (h *Herder) AlterConnectorOffsets(ctx context.Context, name string, offsets *herder.ConnectorOffsets) (string, error) {
	config, err := h.stoppedConfig(ctx, name)
	if err != nil {
		return "", err
	}
	return h.offsetsAPI().Alter(ctx, name, config, offsets)
}

// ResetConnectorOffsets removes all offsets of a stopped connector (leader).
func (h *Herder) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	config, err := h.stoppedConfig(ctx, name)
	if err != nil {
		return "", err
	}
	return h.offsetsAPI().Reset(ctx, name, config)
}

// ConnectorLag reports a sink connector's consumer lag.
func (h *Herder) ConnectorLag(ctx context.Context, name string) (*herder.ConnectorLag, error) {
	cc, err := lookup(h.configs.Snapshot(), name)
	if err != nil {
		return nil, err
	}
	return h.offsetsAPI().Lag(ctx, name, cc.Config)
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
