// Package herder is the contract between the REST API and the herders that
// manage connectors (standalone and distributed): the Herder interface, the
// JSON entities of Apache's REST API and the errors that map to HTTP codes.
package herder

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/lifecycle"
)

// Herder manages the connectors of a worker or cluster. Every method is
// safe for concurrent use and honours ctx for its deadline.
type Herder interface {
	// Connectors lists connector names.
	Connectors(ctx context.Context) ([]string, error)
	ConnectorInfo(ctx context.Context, name string) (*ConnectorInfo, error)
	ConnectorConfig(ctx context.Context, name string) (map[string]string, error)
	// PutConnectorConfig creates (created=true) or replaces a connector. The
	// config is validated first; initial is the target state for a new
	// connector ("" means STARTED). With allowReplace false an existing
	// connector is a conflict (POST /connectors).
	PutConnectorConfig(ctx context.Context, name string, config map[string]string, initial TargetState, allowReplace bool) (created bool, info *ConnectorInfo, err error)
	// PatchConnectorConfig merges patch into the stored config; a nil value
	// removes the key.
	PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (*ConnectorInfo, error)
	DeleteConnector(ctx context.Context, name string) error

	ConnectorStatus(ctx context.Context, name string) (*ConnectorStateInfo, error)
	TaskStatus(ctx context.Context, id TaskID) (*TaskState, error)
	Tasks(ctx context.Context, name string) ([]TaskInfo, error)

	// RestartConnector restarts only the connector instance, synchronously.
	RestartConnector(ctx context.Context, name string) error
	// RestartConnectorAndTasks runs a KIP-745 restart plan and returns the
	// status with the instances being restarted shown as RESTARTING.
	RestartConnectorAndTasks(ctx context.Context, name string, includeTasks, onlyFailed bool) (*ConnectorStateInfo, error)
	RestartTask(ctx context.Context, id TaskID) error
	PauseConnector(ctx context.Context, name string) error
	ResumeConnector(ctx context.Context, name string) error
	StopConnector(ctx context.Context, name string) error

	ConnectorTopics(ctx context.Context, name string) ([]string, error)
	ResetConnectorTopics(ctx context.Context, name string) error

	ConnectorOffsets(ctx context.Context, name string) (*ConnectorOffsets, error)
	// AlterConnectorOffsets and ResetConnectorOffsets return the success
	// message Apache returns.
	AlterConnectorOffsets(ctx context.Context, name string, offsets *ConnectorOffsets) (string, error)
	ResetConnectorOffsets(ctx context.Context, name string) (string, error)

	// ValidateConfig validates a connector config as
	// PUT /connector-plugins/{p}/config/validate does.
	ValidateConfig(ctx context.Context, config map[string]string) (*ConfigInfos, error)
	// PluginConfig describes a plugin's keys (GET /connector-plugins/{p}/config).
	PluginConfig(ctx context.Context, plugin string) ([]ConfigKeyInfo, error)
	// Plugins lists plugins; connectorsOnly limits it to sources and sinks.
	Plugins(ctx context.Context, connectorsOnly bool) ([]PluginInfo, error)

	// ServerInfo answers GET /.
	ServerInfo(ctx context.Context) (*ServerInfo, error)
	// Health returns nil once the worker has started and can serve requests.
	Health(ctx context.Context) error
}

// The lifecycle vocabulary is defined in internal/lifecycle so the stores can
// use it without importing the runtime; these aliases keep it part of the
// herder contract.
type (
	// TargetState is the state a user asked a connector to be in.
	TargetState = lifecycle.TargetState
	// State is the runtime state reported in status.
	State = lifecycle.State
	// TaskID names one task of a connector. Its string form is "<c>-<n>".
	TaskID = lifecycle.TaskID
	// RestartInfo is the automatic restart state shown in status.
	RestartInfo = lifecycle.RestartInfo
)

// Target states, as stored in the config topic.
const (
	TargetStarted = lifecycle.TargetStarted
	TargetPaused  = lifecycle.TargetPaused
	TargetStopped = lifecycle.TargetStopped
)

// Runtime states.
const (
	StateUnassigned = lifecycle.StateUnassigned
	StateRunning    = lifecycle.StateRunning
	StatePaused     = lifecycle.StatePaused
	StateStopped    = lifecycle.StateStopped
	StateFailed     = lifecycle.StateFailed
	StateRestarting = lifecycle.StateRestarting
)

