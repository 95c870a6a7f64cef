package rest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/logging"
	"github.com/ferryhq/ferry/runtime/herder"
)

// fakeHerder is an in-memory herder for testing the HTTP layer alone.
type fakeHerder struct {
	mu         sync.Mutex
	connectors map[string]*fakeConn
	healthErr  error
	block      bool // calls wait for ctx to end

	// What the last call received.
	calls       []string
	lastConfig  map[string]string
	lastInitial herder.TargetState
	lastPatch   map[string]*string
	lastOffsets *herder.ConnectorOffsets
	lastOnly    bool
}

type fakeConn struct {
	config map[string]string
	tasks  int
	typ    herder.ConnectorType
}

func newFakeHerder() *fakeHerder {
	return &fakeHerder{connectors: map[string]*fakeConn{
		"local-file-source": {
			config: map[string]string{"connector.class": "FileStreamSource", "name": "local-file-source", "tasks.max": "1"},
			tasks:  1, typ: herder.TypeSource,
		},
	}}
}

func (f *fakeHerder) call(ctx context.Context, format string, args ...any) error {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeHerder) lastCall() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeHerder) conn(name string) (*fakeConn, error) {
	c, ok := f.connectors[name]
	if !ok {
		return nil, herder.NotFound("Connector %s not found", name)
	}
	return c, nil
}

func (f *fakeHerder) info(name string, c *fakeConn) *herder.ConnectorInfo {
	in := &herder.ConnectorInfo{Name: name, Config: maps.Clone(c.config), Type: c.typ}
	for i := range c.tasks {
		in.Tasks = append(in.Tasks, herder.TaskID{Connector: name, Task: i})
	}
	return in
}

func (f *fakeHerder) Connectors(ctx context.Context) ([]string, error) {
	if err := f.call(ctx, "Connectors"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.connectors)), nil
}

