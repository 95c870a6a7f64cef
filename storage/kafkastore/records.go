package kafkastore

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	json "github.com/ferryhq/ferry/internal/javajson"
	"github.com/ferryhq/ferry/internal/lifecycle"
)

// Config topic key prefixes (spec §4.1.1).
const (
	prefixConnector     = "connector-"
	prefixTask          = "task-"
	prefixCommit        = "commit-"
	prefixTargetState   = "target-state-"
	prefixRestart       = "restart-connector-"
	prefixTasksFencing  = "tasks-fencing-"
	prefixLoggerCluster = "logger-cluster-"
	keySessionKey       = "session-key"
)

// Config topic keys.
func ConnectorKey(c string) string { return prefixConnector + c }
func TaskKey(id lifecycle.TaskID) string {
	return prefixTask + id.Connector + "-" + strconv.Itoa(id.Task)
}
func CommitKey(c string) string                { return prefixCommit + c }
func TargetStateKey(c string) string           { return prefixTargetState + c }
func RestartKey(c string) string               { return prefixRestart + c }
func TasksFencingKey(c string) string          { return prefixTasksFencing + c }
func LoggerClusterKey(namespace string) string { return prefixLoggerCluster + namespace }

// SessionKeyKey is the key of the session-key record.
const SessionKeyKey = keySessionKey

// SessionKey is the key workers sign internal REST requests with.
type SessionKey struct {
	Key       []byte
	Algorithm string
	// CreationTimestamp is in milliseconds since the epoch.
	CreationTimestamp int64
}

// RestartRequest is an asynchronous connector restart (KIP-745).
type RestartRequest struct {
	Connector    string
	IncludeTasks bool
	OnlyFailed   bool
}

func quote(s string) []byte {
	b, _ := json.MarshalSchemaless(s) // a string always encodes
	return b
}

// EncodeProperties is the value of connector- and task- records:
// {"properties":{...}}.
func EncodeProperties(props map[string]string) ([]byte, error) {
	if props == nil {
		props = map[string]string{}
	}
	inner, err := json.MarshalSchemaless(props)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"properties":`), inner...)
	return append(out, '}'), nil
}

// EncodeCommit is the value of a commit- record: {"tasks":N}.
func EncodeCommit(tasks int) []byte { return fmt.Appendf(nil, `{"tasks":%d}`, tasks) }

// EncodeTasksFencing is the value of a tasks-fencing- record.
func EncodeTasksFencing(taskCount int) []byte {
	return fmt.Appendf(nil, `{"task-count":%d}`, taskCount)
}

// EncodeTargetState writes both fields: "state" carries STOPPED as PAUSED
// for readers older than 3.5, "state.v2" the real state.
func EncodeTargetState(s lifecycle.TargetState) []byte {
	v1 := s
	if s == lifecycle.TargetStopped {
		v1 = lifecycle.TargetPaused
	}
	out := append([]byte(`{"state":`), quote(string(v1))...)
	out = append(out, `,"state.v2":`...)
	out = append(out, quote(string(s))...)
	return append(out, '}')
}

// EncodeSessionKey is the value of the session-key record.
func EncodeSessionKey(k SessionKey) []byte {
	out := append([]byte(`{"key":"`), base64.StdEncoding.EncodeToString(k.Key)...)
	out = append(out, `","algorithm":`...)
	out = append(out, quote(k.Algorithm)...)
	return fmt.Appendf(out, `,"creation-timestamp":%d}`, k.CreationTimestamp)
}

// EncodeRestartRequest is the value of a restart-connector- record.
func EncodeRestartRequest(r RestartRequest) []byte {
	return fmt.Appendf(nil, `{"include-tasks":%t,"only-failed":%t}`, r.IncludeTasks, r.OnlyFailed)
}

// EncodeLoggerLevel is the value of a logger-cluster- record.
func EncodeLoggerLevel(level string) []byte {
	out := append([]byte(`{"level":`), quote(level)...)
	return append(out, '}')
}

// recordKind says what a config topic key names.
type recordKind int

const (
	kindUnknown recordKind = iota
	kindTargetState
	kindConnector
	kindTask
	kindCommit
	kindRestart
	kindTasksFencing
	kindSessionKey
	kindLoggerCluster
)

type parsedKey struct {
	kind      recordKind
	connector string // or logger namespace
	task      int
}

// parseConfigKey applies the rules of §4.1.1 in order; the first match wins.
func parseConfigKey(key string) (parsedKey, error) {
	switch {
	case strings.HasPrefix(key, prefixTargetState):
		return parsedKey{kind: kindTargetState, connector: key[len(prefixTargetState):]}, nil
	case strings.HasPrefix(key, prefixConnector):
		return parsedKey{kind: kindConnector, connector: key[len(prefixConnector):]}, nil
	case strings.HasPrefix(key, prefixTask):
		parts := strings.Split(key, "-")
		if len(parts) < 3 {
			return parsedKey{}, fmt.Errorf("invalid task key %q", key)
		}
		n, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			return parsedKey{}, fmt.Errorf("invalid task number in key %q", key)
		}
		return parsedKey{kind: kindTask, connector: strings.Join(parts[1:len(parts)-1], "-"), task: n}, nil
	case strings.HasPrefix(key, prefixCommit):
		return parsedKey{kind: kindCommit, connector: key[len(prefixCommit):]}, nil
	case strings.HasPrefix(key, prefixRestart):
		return parsedKey{kind: kindRestart, connector: key[len(prefixRestart):]}, nil
	case strings.HasPrefix(key, prefixTasksFencing):
		return parsedKey{kind: kindTasksFencing, connector: key[len(prefixTasksFencing):]}, nil
	case key == keySessionKey:
		return parsedKey{kind: kindSessionKey}, nil
	case strings.HasPrefix(key, prefixLoggerCluster):
		return parsedKey{kind: kindLoggerCluster, connector: key[len(prefixLoggerCluster):]}, nil
	}
	return parsedKey{}, fmt.Errorf("unknown config record key %q", key)
}

// decodeObject parses a schemaless JSON object value.
func decodeObject(value []byte) (map[string]any, error) {
	v, err := json.UnmarshalSchemaless(value)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON object, got %T", v)
	}
	return m, nil
}

