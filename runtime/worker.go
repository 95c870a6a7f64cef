package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/runtime/configprovider"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/runtime/task"
	"github.com/ferryhq/ferry/storage"
)

// StatusSink receives the state changes of connectors and tasks running on
// this worker: an in-memory store in standalone mode, the status topic in
// distributed mode. Calls may come from any goroutine.
type StatusSink interface {
	PutConnector(name string, state herder.State, err error)
	PutTask(id herder.TaskID, state herder.State, err error)
	// AddTopic records that a connector's task used a topic (the first
	// task to report it is the one Apache's topic status names).
	AddTopic(id herder.TaskID, topic string)
}

var _ StatusSink = (*StatusStore)(nil)

// Worker runs connector instances and task goroutines on this process. It
// does not decide what runs: a herder does, and calls the Worker. Every
// goroutine the Worker starts is tracked and ended by Close.
type Worker struct {
	cfg      *WorkerConfig
	reg      *connect.Registry
	offsets  storage.OffsetStore
	status   StatusSink
	logger   *slog.Logger
	workerID string

	// onReconfigure is called (from any goroutine) when a connector asks for
	// its task configs to be regenerated.
	onReconfigure func(connector string)

	// providers resolve ${provider:path:key} placeholders when connectors
	// and tasks start; stored configs keep the placeholders.
	providers *configprovider.Set

	mu         sync.Mutex
	connectors map[string]*connectorRun
	tasks      map[herder.TaskID]*taskRun
	wg         sync.WaitGroup
}

type connectorRun struct {
	name   string
	plugin connect.Plugin
	config map[string]string // resolved
	raw    map[string]string // as stored, with placeholders
	inst   connect.Connector
	cancel context.CancelFunc
	target herder.TargetState
	// running is true between a successful Start and the matching Stop.
	running bool
	failed  bool
}

type taskRun struct {
	runner task.Runner
	cancel context.CancelFunc
}

// WorkerOptions wires a Worker.
type WorkerOptions struct {
	Config        *WorkerConfig
	Registry      *connect.Registry
	Offsets       storage.OffsetStore
	Status        StatusSink
	Logger        *slog.Logger
	WorkerID      string
	OnReconfigure func(connector string)
}

