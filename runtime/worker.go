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
	"github.com/ferryhq/ferry/runtime/connrun"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/runtime/restart"
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
// does not decide what runs: a herder does, and calls the Worker. Each
// connector instance runs on its own goroutine (package connrun) and each
// task on its own (package task); no Worker method calls a connector's or
// task's Start, TaskConfigs, Poll, Put or Stop on the caller's goroutine. The Worker restarts failed instances itself as
// the restart.auto.* settings allow (package restart). Every goroutine it
// starts is tracked and stopped by Close, which waits a bounded time and
// then abandons (and logs) what is stuck.
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

// connectorRun is one connector instance on this worker: its runner and
// its automatic restart state. Fields below runner are guarded by
// Worker.mu.
type connectorRun struct {
	name   string
	plugin connect.Plugin
	config map[string]string // resolved
	raw    map[string]string // as stored, with placeholders
	runner *connrun.Runner

	tracker *restart.Tracker
	timer   *time.Timer  // pending automatic restart or health check
	state   herder.State // last reported
	stopped bool
}

type taskRun struct {
	runner task.Runner
	cancel context.CancelFunc

	// What a restart needs, and the automatic restart state; guarded by
	// Worker.mu.
	connConfig, taskConfig map[string]string
	target                 herder.TargetState
	tracker                *restart.Tracker
	timer                  *time.Timer
	state                  herder.State // last reported
	stopped                bool
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

// ConnectorStopTimeout bounds how long stopping one connector instance may
// take (its Stop, or a Start still in progress) before the worker abandons
// it and goes on; the instance's goroutine is left to end on its own and
// its later status reports are dropped.
const ConnectorStopTimeout = 5 * time.Second

// StartConnector creates a connector instance in the given target state and
// returns at once: the instance starts on its own goroutine. A start
// failure is not returned: it leaves the connector FAILED with the error as
// its trace, which is how the status API reports it. The error returned is
// for a connector that could not even be created (its class is missing, a
// placeholder cannot be resolved); it is FAILED too.
func (w *Worker) StartConnector(name string, config map[string]string, target herder.TargetState) error {
	plugin, ok := w.reg.LookupConnector(config[KeyConnectorClass])
	if !ok {
		err := connect.NonRetriable(fmt.Errorf("connector class %q is not installed", config[KeyConnectorClass]))
		w.connectorFailed(name, "connector failed to start", err, nil)
		return err
	}
	if _, ok := plugin.New().(connect.Connector); !ok {
		return fmt.Errorf("plugin %s does not create a connector", plugin.Class)
	}
	resolved, err := w.providers.Resolve(config)
	if err != nil {
		err = fmt.Errorf("failed to resolve config placeholders of connector %s: %w", name, err)
		w.connectorFailed(name, "connector failed to start", err, nil)
		return err
	}
	run := &connectorRun{name: name, plugin: plugin, config: maps.Clone(resolved), raw: maps.Clone(config),
		tracker: restart.NewTracker(w.restartPolicy(config))}
	run.runner = connrun.New(connrun.Options{
		Name: name,
		New: func() connect.Connector {
			c, _ := plugin.New().(connect.Connector)
			return c
		},
		Config:        run.config,
		Target:        target,
		Listener:      connListener{w: w, run: run},
		Logger:        w.logger.With("connector", name),
		OnReconfigure: func() { w.onReconfigure(name) },
	})
	w.mu.Lock()
	if _, exists := w.connectors[name]; exists {
		w.mu.Unlock()
		return fmt.Errorf("connector %s is already running on this worker", name)
	}
	w.connectors[name] = run
	w.wg.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.wg.Done()
		run.runner.Run()
	}()
	return nil
}

// restartPolicy is the automatic restart policy of a connector: the
// worker's restart.auto.* keys, overridden by the connector's.
func (w *Worker) restartPolicy(connConfig map[string]string) restart.Policy {
	p := restart.Policy{
		Enabled:     w.cfg.Bool(WRestartEnable),
		MaxAttempts: w.cfg.Int(WRestartMaxAttempts),
		Initial:     time.Duration(w.cfg.Long(WRestartBackoffInit)) * time.Millisecond,
		Max:         time.Duration(w.cfg.Long(WRestartBackoffMax)) * time.Millisecond,
	}
	get := func(k string) (string, bool) {
		v := strings.TrimSpace(connConfig[k])
		return v, v != ""
	}
	if v, ok := get(WRestartEnable); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			p.Enabled = b
		}
	}
	if v, ok := get(WRestartMaxAttempts); ok {
		if n, err := strconv.Atoi(v); err == nil {
			p.MaxAttempts = n
		}
	}
	if v, ok := get(WRestartBackoffInit); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			p.Initial = time.Duration(n) * time.Millisecond
		}
	}
	if v, ok := get(WRestartBackoffMax); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			p.Max = time.Duration(n) * time.Millisecond
		}
	}
	return p
}

