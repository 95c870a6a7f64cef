// Package task runs one connector task: the source loop (poll, transform,
// convert, produce, commit source offsets) and the sink loop (consume,
// convert, transform, put, commit consumer offsets).
//
// The worker owns one goroutine per task and calls [Runner.Run] in it; the
// loop runs the task's whole lifecycle there and reports status transitions
// to a [StatusListener]. Every call into the connector's task (Start, Poll,
// Put, Stop, ...) is serialised: a task never sees two calls at once.
//
// Delivery is at least once: a source offset is stored only once the broker
// acknowledged its record and every earlier record of the same source
// partition, and a sink offset is committed only for records the task
// accepted and flushed.
package task

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/runtime/herder"
)

// StatusListener receives a task's status transitions. Calls come from the
// task's goroutine, never after Run returned, and none after Cancel.
type StatusListener interface {
	OnStartup(id herder.TaskID)
	OnPause(id herder.TaskID)
	OnResume(id herder.TaskID)
	// OnFailure reports the error that failed the task; its message and
	// chain are meant for the status trace.
	OnFailure(id herder.TaskID, err error)
	// OnShutdown reports a graceful stop (status UNASSIGNED).
	OnShutdown(id herder.TaskID)
}

// TopicListener is an optional StatusListener capability: it learns, once
// per task and topic, which topics the task produces to or consumes from
// (GET /connectors/{c}/topics).
type TopicListener interface {
	OnTopic(id herder.TaskID, topic string)
}

// Transformer applies a connector's transformation chain to one record; a
// nil result drops the record.
type Transformer interface {
	Apply(rec *connect.Record) (*connect.Record, error)
}

// Error tolerance values of errors.tolerance.
const (
	ToleranceNone = "none"
	ToleranceAll  = "all"
)

// ErrorPolicy is the errors.* configuration of a connector.
type ErrorPolicy struct {
	// RetryTimeout bounds retries of Retriable converter and transform
	// errors (errors.retry.timeout); 0 means no retries.
	RetryTimeout time.Duration
	// RetryDelayMax caps the backoff between retries
	// (errors.retry.delay.max.ms).
	RetryDelayMax time.Duration
	// Tolerance is ToleranceNone (fail on the first bad record, the
	// default) or ToleranceAll (skip bad records).
	Tolerance string
	// LogErrors logs each tolerated failure (errors.log.enable).
	LogErrors bool
	// LogMessages adds the record to those logs
	// (errors.log.include.messages).
	LogMessages bool
}

// Spec holds what every task needs.
type Spec struct {
	ID herder.TaskID
	// TaskConfig is given to the task's Start.
	TaskConfig      map[string]string
	KeyConverter    connect.Converter
	ValueConverter  connect.Converter
	HeaderConverter connect.HeaderConverter
	// Transforms may be nil (no transformation).
	Transforms Transformer
	Errors     ErrorPolicy
	// Logger should carry the connector and task attributes; nil discards.
	Logger   *slog.Logger
	Listener StatusListener
	// Paused starts the task in target state PAUSED: it is not started
	// until resumed.
	Paused bool
	// KafkaOpts are the client settings (seeds, security, client id,
	// overrides) derived from the worker and connector configs. They are
	// applied after the task's defaults and before the options the loop
	// cannot work without (consumer group, topics, commit mode).
	KafkaOpts []kgo.Opt
	// DLQ is the dead letter queue; a zero value (no topic) disables it.
	DLQ DeadLetterQueue
	// Classes names the task's plugins in dead letter queue headers.
	Classes PluginClasses
}

// Runner is what the worker drives; *Source and *Sink implement it.
type Runner interface {
	// Run runs the task's lifecycle in the calling goroutine until it is
	// stopped, fails, or ctx ends (which abandons it like Cancel). It
	// never panics: a panic fails the task.
	Run(ctx context.Context)
	// SetPaused changes the target state; asynchronous and idempotent.
	SetPaused(paused bool)
	// Stop asks for a graceful stop and returns at once; Done tells when
	// it finished.
	Stop()
	// Done is closed when Run returned.
	Done() <-chan struct{}
	// Cancel abandons a task that did not stop in time: its later status
	// updates and final offset commits are suppressed. It implies Stop.
	Cancel()
	ID() herder.TaskID
}

