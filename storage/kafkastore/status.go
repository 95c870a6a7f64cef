package kafkastore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ferryhq/ferry/internal/lifecycle"
	"github.com/ferryhq/ferry/storage/kafkalog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultStatusPartitions is status.storage.partitions' default.
const DefaultStatusPartitions = 5

// Status topic key prefixes (§4.3).
const (
	prefixStatusConnector = "status-connector-"
	prefixStatusTask      = "status-task-"
	prefixStatusTopic     = "status-topic-"
	topicConnectorSep     = ":connector-"
)

// Status topic keys.
func ConnectorStatusKey(c string) string { return prefixStatusConnector + c }
func TaskStatusKey(id lifecycle.TaskID) string {
	return prefixStatusTask + id.Connector + "-" + strconv.Itoa(id.Task)
}
func TopicStatusKey(connector, topic string) string {
	return prefixStatusTopic + topic + topicConnectorSep + connector
}

// ConnectorStatus is a connector's status record.
type ConnectorStatus struct {
	Name     string
	State    lifecycle.State
	Trace    string // "" is written as null
	WorkerID string
	// Generation is the group generation of the writer.
	Generation int
	// Version is the connector plugin's version ("" is written as null,
	// as Apache does for UNASSIGNED). Apache 4.1+ writes it.
	Version string
	// Restart is Ferry's automatic restart state, an extra "restart" field
	// that Apache's readers ignore; nil writes none.
	Restart *lifecycle.RestartInfo
}

// TaskStatus is a task's status record.
type TaskStatus struct {
	ID         lifecycle.TaskID
	State      lifecycle.State
	Trace      string
	WorkerID   string
	Generation int
	// Version is the task plugin's version ("" is written as null).
	Version string
	// Restart is as for ConnectorStatus.
	Restart *lifecycle.RestartInfo
}

// TopicStatus records that a connector's task used a topic.
type TopicStatus struct {
	Topic     string
	Connector string
	Task      int
	// DiscoverTimestamp is in milliseconds since the epoch.
	DiscoverTimestamp int64
}

type statusValue struct {
	state      lifecycle.State
	trace      string
	workerID   string
	generation int
	version    string
	restart    *lifecycle.RestartInfo
}

// EncodeStatus is the value of a connector or task status record:
// {"state":…,"trace":…|null,"worker_id":…,"generation":N,"version":…|null}.
// Apache 4.1 added "version"; older readers ignore it.
func EncodeStatus(state lifecycle.State, trace, workerID string, generation int, version string) []byte {
	out := append([]byte(`{"state":`), quote(string(state))...)
	out = append(out, `,"trace":`...)
	if trace == "" {
		out = append(out, "null"...)
	} else {
		out = append(out, quote(trace)...)
	}
	out = append(out, `,"worker_id":`...)
	out = append(out, quote(workerID)...)
	out = fmt.Appendf(out, `,"generation":%d,"version":`, generation)
	if version == "" {
		out = append(out, "null"...)
	} else {
		out = append(out, quote(version)...)
	}
	return append(out, '}')
}

// encodeStatusRestart is EncodeStatus plus Ferry's "restart" field, when
// there is one: {"attempts":N,"next_attempt":"…"} as the REST status shows it.
func encodeStatusRestart(state lifecycle.State, trace, workerID string, generation int, version string, r *lifecycle.RestartInfo) []byte {
	out := EncodeStatus(state, trace, workerID, generation, version)
	if r == nil {
		return out
	}
	out = fmt.Appendf(out[:len(out)-1], `,"restart":{"attempts":%d`, r.Attempts)
	if r.NextAttempt != "" {
		out = append(out, `,"next_attempt":`...)
		out = append(out, quote(r.NextAttempt)...)
	}
	return append(out, "}}"...)
}

