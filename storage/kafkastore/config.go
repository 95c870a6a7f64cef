package kafkastore

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/ferryhq/ferry/internal/lifecycle"
	"github.com/ferryhq/ferry/storage/kafkalog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Listener hears about config topic changes. Calls come from the store's
// log goroutine, one at a time, in topic order, and only for records read
// after Start's initial catch-up (the state before that is in the first
// Snapshot). Implementations must not block for long and must not call the
// store's write methods or ReadToEnd from the callback (those wait for the
// goroutine that is running it); hand the event to another goroutine.
type Listener interface {
	OnConnectorConfigUpdate(connector string)
	OnConnectorRemoved(connector string)
	// OnTaskConfigsUpdate follows every commit record; ids are the tasks
	// whose configs it applied (empty for an inconsistent commit).
	OnTaskConfigsUpdate(ids []lifecycle.TaskID)
	// OnTargetStateChange is called for connectors that have a config.
	OnTargetStateChange(connector string)
	OnSessionKeyUpdate(key SessionKey)
	OnRestartRequest(req RestartRequest)
}

// LoggerListener is an optional Listener capability: cluster-wide log
// level records (KIP-976).
type LoggerListener interface {
	OnLoggingLevelUpdate(namespace, level string)
}

// Snapshot is the config topic's state at one point.
type Snapshot struct {
	// Offset is the offset of the last record read plus one (-1 before
	// any), the config offset of the group protocol.
	Offset     int64
	Connectors map[string]*ConnectorConfig
	// SessionKey is nil until one was written.
	SessionKey *SessionKey
}

// ConnectorConfig is one connector in a Snapshot.
type ConnectorConfig struct {
	Name   string
	Config map[string]string
	// TargetState is STARTED unless a target-state record says otherwise.
	TargetState lifecycle.TargetState
	// TaskCount is N of the latest commit record (0 before any).
	TaskCount int
	// TaskConfigs holds the committed config of each task id below
	// TaskCount (nil where none was committed).
	TaskConfigs []map[string]string
	// Inconsistent is set when the latest commit named tasks whose configs
	// were missing (compaction); the leader must regenerate them.
	Inconsistent bool
	// Generation counts applied task config commits.
	Generation int
	// FencedTaskCount is the task count of the latest tasks-fencing record
	// (-1 when none), for exactly-once sources.
	FencedTaskCount int
}

// ConnectorNames returns the configured connectors, sorted.
func (s *Snapshot) ConnectorNames() []string { return slices.Sorted(maps.Keys(s.Connectors)) }

// Tasks returns the visible task ids of a connector: 0..TaskCount-1, or
// none while the connector is inconsistent or unknown.
func (s *Snapshot) Tasks(connector string) []lifecycle.TaskID {
	c := s.Connectors[connector]
	if c == nil || c.Inconsistent {
		return nil
	}
	ids := make([]lifecycle.TaskID, c.TaskCount)
	for i := range ids {
		ids[i] = lifecycle.TaskID{Connector: connector, Task: i}
	}
	return ids
}

// TaskConfig returns the committed config of a task.
func (s *Snapshot) TaskConfig(id lifecycle.TaskID) (map[string]string, bool) {
	c := s.Connectors[id.Connector]
	if c == nil || id.Task < 0 || id.Task >= len(c.TaskConfigs) || c.TaskConfigs[id.Task] == nil {
		return nil, false
	}
	return c.TaskConfigs[id.Task], true
}

// configState is what a reader of the config topic keeps (§4.1.4).
type configState struct {
	offset       int64
	configs      map[string]map[string]string
	targets      map[string]lifecycle.TargetState
	taskConfigs  map[lifecycle.TaskID]map[string]string
	taskCounts   map[string]int
	deferred     map[string]map[int]map[string]string
	inconsistent map[string]bool
	generations  map[string]int
	fenced       map[string]int
	sessionKey   *SessionKey
}

func newConfigState() *configState {
	return &configState{
		offset:       -1,
		configs:      map[string]map[string]string{},
		targets:      map[string]lifecycle.TargetState{},
		taskConfigs:  map[lifecycle.TaskID]map[string]string{},
		taskCounts:   map[string]int{},
		deferred:     map[string]map[int]map[string]string{},
		inconsistent: map[string]bool{},
		generations:  map[string]int{},
		fenced:       map[string]int{},
	}
}

