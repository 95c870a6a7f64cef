package distributed

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ferryhq/ferry/internal/backoff"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/kafkastore"
)

// statusSink is the worker's runtime.StatusSink: it queues status changes
// and one goroutine writes them, in order, to the status topic with this
// worker's id and the group generation current when they happened.
// Connectors being deleted are "destroyed": their late updates (tasks
// reporting UNASSIGNED while they stop) are dropped so the tombstones
// stay last.
type statusSink struct {
	h *Herder

	mu        sync.Mutex
	queue     []statusWrite
	busy      bool
	signal    chan struct{}
	destroyed map[string]bool
	versions  map[string]string
	topics    map[string]bool // "connector\x00topic" already recorded
	// Automatic restart state of the instances running here, written with
	// their next status record.
	connRestart map[string]*herder.RestartInfo
	taskRestart map[herder.TaskID]*herder.RestartInfo
}

var _ runtime.RestartSink = (*statusSink)(nil)

// PutConnectorRestart records a connector's automatic restart state.
func (s *statusSink) PutConnectorRestart(name string, info *herder.RestartInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info == nil {
		delete(s.connRestart, name)
	} else {
		s.connRestart[name] = info
	}
}

// PutTaskRestart records a task's automatic restart state.
func (s *statusSink) PutTaskRestart(id herder.TaskID, info *herder.RestartInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info == nil {
		delete(s.taskRestart, id)
	} else {
		s.taskRestart[id] = info
	}
}

type statusWrite struct {
	connector  string
	task       *herder.TaskID
	topic      string // a topic record
	topicTask  int    // the task that used the topic
	state      herder.State
	trace      string
	generation int
	tombstone  bool
	restart    *herder.RestartInfo
}

var _ runtime.StatusSink = (*statusSink)(nil)

func newStatusSink(h *Herder) *statusSink {
	return &statusSink{h: h, signal: make(chan struct{}, 1), destroyed: map[string]bool{},
		versions: map[string]string{}, topics: map[string]bool{},
		connRestart: map[string]*herder.RestartInfo{}, taskRestart: map[herder.TaskID]*herder.RestartInfo{}}
}

func (s *statusSink) enqueue(w statusWrite) {
	s.mu.Lock()
	s.queue = append(s.queue, w)
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *statusSink) gen() int { return int(s.h.generation.Load()) }

// PutConnector records a connector state.
func (s *statusSink) PutConnector(name string, state herder.State, err error) {
	s.mu.Lock()
	gone, restart := s.destroyed[name], s.connRestart[name]
	s.mu.Unlock()
	if gone {
		return
	}
	s.enqueue(statusWrite{connector: name, state: state, trace: runtime.Trace(err), generation: s.gen(), restart: restart})
}

// PutTask records a task state.
func (s *statusSink) PutTask(id herder.TaskID, state herder.State, err error) {
	s.mu.Lock()
	gone, restart := s.destroyed[id.Connector], s.taskRestart[id]
	s.mu.Unlock()
	if gone {
		return
	}
	s.enqueue(statusWrite{connector: id.Connector, task: &id, state: state, trace: runtime.Trace(err), generation: s.gen(), restart: restart})
}

// AddTopic records, once, that a connector used a topic, naming the task
// that reported it first.
func (s *statusSink) AddTopic(id herder.TaskID, topic string) {
	connector := id.Connector
	k := connector + "\x00" + topic
	s.mu.Lock()
	seen := s.topics[k] || s.destroyed[connector]
	s.topics[k] = true
	s.mu.Unlock()
	if seen {
		return
	}
	for _, t := range s.h.statuses.Topics(connector) {
		if t == topic {
			return
		}
	}
	s.enqueue(statusWrite{connector: connector, topic: topic, topicTask: id.Task})
}

// destroy drops later updates of a deleted connector and tombstones its
// status and topic records.
func (s *statusSink) destroy(name string) {
	s.mu.Lock()
	s.destroyed[name] = true
	for k := range s.topics {
		if len(k) > len(name) && k[:len(name)+1] == name+"\x00" {
			delete(s.topics, k)
		}
	}
	s.mu.Unlock()
	s.tombstoneConnector(name)
	for _, t := range s.h.statuses.Topics(name) {
		s.enqueue(statusWrite{connector: name, topic: t, tombstone: true})
	}
}

// destroyTask tombstones a task of a deleted connector.
func (s *statusSink) destroyTask(id herder.TaskID) { s.tombstoneTask(id) }

// revive accepts updates again for a connector (created anew).
func (s *statusSink) revive(name string) {
	s.mu.Lock()
	delete(s.destroyed, name)
	s.mu.Unlock()
}

func (s *statusSink) setVersion(name, version string) {
	s.mu.Lock()
	s.versions[name] = version
	s.mu.Unlock()
}

func (s *statusSink) tombstoneConnector(name string) {
	s.enqueue(statusWrite{connector: name, tombstone: true})
}

func (s *statusSink) tombstoneTask(id herder.TaskID) {
	s.enqueue(statusWrite{connector: id.Connector, task: &id, tombstone: true})
}