// connListener turns a connector runner's transitions into status entries
// and schedules automatic restarts.
type connListener struct {
	w   *Worker
	run *connectorRun
}

func (l connListener) OnStartup(name string) {
	w, run := l.w, l.run
	w.mu.Lock()
	if run.stopped {
		w.mu.Unlock()
		return
	}
	run.tracker.Running(time.Now())
	run.state = herder.StateRunning
	var info *herder.RestartInfo
	if n := run.tracker.Attempts(); n > 0 {
		info = &herder.RestartInfo{Attempts: n}
		w.scheduleLocked(&run.timer, run.tracker.Policy.HealthyAfter(), func() { w.connectorHealthy(run) })
	}
	w.mu.Unlock()
	w.putConnectorRestart(name, info)
	w.status.PutConnector(name, herder.StateRunning, nil)
	// A (re)started connector may have new task configs.
	w.onReconfigure(name)
}

func (l connListener) OnPause(name string) { l.put(herder.StatePaused) }
func (l connListener) OnStop(name string)  { l.put(herder.StateStopped) }

func (l connListener) put(state herder.State) {
	l.w.mu.Lock()
	l.run.state = state
	l.w.mu.Unlock()
	l.w.status.PutConnector(l.run.name, state, nil)
}

func (l connListener) OnFailure(name string, err error) {
	w, run := l.w, l.run
	w.mu.Lock()
	if run.stopped {
		w.mu.Unlock()
		return
	}
	info := w.failedLocked(run.tracker, &run.timer, err, func() { w.restartConnectorAuto(run) })
	run.state = herder.StateFailed
	w.mu.Unlock()
	w.putConnectorRestart(name, info)
	w.connectorFailed(name, "connector failed", err, info)
}

// failedLocked records a failure in tracker and, when another attempt is
// due, schedules restart on *timer; it returns the restart state to show.
// w.mu must be held.
func (w *Worker) failedLocked(tracker *restart.Tracker, timer **time.Timer, err error, restartFn func()) *herder.RestartInfo {
	now := time.Now()
	delay, again := tracker.Failed(now, err)
	if *timer != nil {
		(*timer).Stop()
	}
	if !again {
		if n := tracker.Attempts(); n > 0 {
			return &herder.RestartInfo{Attempts: n}
		}
		return nil
	}
	w.scheduleLocked(timer, delay, restartFn)
	return &herder.RestartInfo{Attempts: tracker.Attempts(), NextAttempt: now.Add(delay).UTC().Format(time.RFC3339)}
}

// scheduleLocked replaces *t with a timer running fn after d; w.mu held.
func (w *Worker) scheduleLocked(t **time.Timer, d time.Duration, fn func()) {
	if *t != nil {
		(*t).Stop()
	}
	*t = time.AfterFunc(d, fn)
}

func (w *Worker) restartConnectorAuto(run *connectorRun) {
	w.mu.Lock()
	live := !run.stopped && w.connectors[run.name] == run
	attempt := run.tracker.Attempts()
	w.mu.Unlock()
	if !live {
		return
	}
	w.logger.Info("restarting failed connector automatically", "connector", run.name, "attempt", attempt)
	w.status.PutConnector(run.name, herder.StateRestarting, nil)
	run.runner.Restart()
}

// connectorHealthy clears the restart count of a connector that kept
// running long enough.
func (w *Worker) connectorHealthy(run *connectorRun) {
	w.mu.Lock()
	cleared := !run.stopped && run.state != herder.StateFailed && run.tracker.Healthy(time.Now())
	state := run.state
	w.mu.Unlock()
	if cleared {
		// Written again without the restart field.
		w.putConnectorRestart(run.name, nil)
		w.status.PutConnector(run.name, state, nil)
	}
}

