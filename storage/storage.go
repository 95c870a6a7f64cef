// Package storage defines the stores the runtime keeps its state in and the
// byte formats they share with Apache Kafka Connect.
//
// Source offsets are stored as raw key/value bytes, exactly as Apache's
// offsets topic holds them: the key is the JSON array
// ["<connector>",{<source partition>}] and the value the JSON object of the
// source offset, both written the way Apache's JsonConverter writes them
// (schemas disabled). Implementations live in sub-packages: memstore (in
// memory) and filestore (standalone's offset.storage.file.filename).
package storage

import (
	"context"

	"github.com/ferryhq/ferry/connect"
)

// OffsetStore holds source offsets as raw key/value bytes (see the package
// doc). Implementations are safe for concurrent use.
type OffsetStore interface {
	// Start loads the stored offsets; it is called once before any other
	// method.
	Start(ctx context.Context) error
	// Stop releases the store's resources.
	Stop() error
	// Get returns the stored values for the given keys, keyed by
	// string(key). Missing keys are absent from the map. A key that is not
	// stored byte for byte is still found when a stored key names the same
	// connector and an equal partition (Java workers may order map keys
	// differently).
	Get(ctx context.Context, keys [][]byte) (map[string][]byte, error)
	// Set stores the entries durably and returns once they are. A nil
	// Value is a tombstone: it deletes the key.
	Set(ctx context.Context, entries []Entry) error
	// ConnectorOffsets returns, parsed, the source partitions of a
	// connector that have a non-null offset, for
	// GET /connectors/{c}/offsets.
	ConnectorOffsets(ctx context.Context, connector string) ([]connect.PartitionOffset, error)
}

// Entry is one offset record: the serialised key and value (nil value =
// tombstone).
type Entry struct {
	Key, Value []byte
}
