package task

import (
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/storage"
)

// pending is one submitted source record, from Poll until its offset was
// taken into account. Instances are recycled through a free list owned by
// the task goroutine, so tracking a record does not allocate.
type pending struct {
	kr      kgo.Record // the record handed to the producer
	src     *connect.SourceRecord
	part    *partTrack
	acked   atomic.Bool // set by the producer callback (or at once when dropped)
	dropped bool        // never produced: CommitRecord gets nil metadata
	promise func(*kgo.Record, error)
}

// partTrack is the submission-ordered queue of one source partition.
type partTrack struct {
	partition map[string]any
	q         []*pending
	head      int
	// offset is the latest committable offset (every record up to and
	// including the one it came from is acked); dirty means it has not
	// been stored yet.
	offset map[string]any
	dirty  bool
}

func (pt *partTrack) empty() bool { return pt.head == len(pt.q) }

// submitted tracks records per source partition in submission order, as
// Apache's SubmittedRecords does: an offset becomes committable only when
// its record and every earlier record of the same source partition were
// acknowledged. It is used from the task goroutine only; the producer
// callback touches nothing but pending.acked.
type submitted struct {
	parts map[string]*partTrack
	// last is the partition of the previous record: most sources send long
	// runs for one partition, and comparing two small maps is much cheaper
	// than building the canonical key.
	last    *partTrack
	keyBuf  []byte
	free    []*pending
	newProm func(*pending) func(*kgo.Record, error)
}

func newSubmitted(newPromise func(*pending) func(*kgo.Record, error)) *submitted {
	return &submitted{parts: make(map[string]*partTrack), keyBuf: make([]byte, 0, 128), newProm: newPromise}
}

// submit appends rec to its source partition's queue. It fails when the
// source partition holds values that cannot be stored as an offset key.
func (s *submitted) submit(rec *connect.SourceRecord) (*pending, error) {
	pt := s.last
	if pt == nil || !samePartition(pt.partition, rec.SourcePartition) {
		var err error
		s.keyBuf, err = storage.AppendCanonical(s.keyBuf[:0], rec.SourcePartition)
		if err != nil {
			return nil, fmt.Errorf("invalid source partition: %w", err)
		}
		pt = s.parts[string(s.keyBuf)] // no allocation for the lookup
		if pt == nil {
			// A copy: the task may reuse and change its map for later records.
			pt = &partTrack{partition: maps.Clone(rec.SourcePartition)}
			s.parts[string(s.keyBuf)] = pt
		}
		s.last = pt
	}
	var p *pending
	if n := len(s.free); n > 0 {
		p = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		p = new(pending)
		p.promise = s.newProm(p)
	}
	p.src, p.part, p.dropped = rec, pt, false
	p.acked.Store(false)
	if pt.head > 0 && pt.head == len(pt.q) {
		pt.q, pt.head = pt.q[:0], 0
	} else if pt.head >= 1024 && pt.head*2 >= len(pt.q) {
		n := copy(pt.q, pt.q[pt.head:])
		clear(pt.q[n:])
		pt.q, pt.head = pt.q[:n], 0
	}
	pt.q = append(pt.q, p)
	return p, nil
}

// drop marks a record that will not be produced (filtered or tolerated);
// its offset counts as acknowledged.
func (s *submitted) drop(p *pending) {
	p.dropped = true
	p.acked.Store(true)
}

// drain pops the acknowledged head of every partition queue, advancing the
// committable offsets, and hands each popped record to done (which may be
// nil) before recycling it.
func (s *submitted) drain(done func(*pending)) {
	for _, pt := range s.parts {
		for pt.head < len(pt.q) {
			p := pt.q[pt.head]
			if !p.acked.Load() {
				break // only the acknowledged prefix is committable
			}
			pt.q[pt.head] = nil
			pt.head++
			pt.offset, pt.dirty = p.src.SourceOffset, true
			if done != nil {
				done(p)
			}
			s.recycle(p)
		}
	}
}

func (s *submitted) recycle(p *pending) {
	headers := p.kr.Headers[:0]
	p.kr = kgo.Record{Headers: headers}
	p.src, p.part = nil, nil
	s.free = append(s.free, p)
}

// hasDirty reports whether some offset waits to be stored.
func (s *submitted) hasDirty() bool {
	for _, pt := range s.parts {
		if pt.dirty || !pt.empty() {
			return true
		}
	}
	return false
}

// forget removes partitions with nothing queued and nothing to store, so
// sources with many short-lived partitions do not grow the map forever.
func (s *submitted) forget() {
	for k, pt := range s.parts {
		if !pt.dirty && pt.empty() {
			delete(s.parts, k)
			if s.last == pt {
				s.last = nil
			}
		}
	}
}

// idleReserve is how many recycled records shrink keeps: enough for the
// next polls of a quiet source.
const idleReserve = 256

// shrink lets the garbage collector have the free list beyond idleReserve
// when nothing is queued: after a burst the list holds as many records as
// were ever in flight at once (up to MaxInFlight, some MiB), which an idle
// task has no use for.
func (s *submitted) shrink() {
	if len(s.free) <= idleReserve {
		return
	}
	for _, pt := range s.parts {
		if !pt.empty() {
			return
		}
	}
	s.free = slices.Clone(s.free[:idleReserve])
}

// samePartition reports whether two source partitions hold the same keys
// and primitive values; anything it cannot compare cheaply counts as
// different, sending the caller down the canonical-key path.
func samePartition(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		w, ok := a[k]
		if !ok {
			return false
		}
		switch x := v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			if v != w {
				return false
			}
		case []byte:
			y, ok := w.([]byte)
			if !ok || string(x) != string(y) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