// asInt accepts any integral JSON number, as Java's Number.intValue
// readers do.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return int64(x), true
		}
	}
	return 0, false
}

func decodeProperties(value []byte) (map[string]string, error) {
	m, err := decodeObject(value)
	if err != nil {
		return nil, err
	}
	raw, ok := m["properties"].(map[string]any)
	if !ok {
		return nil, errors.New(`missing "properties" object`)
	}
	props := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			props[k] = x
		case nil:
			// Java keeps a null entry; a Go string map cannot.
		default:
			props[k] = fmt.Sprint(x)
		}
	}
	return props, nil
}

func decodeIntField(value []byte, field string) (int, error) {
	m, err := decodeObject(value)
	if err != nil {
		return 0, err
	}
	n, ok := asInt(m[field])
	if !ok || n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("invalid %q field", field)
	}
	return int(n), nil
}

func decodeTargetState(value []byte) (lifecycle.TargetState, error) {
	m, err := decodeObject(value)
	if err != nil {
		return "", err
	}
	s, ok := m["state.v2"].(string)
	if !ok {
		s, ok = m["state"].(string)
	}
	if !ok {
		return "", errors.New(`no "state" field`)
	}
	switch ts := lifecycle.TargetState(s); ts {
	case lifecycle.TargetStarted, lifecycle.TargetPaused, lifecycle.TargetStopped:
		return ts, nil
	}
	return "", fmt.Errorf("unknown target state %q", s)
}

func decodeSessionKey(value []byte) (SessionKey, error) {
	m, err := decodeObject(value)
	if err != nil {
		return SessionKey{}, err
	}
	k, ok1 := m["key"].(string)
	alg, ok2 := m["algorithm"].(string)
	ts, ok3 := asInt(m["creation-timestamp"])
	if !ok1 || !ok2 || !ok3 {
		return SessionKey{}, errors.New("invalid session key record")
	}
	raw, err := base64.StdEncoding.DecodeString(k)
	if err != nil {
		return SessionKey{}, fmt.Errorf("session key: %w", err)
	}
	return SessionKey{Key: raw, Algorithm: alg, CreationTimestamp: ts}, nil
}

func decodeRestartRequest(connector string, value []byte) (RestartRequest, error) {
	m, err := decodeObject(value)
	if err != nil {
		return RestartRequest{}, err
	}
	r := RestartRequest{Connector: connector}
	if v, ok := m["include-tasks"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return RestartRequest{}, errors.New(`invalid "include-tasks" field`)
		}
		r.IncludeTasks = b
	}
	if v, ok := m["only-failed"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return RestartRequest{}, errors.New(`invalid "only-failed" field`)
		}
		r.OnlyFailed = b
	}
	return r, nil
}

func decodeLoggerLevel(value []byte) (string, error) {
	m, err := decodeObject(value)
	if err != nil {
		return "", err
	}
	lvl, ok := m["level"].(string)
	if !ok {
		return "", errors.New(`invalid "level" field`)
	}
	return lvl, nil
}
