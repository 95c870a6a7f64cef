// Package connrun runs one connector instance (not its tasks) the way
// package task runs a task: one goroutine owns the instance and is the only
// one that calls its Start, TaskConfigs and Stop. Everyone else (herders,
// the connector's own goroutines through RaiseError) sends it requests:
// a target state, a failure, a restart, a stop, a request for task configs.
// None of those calls waits for plugin code, so a slow or stuck connector
// can hold up only its own goroutine.
package connrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/runtime/herder"
)

// Listener receives the connector's status transitions. Calls come from
// the runner's goroutine, in order, and none after Stop was called.
type Listener interface {
	// OnStartup: the connector started (status RUNNING).
	OnStartup(name string)
	// OnPause: the connector is paused (status PAUSED).
	OnPause(name string)
	// OnStop: the connector is stopped by its target state (status STOPPED).
	OnStop(name string)
	// OnFailure: the connector failed (status FAILED, err is the trace).
	OnFailure(name string, err error)
}

// Options describe one connector instance.
type Options struct {
	Name string
	// New returns a fresh plugin instance; called for every start.
	New func() connect.Connector
	// Config is what Start receives (placeholders resolved).
	Config   map[string]string
	Target   herder.TargetState
	Listener Listener
	// Logger should carry the connector's name; nil discards.
	Logger *slog.Logger
	// OnReconfigure is called (from any goroutine) when the connector asks
	// for new task configs.
	OnReconfigure func()
}

// ErrNotRunning answers a task configs request while the connector is not
// started (paused, stopped, failed, starting or gone).
var ErrNotRunning = errors.New("connector is not running")

// Runner owns one connector instance's lifecycle.
type Runner struct {
	o Options

	mu          sync.Mutex
	target      herder.TargetState
	failure     error // recorded by Fail, not yet acted on
	failGen     uint64
	restart     bool
	stopping    bool
	running     bool // an instance is started and not failed
	requests    []configsRequest
	startCancel context.CancelFunc // cancels the current instance's context

	wake chan struct{}
	done chan struct{}
}

type configsRequest struct {
	maxTasks int
	reply    chan configsReply
}

type configsReply struct {
	configs []map[string]string
	err     error
}

// New returns a runner; Run starts it.
func New(o Options) *Runner {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnReconfigure == nil {
		o.OnReconfigure = func() {}
	}
	return &Runner{o: o, target: o.Target, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Name is the connector's name.
func (r *Runner) Name() string { return r.o.Name }

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// SetTarget changes the target state; it returns at once.
func (r *Runner) SetTarget(t herder.TargetState) {
	r.mu.Lock()
	r.target = t
	r.mu.Unlock()
	r.poke()
}

// Fail records that the connector failed; the runner's goroutine stops the
// instance and reports FAILED. It returns at once, so a connector may call
// it (through RaiseError) from any goroutine, including one its Stop waits
// for. The first failure wins until it was acted on.
func (r *Runner) Fail(err error) { r.fail(err, 0) }

func (r *Runner) fail(err error, gen uint64) {
	if err == nil {
		err = errors.New("connector raised an error without a cause")
	}
	r.mu.Lock()
	if r.failure == nil && (gen == 0 || gen == r.failGen) {
		r.failure = err
	}
	r.mu.Unlock()
	r.poke()
}

// Restart stops the instance if it runs and starts a fresh one in the
// current target state, clearing a failure.
func (r *Runner) Restart() {
	r.mu.Lock()
	r.restart = true
	r.mu.Unlock()
	r.poke()
}

// Stop asks the runner to stop the instance and end; it returns at once and
// Done tells when it finished. A Start in progress sees its context end.
func (r *Runner) Stop() {
	r.mu.Lock()
	r.stopping = true
	if r.startCancel != nil {
		r.startCancel()
	}
	r.mu.Unlock()
	r.poke()
}

// StopWait stops the runner and waits up to timeout for it; it reports
// false when the connector did not stop in time (the goroutine is then
// left to finish on its own and its later reports are dropped).
func (r *Runner) StopWait(timeout time.Duration) bool {
	r.Stop()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
		return true
	case <-t.C:
		r.o.Logger.Warn("connector did not stop in time; abandoning it", "connector", r.o.Name, "timeout", timeout)
		return false
	}
}

// Done is closed when the runner's goroutine has ended.
func (r *Runner) Done() <-chan struct{} { return r.done }

// IsRunning reports whether the instance is started and not failed.
func (r *Runner) IsRunning() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running && r.failure == nil && !r.stopping
}

// TaskConfigs asks the running instance for its task configs; it waits for
// the answer until ctx ends. An error from the connector fails it.
func (r *Runner) TaskConfigs(ctx context.Context, maxTasks int) ([]map[string]string, error) {
	req := configsRequest{maxTasks: maxTasks, reply: make(chan configsReply, 1)}
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		return nil, ErrNotRunning
	}
	r.requests = append(r.requests, req)
	r.mu.Unlock()
	r.poke()
	select {
	case rep := <-req.reply:
		return rep.configs, rep.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the task configs of connector %s: %w", r.o.Name, ctx.Err())
	case <-r.done:
		return nil, ErrNotRunning
	}
}

