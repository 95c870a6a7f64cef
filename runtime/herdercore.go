package runtime

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage"
)

// StoredConnector is what a config store holds for one connector: its
// config as submitted (secrets included), its target state and the task
// configs last generated for it.
type StoredConnector struct {
	Config      map[string]string
	Target      herder.TargetState
	TaskConfigs []map[string]string
}

// ConfigReader is the read side of a config store: the standalone
// herder's in-memory map (backed by its file) or the distributed herder's
// view of the config topic. Implementations return data the caller may
// read but must not change.
type ConfigReader interface {
	ConnectorNames() []string
	StoredConnector(name string) (StoredConnector, bool)
}

// StatusReader is the read side of a status store: in memory in
// standalone mode, the status topic in distributed mode.
type StatusReader interface {
	Connector(name string) (herder.ConnectorState, bool)
	Task(id herder.TaskID) (herder.TaskState, bool)
	Tasks(connector string) []herder.TaskState
	Topics(connector string) []string
}

// HerderCore is the part of a herder that standalone and distributed mode
// share, as Apache's AbstractHerder is: the REST reads of configs and
// statuses, validation, redaction, restart plans and server info. A herder
// embeds it and adds what depends on where state lives and who may write
// it. Every method is safe for concurrent use and holds no lock across
// plugin code or I/O.
type HerderCore struct {
	cfg      *WorkerConfig
	reg      *connect.Registry
	logger   *slog.Logger
	configs  ConfigReader
	statuses StatusReader
	version  herder.ServerInfo // Version and Commit; the cluster id is looked up
	admin    *kadm.Client
	offsets  *OffsetsAPI

	clusterMu sync.Mutex
	clusterID string
}

// HerderCoreOptions wires a HerderCore.
type HerderCoreOptions struct {
	Config   *WorkerConfig
	Registry *connect.Registry
	Logger   *slog.Logger
	Configs  ConfigReader
	Statuses StatusReader
	Version  string
	Commit   string
	// Offsets is the source offsets store (sink offsets are the consumer
	// group's, read through Admin).
	Offsets storage.OffsetStore
	// Admin answers the cluster id for GET / and the sink offsets.
	Admin *kadm.Client
}

// NewHerderCore returns the shared part of a herder.
func NewHerderCore(o HerderCoreOptions) *HerderCore {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &HerderCore{cfg: o.Config, reg: o.Registry, logger: o.Logger, configs: o.Configs, statuses: o.Statuses,
		version: herder.ServerInfo{Version: o.Version, Commit: o.Commit}, admin: o.Admin,
		offsets: &OffsetsAPI{Registry: o.Registry, Offsets: o.Offsets, Admin: o.Admin}}
}

// OffsetsAPI is the offsets API over this herder's stores; writes need
// the connector STOPPED, which the herder checks first.
func (c *HerderCore) OffsetsAPI() *OffsetsAPI { return c.offsets }

// ConnectorOffsets returns a connector's source offsets or sink consumer
// offsets.
func (c *HerderCore) ConnectorOffsets(ctx context.Context, name string) (*herder.ConnectorOffsets, error) {
	sc, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	return c.offsets.Get(ctx, name, sc.Config)
}

// ConnectorLag reports a sink connector's consumer lag.
func (c *HerderCore) ConnectorLag(ctx context.Context, name string) (*herder.ConnectorLag, error) {
	sc, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	return c.offsets.Lag(ctx, name, sc.Config)
}

// connectorType is the REST type of a connector config.
func (c *HerderCore) connectorType(config map[string]string) herder.ConnectorType {
	if p, ok := c.reg.LookupConnector(config[KeyConnectorClass]); ok {
		return ConnectorType(p)
	}
	return herder.TypeUnknown
}

func (c *HerderCore) lookup(name string) (StoredConnector, error) {
	sc, ok := c.configs.StoredConnector(name)
	if !ok {
		return sc, herder.NotFound("Connector %s not found", name)
	}
	return sc, nil
}

