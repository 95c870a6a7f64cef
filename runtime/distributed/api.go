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

func lookup(snap *kafkastore.Snapshot, name string) (*kafkastore.ConnectorConfig, error) {
	cc := snap.Connectors[name]
	if cc == nil {
		return nil, herder.NotFound("Connector %s not found", name)
	}
	return cc, nil
}

// PutConnectorConfig validates the config here, then has the leader write it.
func (h *Herder) PutConnectorConfig(ctx context.Context, name string, config map[string]string, initial herder.TargetState, allowReplace bool) (bool, *herder.ConnectorInfo, error) {
	config, err := h.PrepareConfig(name, config, allowReplace)
	if err != nil {
		return false, nil, err
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
			info = h.Info(name, stored(snap, existing))
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
		created, info = existing == nil, h.Info(name, stored(snap, cc))
		return nil
	})
	return created, info, err
}

// PatchConnectorConfig merges a partial config into the stored one.
func (h *Herder) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (*herder.ConnectorInfo, error) {
	merged, err := h.PatchedConfig(name, patch)
	if err != nil {
		return nil, err
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
		if snap.Connectors[name] == nil {
			return herder.NotFound("Unknown connector: %s", name)
		}
		p, err := h.PlanRestart(name, includeTasks, onlyFailed)
		if err != nil {
			return err
		}
		plan = p.Status
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

// ResetConnectorTopics tombstones a connector's topic records.
func (h *Herder) ResetConnectorTopics(ctx context.Context, name string) error {
	if err := h.CheckTopicsReset(); err != nil {
		return err
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
	return h.OffsetsAPI().Alter(ctx, name, config, offsets)
}

// ResetConnectorOffsets removes all offsets of a stopped connector (leader).
func (h *Herder) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	config, err := h.stoppedConfig(ctx, name)
	if err != nil {
		return "", err
	}
	return h.OffsetsAPI().Reset(ctx, name, config)
}

// configView reads the config topic for the shared herder core.
type configView struct{ s *kafkastore.ConfigStore }

func (v configView) ConnectorNames() []string { return v.s.Snapshot().ConnectorNames() }

func (v configView) StoredConnector(name string) (runtime.StoredConnector, bool) {
	snap := v.s.Snapshot()
	cc := snap.Connectors[name]
	if cc == nil {
		return runtime.StoredConnector{}, false
	}
	return stored(snap, cc), true
}

// stored is a connector of a config topic snapshot with its committed task
// configs.
func stored(snap *kafkastore.Snapshot, cc *kafkastore.ConnectorConfig) runtime.StoredConnector {
	sc := runtime.StoredConnector{Config: cc.Config, Target: cc.TargetState}
	for _, id := range snap.Tasks(cc.Name) {
		tc, _ := snap.TaskConfig(id)
		sc.TaskConfigs = append(sc.TaskConfigs, tc)
	}
	return sc
}