// connectorContext is what an instance sees of the runtime; it carries the
// instance's generation so a stale instance cannot fail its successor.
type connectorContext struct {
	r   *Runner
	gen uint64
}

func (c *connectorContext) RequestTaskReconfiguration() { c.r.o.OnReconfigure() }
func (c *connectorContext) Logger() *slog.Logger        { return c.r.o.Logger }
func (c *connectorContext) RaiseError(err error)        { c.r.fail(err, c.gen) }

// instance is the started plugin, owned by the runner's goroutine.
type instance struct {
	conn   connect.Connector
	cancel context.CancelFunc
}

// Run is the runner's goroutine: it acts on requests until Stop.
func (r *Runner) Run() {
	defer close(r.done)
	var inst *instance
	failed := false
	reported := herder.State("")
	report := func(s herder.State, err error) {
		r.mu.Lock()
		stopping := r.stopping
		r.mu.Unlock()
		if stopping || (s == reported && s != herder.StateFailed) {
			return
		}
		reported = s
		switch s {
		case herder.StateRunning:
			r.o.Listener.OnStartup(r.o.Name)
		case herder.StatePaused:
			r.o.Listener.OnPause(r.o.Name)
		case herder.StateStopped:
			r.o.Listener.OnStop(r.o.Name)
		case herder.StateFailed:
			r.o.Listener.OnFailure(r.o.Name, err)
		}
	}
	stopInstance := func() {
		if inst == nil {
			return
		}
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
		if err := safeCall(inst.conn.Stop); err != nil {
			r.o.Logger.Warn("connector stop failed", "connector", r.o.Name, "error", err)
		}
		inst.cancel()
		inst = nil
	}
	for {
		r.mu.Lock()
		target, failure, restart, stopping := r.target, r.failure, r.restart, r.stopping
		reqs := r.requests
		r.requests, r.restart = nil, false
		r.failure = nil
		r.mu.Unlock()

		if stopping {
			answer(reqs, nil, ErrNotRunning)
			stopInstance()
			return
		}
		if restart {
			stopInstance()
			failed, reported = false, ""
		}
		if failure != nil && !failed {
			failed = true
			stopInstance()
			report(herder.StateFailed, failure)
		}
		switch {
		case failed && target == herder.TargetStopped:
			// A failed connector may still be stopped (then resumed).
			failed = false
			report(herder.StateStopped, nil)
		case failed:
		case target == herder.TargetStarted && inst == nil:
			if err := r.start(&inst); err != nil {
				failed = true
				report(herder.StateFailed, err)
			} else if inst != nil {
				report(herder.StateRunning, nil)
			}
		case target == herder.TargetStarted:
			report(herder.StateRunning, nil)
		case target == herder.TargetPaused:
			stopInstance()
			report(herder.StatePaused, nil)
		case target == herder.TargetStopped:
			stopInstance()
			report(herder.StateStopped, nil)
		}
		for _, req := range reqs {
			if inst == nil || failed {
				req.reply <- configsReply{err: ErrNotRunning}
				continue
			}
			var configs []map[string]string
			err := safeCall(func() error {
				var e error
				configs, e = inst.conn.TaskConfigs(req.maxTasks)
				return e
			})
			req.reply <- configsReply{configs: configs, err: err}
			if err != nil {
				failed = true
				stopInstance()
				report(herder.StateFailed, fmt.Errorf("connector failed to generate task configs: %w", err))
			}
		}
		if r.pending() {
			continue
		}
		<-r.wake
	}
}

// pending reports whether a request arrived that the loop has not seen.
func (r *Runner) pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping || r.restart || r.failure != nil || len(r.requests) > 0
}

func answer(reqs []configsRequest, configs []map[string]string, err error) {
	for _, req := range reqs {
		req.reply <- configsReply{configs: configs, err: err}
	}
}

// start creates and starts a fresh instance. On success *inst is set,
// unless Stop came during Start (the instance is then stopped again). A
// failure raised during Start fails the start even if Start returned nil.
func (r *Runner) start(inst **instance) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		cancel()
		return nil
	}
	r.failGen++
	gen := r.failGen
	r.startCancel = cancel
	r.mu.Unlock()

	var conn connect.Connector
	err := safeCall(func() error {
		conn = r.o.New()
		if conn == nil {
			return errors.New("the plugin created no connector")
		}
		return conn.Start(ctx, &connectorContext{r: r, gen: gen}, r.o.Config)
	})

	r.mu.Lock()
	r.startCancel = nil
	raised := r.failure
	r.failure = nil
	stopping := r.stopping
	if err == nil && raised == nil && !stopping {
		r.running = true
	}
	r.mu.Unlock()
	if err != nil {
		cancel()
		return err
	}
	started := &instance{conn: conn, cancel: cancel}
	if raised != nil || stopping {
		if e := safeCall(conn.Stop); e != nil {
			r.o.Logger.Warn("connector stop failed", "connector", r.o.Name, "error", e)
		}
		cancel()
		return raised // nil when stopping: the loop ends next
	}
	*inst = started
	return nil
}

// safeCall runs plugin code, turning a panic into an error so one bad
// plugin cannot take the worker down.
func safeCall(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}
