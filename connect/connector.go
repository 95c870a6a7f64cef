package connect

import (
	"context"
	"log/slog"
	"time"
)

// Connector is the part of a plugin that runs once per configured connector:
// it reads the connector config and splits the work into task configs.
//
// Call order: Start, then TaskConfigs any number of times, then Stop. Start
// may be called again after Stop (pause/resume, restart).
type Connector interface {
	// Start receives the connector config (with config-provider
	// placeholders resolved). The context ends when the connector stops.
	Start(ctx context.Context, cc ConnectorContext, config map[string]string) error
	// TaskConfigs returns at most maxTasks configs, one per task to run.
	TaskConfigs(maxTasks int) ([]map[string]string, error)
	// Stop releases what Start acquired.
	Stop() error
}

// SourceConnector is a connector whose tasks read an external system.
type SourceConnector interface {
	Connector
	NewTask() SourceTask
}

// SinkConnector is a connector whose tasks write Kafka records elsewhere.
type SinkConnector interface {
	Connector
	NewTask() SinkTask
}

// ConfigValidator is an optional Connector capability: multi-key checks
// beyond what the ConfigDef expresses. It returns per-key error messages.
type ConfigValidator interface {
	ValidateConfig(config map[string]string) map[string][]string
}

// OffsetAlterer is an optional Connector capability used by the offsets
// REST API (PATCH/DELETE /connectors/{c}/offsets). A nil offset resets that
// partition. Returning true means the connector manages no external offsets
// (Apache's "altered successfully" message); return an error to refuse.
type OffsetAlterer interface {
	AlterOffsets(config map[string]string, offsets []PartitionOffset) (bool, error)
}

// PartitionOffset pairs a source partition with its offset, or a sink
// topic-partition with its consumer offset, as the offsets API shows them.
type PartitionOffset struct {
	Partition map[string]any
	Offset    map[string]any
}

// ConnectorContext lets a running connector talk to the runtime.
type ConnectorContext interface {
	// RequestTaskReconfiguration asks the runtime to call TaskConfigs again.
	RequestTaskReconfiguration()
	// RaiseError fails the connector with err.
	RaiseError(err error)
	// Logger carries the connector's name on every line.
	Logger() *slog.Logger
}

// TaskContext is what every task can ask the runtime.
type TaskContext interface {
	// ConnectorName is the owning connector's name.
	ConnectorName() string
	// TaskID is the task number, 0-based.
	TaskID() int
	// Logger carries the connector name and task number on every line.
	Logger() *slog.Logger
}

// SourceTask reads an external system and returns records.
//
// Call order: Start, then Poll repeatedly from one goroutine, then Stop.
// Poll should block until records are available or ctx ends, returning
// (nil, nil) when there is nothing to return yet. Stop may be called while
// no Poll is running; Poll is never called after Stop.
type SourceTask interface {
	Start(ctx context.Context, tc SourceTaskContext, config map[string]string) error
	Poll(ctx context.Context) ([]*SourceRecord, error)
	Stop() error
}

// SourceTaskContext gives a source task its stored offsets.
type SourceTaskContext interface {
	TaskContext
	Offsets() OffsetReader
}

// OffsetReader looks up the latest committed offset of source partitions.
type OffsetReader interface {
	// Offset returns the stored offset of a partition, or nil if none.
	Offset(ctx context.Context, partition map[string]any) (map[string]any, error)
}

// SourceCommitter is an optional SourceTask capability: Commit is called
// after each offset flush (even an empty one).
type SourceCommitter interface {
	Commit(ctx context.Context) error
}

// RecordCommitter is an optional SourceTask capability: CommitRecord is
// called once the broker acknowledged a record (md is nil when a transform
// dropped the record or an error was tolerated).
type RecordCommitter interface {
	CommitRecord(rec *SourceRecord, md *RecordMetadata) error
}

// SinkTask writes consumed records to an external system.
//
// Call order: Start, Open (partitions assigned), Put repeatedly, Flush or
// PreCommit before offsets are committed, Close (partitions revoked), Stop.
// All calls come from one goroutine.
type SinkTask interface {
	Start(ctx context.Context, tc SinkTaskContext, config map[string]string) error
	// Put delivers a batch. Returning a Retriable error makes the runtime
	// redeliver the same batch after a backoff; any other error fails the task.
	Put(ctx context.Context, records []*SinkRecord) error
	Stop() error
}

// Flusher is an optional SinkTask capability: make every record given to
// Put so far durable. Called before the consumer offsets are committed.
type Flusher interface {
	Flush(ctx context.Context, offsets map[TopicPartition]int64) error
}

// PreCommitter is an optional SinkTask capability replacing Flusher: return
// the offsets that are safe to commit (the next offset to read per
// partition). Returning an empty map skips the commit.
type PreCommitter interface {
	PreCommit(ctx context.Context, offsets map[TopicPartition]int64) (map[TopicPartition]int64, error)
}

// PartitionHandler is an optional SinkTask capability notified when the
// consumer group assigns or revokes partitions.
type PartitionHandler interface {
	Open(ctx context.Context, partitions []TopicPartition) error
	Close(ctx context.Context, partitions []TopicPartition) error
}

// SinkTaskContext lets a sink task steer its consumer.
type SinkTaskContext interface {
	TaskContext
	// Assignment returns the partitions currently assigned to the task.
	Assignment() []TopicPartition
	// Seek asks the runtime to resume the partitions from these offsets.
	Seek(offsets map[TopicPartition]int64)
	// Pause stops fetching from the partitions until Resume.
	Pause(partitions ...TopicPartition)
	// Resume undoes Pause.
	Resume(partitions ...TopicPartition)
	// SetRetryTimeout sets how long to wait before redelivering a batch
	// whose Put returned a Retriable error.
	SetRetryTimeout(d time.Duration)
	// RequestCommit asks for an offset commit soon.
	RequestCommit()
}