// control is the state shared between a task's goroutine and the worker's
// calls: target state, stop and cancel requests, and the means to interrupt
// a blocking call (Poll, PollFetches, a backoff) when one of them changes.
type control struct {
	mu        sync.Mutex
	paused    bool
	stopping  bool
	commitReq bool
	gen       uint64             // bumped by every kick
	interrupt context.CancelFunc // cancels the current blocking call

	cancelled atomic.Bool
	abandon   context.CancelFunc // cancels the context of final commits
	stopCh    chan struct{}
	done      chan struct{}
}

func newControl(paused bool) control {
	return control{paused: paused, stopCh: make(chan struct{}), done: make(chan struct{})}
}

// kick interrupts the current blocking call; c.mu must be held.
func (c *control) kick() {
	c.gen++
	if c.interrupt != nil {
		c.interrupt()
		c.interrupt = nil
	}
}

func (c *control) setPaused(p bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused != p {
		c.paused = p
		c.kick()
	}
}

func (c *control) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopping {
		c.stopping = true
		close(c.stopCh)
	}
	c.kick()
}

func (c *control) cancel() {
	c.cancelled.Store(true)
	c.stop()
	c.mu.Lock()
	if c.abandon != nil {
		c.abandon()
	}
	c.mu.Unlock()
}

func (c *control) requestCommit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commitReq = true
	c.kick()
}

// state returns the target state and a generation to pass to blocking.
func (c *control) state() (paused, stopping bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused, c.stopping, c.gen
}

func (c *control) takeCommitRequest() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.commitReq
	c.commitReq = false
	return r
}

// blocking returns a context for one blocking call, cancelled on the next
// kick, after d (if d > 0), or at once if a kick happened since gen.
func (c *control) blocking(parent context.Context, gen uint64, d time.Duration) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	if d > 0 {
		ctx, cancel = context.WithTimeout(parent, d)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	c.mu.Lock()
	if c.gen != gen {
		cancel()
	} else {
		c.interrupt = cancel
	}
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		c.interrupt = nil
		c.mu.Unlock()
		cancel()
	}
}

// sleep waits for d, a kick or stop; it reports false if interrupted.
func (c *control) sleep(parent context.Context, gen uint64, d time.Duration) bool {
	ctx, cancel := c.blocking(parent, gen, d)
	defer cancel()
	<-ctx.Done()
	return parent.Err() == nil && context.Cause(ctx) == context.DeadlineExceeded
}

func (c *control) isCancelled() bool { return c.cancelled.Load() }

// statusReporter suppresses status updates after Cancel and after a
// failure was reported.
type statusReporter struct {
	id     herder.TaskID
	l      StatusListener
	ctl    *control
	failed bool
}

func (r *statusReporter) startup() {
	if r.l != nil && !r.ctl.isCancelled() {
		r.l.OnStartup(r.id)
	}
}

func (r *statusReporter) pause() {
	if r.l != nil && !r.ctl.isCancelled() {
		r.l.OnPause(r.id)
	}
}

func (r *statusReporter) resume() {
	if r.l != nil && !r.ctl.isCancelled() {
		r.l.OnResume(r.id)
	}
}

func (r *statusReporter) failure(err error) {
	if r.failed {
		return
	}
	r.failed = true
	if r.l != nil && !r.ctl.isCancelled() {
		r.l.OnFailure(r.id, err)
	}
}

func (r *statusReporter) shutdown() {
	if r.l != nil && !r.failed && !r.ctl.isCancelled() {
		r.l.OnShutdown(r.id)
	}
}

// taskContext implements connect.TaskContext.
type taskContext struct {
	id  herder.TaskID
	log *slog.Logger
}

func (t *taskContext) ConnectorName() string { return t.id.Connector }
func (t *taskContext) TaskID() int           { return t.id.Task }
func (t *taskContext) Logger() *slog.Logger  { return t.log }

func loggerOf(spec Spec) *slog.Logger {
	if spec.Logger != nil {
		return spec.Logger
	}
	return slog.New(slog.DiscardHandler)
}
