package kafkastore

import (
	"context"
	"fmt"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/storage"
	"github.com/ferryhq/ferry/storage/kafkalog"
	"github.com/ferryhq/ferry/storage/memstore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultOffsetPartitions is offset.storage.partitions' default.
const DefaultOffsetPartitions = 25

// OffsetStore is the storage.OffsetStore of distributed mode: the offsets
// topic (§4.2), read into an in-memory table that finds keys by exact
// bytes and, failing that, by connector and partition (Java workers may
// order partition map keys differently).
type OffsetStore struct {
	log *kafkalog.Log
	mem *memstore.Store
}

var _ storage.OffsetStore = (*OffsetStore)(nil)

// NewOffsetStore returns a store on topic; nothing is read until Start.
func NewOffsetStore(o Options, topic TopicOptions) (*OffsetStore, error) {
	s := &OffsetStore{mem: memstore.New()}
	l, err := newLog(o, topic, "offset.storage.topic", kafkalog.PurposeOffsets, "offsets", DefaultOffsetPartitions, false, s.consume)
	if err != nil {
		return nil, err
	}
	s.log = l
	return s, nil
}

func (s *OffsetStore) consume(r *kgo.Record) {
	s.mem.Apply([]storage.Entry{{Key: r.Key, Value: r.Value}})
}

// Start creates or verifies the topic and reads it to the end.
func (s *OffsetStore) Start(ctx context.Context) error {
	if err := s.log.Start(ctx); err != nil {
		return fmt.Errorf("offset store: %w", err)
	}
	return nil
}

// Stop stops reading the topic.
func (s *OffsetStore) Stop() error {
	s.log.Stop()
	return nil
}

// Get reads to the end of the topic first, so offsets another worker
// committed before the call are seen (a task moving between workers).
func (s *OffsetStore) Get(ctx context.Context, keys [][]byte) (map[string][]byte, error) {
	if err := s.log.ReadToEnd(ctx); err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return s.mem.Get(ctx, keys)
}

// Set produces the entries, waits until the brokers acknowledged all of
// them, then applies them to the local table.
func (s *OffsetStore) Set(ctx context.Context, entries []storage.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	msgs := make([]kafkalog.Message, len(entries))
	for i, e := range entries {
		msgs[i] = kafkalog.Message{Key: e.Key, Value: e.Value}
	}
	if _, err := s.log.SendBatch(ctx, msgs); err != nil {
		return fmt.Errorf("write offsets: %w", err)
	}
	s.mem.Apply(entries)
	return nil
}

// ConnectorOffsets reads to the end of the topic and returns the
// connector's partitions with a non-null offset.
func (s *OffsetStore) ConnectorOffsets(ctx context.Context, connector string) ([]connect.PartitionOffset, error) {
	if err := s.log.ReadToEnd(ctx); err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return s.mem.ConnectorOffsets(ctx, connector)
}