// run writes queued updates until ctx ends.
func (s *statusSink) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.signal:
		}
		for {
			s.mu.Lock()
			q := s.queue
			s.queue = nil
			s.busy = len(q) > 0
			s.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for i, w := range q {
				if superseded(q[i+1:], w) {
					continue // a later update of the same record follows
				}
				s.write(ctx, w)
			}
			s.mu.Lock()
			s.busy = false
			s.mu.Unlock()
		}
	}
}

// flush waits until the queue is written or timeout passes.
func (s *statusSink) flush(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		idle := len(s.queue) == 0 && !s.busy
		s.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// write stores one update, retrying a failed write (a broker restart, a
// leader change) with backoff until it succeeds, a newer update of the same
// record is queued (the topic keeps only the latest value of a key, so the
// stale one may go), or the worker stops. Later updates wait behind it, so
// the status topic keeps their order: a status is never lost to an outage
// of the cluster, however long.
func (s *statusSink) write(ctx context.Context, w statusWrite) {
	retry := backoff.New(backoff.Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second})
	for {
		err := s.writeOnce(ctx, w)
		if err == nil || ctx.Err() != nil {
			if err != nil && !errors.Is(ctx.Err(), context.Canceled) {
				s.h.logger.Warn("cannot write status; giving up", "connector", w.connector, "error", err)
			}
			return
		}
		s.mu.Lock()
		newer := superseded(s.queue, w)
		s.mu.Unlock()
		if newer {
			s.h.logger.Info("cannot write status; a newer one is queued", "connector", w.connector, "error", err)
			return
		}
		wait := retry.Next()
		if retry.Attempts() == 1 || retry.Attempts()%10 == 0 {
			s.h.logger.Warn("cannot write status; retrying", "connector", w.connector, "attempts", retry.Attempts(), "backoff", wait, "error", err)
		}
		backoff.Sleep(ctx, wait)
	}
}

// recordKey names the status record an update writes.
func (w statusWrite) recordKey() string {
	switch {
	case w.topic != "":
		return "topic\x00" + w.connector + "\x00" + w.topic
	case w.task != nil:
		return "task\x00" + w.task.String()
	}
	return "connector\x00" + w.connector
}

// superseded reports whether later holds an update of the same record as w.
func superseded(later []statusWrite, w statusWrite) bool {
	k := w.recordKey()
	for _, l := range later {
		if l.recordKey() == k {
			return true
		}
	}
	return false
}

func (s *statusSink) writeOnce(ctx context.Context, w statusWrite) error {
	st := s.h.statuses
	s.mu.Lock()
	version := s.versions[w.connector]
	s.mu.Unlock()
	if w.state == herder.StateUnassigned {
		version = "" // Apache writes null for UNASSIGNED
	}
	workerID := s.h.workerID
	safe := w.state == herder.StateFailed || w.state == herder.StateUnassigned
	var err error
	switch {
	case w.topic != "" && w.tombstone:
		err = st.DeleteTopic(ctx, w.connector, w.topic)
	case w.topic != "":
		err = st.PutTopic(ctx, kafkastore.TopicStatus{Topic: w.topic, Connector: w.connector, Task: w.topicTask, DiscoverTimestamp: time.Now().UnixMilli()})
	case w.task != nil && w.tombstone:
		if _, ok := st.TaskStatus(*w.task); ok {
			err = st.DeleteTask(ctx, *w.task)
		}
	case w.task != nil:
		ts := kafkastore.TaskStatus{ID: *w.task, State: w.state, Trace: w.trace, WorkerID: workerID, Generation: w.generation, Version: version, Restart: w.restart}
		if safe {
			_, err = st.PutTaskSafe(ctx, ts)
		} else {
			err = st.PutTask(ctx, ts)
		}
	case w.tombstone:
		if _, ok := st.ConnectorStatus(w.connector); ok {
			err = st.DeleteConnector(ctx, w.connector)
		}
	default:
		cs := kafkastore.ConnectorStatus{Name: w.connector, State: w.state, Trace: w.trace, WorkerID: workerID, Generation: w.generation, Version: version, Restart: w.restart}
		if safe {
			_, err = st.PutConnectorSafe(ctx, cs)
		} else {
			err = st.PutConnector(ctx, cs)
		}
	}
	return err
}

// statusView reads the status topic's records in the REST API's shape.
type statusView struct{ *kafkastore.StatusStore }

func (v statusView) Connector(name string) (herder.ConnectorState, bool) {
	st, ok := v.ConnectorStatus(name)
	return herder.ConnectorState{State: st.State, WorkerID: st.WorkerID, Trace: st.Trace, Restart: st.Restart}, ok
}

func (v statusView) Task(id herder.TaskID) (herder.TaskState, bool) {
	st, ok := v.TaskStatus(id)
	return herder.TaskState{ID: id.Task, State: st.State, WorkerID: st.WorkerID, Trace: st.Trace, Restart: st.Restart}, ok
}

// Tasks returns a connector's task statuses, by id.
func (v statusView) Tasks(connector string) []herder.TaskState {
	out := []herder.TaskState{}
	for _, st := range v.TaskStatuses(connector) {
		out = append(out, herder.TaskState{ID: st.ID.Task, State: st.State, WorkerID: st.WorkerID, Trace: st.Trace, Restart: st.Restart})
	}
	return out
}