func (f *fakeHerder) ConnectorInfo(ctx context.Context, name string) (*herder.ConnectorInfo, error) {
	if err := f.call(ctx, "ConnectorInfo(%s)", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	return f.info(name, c), nil
}

func (f *fakeHerder) ConnectorConfig(ctx context.Context, name string) (map[string]string, error) {
	if err := f.call(ctx, "ConnectorConfig(%s)", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(c.config), nil
}

func (f *fakeHerder) PutConnectorConfig(ctx context.Context, name string, config map[string]string, initial herder.TargetState, allowReplace bool) (bool, *herder.ConnectorInfo, error) {
	if err := f.call(ctx, "PutConnectorConfig(%s,%v)", name, allowReplace); err != nil {
		return false, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastConfig, f.lastInitial = maps.Clone(config), initial
	c, exists := f.connectors[name]
	if exists && !allowReplace {
		return false, nil, herder.Conflict("Connector %s already exists", name)
	}
	if config["connector.class"] == "Broken" {
		return false, nil, herder.BadRequest("Connector configuration is invalid")
	}
	if !exists {
		c = &fakeConn{typ: herder.TypeSink}
		f.connectors[name] = c
	}
	c.config = maps.Clone(config)
	return !exists, f.info(name, c), nil
}

func (f *fakeHerder) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (*herder.ConnectorInfo, error) {
	if err := f.call(ctx, "PatchConnectorConfig(%s)", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastPatch = patch
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	for k, v := range patch {
		if v == nil {
			delete(c.config, k)
		} else {
			c.config[k] = *v
		}
	}
	return f.info(name, c), nil
}

func (f *fakeHerder) DeleteConnector(ctx context.Context, name string) error {
	if err := f.call(ctx, "DeleteConnector(%s)", name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.conn(name); err != nil {
		return err
	}
	delete(f.connectors, name)
	return nil
}

func (f *fakeHerder) ConnectorStatus(ctx context.Context, name string) (*herder.ConnectorStateInfo, error) {
	if err := f.call(ctx, "ConnectorStatus(%s)", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.connectors[name]
	if !ok || name == "no-status" {
		return nil, herder.NotFound("No status found for connector %s", name)
	}
	st := &herder.ConnectorStateInfo{Name: name, Type: c.typ,
		Connector: herder.ConnectorState{State: herder.StateRunning, WorkerID: "127.0.0.1:8083"}}
	for i := range c.tasks {
		st.Tasks = append(st.Tasks, herder.TaskState{ID: i, State: herder.StateFailed, WorkerID: "127.0.0.1:8083", Trace: "boom"})
	}
	return st, nil
}

func (f *fakeHerder) TaskStatus(ctx context.Context, id herder.TaskID) (*herder.TaskState, error) {
	if err := f.call(ctx, "TaskStatus(%s)", id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.connectors[id.Connector]; !ok || id.Task < 0 || id.Task >= c.tasks {
		return nil, herder.NotFound("No status found for task %s", id)
	}
	return &herder.TaskState{ID: id.Task, State: herder.StateRunning, WorkerID: "127.0.0.1:8083"}, nil
}

func (f *fakeHerder) Tasks(ctx context.Context, name string) ([]herder.TaskInfo, error) {
	if err := f.call(ctx, "Tasks(%s)", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	var out []herder.TaskInfo
	for i := range c.tasks {
		out = append(out, herder.TaskInfo{ID: herder.TaskID{Connector: name, Task: i},
			Config: map[string]string{"task.class": "FileStreamSourceTask"}})
	}
	return out, nil
}

func (f *fakeHerder) known(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.connectors[name]; !ok {
		return herder.NotFound("Unknown connector %s", name)
	}
	return nil
}

func (f *fakeHerder) RestartConnector(ctx context.Context, name string) error {
	if err := f.call(ctx, "RestartConnector(%s)", name); err != nil {
		return err
	}
	return f.known(name)
}

func (f *fakeHerder) RestartConnectorAndTasks(ctx context.Context, name string, includeTasks, onlyFailed bool) (*herder.ConnectorStateInfo, error) {
	if err := f.call(ctx, "RestartConnectorAndTasks(%s,%v,%v)", name, includeTasks, onlyFailed); err != nil {
		return nil, err
	}
	if err := f.known(name); err != nil {
		return nil, err
	}
	return &herder.ConnectorStateInfo{Name: name, Type: herder.TypeSource,
		Connector: herder.ConnectorState{State: herder.StateRestarting, WorkerID: "w:1"}}, nil
}

func (f *fakeHerder) RestartTask(ctx context.Context, id herder.TaskID) error {
	if err := f.call(ctx, "RestartTask(%s)", id); err != nil {
		return err
	}
	return f.known(id.Connector)
}

func (f *fakeHerder) PauseConnector(ctx context.Context, name string) error {
	if err := f.call(ctx, "PauseConnector(%s)", name); err != nil {
		return err
	}
	return f.known(name)
}

func (f *fakeHerder) ResumeConnector(ctx context.Context, name string) error {
	if err := f.call(ctx, "ResumeConnector(%s)", name); err != nil {
		return err
	}
	return f.known(name)
}

func (f *fakeHerder) StopConnector(ctx context.Context, name string) error {
	if err := f.call(ctx, "StopConnector(%s)", name); err != nil {
		return err
	}
	if name == "quirk" {
		return fmt.Errorf("No connector `%s` configured", name)
	}
	return f.known(name)
}

func (f *fakeHerder) ConnectorTopics(ctx context.Context, name string) ([]string, error) {
	if err := f.call(ctx, "ConnectorTopics(%s)", name); err != nil {
		return nil, err
	}
	if name == "local-file-source" {
		return []string{"connect-test"}, nil
	}
	return nil, nil
}

func (f *fakeHerder) ResetConnectorTopics(ctx context.Context, name string) error {
	return f.call(ctx, "ResetConnectorTopics(%s)", name)
}

func (f *fakeHerder) ConnectorOffsets(ctx context.Context, name string) (*herder.ConnectorOffsets, error) {
	if err := f.call(ctx, "ConnectorOffsets(%s)", name); err != nil {
		return nil, err
	}
	if err := f.known(name); err != nil {
		return nil, herder.NotFound("Connector %s not found", name)
	}
	return &herder.ConnectorOffsets{Offsets: []herder.ConnectorOffset{{
		Partition: map[string]any{"filename": "/tmp/in.txt"},
		Offset:    map[string]any{"position": int64(2048)},
	}}}, nil
}

func (f *fakeHerder) AlterConnectorOffsets(ctx context.Context, name string, offsets *herder.ConnectorOffsets) (string, error) {
	if err := f.call(ctx, "AlterConnectorOffsets(%s)", name); err != nil {
		return "", err
	}
	f.mu.Lock()
	f.lastOffsets = offsets
	f.mu.Unlock()
	if err := f.known(name); err != nil {
		return "", herder.NotFound("Connector %s not found", name)
	}
	return "The offsets for this connector have been altered successfully", nil
}

func (f *fakeHerder) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	if err := f.call(ctx, "ResetConnectorOffsets(%s)", name); err != nil {
		return "", err
	}
	if err := f.known(name); err != nil {
		return "", herder.NotFound("Connector %s not found", name)
	}
	return "The offsets for this connector have been reset successfully", nil
}

func (f *fakeHerder) ValidateConfig(ctx context.Context, config map[string]string) (*herder.ConfigInfos, error) {
	if err := f.call(ctx, "ValidateConfig"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.lastConfig = maps.Clone(config)
	f.mu.Unlock()
	return &herder.ConfigInfos{Name: config["connector.class"], ErrorCount: 1, Groups: []string{"Common"},
		Configs: []herder.ConfigInfo{{
			Definition: &herder.ConfigKeyInfo{Name: "topics", Type: "LIST", DefaultValue: ptr(""), Importance: "HIGH",
				Documentation: "List of <b>topics</b>", Group: ptr("Common"), Width: "LONG", DisplayName: "Topics", Order: 4},
			Value: &herder.ConfigValueInfo{Name: "topics", Value: ptr(""), Errors: []string{"Must configure one of topics or topics.regex"}, Visible: true},
		}}}, nil
}

func (f *fakeHerder) PluginConfig(ctx context.Context, plugin string) ([]herder.ConfigKeyInfo, error) {
	if err := f.call(ctx, "PluginConfig(%s)", plugin); err != nil {
		return nil, err
	}
	switch plugin {
	case "FileStreamSink", "org.apache.kafka.connect.transforms.InsertField$Value":
		return []herder.ConfigKeyInfo{{Name: "file", Type: "STRING", Importance: "HIGH", Documentation: "dest",
			Width: "NONE", DisplayName: "file", Order: -1}}, nil
	}
	return nil, herder.NotFound("Unknown plugin %s.", plugin)
}

func (f *fakeHerder) Plugins(ctx context.Context, connectorsOnly bool) ([]herder.PluginInfo, error) {
	if err := f.call(ctx, "Plugins(%v)", connectorsOnly); err != nil {
		return nil, err
	}
	out := []herder.PluginInfo{{Class: "org.apache.kafka.connect.file.FileStreamSinkConnector", Type: connect.KindSink, Version: "3.9.0"}}
	if !connectorsOnly {
		out = append(out, herder.PluginInfo{Class: "org.apache.kafka.connect.transforms.InsertField$Value", Type: connect.KindTransformation})
	}
	return out, nil
}

func (f *fakeHerder) ServerInfo(ctx context.Context) (*herder.ServerInfo, error) {
	if err := f.call(ctx, "ServerInfo"); err != nil {
		return nil, err
	}
	return &herder.ServerInfo{Version: "3.9.0", Commit: "abc", KafkaClusterID: "kc"}, nil
}

func (f *fakeHerder) Health(ctx context.Context) error {
	if err := f.call(ctx, "Health"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.healthErr
}

func ptr[T any](v T) *T { return &v }

// internalFake adds the distributed-only capabilities.
type internalFake struct {
	*fakeHerder
	sig     InternalSignature
	configs []map[string]string
	level   string
}

func (f *internalFake) PutTaskConfigs(_ context.Context, c string, configs []map[string]string, sig InternalSignature) error {
	f.configs, f.sig = configs, sig
	if sig.Signature == "" {
		return herder.BadRequest("Internal request missing required signature")
	}
	return nil
}

func (f *internalFake) FenceZombies(_ context.Context, c string, sig InternalSignature) error {
	f.sig = sig
	return nil
}

func (f *internalFake) SetClusterLoggerLevel(_ context.Context, ns string, level logging.Level) error {
	f.level = ns + "=" + level.String()
	return nil
}