// EncodeTopicStatus is the value of a topic status record.
func EncodeTopicStatus(t TopicStatus) []byte {
	out := append([]byte(`{"topic":{"name":`), quote(t.Topic)...)
	out = append(out, `,"connector":`...)
	out = append(out, quote(t.Connector)...)
	return fmt.Appendf(out, `,"task":%d,"discoverTimestamp":%d}}`, t.Task, t.DiscoverTimestamp)
}

func decodeStatus(value []byte) (statusValue, error) {
	m, err := decodeObject(value)
	if err != nil {
		return statusValue{}, err
	}
	s, ok := m["state"].(string)
	if !ok {
		return statusValue{}, errors.New(`invalid "state" field`)
	}
	switch st := lifecycle.State(s); st {
	case lifecycle.StateUnassigned, lifecycle.StateRunning, lifecycle.StatePaused, lifecycle.StateFailed,
		lifecycle.StateRestarting, lifecycle.StateStopped:
	default:
		return statusValue{}, fmt.Errorf("unknown state %q", s)
	}
	v := statusValue{state: lifecycle.State(s)}
	v.trace, _ = m["trace"].(string)
	v.workerID, _ = m["worker_id"].(string)
	v.version, _ = m["version"].(string)
	g, ok := asInt(m["generation"])
	if !ok {
		return statusValue{}, errors.New(`invalid "generation" field`)
	}
	v.generation = int(g)
	if r, ok := m["restart"].(map[string]any); ok {
		n, _ := asInt(r["attempts"])
		v.restart = &lifecycle.RestartInfo{Attempts: int(n)}
		v.restart.NextAttempt, _ = r["next_attempt"].(string)
	}
	return v, nil
}

func decodeTopicStatus(value []byte) (TopicStatus, error) {
	m, err := decodeObject(value)
	if err != nil {
		return TopicStatus{}, err
	}
	inner, ok := m["topic"].(map[string]any)
	if !ok {
		return TopicStatus{}, errors.New(`missing "topic" object`)
	}
	t := TopicStatus{}
	t.Topic, _ = inner["name"].(string)
	t.Connector, _ = inner["connector"].(string)
	task, ok1 := asInt(inner["task"])
	ts, ok2 := asInt(inner["discoverTimestamp"])
	if t.Topic == "" || t.Connector == "" || !ok1 || !ok2 {
		return TopicStatus{}, errors.New("invalid topic status")
	}
	t.Task, t.DiscoverTimestamp = int(task), ts
	return t, nil
}

// StatusStore reads and writes the status topic (§4.3). Writes wait until
// the record is acknowledged and read back, so reads after a write see it
// (or a newer value).
type StatusStore struct {
	log    *kafkalog.Log
	logger *slog.Logger

	mu         sync.RWMutex
	connectors map[string]statusValue
	tasks      map[lifecycle.TaskID]statusValue
	topics     map[string]map[string]TopicStatus // connector → topic
}

// NewStatusStore returns a store on the status topic.
func NewStatusStore(o Options, topic TopicOptions) (*StatusStore, error) {
	s := &StatusStore{
		logger:     o.logger().With("topic", topic.Topic),
		connectors: map[string]statusValue{},
		tasks:      map[lifecycle.TaskID]statusValue{},
		topics:     map[string]map[string]TopicStatus{},
	}
	l, err := newLog(o, topic, "status.storage.topic", kafkalog.PurposeStatuses, "statuses", DefaultStatusPartitions, false, s.consume)
	if err != nil {
		return nil, err
	}
	s.log = l
	return s, nil
}

// Start creates or verifies the topic and reads it to the end.
func (s *StatusStore) Start(ctx context.Context) error {
	if err := s.log.Start(ctx); err != nil {
		return fmt.Errorf("status store: %w", err)
	}
	return nil
}

// Stop stops reading the topic.
func (s *StatusStore) Stop() error {
	s.log.Stop()
	return nil
}

// ReadToEnd waits until every status written before the call is read.
func (s *StatusStore) ReadToEnd(ctx context.Context) error { return s.log.ReadToEnd(ctx) }

