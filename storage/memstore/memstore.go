// Package memstore is an in-memory storage.OffsetStore. Tests use it
// directly; the file and Kafka stores keep their in-memory view in one.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/storage"
)

// Store is an in-memory offset table. Entries are indexed both by their
// exact key bytes and by storage.CanonicalKey, and the latest write for a
// canonical key wins: writing a key that equals an older one semantically
// (same connector and partition, other map key order) replaces it, so Get
// and ConnectorOffsets never see a stale value. The zero value is not
// usable; call New.
type Store struct {
	mu    sync.RWMutex
	exact map[string]*entry
	canon map[string]*entry
}

type entry struct {
	key, value []byte
	canon      string
}

var _ storage.OffsetStore = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{exact: make(map[string]*entry), canon: make(map[string]*entry)}
}

// Start does nothing: the store is ready when New returns.
func (s *Store) Start(context.Context) error { return nil }

// Stop does nothing.
func (s *Store) Stop() error { return nil }

// Get implements storage.OffsetStore.
func (s *Store) Get(_ context.Context, keys [][]byte) (map[string][]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		e := s.exact[string(k)]
		if e == nil {
			e = s.canon[storage.CanonicalKey(k)]
		}
		if e != nil {
			out[string(k)] = bytes.Clone(e.value)
		}
	}
	return out, nil
}

// Set implements storage.OffsetStore; it stores the entries in order.
func (s *Store) Set(_ context.Context, entries []storage.Entry) error {
	s.Apply(entries)
	return nil
}

// Apply stores the entries in order, as Set does, for stores that persist
// elsewhere and keep their view here.
func (s *Store) Apply(entries []storage.Entry) {
	canon := make([]string, len(entries))
	for i, e := range entries {
		canon[i] = storage.CanonicalKey(e.Key) // parse outside the lock
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range entries {
		c := canon[i]
		if old := s.canon[c]; old != nil {
			delete(s.exact, string(old.key))
			delete(s.canon, c)
		}
		if old := s.exact[string(e.Key)]; old != nil {
			delete(s.canon, old.canon)
			delete(s.exact, string(e.Key))
		}
		if e.Value == nil {
			continue
		}
		ne := &entry{key: bytes.Clone(e.Key), value: bytes.Clone(e.Value), canon: c}
		s.exact[string(ne.key)] = ne
		s.canon[c] = ne
	}
}

// Entries returns a copy of every stored entry, ordered by key bytes.
func (s *Store) Entries() []storage.Entry {
	s.mu.RLock()
	out := make([]storage.Entry, 0, len(s.exact))
	for _, e := range s.exact {
		out = append(out, storage.Entry{Key: bytes.Clone(e.key), Value: bytes.Clone(e.value)})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b storage.Entry) int { return bytes.Compare(a.Key, b.Key) })
	return out
}

// ConnectorOffsets implements storage.OffsetStore. Results are ordered by
// key bytes.
func (s *Store) ConnectorOffsets(_ context.Context, connector string) ([]connect.PartitionOffset, error) {
	var out []connect.PartitionOffset
	for _, e := range s.Entries() {
		name, partition, ok := storage.ParseOffsetKey(e.Key)
		if !ok || name != connector {
			continue
		}
		offset, err := storage.ParseOffsetValue(e.Value)
		if err != nil {
			return nil, fmt.Errorf("offset of connector %q partition %s: %w", connector, e.Key, err)
		}
		if offset == nil {
			continue
		}
		out = append(out, connect.PartitionOffset{Partition: partition, Offset: offset})
	}
	return out, nil
}
