// Package filestore is the standalone worker's storage.OffsetStore: the
// offsets live in one file (offset.storage.file.filename) that is loaded at
// Start and rewritten atomically on every Set.
//
// Apache writes this file with Java serialization, which Ferry does not
// read; Ferry's file is JSON lines instead. The first line identifies the
// format, every further line is one entry whose key and value are the exact
// offsets-topic bytes (§4.2), so offsets can be moved to or from an offsets
// topic unchanged:
//
//	{"format":"ferry-offsets","version":1}
//	{"key":"[\"local-file-source\",{\"filename\":\"/tmp/in.txt\"}]","value":"{\"position\":2048}"}
//
// Bytes that are not valid UTF-8 are stored base64-encoded under key64 or
// value64 instead.
package filestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/storage"
	"github.com/ferryhq/ferry/storage/memstore"
)

const (
	formatName    = "ferry-offsets"
	formatVersion = 1
)

// Store keeps offsets in a file. Use New.
type Store struct {
	path string
	mem  *memstore.Store
	// writeMu serialises file rewrites so the file always reflects a
	// prefix of the Set calls in order.
	writeMu sync.Mutex
}

var _ storage.OffsetStore = (*Store)(nil)

// New returns a store backed by the file at path. Nothing is read until
// Start.
func New(path string) *Store {
	return &Store{path: path, mem: memstore.New()}
}

// Path returns the file the store writes.
func (s *Store) Path() string { return s.path }

type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

type line struct {
	Key     *string `json:"key,omitempty"`
	Key64   []byte  `json:"key64,omitempty"`
	Value   *string `json:"value,omitempty"`
	Value64 []byte  `json:"value64,omitempty"`
}

// Start loads the file. A missing or empty file is an empty store; a file that
// cannot be parsed is an error naming the file and line.
func (s *Store) Start(context.Context) error {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open offsets file: %w", err)
	}
	defer f.Close()
	entries, err := decode(f)
	if err != nil {
		return fmt.Errorf("offsets file %s is corrupt: %w", s.path, err)
	}
	s.mem.Apply(entries)
	return nil
}

func decode(f *os.File) ([]storage.Entry, error) {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<30)
	var entries []storage.Entry
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if n == 1 {
			var h header
			if err := json.Unmarshal(b, &h); err != nil || h.Format != formatName {
				return nil, fmt.Errorf("line 1: not a Ferry offsets file (want a %q header)", formatName)
			}
			if h.Version != formatVersion {
				return nil, fmt.Errorf("line 1: unsupported format version %d", h.Version)
			}
			continue
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var l line
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		var e storage.Entry
		switch {
		case l.Key != nil:
			e.Key = []byte(*l.Key)
		case l.Key64 != nil:
			e.Key = l.Key64
		default:
			return nil, fmt.Errorf("line %d: entry without a key", n)
		}
		switch {
		case l.Value != nil:
			e.Value = []byte(*l.Value)
		case l.Value64 != nil:
			e.Value = l.Value64
		default:
			return nil, fmt.Errorf("line %d: entry without a value", n)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	// An empty file (created by hand, say) holds no offsets.
	return entries, nil
}

// Stop does nothing: every Set already wrote the file.
func (s *Store) Stop() error { return nil }

// Get implements storage.OffsetStore.
func (s *Store) Get(ctx context.Context, keys [][]byte) (map[string][]byte, error) {
	return s.mem.Get(ctx, keys)
}

// ConnectorOffsets implements storage.OffsetStore.
func (s *Store) ConnectorOffsets(ctx context.Context, connector string) ([]connect.PartitionOffset, error) {
	return s.mem.ConnectorOffsets(ctx, connector)
}

// Set applies the entries and rewrites the file: a temporary file in the
// same directory is written and synced, renamed over the old one, and the
// directory is synced, so a crash leaves either the old or the new file.
// If writing fails the in-memory view keeps the entries and the next Set
// writes them again.
func (s *Store) Set(ctx context.Context, entries []storage.Entry) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mem.Apply(entries)
	return s.write(s.mem.Entries())
}

func (s *Store) write(entries []storage.Entry) (err error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header{Format: formatName, Version: formatVersion}); err != nil {
		return err
	}
	for _, e := range entries {
		var l line
		if utf8.Valid(e.Key) {
			k := string(e.Key)
			l.Key = &k
		} else {
			l.Key64 = e.Key
		}
		if utf8.Valid(e.Value) {
			v := string(e.Value)
			l.Value = &v
		} else {
			l.Value64 = e.Value
		}
		if err := enc.Encode(&l); err != nil {
			return err
		}
	}

	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write offsets file %s: %w", s.path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write offsets file %s: %w", s.path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync offsets file %s: %w", s.path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write offsets file %s: %w", s.path, err)
	}
	if err = os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("replace offsets file %s: %w", s.path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