func (s *StatusStore) consume(r *kgo.Record) {
	key := string(r.Key)
	switch {
	case strings.HasPrefix(key, prefixStatusConnector):
		s.readConnector(key[len(prefixStatusConnector):], r.Value)
	case strings.HasPrefix(key, prefixStatusTask):
		parts := strings.Split(key, "-")
		if len(parts) < 4 {
			s.logger.Warn("ignoring status record with an invalid task key", "key", key)
			return
		}
		n, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			s.logger.Warn("ignoring status record with an invalid task key", "key", key)
			return
		}
		s.readTask(lifecycle.TaskID{Connector: strings.Join(parts[2:len(parts)-1], "-"), Task: n}, r.Value)
	case strings.HasPrefix(key, prefixStatusTopic):
		rest := key[len(prefixStatusTopic):]
		topic, connector, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(connector, "connector-") {
			s.logger.Warn("ignoring status record with an invalid topic key", "key", key)
			return
		}
		s.readTopic(connector[len("connector-"):], topic, r.Value)
	default:
		s.logger.Warn("ignoring status record with an unknown key", "key", key)
	}
}

func (s *StatusStore) readConnector(name string, value []byte) {
	if value == nil {
		s.mu.Lock()
		delete(s.connectors, name)
		s.mu.Unlock()
		return
	}
	v, err := decodeStatus(value)
	if err != nil {
		s.logger.Warn("ignoring invalid connector status", "connector", name, "error", err)
		return
	}
	s.mu.Lock()
	s.connectors[name] = v
	s.mu.Unlock()
}