// event is a listener notification produced by apply.
type event struct {
	kind      recordKind
	connector string
	removed   bool
	ids       []lifecycle.TaskID
	key       SessionKey
	restart   RestartRequest
	level     string
}

// apply folds one record into the state. live is false during the initial
// catch-up: no events are returned then, and historic restart requests and
// log levels are dropped.
func (st *configState) apply(key string, value []byte, offset int64, live bool, log *slog.Logger) []event {
	st.offset = offset + 1
	pk, err := parseConfigKey(key)
	if err != nil {
		log.Warn("ignoring config topic record", "offset", offset, "error", err)
		return nil
	}
	bad := func(err error) []event {
		log.Warn("ignoring config topic record with an invalid value", "key", key, "offset", offset, "error", err)
		return nil
	}
	c := pk.connector
	var evs []event
	switch pk.kind {
	case kindTargetState:
		if value == nil {
			delete(st.targets, c)
		} else {
			ts, err := decodeTargetState(value)
			if err != nil {
				return bad(err)
			}
			st.targets[c] = ts
		}
		if _, ok := st.configs[c]; ok && live {
			evs = append(evs, event{kind: kindTargetState, connector: c})
		}
	case kindConnector:
		if value == nil {
			delete(st.configs, c)
			delete(st.taskCounts, c)
			delete(st.deferred, c)
			delete(st.inconsistent, c)
			for id := range st.taskConfigs {
				if id.Connector == c {
					delete(st.taskConfigs, id)
				}
			}
			if live {
				evs = append(evs, event{kind: kindConnector, connector: c, removed: true})
			}
			break
		}
		props, err := decodeProperties(value)
		if err != nil {
			return bad(err)
		}
		st.configs[c] = props
		if _, ok := st.targets[c]; !ok {
			st.targets[c] = lifecycle.TargetStarted
		}
		if live {
			evs = append(evs, event{kind: kindConnector, connector: c})
		}
	case kindTask:
		if value == nil {
			break // task configs are never deleted by tombstone
		}
		props, err := decodeProperties(value)
		if err != nil {
			return bad(err)
		}
		if st.deferred[c] == nil {
			st.deferred[c] = map[int]map[string]string{}
		}
		st.deferred[c][pk.task] = props
	case kindCommit:
		if value == nil {
			break
		}
		n, err := decodeIntField(value, "tasks")
		if err != nil {
			return bad(err)
		}
		if _, ok := st.configs[c]; !ok {
			// Deleted connector whose commit survived compaction.
			delete(st.deferred, c)
			delete(st.taskCounts, c)
			for id := range st.taskConfigs {
				if id.Connector == c {
					delete(st.taskConfigs, id)
				}
			}
			break
		}
		deferred := st.deferred[c]
		complete := true
		for i := range n {
			if _, ok := deferred[i]; !ok {
				complete = false
				break
			}
		}
		var ids []lifecycle.TaskID
		if complete {
			for i, props := range deferred {
				id := lifecycle.TaskID{Connector: c, Task: i}
				st.taskConfigs[id] = props
				ids = append(ids, id)
			}
			slices.SortFunc(ids, func(a, b lifecycle.TaskID) int { return a.Task - b.Task })
			st.generations[c]++
			delete(st.inconsistent, c)
		} else {
			log.Warn("task configs of a commit are missing; connector marked inconsistent", "connector", c, "tasks", n)
			st.inconsistent[c] = true
		}
		delete(st.deferred, c)
		st.taskCounts[c] = n
		if live {
			evs = append(evs, event{kind: kindCommit, connector: c, ids: ids})
		}
	case kindTasksFencing:
		if value == nil {
			delete(st.fenced, c)
			break
		}
		n, err := decodeIntField(value, "task-count")
		if err != nil {
			return bad(err)
		}
		st.fenced[c] = n
	case kindSessionKey:
		if value == nil {
			break
		}
		k, err := decodeSessionKey(value)
		if err != nil {
			return bad(err)
		}
		st.sessionKey = &k
		if live {
			evs = append(evs, event{kind: kindSessionKey, key: k})
		}
	case kindRestart:
		if value == nil || !live {
			break
		}
		r, err := decodeRestartRequest(c, value)
		if err != nil {
			return bad(err)
		}
		evs = append(evs, event{kind: kindRestart, restart: r})
	case kindLoggerCluster:
		if value == nil || !live {
			break
		}
		lvl, err := decodeLoggerLevel(value)
		if err != nil {
			return bad(err)
		}
		evs = append(evs, event{kind: kindLoggerCluster, connector: c, level: lvl})
	}
	return evs
}

