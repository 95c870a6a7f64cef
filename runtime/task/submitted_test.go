package task

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
)

// An idle source keeps only a small reserve of recycled records.
func TestSubmittedShrinkWhenIdle(t *testing.T) {
	s := newSubmitted(func(*pending) func(*kgo.Record, error) { return func(*kgo.Record, error) {} })
	part := map[string]any{"file": "a"}
	submitAll := func(n int) []*pending {
		ps := make([]*pending, n)
		for i := range ps {
			p, err := s.submit(&connect.SourceRecord{SourcePartition: part, SourceOffset: map[string]any{"pos": i}})
			if err != nil {
				t.Fatal(err)
			}
			ps[i] = p
		}
		return ps
	}
	ps := submitAll(1000)
	ps[0].acked.Store(true)
	s.drain(nil)
	s.shrink() // records still queued: nothing changes
	if len(s.free) != 1 {
		t.Fatalf("free list %d while records are queued, want 1", len(s.free))
	}
	for _, p := range ps {
		p.acked.Store(true)
	}
	s.drain(nil)
	s.shrink()
	if len(s.free) != idleReserve {
		t.Fatalf("free list %d after shrink, want %d", len(s.free), idleReserve)
	}
	// The reserve is reused before anything new is allocated.
	kept := map[*pending]bool{}
	for _, p := range s.free {
		kept[p] = true
	}
	for _, p := range submitAll(idleReserve) {
		if !kept[p] {
			t.Fatal("a new record was allocated while the reserve had room")
		}
	}
}
