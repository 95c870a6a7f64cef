package runtime

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ferryhq/ferry/runtime/herder"
)

// StatusStore keeps the latest status of connectors and tasks and the
// topics each connector used. This is the in-memory store of standalone
// mode; it is safe for concurrent use.
type StatusStore struct {
	workerID string

	mu         sync.RWMutex
	connectors map[string]herder.ConnectorState
	tasks      map[herder.TaskID]herder.TaskState
	topics     map[string]map[string]bool
	// Automatic restart state, shown with the entries above.
	connRestart map[string]*herder.RestartInfo
	taskRestart map[herder.TaskID]*herder.RestartInfo
}

var _ RestartSink = (*StatusStore)(nil)

// NewStatusStore returns an empty store whose entries carry workerID.
func NewStatusStore(workerID string) *StatusStore {
	return &StatusStore{workerID: workerID, connectors: map[string]herder.ConnectorState{},
		tasks: map[herder.TaskID]herder.TaskState{}, topics: map[string]map[string]bool{},
		connRestart: map[string]*herder.RestartInfo{}, taskRestart: map[herder.TaskID]*herder.RestartInfo{}}
}

// SetWorkerID sets the id written into new entries. The REST listener's
// address is only known once it is bound, after the store exists.
func (s *StatusStore) SetWorkerID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workerID = id
}

// PutConnector records a connector state; err becomes the trace.
func (s *StatusStore) PutConnector(name string, state herder.State, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connectors[name] = herder.ConnectorState{State: state, WorkerID: s.workerID, Trace: Trace(err)}
}

// PutTask records a task state; err becomes the trace.
func (s *StatusStore) PutTask(id herder.TaskID, state herder.State, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks[id] = herder.TaskState{ID: id.Task, State: state, WorkerID: s.workerID, Trace: Trace(err)}
}

// PutConnectorRestart records a connector's automatic restart state; nil
// clears it.
func (s *StatusStore) PutConnectorRestart(name string, info *herder.RestartInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info == nil {
		delete(s.connRestart, name)
	} else {
		s.connRestart[name] = info
	}
}

// PutTaskRestart records a task's automatic restart state; nil clears it.
func (s *StatusStore) PutTaskRestart(id herder.TaskID, info *herder.RestartInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info == nil {
		delete(s.taskRestart, id)
	} else {
		s.taskRestart[id] = info
	}
}

// Connector returns a connector's status.
func (s *StatusStore) Connector(name string) (herder.ConnectorState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.connectors[name]
	st.Restart = s.connRestart[name]
	return st, ok
}

// Task returns one task's status.
func (s *StatusStore) Task(id herder.TaskID) (herder.TaskState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.tasks[id]
	st.Restart = s.taskRestart[id]
	return st, ok
}

// Tasks returns the task statuses of a connector sorted by id.
func (s *StatusStore) Tasks(connector string) []herder.TaskState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []herder.TaskState{}
	for id, st := range s.tasks {
		if id.Connector == connector {
			st.Restart = s.taskRestart[id]
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RemoveTask forgets a task (its id is no longer part of the connector).
func (s *StatusStore) RemoveTask(id herder.TaskID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tasks, id)
	delete(s.taskRestart, id)
}

// RemoveConnector forgets a connector, its tasks and its topics.
func (s *StatusStore) RemoveConnector(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.connectors, name)
	delete(s.connRestart, name)
	delete(s.topics, name)
	for id := range s.tasks {
		if id.Connector == name {
			delete(s.tasks, id)
			delete(s.taskRestart, id)
		}
	}
}

// AddTopic records that a connector used a topic.
func (s *StatusStore) AddTopic(id herder.TaskID, topic string) {
	connector := id.Connector
	s.mu.RLock()
	known := s.topics[connector][topic]
	s.mu.RUnlock()
	if known {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics[connector] == nil {
		s.topics[connector] = map[string]bool{}
	}
	s.topics[connector][topic] = true
}

// Topics returns the topics a connector used, sorted.
func (s *StatusStore) Topics(connector string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.topics[connector]))
}

// ResetTopics forgets a connector's topics.
func (s *StatusStore) ResetTopics(connector string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.topics, connector)
}

// Trace renders an error for the status "trace" field: its message, then
// each wrapped cause whose text is not already part of the message above it,
// the way a Java stack trace lists "Caused by" entries. Credentials inside
// URLs the messages quote (a driver's connection error, say) are hidden.
func Trace(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	prev := err.Error()
	b.WriteString(prev)
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		if !strings.Contains(prev, msg) {
			fmt.Fprintf(&b, "\nCaused by: %T: %s", e, msg)
		}
		prev = msg
	}
	return RedactURLCredentials(b.String())
}