func (st *configState) snapshot() *Snapshot {
	s := &Snapshot{Offset: st.offset, Connectors: make(map[string]*ConnectorConfig, len(st.configs))}
	if st.sessionKey != nil {
		k := *st.sessionKey
		k.Key = slices.Clone(k.Key)
		s.SessionKey = &k
	}
	for name, cfg := range st.configs {
		cc := &ConnectorConfig{
			Name: name, Config: maps.Clone(cfg), TargetState: lifecycle.TargetStarted,
			TaskCount: st.taskCounts[name], Inconsistent: st.inconsistent[name],
			Generation: st.generations[name], FencedTaskCount: -1,
		}
		if ts, ok := st.targets[name]; ok {
			cc.TargetState = ts
		}
		if n, ok := st.fenced[name]; ok {
			cc.FencedTaskCount = n
		}
		cc.TaskConfigs = make([]map[string]string, cc.TaskCount)
		for i := range cc.TaskConfigs {
			if tc, ok := st.taskConfigs[lifecycle.TaskID{Connector: name, Task: i}]; ok {
				cc.TaskConfigs[i] = maps.Clone(tc)
			}
		}
		s.Connectors[name] = cc
	}
	return s
}

// ConfigStore reads and writes the config topic (§4.1). Create it with
// NewConfigStore, then Start it.
type ConfigStore struct {
	log      *kafkalog.Log
	logger   *slog.Logger
	listener Listener

	mu    sync.Mutex
	state *configState
	live  bool
}

// NewConfigStore returns a store on the config topic (always one
// partition). listener may be nil.
func NewConfigStore(o Options, topic TopicOptions, listener Listener) (*ConfigStore, error) {
	s := &ConfigStore{logger: o.logger().With("topic", topic.Topic), listener: listener, state: newConfigState()}
	topic.Partitions = 1
	l, err := newLog(o, topic, "config.storage.topic", kafkalog.PurposeConfigs, "configs", 1, true, s.consume)
	if err != nil {
		return nil, err
	}
	s.log = l
	return s, nil
}

// Start creates or verifies the topic and reads it to the end; listener
// calls begin after that.
func (s *ConfigStore) Start(ctx context.Context) error {
	if err := s.log.Start(ctx); err != nil {
		return fmt.Errorf("config store: %w", err)
	}
	s.mu.Lock()
	s.live = true
	s.mu.Unlock()
	return nil
}

// Stop stops reading the topic.
func (s *ConfigStore) Stop() error {
	s.log.Stop()
	return nil
}

func (s *ConfigStore) consume(r *kgo.Record) {
	s.mu.Lock()
	evs := s.state.apply(string(r.Key), r.Value, r.Offset, s.live, s.logger)
	s.mu.Unlock()
	if s.listener == nil {
		return
	}
	for _, e := range evs {
		s.notify(e)
	}
}

func (s *ConfigStore) notify(e event) {
	switch e.kind {
	case kindConnector:
		if e.removed {
			s.listener.OnConnectorRemoved(e.connector)
		} else {
			s.listener.OnConnectorConfigUpdate(e.connector)
		}
	case kindTargetState:
		s.listener.OnTargetStateChange(e.connector)
	case kindCommit:
		s.listener.OnTaskConfigsUpdate(e.ids)
	case kindSessionKey:
		s.listener.OnSessionKeyUpdate(e.key)
	case kindRestart:
		s.listener.OnRestartRequest(e.restart)
	case kindLoggerCluster:
		if ll, ok := s.listener.(LoggerListener); ok {
			ll.OnLoggingLevelUpdate(e.connector, e.level)
		}
	}
}

// Snapshot returns a copy of the current state.
func (s *ConfigStore) Snapshot() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.snapshot()
}

// ReadToEnd waits until every record written before the call has been
// applied (and its listener calls made).
func (s *ConfigStore) ReadToEnd(ctx context.Context) error {
	return s.log.ReadToEnd(ctx)
}