// RestartSink is an optional StatusSink capability: it shows the automatic
// restart state of connectors and tasks (the "restart" status field). The
// state is set before the status entry it belongs to.
type RestartSink interface {
	PutConnectorRestart(name string, info *herder.RestartInfo)
	PutTaskRestart(id herder.TaskID, info *herder.RestartInfo)
}

func (w *Worker) putConnectorRestart(name string, info *herder.RestartInfo) {
	if rs, ok := w.status.(RestartSink); ok {
		rs.PutConnectorRestart(name, info)
	}
}

func (w *Worker) putTaskRestart(id herder.TaskID, info *herder.RestartInfo) {
	if rs, ok := w.status.(RestartSink); ok {
		rs.PutTaskRestart(id, info)
	}
}

// connectorFailed marks a connector FAILED and logs why at ERROR, with the
// trace the status shows: someone reading the worker's log should not have
// to ask the REST API what went wrong.
func (w *Worker) connectorFailed(name, msg string, err error, info *herder.RestartInfo) {
	if info != nil && info.NextAttempt != "" {
		w.logger.Error(msg+"; the connector is FAILED and will be restarted automatically",
			"connector", name, "attempt", info.Attempts, "next_attempt", info.NextAttempt, "error", Trace(err))
	} else {
		w.logger.Error(msg+"; the connector is FAILED and will not recover until restarted",
			"connector", name, "error", Trace(err))
	}
	w.status.PutConnector(name, herder.StateFailed, err)
}

// SetConnectorTarget changes a running connector's target state.
func (w *Worker) SetConnectorTarget(name string, target herder.TargetState) {
	w.mu.Lock()
	run := w.connectors[name]
	w.mu.Unlock()
	if run != nil {
		run.runner.SetTarget(target)
	}
}

// StopConnector stops and forgets a connector instance (its tasks are
// stopped separately). It waits at most ConnectorStopTimeout.
func (w *Worker) StopConnector(name string) {
	w.mu.Lock()
	run := w.connectors[name]
	delete(w.connectors, name)
	if run != nil {
		run.stopped = true
		if run.timer != nil {
			run.timer.Stop()
		}
	}
	w.mu.Unlock()
	if run != nil {
		run.runner.StopWait(ConnectorStopTimeout)
	}
}

// IsRunning reports whether a connector instance is started and healthy.
func (w *Worker) IsRunning(name string) bool {
	w.mu.Lock()
	run := w.connectors[name]
	w.mu.Unlock()
	return run != nil && run.runner.IsRunning()
}

// ErrConnectorNotRunning answers a task configs request for a connector
// that is not started here (starting, paused, stopped, failed or gone).
var ErrConnectorNotRunning = connrun.ErrNotRunning

// TaskConfigTimeout bounds a connector's TaskConfigs call for callers that
// have no deadline of their own.
const TaskConfigTimeout = 30 * time.Second