// Info is GET /connectors/{c} for a stored connector.
func (c *HerderCore) Info(name string, sc StoredConnector) *herder.ConnectorInfo {
	info := &herder.ConnectorInfo{Name: name, Config: RedactConfig(c.reg, sc.Config), Tasks: []herder.TaskID{}, Type: c.connectorType(sc.Config)}
	for i := range sc.TaskConfigs {
		info.Tasks = append(info.Tasks, herder.TaskID{Connector: name, Task: i})
	}
	return info
}

// Connectors lists connector names, sorted.
func (c *HerderCore) Connectors(context.Context) ([]string, error) {
	return c.configs.ConnectorNames(), nil
}

// ConnectorInfo returns a connector's config and tasks.
func (c *HerderCore) ConnectorInfo(_ context.Context, name string) (*herder.ConnectorInfo, error) {
	sc, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	return c.Info(name, sc), nil
}

// ConnectorConfig returns the stored config, secrets hidden.
func (c *HerderCore) ConnectorConfig(_ context.Context, name string) (map[string]string, error) {
	sc, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	return RedactConfig(c.reg, sc.Config), nil
}

// Tasks returns the task configs, secrets hidden.
func (c *HerderCore) Tasks(_ context.Context, name string) ([]herder.TaskInfo, error) {
	sc, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	out := []herder.TaskInfo{}
	for i, tc := range sc.TaskConfigs {
		redacted := RedactTaskConfig(c.reg, sc.Config[KeyConnectorClass], tc)
		if redacted == nil {
			redacted = map[string]string{}
		}
		out = append(out, herder.TaskInfo{ID: herder.TaskID{Connector: name, Task: i}, Config: redacted})
	}
	return out, nil
}

// ConnectorStatus returns the connector's and its tasks' states.
func (c *HerderCore) ConnectorStatus(_ context.Context, name string) (*herder.ConnectorStateInfo, error) {
	st, ok := c.statuses.Connector(name)
	if !ok {
		return nil, herder.NotFound("No status found for connector %s", name)
	}
	typ := herder.TypeUnknown
	if sc, ok := c.configs.StoredConnector(name); ok {
		typ = c.connectorType(sc.Config)
	}
	return &herder.ConnectorStateInfo{Name: name, Connector: st, Tasks: c.statuses.Tasks(name), Type: typ}, nil
}

// TaskStatus returns one task's state.
func (c *HerderCore) TaskStatus(_ context.Context, id herder.TaskID) (*herder.TaskState, error) {
	st, ok := c.statuses.Task(id)
	if !ok {
		return nil, herder.NotFound("No status found for task %s", id)
	}
	return &st, nil
}

// ConnectorTopics returns the topics a connector used.
func (c *HerderCore) ConnectorTopics(_ context.Context, name string) ([]string, error) {
	if !c.cfg.Bool(WTopicTracking) {
		return nil, herder.Forbidden("Topic tracking is disabled.")
	}
	return c.statuses.Topics(name), nil
}

// CheckTopicsReset refuses a topics reset the worker's settings forbid.
func (c *HerderCore) CheckTopicsReset() error {
	if !c.cfg.Bool(WTopicTracking) {
		return herder.Forbidden("Topic tracking is disabled.")
	}
	if !c.cfg.Bool(WTopicTrackingReset) {
		return herder.Forbidden("Topic tracking reset is disabled.")
	}
	return nil
}

// PrepareConfig is the check every config write starts with: the name is
// set, secrets sent back redacted get their stored values again, and the
// config is validated against the plugin and the worker's settings. It may
// call plugin code (a JDBC connector reaches its database), so no herder
// lock may be held. allowReplace false makes an existing connector a 409.
func (c *HerderCore) PrepareConfig(name string, config map[string]string, allowReplace bool) (map[string]string, error) {
	config = maps.Clone(config)
	if config == nil {
		config = map[string]string{}
	}
	config[KeyName] = name
	if existing, ok := c.configs.StoredConnector(name); ok {
		if !allowReplace {
			return nil, herder.Conflict("Connector %s already exists", name)
		}
		RestoreHidden(existing.Config, config)
	}
	infos, _, err := ValidateConnectorConfig(c.reg, config, WithWorker(c.cfg, c.logger))
	if err != nil {
		return nil, err
	}
	if infos.ErrorCount > 0 {
		return nil, herder.BadRequest("%s", ErrorsMessage(infos))
	}
	return config, nil
}