func (s *StatusStore) readTask(id lifecycle.TaskID, value []byte) {
	if value == nil {
		s.mu.Lock()
		delete(s.tasks, id)
		s.mu.Unlock()
		return
	}
	v, err := decodeStatus(value)
	if err != nil {
		s.logger.Warn("ignoring invalid task status", "task", id.String(), "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A worker that lost its assignment may still write UNASSIGNED after
	// the task's new owner reported RUNNING.
	if old, ok := s.tasks[id]; ok && v.state == lifecycle.StateUnassigned &&
		old.state == lifecycle.StateRunning && old.generation >= v.generation {
		s.logger.Debug("ignoring stale task status", "task", id.String(), "generation", v.generation, "cached_generation", old.generation)
		return
	}
	s.tasks[id] = v
}

func (s *StatusStore) readTopic(connector, topic string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		delete(s.topics[connector], topic)
		if len(s.topics[connector]) == 0 {
			delete(s.topics, connector)
		}
		return
	}
	t, err := decodeTopicStatus(value)
	if err != nil {
		s.logger.Warn("ignoring invalid topic status", "connector", connector, "topic", topic, "error", err)
		return
	}
	if s.topics[connector] == nil {
		s.topics[connector] = map[string]TopicStatus{}
	}
	s.topics[connector][topic] = t
}

// write produces one record and waits until the log has read it back.
func (s *StatusStore) write(ctx context.Context, key string, value []byte) error {
	r, err := s.log.Send(ctx, []byte(key), value)
	if err != nil {
		return err
	}
	return s.log.WaitFor(ctx, r.Partition, r.Offset)
}

// canWriteSafely is Apache's rule for safe writes: no cached status, or
// one written by the same worker, or one from an older or equal
// generation.
func canWriteSafely(old statusValue, ok bool, workerID string, generation int) bool {
	return !ok || old.workerID == workerID || old.generation <= generation
}

// PutConnector writes a connector status.
func (s *StatusStore) PutConnector(ctx context.Context, st ConnectorStatus) error {
	return s.write(ctx, ConnectorStatusKey(st.Name), encodeStatusRestart(st.State, st.Trace, st.WorkerID, st.Generation, st.Version, st.Restart))
}

// PutConnectorSafe writes a connector status only when canWriteSafely
// allows it (used for UNASSIGNED on shutdown and FAILED). It reports
// whether it wrote.
func (s *StatusStore) PutConnectorSafe(ctx context.Context, st ConnectorStatus) (bool, error) {
	s.mu.RLock()
	old, ok := s.connectors[st.Name]
	s.mu.RUnlock()
	if !canWriteSafely(old, ok, st.WorkerID, st.Generation) {
		return false, nil
	}
	return true, s.PutConnector(ctx, st)
}

// PutTask writes a task status.
func (s *StatusStore) PutTask(ctx context.Context, st TaskStatus) error {
	return s.write(ctx, TaskStatusKey(st.ID), encodeStatusRestart(st.State, st.Trace, st.WorkerID, st.Generation, st.Version, st.Restart))
}

// PutTaskSafe is PutConnectorSafe for tasks.
func (s *StatusStore) PutTaskSafe(ctx context.Context, st TaskStatus) (bool, error) {
	s.mu.RLock()
	old, ok := s.tasks[st.ID]
	s.mu.RUnlock()
	if !canWriteSafely(old, ok, st.WorkerID, st.Generation) {
		return false, nil
	}
	return true, s.PutTask(ctx, st)
}

// DeleteConnector tombstones a connector's status (Apache's DESTROYED).
func (s *StatusStore) DeleteConnector(ctx context.Context, name string) error {
	return s.write(ctx, ConnectorStatusKey(name), nil)
}

// DeleteTask tombstones a task's status.
func (s *StatusStore) DeleteTask(ctx context.Context, id lifecycle.TaskID) error {
	return s.write(ctx, TaskStatusKey(id), nil)
}

// PutTopic records that a connector used a topic.
func (s *StatusStore) PutTopic(ctx context.Context, t TopicStatus) error {
	return s.write(ctx, TopicStatusKey(t.Connector, t.Topic), EncodeTopicStatus(t))
}

// DeleteTopic tombstones one topic record of a connector.
func (s *StatusStore) DeleteTopic(ctx context.Context, connector, topic string) error {
	return s.write(ctx, TopicStatusKey(connector, topic), nil)
}

// ConnectorStatus returns a connector's status with its generation.
func (s *StatusStore) ConnectorStatus(name string) (ConnectorStatus, bool) {
	s.mu.RLock()
	v, ok := s.connectors[name]
	s.mu.RUnlock()
	if !ok {
		return ConnectorStatus{}, false
	}
	return ConnectorStatus{Name: name, State: v.state, Trace: v.trace, WorkerID: v.workerID, Generation: v.generation, Version: v.version, Restart: v.restart}, true
}

// Connectors returns the names of connectors with a status, sorted.
func (s *StatusStore) Connectors() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.connectors))
}

// TaskStatus returns one task's status with its generation.
func (s *StatusStore) TaskStatus(id lifecycle.TaskID) (TaskStatus, bool) {
	s.mu.RLock()
	v, ok := s.tasks[id]
	s.mu.RUnlock()
	if !ok {
		return TaskStatus{}, false
	}
	return TaskStatus{ID: id, State: v.state, Trace: v.trace, WorkerID: v.workerID, Generation: v.generation, Version: v.version, Restart: v.restart}, true
}

// TaskStatuses returns the task statuses of a connector, by id.
func (s *StatusStore) TaskStatuses(connector string) []TaskStatus {
	s.mu.RLock()
	var out []TaskStatus
	for id, v := range s.tasks {
		if id.Connector == connector {
			out = append(out, TaskStatus{ID: id, State: v.state, Trace: v.trace, WorkerID: v.workerID, Generation: v.generation, Version: v.version, Restart: v.restart})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b TaskStatus) int { return a.ID.Task - b.ID.Task })
	return out
}

// Topics returns the topics a connector used, sorted.
func (s *StatusStore) Topics(connector string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.topics[connector]))
}

// TopicStatuses returns a connector's topic records, by topic.
func (s *StatusStore) TopicStatuses(connector string) []TopicStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]TopicStatus, 0, len(s.topics[connector]))
	for _, t := range s.topics[connector] {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TopicStatus) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}