// ConnectorType is "source", "sink" or "unknown".
type ConnectorType string

// Connector types.
const (
	TypeSource  ConnectorType = "source"
	TypeSink    ConnectorType = "sink"
	TypeUnknown ConnectorType = "unknown"
)

// ConnectorInfo is GET /connectors/{c}.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   ConnectorType     `json:"type"`
}

// ConnectorState is the connector part of a status.
type ConnectorState struct {
	State    State        `json:"state"`
	WorkerID string       `json:"worker_id"`
	Trace    string       `json:"trace,omitempty"`
	Restart  *RestartInfo `json:"restart,omitempty"`
}

// TaskState is one task's status.
type TaskState struct {
	ID       int          `json:"id"`
	State    State        `json:"state"`
	WorkerID string       `json:"worker_id"`
	Trace    string       `json:"trace,omitempty"`
	Restart  *RestartInfo `json:"restart,omitempty"`
}

// ConnectorStateInfo is GET /connectors/{c}/status.
type ConnectorStateInfo struct {
	Name      string         `json:"name"`
	Connector ConnectorState `json:"connector"`
	Tasks     []TaskState    `json:"tasks"`
	Type      ConnectorType  `json:"type"`
}

// TaskInfo is one element of GET /connectors/{c}/tasks.
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// ConnectorOffsets is the body of the offsets API.
type ConnectorOffsets struct {
	Offsets []ConnectorOffset `json:"offsets"`
}

// ConnectorOffset is one partition and its offset (nil offset = reset).
type ConnectorOffset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// ConfigInfos is the validation result.
type ConfigInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
}

// ConfigInfo pairs a key's definition with its validated value.
type ConfigInfo struct {
	Definition *ConfigKeyInfo   `json:"definition"`
	Value      *ConfigValueInfo `json:"value"`
}

// ConfigKeyInfo describes one config key.
type ConfigKeyInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
	Order         int      `json:"order"`
}

// ConfigValueInfo is the validated value of one key.
type ConfigValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// PluginInfo is one element of GET /connector-plugins.
type PluginInfo struct {
	Class   string             `json:"class"`
	Type    connect.PluginKind `json:"type"`
	Version string             `json:"version,omitempty"`
}

// ServerInfo is GET /.
type ServerInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// Error is a failure with the HTTP status the REST API answers with.
type Error struct {
	Code    int
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// NotFound is a 404.
func NotFound(format string, args ...any) error {
	return &Error{Code: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400.
func BadRequest(format string, args ...any) error {
	return &Error{Code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Conflict is a 409.
func Conflict(format string, args ...any) error {
	return &Error{Code: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

// Forbidden is a 403.
func Forbidden(format string, args ...any) error {
	return &Error{Code: http.StatusForbidden, Message: fmt.Sprintf(format, args...)}
}

// Internal is a 500 with a message meant for the user.
func Internal(err error, format string, args ...any) error {
	return &Error{Code: http.StatusInternalServerError, Message: fmt.Sprintf(format, args...), Err: err}
}

// StatusCode returns the HTTP status for err (500 for unknown errors).
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return http.StatusInternalServerError
}

// LagReporter is an optional Herder capability, a Ferry extension served at
// GET /connectors/{c}/lag: the consumer lag of a sink connector's group.
type LagReporter interface {
	ConnectorLag(ctx context.Context, name string) (*ConnectorLag, error)
}

// ConnectorLag is the lag of a sink connector's consumer group.
type ConnectorLag struct {
	Connector  string         `json:"connector"`
	Group      string         `json:"group"`
	Partitions []PartitionLag `json:"partitions"`
}

// PartitionLag is one partition's committed offset, end offset and lag.
// Committed is -1 when the group has committed nothing for the partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
}

// ForwardError asks the REST layer to re-send the request to another
// worker: the leader (for config writes) or the worker running a connector
// or task (for restarts). URL is the target's advertised base URL, empty
// when it is not known yet (a rebalance is under way).
type ForwardError struct {
	URL    string
	Reason string
}

func (e *ForwardError) Error() string {
	if e.URL == "" {
		return e.Reason + ": target unknown"
	}
	return e.Reason + ": forward to " + e.URL
}