// TaskConfigs asks a running connector for its task configs and adds the
// framework keys (task.class, and topics/topics.regex for sinks). It waits
// for the connector's goroutine until ctx ends. A connector whose tasks.max
// exceeds the worker's tasks.max.limit fails without being asked, and so
// does one returning more configs than that limit.
func (w *Worker) TaskConfigs(ctx context.Context, name string) ([]map[string]string, error) {
	w.mu.Lock()
	run := w.connectors[name]
	w.mu.Unlock()
	if run == nil || !run.runner.IsRunning() {
		return nil, fmt.Errorf("connector %s: %w", name, ErrConnectorNotRunning)
	}
	parsed, err := FrameworkDef(run.plugin.Kind).Parse(run.config)
	if err != nil {
		run.runner.Fail(connect.NonRetriable(err))
		return nil, err
	}
	maxTasks, limit := parsed.Int(KeyTasksMax), TasksMaxLimit(w.cfg)
	if maxTasks > limit {
		err := connect.NonRetriable(fmt.Errorf("the connector %s has tasks.max=%d, above the worker's %s=%d; lower its tasks.max", name, maxTasks, WTasksMaxLimit, limit))
		run.runner.Fail(err)
		return nil, err
	}
	configs, err := run.runner.TaskConfigs(ctx, maxTasks)
	if err != nil {
		return nil, err
	}
	switch {
	case len(configs) > limit:
		err = fmt.Errorf("the connector %s has generated %d tasks, which is greater than %d, the worker's %s", name, len(configs), limit, WTasksMaxLimit)
	case len(configs) > maxTasks && parsed.Bool(KeyTasksMaxEnforce):
		err = fmt.Errorf("the connector %s has generated %d tasks, which is greater than %d, the maximum number of tasks it is configured to create", name, len(configs), maxTasks)
	}
	if err != nil {
		// Restarting would produce the same configs.
		err = connect.NonRetriable(err)
		run.runner.Fail(err)
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
// the task's Start receives. A task that fails later is restarted
// automatically (with the same configs) as the connector's restart.auto.*
// settings allow; one that cannot be built (a missing converter, an invalid
// config) is not.
func (w *Worker) StartTask(id herder.TaskID, connConfig, taskConfig map[string]string, target herder.TargetState) error {
	tr := &taskRun{connConfig: maps.Clone(connConfig), taskConfig: maps.Clone(taskConfig), target: target,
		tracker: restart.NewTracker(w.restartPolicy(connConfig))}
	err := w.startTask(id, tr, nil)
	if err != nil {
		w.logger.Error("task failed to start; the task is FAILED and will not recover until restarted",
			"connector", id.Connector, "task", id.Task, "task_id", id.String(), "error", Trace(err))
		w.status.PutTask(id, herder.StateFailed, err)
	}
	return err
}

// errTaskGone is startTask's answer when the task it was to replace was
// stopped meanwhile.
var errTaskGone = errors.New("task was stopped")

// startTask builds and launches tr's task. replace is the entry it takes
// the place of (an automatic restart), or nil for a task new here.
func (w *Worker) startTask(id herder.TaskID, tr *taskRun, replace *taskRun) error {
	w.mu.Lock()
	connConfig, taskConfig, target := tr.connConfig, tr.taskConfig, tr.target
	w.mu.Unlock()
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
		Listener: taskListener{w: w, tr: tr},
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
	cur := w.tasks[id]
	if replace != nil && (cur != replace || replace.stopped) {
		w.mu.Unlock()
		cancel()
		return errTaskGone
	}
	if replace == nil && cur != nil {
		w.mu.Unlock()
		cancel()
		return fmt.Errorf("task %s is already running on this worker", id)
	}
	tr.runner, tr.cancel = runner, cancel
	w.tasks[id] = tr
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
	var runner task.Runner
	if tr != nil {
		tr.target = target
		runner = tr.runner
	}
	w.mu.Unlock()
	if runner != nil {
		runner.SetPaused(target == herder.TargetPaused)
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
// dropped) and left to exit on their own. Pending automatic restarts of
// these tasks are dropped.
func (w *Worker) StopTasks(ids []herder.TaskID) {
	type stopping struct {
		runner task.Runner
		cancel context.CancelFunc
	}
	w.mu.Lock()
	var runs []stopping
	for _, id := range ids {
		if tr := w.tasks[id]; tr != nil {
			tr.stopped = true
			if tr.timer != nil {
				tr.timer.Stop()
			}
			runs = append(runs, stopping{tr.runner, tr.cancel})
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

// taskListener turns a task's lifecycle events into status entries and
// schedules its automatic restarts.
type taskListener struct {
	w  *Worker
	tr *taskRun
}

func (l taskListener) OnStartup(id herder.TaskID) {
	w, tr := l.w, l.tr
	w.mu.Lock()
	tr.tracker.Running(time.Now())
	tr.state = herder.StateRunning
	var info *herder.RestartInfo
	if n := tr.tracker.Attempts(); n > 0 && !tr.stopped {
		info = &herder.RestartInfo{Attempts: n}
		w.scheduleLocked(&tr.timer, tr.tracker.Policy.HealthyAfter(), func() { w.taskHealthy(id, tr) })
	}
	w.mu.Unlock()
	w.putTaskRestart(id, info)
	w.status.PutTask(id, herder.StateRunning, nil)
}

func (l taskListener) OnPause(id herder.TaskID)  { l.put(id, herder.StatePaused) }
func (l taskListener) OnResume(id herder.TaskID) { l.put(id, herder.StateRunning) }

func (l taskListener) put(id herder.TaskID, state herder.State) {
	l.w.mu.Lock()
	l.tr.state = state
	l.w.mu.Unlock()
	l.w.status.PutTask(id, state, nil)
}

func (l taskListener) OnFailure(id herder.TaskID, err error) { l.w.taskFailed(id, l.tr, err) }

func (l taskListener) OnShutdown(id herder.TaskID) {
	l.w.status.PutTask(id, herder.StateUnassigned, nil)
}

func (l taskListener) OnTopic(id herder.TaskID, topic string) { l.w.status.AddTopic(id, topic) }

// taskFailed reports a task's unrecoverable error and, when the policy
// allows, schedules its automatic restart.
func (w *Worker) taskFailed(id herder.TaskID, tr *taskRun, err error) {
	w.mu.Lock()
	var info *herder.RestartInfo
	if !tr.stopped {
		info = w.failedLocked(tr.tracker, &tr.timer, err, func() { w.restartTaskAuto(id, tr) })
	}
	tr.state = herder.StateFailed
	w.mu.Unlock()
	w.putTaskRestart(id, info)
	// The one place a running task's unrecoverable error reaches the log.
	if info != nil && info.NextAttempt != "" {
		w.logger.Error("task threw an unrecoverable error; the task is FAILED and will be restarted automatically",
			"connector", id.Connector, "task", id.Task, "task_id", id.String(), "attempt", info.Attempts, "next_attempt", info.NextAttempt, "error", Trace(err))
	} else {
		w.logger.Error("task threw an unrecoverable error; the task is FAILED and will not recover until restarted",
			"connector", id.Connector, "task", id.Task, "task_id", id.String(), "error", Trace(err))
	}
	w.status.PutTask(id, herder.StateFailed, err)
}

// restartTaskAuto starts a failed task again with the configs it had, once
// its previous run has ended.
func (w *Worker) restartTaskAuto(id herder.TaskID, tr *taskRun) {
	w.mu.Lock()
	live := !tr.stopped && w.tasks[id] == tr
	prev := tr.runner
	attempt := tr.tracker.Attempts()
	w.mu.Unlock()
	if !live {
		return
	}
	select {
	case <-prev.Done():
	case <-time.After(w.cfg.ShutdownTimeout()):
		w.logger.Warn("failed task has not ended; abandoning it before its automatic restart", "connector", id.Connector, "task", id.Task)
		prev.Cancel()
	}
	w.logger.Info("restarting failed task automatically", "connector", id.Connector, "task", id.Task, "attempt", attempt)
	w.status.PutTask(id, herder.StateRestarting, nil)
	err := w.startTask(id, tr, tr)
	if errors.Is(err, errTaskGone) {
		return
	}
	if err != nil {
		// A task that cannot be built (a converter or transform that no
		// longer configures) is not retried.
		w.taskFailed(id, tr, connect.NonRetriable(err))
	}
}

// taskHealthy clears the restart count of a task that kept running long
// enough.
func (w *Worker) taskHealthy(id herder.TaskID, tr *taskRun) {
	w.mu.Lock()
	cleared := !tr.stopped && tr.state != herder.StateFailed && tr.tracker.Healthy(time.Now())
	state := tr.state
	w.mu.Unlock()
	if cleared {
		// Written again without the restart field.
		w.putTaskRestart(id, nil)
		w.status.PutTask(id, state, nil)
	}
}

// Close stops every task and connector here. It is bounded: tasks get
// task.shutdown.graceful.timeout.ms, connectors ConnectorStopTimeout, and
// whatever still runs after that (a Poll that ignores its context, a Stop
// that hangs) is abandoned and logged rather than waited for.
func (w *Worker) Close() {
	w.mu.Lock()
	ids := make([]herder.TaskID, 0, len(w.tasks))
	for id := range w.tasks {
		ids = append(ids, id)
	}
	var runs []*connectorRun
	for n, run := range w.connectors {
		run.stopped = true
		if run.timer != nil {
			run.timer.Stop()
		}
		runs = append(runs, run)
		delete(w.connectors, n)
	}
	w.mu.Unlock()
	w.StopTasks(ids)
	for _, run := range runs {
		run.runner.Stop()
	}
	deadline := time.Now()
	if len(runs) > 0 {
		deadline = deadline.Add(ConnectorStopTimeout)
	}
	for _, run := range runs {
		t := time.NewTimer(max(time.Until(deadline), 0))
		select {
		case <-run.runner.Done():
		case <-t.C:
			w.logger.Warn("connector did not stop in time; abandoning it", "connector", run.name)
		}
		t.Stop()
	}
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	// Cancelled tasks get one more graceful timeout to end.
	t := time.NewTimer(max(time.Until(deadline), w.cfg.ShutdownTimeout()))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.logger.Warn("some connector or task goroutines did not end; abandoning them")
	}
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