// NewWorker checks the options and returns an idle worker.
func NewWorker(o WorkerOptions) (*Worker, error) {
	if o.Config == nil || o.Registry == nil || o.Offsets == nil || o.Status == nil {
		return nil, errors.New("worker: config, registry, offsets and status are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnReconfigure == nil {
		o.OnReconfigure = func(string) {}
	}
	providers, err := configprovider.FromWorker(o.Config.Raw)
	if err != nil {
		return nil, fmt.Errorf("invalid worker configuration: %w", err)
	}
	for _, msg := range o.Config.ClientWarnings {
		o.Logger.Warn(msg)
	}
	return &Worker{cfg: o.Config, reg: o.Registry, offsets: o.Offsets, status: o.Status, logger: o.Logger,
		workerID: o.WorkerID, onReconfigure: o.OnReconfigure, providers: providers,
		connectors: map[string]*connectorRun{}, tasks: map[herder.TaskID]*taskRun{}}, nil
}

// connectorContext is what a running connector sees of the runtime.
type connectorContext struct {
	w      *Worker
	name   string
	logger *slog.Logger
}

func (c *connectorContext) RequestTaskReconfiguration() { c.w.onReconfigure(c.name) }
func (c *connectorContext) Logger() *slog.Logger        { return c.logger }
func (c *connectorContext) RaiseError(err error) {
	c.w.failConnector(c.name, "connector raised an error", err)
}

// StartConnector creates a connector instance in the given target state.
// A start failure is not returned: it leaves the connector FAILED with the
// error as its trace, which is how the status API reports it.
func (w *Worker) StartConnector(name string, config map[string]string, target herder.TargetState) error {
	plugin, ok := w.reg.LookupConnector(config[KeyConnectorClass])
	if !ok {
		err := fmt.Errorf("connector class %q is not installed", config[KeyConnectorClass])
		w.connectorFailed(name, "connector failed to start", err)
		return err
	}
	inst, ok := plugin.New().(connect.Connector)
	if !ok {
		return fmt.Errorf("plugin %s does not create a connector", plugin.Class)
	}
	resolved, err := w.providers.Resolve(config)
	if err != nil {
		err = fmt.Errorf("failed to resolve config placeholders of connector %s: %w", name, err)
		w.connectorFailed(name, "connector failed to start", err)
		return err
	}
	run := &connectorRun{name: name, plugin: plugin, config: maps.Clone(resolved), raw: maps.Clone(config), inst: inst, target: target}
	w.mu.Lock()
	if _, exists := w.connectors[name]; exists {
		w.mu.Unlock()
		return fmt.Errorf("connector %s is already running on this worker", name)
	}
	w.connectors[name] = run
	w.mu.Unlock()
	w.applyTarget(run, target)
	return nil
}

// applyTarget moves a connector instance to a target state.
func (w *Worker) applyTarget(run *connectorRun, target herder.TargetState) {
	w.mu.Lock()
	run.target = target
	failed, running := run.failed, run.running
	w.mu.Unlock()
	if failed && target != herder.TargetStopped {
		return // a failed connector stays failed until restarted
	}
	switch target {
	case herder.TargetStarted:
		if running {
			w.status.PutConnector(run.name, herder.StateRunning, nil)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		cc := &connectorContext{w: w, name: run.name, logger: w.logger.With("connector", run.name)}
		err := safeCall(func() error { return run.inst.Start(ctx, cc, run.config) })
		w.mu.Lock()
		if err != nil {
			cancel()
			run.failed = true
			w.mu.Unlock()
			w.connectorFailed(run.name, "connector failed to start", err)
			return
		}
		run.running, run.cancel = true, cancel
		w.mu.Unlock()
		w.status.PutConnector(run.name, herder.StateRunning, nil)
	case herder.TargetPaused, herder.TargetStopped:
		w.stopInstance(run)
		state := herder.StatePaused
		if target == herder.TargetStopped {
			state = herder.StateStopped
		}
		w.status.PutConnector(run.name, state, nil)
	}
}

func (w *Worker) stopInstance(run *connectorRun) {
	w.mu.Lock()
	running, cancel := run.running, run.cancel
	run.running, run.cancel = false, nil
	w.mu.Unlock()
	if !running {
		return
	}
	if err := safeCall(run.inst.Stop); err != nil {
		w.logger.Warn("connector stop failed", "connector", run.name, "error", err)
	}
	if cancel != nil {
		cancel()
	}
}

// connectorFailed marks a connector FAILED and logs why at ERROR, with the
// trace the status shows: someone reading the worker's log should not have
// to ask the REST API what went wrong.
func (w *Worker) connectorFailed(name, msg string, err error) {
	w.logger.Error(msg+"; the connector is FAILED and will not recover until restarted",
		"connector", name, "error", Trace(err))
	w.status.PutConnector(name, herder.StateFailed, err)
}

func (w *Worker) failConnector(name, msg string, err error) {
	w.mu.Lock()
	run := w.connectors[name]
	if run != nil {
		run.failed = true
	}
	w.mu.Unlock()
	if run == nil {
		return
	}
	w.stopInstance(run)
	w.connectorFailed(name, msg, err)
}

// SetConnectorTarget changes a running connector's target state.
func (w *Worker) SetConnectorTarget(name string, target herder.TargetState) {
	w.mu.Lock()
	run := w.connectors[name]
	w.mu.Unlock()
	if run != nil {
		w.applyTarget(run, target)
	}
}

// StopConnector stops and forgets a connector instance (its tasks are
// stopped separately).
func (w *Worker) StopConnector(name string) {
	w.mu.Lock()
	run := w.connectors[name]
	delete(w.connectors, name)
	w.mu.Unlock()
	if run != nil {
		w.stopInstance(run)
	}
}

// IsRunning reports whether a connector instance is started and healthy.
func (w *Worker) IsRunning(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	run := w.connectors[name]
	return run != nil && run.running && !run.failed
}

// TaskConfigs asks a running connector for its task configs and adds the
// framework keys (task.class, and topics/topics.regex for sinks).
func (w *Worker) TaskConfigs(name string) ([]map[string]string, error) {
	w.mu.Lock()
	run := w.connectors[name]
	w.mu.Unlock()
	if run == nil || !run.running {
		return nil, fmt.Errorf("connector %s is not running", name)
	}
	parsed, err := FrameworkDef(run.plugin.Kind).Parse(run.config)
	if err != nil {
		return nil, err
	}
	maxTasks := parsed.Int(KeyTasksMax)
	var configs []map[string]string
	err = safeCall(func() error {
		var e error
		configs, e = run.inst.TaskConfigs(maxTasks)
		return e
	})
	if err == nil && len(configs) > maxTasks && parsed.Bool(KeyTasksMaxEnforce) {
		err = fmt.Errorf("the connector %s has generated %d tasks, which is greater than %d, the maximum number of tasks it is configured to create", name, len(configs), maxTasks)
	}
	if err != nil {
		w.failConnector(name, "connector failed to generate task configs", err)
		return nil, err
	}
	out := make([]map[string]string, len(configs))
	for i, c := range configs {
		tc := maps.Clone(c)
		if tc == nil {
			tc = map[string]string{}
		}
		tc[KeyTaskClass] = run.plugin.TaskClass
		if run.plugin.Kind == connect.KindSink {
			for _, k := range []string{KeyTopics, KeyTopicsRegex} {
				if v, ok := run.config[k]; ok {
					tc[k] = v
				}
			}
		}
		out[i] = tc
	}
	// Secrets resolved from providers must not reach the config topic.
	return configprovider.ReverseTransform(run.raw, out), nil
}

// StartTask starts one task goroutine. connConfig is the connector config
// (converters, errors.*, client overrides come from it); taskConfig is what
// the task's Start receives.
func (w *Worker) StartTask(id herder.TaskID, connConfig, taskConfig map[string]string, target herder.TargetState) error {
	err := w.startTask(id, connConfig, taskConfig, target)
	if err != nil {
		w.logger.Error("task failed to start; the task is FAILED and will not recover until restarted",
			"connector", id.Connector, "task", id.Task, "task_id", id.String(), "error", Trace(err))
		w.status.PutTask(id, herder.StateFailed, err)
	}
	return err
}

func (w *Worker) startTask(id herder.TaskID, connConfig, taskConfig map[string]string, target herder.TargetState) error {
	connConfig, err := w.providers.Resolve(connConfig)
	if err != nil {
		return fmt.Errorf("failed to resolve config placeholders of connector %s: %w", id.Connector, err)
	}
	if taskConfig, err = w.providers.Resolve(taskConfig); err != nil {
		return fmt.Errorf("failed to resolve config placeholders of task %s: %w", id, err)
	}
	plugin, ok := w.reg.LookupConnector(connConfig[KeyConnectorClass])
	if !ok {
		return fmt.Errorf("connector class %q is not installed", connConfig[KeyConnectorClass])
	}
	fw, err := FrameworkDef(plugin.Kind).Parse(connConfig)
	if err != nil {
		return err
	}
	keyConv, err := w.converter(connConfig, KeyKeyConverter, true)
	if err != nil {
		return err
	}
	valConv, err := w.converter(connConfig, KeyValueConverter, false)
	if err != nil {
		return err
	}
	hdrConv, err := w.headerConverter(connConfig)
	if err != nil {
		return err
	}
	logger := w.logger.With("connector", id.Connector, "task", id.Task)
	spec := task.Spec{
		ID: id, TaskConfig: taskConfig,
		KeyConverter: keyConv, ValueConverter: valConv, HeaderConverter: hdrConv,
		Errors: task.ErrorPolicy{
			RetryTimeout:  time.Duration(fw.Long(KeyErrorsRetryTimeout)) * time.Millisecond,
			RetryDelayMax: time.Duration(fw.Long(KeyErrorsRetryDelay)) * time.Millisecond,
			Tolerance:     fw.String(KeyErrorsTolerance),
			LogErrors:     fw.Bool(KeyErrorsLogEnable),
			LogMessages:   fw.Bool(KeyErrorsLogMessages),
		},
		Logger:   logger,
		Listener: taskListener{status: w.status, log: w.logger},
		Paused:   target == herder.TargetPaused,
		Classes: task.PluginClasses{
			KeyConverter:    w.pluginClass(connConfig, KeyKeyConverter, KeyKeyConverter, connect.KindConverter),
			ValueConverter:  w.pluginClass(connConfig, KeyValueConverter, KeyValueConverter, connect.KindConverter),
			HeaderConverter: w.pluginClass(connConfig, KeyHeaderConverter, WHeaderConverter, connect.KindHeaderConverter),
			Task:            plugin.TaskClass,
		},
	}
	spec.DLQ = dlqSpec(plugin.Kind, connConfig)
	if spec.DLQ.Topic != "" {
		spec.DLQ.KafkaOpts, err = w.connectorClientOpts(kafkaclient.Producer, connConfig, fmt.Sprintf("connector-dlq-producer-%s-%d", id.Connector, id.Task), logger)
		if err != nil {
			return err
		}
		spec.DLQ.AdminOpts, err = w.connectorClientOpts(kafkaclient.Admin, connConfig, fmt.Sprintf("connector-dlq-adminclient-%s-%d", id.Connector, id.Task), logger)
		if err != nil {
			return err
		}
	}
	chain, err := BuildTransformChain(w.reg, connConfig)
	if err != nil {
		return err
	}
	chainOwned := false // set once the task goroutine owns the chain
	defer func() {
		if !chainOwned {
			_ = chain.Close()
		}
	}()
	if chain.Len() > 0 {
		spec.Transforms = chain
	}
	var runner task.Runner
	switch plugin.Kind {
	case connect.KindSource:
		t, ok := plugin.New().(connect.SourceConnector)
		if !ok {
			return fmt.Errorf("plugin %s is not a source connector", plugin.Class)
		}
		// Apache's producer default is compression.type=none (franz-go's is
		// snappy); producer.* and producer.override.* may change it.
		var opts []kgo.Opt
		opts, err = w.connectorClientOpts(kafkaclient.Producer, connConfig, fmt.Sprintf("connector-producer-%s-%d", id.Connector, id.Task), logger)
		if err != nil {
			return err
		}
		spec.KafkaOpts = append([]kgo.Opt{kgo.ProducerBatchCompression(kgo.NoCompression())}, opts...)
		runner, err = task.NewSource(spec, t.NewTask(), task.SourceOptions{
			Offsets: w.offsets, FlushInterval: w.cfg.FlushInterval(), FlushTimeout: w.cfg.FlushTimeout(),
		})
	case connect.KindSink:
		t, ok := plugin.New().(connect.SinkConnector)
		if !ok {
			return fmt.Errorf("plugin %s is not a sink connector", plugin.Class)
		}
		groupID := SinkGroupID(connConfig)
		spec.KafkaOpts, err = w.connectorClientOpts(kafkaclient.Consumer, connConfig, fmt.Sprintf("connector-consumer-%s-%d", id.Connector, id.Task), logger)
		if err != nil {
			return err
		}
		runner, err = task.NewSink(spec, t.NewTask(), task.SinkOptions{
			GroupID: groupID, Topics: fw.List(KeyTopics), TopicsRegex: fw.String(KeyTopicsRegex),
			CommitInterval: w.cfg.FlushInterval(), CommitTimeout: w.cfg.FlushTimeout(),
			MaxPollRecords: maxPollRecords(w.cfg.Raw, connConfig),
		})
	default:
		return fmt.Errorf("plugin %s is not a connector", plugin.Class)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.mu.Lock()
	if _, exists := w.tasks[id]; exists {
		w.mu.Unlock()
		cancel()
		return fmt.Errorf("task %s is already running on this worker", id)
	}
	w.tasks[id] = &taskRun{runner: runner, cancel: cancel}
	w.wg.Add(1)
	w.mu.Unlock()
	chainOwned = true
	go func() {
		defer w.wg.Done()
		defer cancel()
		defer chain.Close()
		runner.Run(ctx)
	}()
	return nil
}

// maxPollRecords is the sink consumer's max.poll.records: the connector's
// consumer.override.* wins over the worker's consumer.*; 0 when neither is
// set (each poll then goes to one Put).
func maxPollRecords(workerRaw, connConfig map[string]string) int {
	for _, v := range []string{connConfig["consumer.override.max.poll.records"], workerRaw["consumer.max.poll.records"]} {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// SinkGroupID is the consumer group of a sink connector.
func SinkGroupID(connConfig map[string]string) string {
	if g := strings.TrimSpace(connConfig["consumer.override.group.id"]); g != "" {
		return g
	}
	return "connect-" + connConfig[KeyName]
}

// SetTaskTarget pauses or resumes a running task.
func (w *Worker) SetTaskTarget(id herder.TaskID, target herder.TargetState) {
	w.mu.Lock()
	tr := w.tasks[id]
	w.mu.Unlock()
	if tr != nil {
		tr.runner.SetPaused(target == herder.TargetPaused)
	}
}

// TaskIDs returns the ids of a connector's tasks running here.
func (w *Worker) TaskIDs(connector string) []herder.TaskID {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []herder.TaskID
	for id := range w.tasks {
		if id.Connector == connector {
			out = append(out, id)
		}
	}
	return out
}

// StopTasks stops tasks gracefully, waiting at most
// task.shutdown.graceful.timeout.ms for all of them together; tasks still
// running then are cancelled (their late status updates and commits are
// dropped) and left to exit on their own.
func (w *Worker) StopTasks(ids []herder.TaskID) {
	w.mu.Lock()
	var runs []*taskRun
	for _, id := range ids {
		if tr := w.tasks[id]; tr != nil {
			runs = append(runs, tr)
			delete(w.tasks, id)
		}
	}
	w.mu.Unlock()
	for _, tr := range runs {
		tr.runner.Stop()
	}
	deadline := time.NewTimer(w.cfg.ShutdownTimeout())
	defer deadline.Stop()
	for _, tr := range runs {
		select {
		case <-tr.runner.Done():
		case <-deadline.C:
			for _, late := range runs {
				select {
				case <-late.runner.Done():
				default:
					w.logger.Warn("task did not stop in time; cancelling it", "connector", late.runner.ID().Connector, "task", late.runner.ID().Task)
					late.runner.Cancel()
					late.cancel()
				}
			}
			return
		}
	}
}

// Close stops every connector and task and waits for their goroutines.
func (w *Worker) Close() {
	w.mu.Lock()
	ids := make([]herder.TaskID, 0, len(w.tasks))
	for id := range w.tasks {
		ids = append(ids, id)
	}
	names := make([]string, 0, len(w.connectors))
	for n := range w.connectors {
		names = append(names, n)
	}
	w.mu.Unlock()
	w.StopTasks(ids)
	for _, n := range names {
		w.StopConnector(n)
	}
	w.wg.Wait()
}

// converter builds a key or value converter: the connector's own class and
// settings when it overrides the converter, else the worker's.
func (w *Worker) converter(connConfig map[string]string, key string, isKey bool) (connect.Converter, error) {
	class, props := w.cfg.String(key), connect.StripPrefix(w.cfg.Raw, key+".")
	if c := strings.TrimSpace(connConfig[key]); c != "" {
		class, props = c, connect.StripPrefix(connConfig, key+".")
	}
	p, ok := w.reg.Lookup(class, connect.KindConverter)
	if !ok {
		return nil, fmt.Errorf("converter class %s could not be found", class)
	}
	conv, ok := p.New().(connect.Converter)
	if !ok {
		return nil, fmt.Errorf("%s is not a converter", class)
	}
	if isKey {
		props["converter.type"] = "key"
	} else {
		props["converter.type"] = "value"
	}
	if err := conv.Configure(props, isKey); err != nil {
		return nil, fmt.Errorf("configuring %s: %w", key, err)
	}
	return conv, nil
}

func (w *Worker) headerConverter(connConfig map[string]string) (connect.HeaderConverter, error) {
	class, props := w.cfg.String(WHeaderConverter), connect.StripPrefix(w.cfg.Raw, WHeaderConverter+".")
	if c := strings.TrimSpace(connConfig[KeyHeaderConverter]); c != "" {
		class, props = c, connect.StripPrefix(connConfig, KeyHeaderConverter+".")
	}
	p, ok := w.reg.Lookup(class, connect.KindHeaderConverter)
	if !ok {
		return nil, fmt.Errorf("header converter class %s could not be found", class)
	}
	conv, ok := p.New().(connect.HeaderConverter)
	if !ok {
		return nil, fmt.Errorf("%s is not a header converter", class)
	}
	props["converter.type"] = "header"
	if err := conv.Configure(props); err != nil {
		return nil, fmt.Errorf("configuring %s: %w", KeyHeaderConverter, err)
	}
	return conv, nil
}

// pluginClass is the Java class configured under connKey (the connector's
// override) or else workerKey (the worker's), as the registry names it.
func (w *Worker) pluginClass(connConfig map[string]string, connKey, workerKey string, kind connect.PluginKind) string {
	class := w.cfg.String(workerKey)
	if c := strings.TrimSpace(connConfig[connKey]); c != "" {
		class = c
	}
	if p, ok := w.reg.Lookup(class, kind); ok {
		return p.Class
	}
	return class
}

// dlqSpec reads the errors.deadletterqueue.* keys. Sources honour them
// too, as a Ferry extension: their failed records are written as JSON.
func dlqSpec(kind connect.PluginKind, connConfig map[string]string) task.DeadLetterQueue {
	d := task.DeadLetterQueue{Topic: strings.TrimSpace(connConfig[KeyDLQTopic]), ReplicationFactor: 3}
	if d.Topic == "" || (kind != connect.KindSink && kind != connect.KindSource) {
		return task.DeadLetterQueue{}
	}
	if v, err := strconv.ParseInt(strings.TrimSpace(connConfig[KeyDLQReplication]), 10, 16); err == nil {
		d.ReplicationFactor = int16(v)
	}
	d.ContextHeaders = strings.EqualFold(strings.TrimSpace(connConfig[KeyDLQContextHdrs]), "true")
	return d
}

// taskListener turns task lifecycle events into status entries.
type taskListener struct {
	status StatusSink
	log    *slog.Logger
}

func (l taskListener) OnStartup(id herder.TaskID) { l.status.PutTask(id, herder.StateRunning, nil) }
func (l taskListener) OnPause(id herder.TaskID)   { l.status.PutTask(id, herder.StatePaused, nil) }
func (l taskListener) OnResume(id herder.TaskID)  { l.status.PutTask(id, herder.StateRunning, nil) }
func (l taskListener) OnFailure(id herder.TaskID, err error) {
	// The one place a running task's unrecoverable error reaches the log.
	l.log.Error("task threw an unrecoverable error; the task is FAILED and will not recover until restarted",
		"connector", id.Connector, "task", id.Task, "task_id", id.String(), "error", Trace(err))
	l.status.PutTask(id, herder.StateFailed, err)
}
func (l taskListener) OnShutdown(id herder.TaskID) { l.status.PutTask(id, herder.StateUnassigned, nil) }
func (l taskListener) OnTopic(id herder.TaskID, topic string) {
	l.status.AddTopic(id, topic)
}

// safeCall runs plugin code, turning a panic into an error so one bad
// plugin cannot take the worker down.
func safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}