func (s *ConfigStore) send(ctx context.Context, msgs ...kafkalog.Message) error {
	_, err := s.log.SendBatch(ctx, msgs)
	return err
}

// PutConnectorConfig writes a connector's config in one batch with, when
// initial is not empty, its target state first; then reads to the end.
func (s *ConfigStore) PutConnectorConfig(ctx context.Context, name string, config map[string]string, initial lifecycle.TargetState) error {
	v, err := EncodeProperties(config)
	if err != nil {
		return fmt.Errorf("encode config of connector %s: %w", name, err)
	}
	var msgs []kafkalog.Message
	if initial != "" {
		msgs = append(msgs, kafkalog.Message{Key: []byte(TargetStateKey(name)), Value: EncodeTargetState(initial)})
	}
	msgs = append(msgs, kafkalog.Message{Key: []byte(ConnectorKey(name)), Value: v})
	if err := s.send(ctx, msgs...); err != nil {
		return err
	}
	return s.ReadToEnd(ctx)
}

// DeleteConnector tombstones the connector's config and target state in
// one batch, then reads to the end. Task and commit records stay; readers
// ignore them once the config is gone.
func (s *ConfigStore) DeleteConnector(ctx context.Context, name string) error {
	if err := s.send(ctx,
		kafkalog.Message{Key: []byte(ConnectorKey(name))},
		kafkalog.Message{Key: []byte(TargetStateKey(name))},
	); err != nil {
		return err
	}
	return s.ReadToEnd(ctx)
}

// PutTaskConfigs writes a connector's task configs: read to end, the task
// records in one batch, read to end, the commit record, read to end. An
// empty list writes only the commit {"tasks":0}.
func (s *ConfigStore) PutTaskConfigs(ctx context.Context, name string, configs []map[string]string) error {
	if err := s.ReadToEnd(ctx); err != nil {
		return err
	}
	if len(configs) > 0 {
		msgs := make([]kafkalog.Message, len(configs))
		for i, c := range configs {
			v, err := EncodeProperties(c)
			if err != nil {
				return fmt.Errorf("encode config of task %s-%d: %w", name, i, err)
			}
			msgs[i] = kafkalog.Message{Key: []byte(TaskKey(lifecycle.TaskID{Connector: name, Task: i})), Value: v}
		}
		if err := s.send(ctx, msgs...); err != nil {
			return err
		}
		if err := s.ReadToEnd(ctx); err != nil {
			return err
		}
	}
	if err := s.send(ctx, kafkalog.Message{Key: []byte(CommitKey(name)), Value: EncodeCommit(len(configs))}); err != nil {
		return err
	}
	return s.ReadToEnd(ctx)
}

// PutTargetState writes a connector's target state and waits for the
// acknowledgement (not for it to be read back, as Apache).
func (s *ConfigStore) PutTargetState(ctx context.Context, name string, state lifecycle.TargetState) error {
	return s.send(ctx, kafkalog.Message{Key: []byte(TargetStateKey(name)), Value: EncodeTargetState(state)})
}

// PutSessionKey writes a new session key.
func (s *ConfigStore) PutSessionKey(ctx context.Context, key SessionKey) error {
	return s.send(ctx, kafkalog.Message{Key: []byte(SessionKeyKey), Value: EncodeSessionKey(key)})
}

// PutRestartRequest writes an asynchronous restart request.
func (s *ConfigStore) PutRestartRequest(ctx context.Context, r RestartRequest) error {
	return s.send(ctx, kafkalog.Message{Key: []byte(RestartKey(r.Connector)), Value: EncodeRestartRequest(r)})
}

// PutTaskCountRecord writes a tasks-fencing record (exactly-once sources).
func (s *ConfigStore) PutTaskCountRecord(ctx context.Context, name string, taskCount int) error {
	return s.send(ctx, kafkalog.Message{Key: []byte(TasksFencingKey(name)), Value: EncodeTasksFencing(taskCount)})
}

// PutLoggerLevel writes a cluster-wide log level for a namespace.
func (s *ConfigStore) PutLoggerLevel(ctx context.Context, namespace, level string) error {
	return s.send(ctx, kafkalog.Message{Key: []byte(LoggerClusterKey(namespace)), Value: EncodeLoggerLevel(level)})
}