// PatchedConfig merges a PATCH body into the stored config: a nil value
// removes the key.
func (c *HerderCore) PatchedConfig(name string, patch map[string]*string) (map[string]string, error) {
	sc, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(sc.Config)
	for k, v := range patch {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = *v
		}
	}
	return merged, nil
}

// RestartPlan is what a KIP-745 restart request restarts: the status to
// answer with, the instances to restart shown as RESTARTING.
type RestartPlan struct {
	Status           *herder.ConnectorStateInfo
	RestartConnector bool
	RestartTasks     []int
}

// PlanRestart builds the plan of POST /connectors/{c}/restart from the
// current statuses.
func (c *HerderCore) PlanRestart(name string, includeTasks, onlyFailed bool) (*RestartPlan, error) {
	sc, ok := c.configs.StoredConnector(name)
	if !ok {
		return nil, herder.NotFound("Unknown connector: %s", name)
	}
	st, ok := c.statuses.Connector(name)
	if !ok {
		return nil, herder.NotFound("Status for connector %s not found", name)
	}
	plan := &RestartPlan{Status: &herder.ConnectorStateInfo{Name: name, Connector: st, Tasks: c.statuses.Tasks(name), Type: c.connectorType(sc.Config)}}
	if !onlyFailed || st.State == herder.StateFailed {
		plan.RestartConnector = true
		plan.Status.Connector.State, plan.Status.Connector.Trace = herder.StateRestarting, ""
	}
	if includeTasks {
		for i := range plan.Status.Tasks {
			t := &plan.Status.Tasks[i]
			if !onlyFailed || t.State == herder.StateFailed {
				plan.RestartTasks = append(plan.RestartTasks, t.ID)
				t.State, t.Trace = herder.StateRestarting, ""
			}
		}
	}
	return plan, nil
}

// ValidateConfig validates a connector config.
func (c *HerderCore) ValidateConfig(_ context.Context, config map[string]string) (*herder.ConfigInfos, error) {
	infos, _, err := ValidateConnectorConfig(c.reg, config, WithWorker(c.cfg, c.logger))
	return infos, err
}

// PluginConfig describes a plugin's config keys.
func (c *HerderCore) PluginConfig(_ context.Context, plugin string) ([]herder.ConfigKeyInfo, error) {
	return PluginConfig(c.reg, plugin)
}

// Plugins lists the installed plugins.
func (c *HerderCore) Plugins(_ context.Context, connectorsOnly bool) ([]herder.PluginInfo, error) {
	return PluginInfos(c.reg, connectorsOnly), nil
}

// ServerInfo reports the version and the Kafka cluster id.
func (c *HerderCore) ServerInfo(ctx context.Context) (*herder.ServerInfo, error) {
	id, err := c.ClusterID(ctx)
	if err != nil {
		return nil, herder.Internal(err, "Could not reach the Kafka cluster: %v", err)
	}
	info := c.version
	info.KafkaClusterID = id
	return &info, nil
}

// ClusterID returns the Kafka cluster id, asking the brokers until one
// answers; later calls use the first answer.
func (c *HerderCore) ClusterID(ctx context.Context) (string, error) {
	c.clusterMu.Lock()
	id := c.clusterID
	c.clusterMu.Unlock()
	if id != "" {
		return id, nil
	}
	// The lock is not held across the request: a slow cluster must not
	// queue every GET / behind the first one.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := c.admin.BrokerMetadata(ctx)
	if err != nil {
		return "", err
	}
	c.clusterMu.Lock()
	c.clusterID = md.Cluster
	c.clusterMu.Unlock()
	return md.Cluster, nil
}
