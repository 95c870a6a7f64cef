package task

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// batchSizeSink records the largest batch Put received.
type batchSizeSink struct {
	*collectingSink
	largest atomic.Int64
}

func (s *batchSizeSink) Put(ctx context.Context, recs []*connect.SinkRecord) error {
	if n := int64(len(recs)); n > s.largest.Load() {
		s.largest.Store(n)
	}
	return s.collectingSink.Put(ctx, recs)
}

func newMaxPollSink(t *testing.T, ss sinkSetup, task connect.SinkTask, maxPoll int) *Sink {
	t.Helper()
	spec := baseSpec(t, ss.bootstrap, ss.conn, &events{})
	spec.KafkaOpts = append(spec.KafkaOpts, kgo.FetchMaxWait(100*time.Millisecond))
	s, err := NewSink(spec, task, SinkOptions{GroupID: ss.group, Topics: []string{ss.topic},
		CommitInterval: 20 * time.Millisecond, MaxPollRecords: maxPoll})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// max.poll.records bounds every Put; the rest of a poll follows in order in
// later Puts.
func TestSinkMaxPollRecordsBoundsPut(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 25, nil)...)
	task := &batchSizeSink{collectingSink: newCollectingSink()}
	sink := newMaxPollSink(t, ss, task, 4)
	runTask(t, sink)
	if got := strings.Join(task.waitValues(t, 25), ","); got != strings.Join(seq(0, 25, nil), ",") {
		t.Fatalf("got %s", got)
	}
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 25)
	if n := task.largest.Load(); n > 4 {
		t.Fatalf("a Put received %d records, max.poll.records is 4", n)
	}
	if n := task.puts.Load(); n < 7 {
		t.Fatalf("%d Puts for 25 records at most 4 at a time", n)
	}
}

// A seek requested during a Put wins over the rest of the poll's records.
func TestSinkSeekBetweenPutsOfOnePoll(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 10, nil)...)
	task := newCollectingSink()
	task.seekInPut = 1
	sink := newMaxPollSink(t, ss, task, 2)
	runTask(t, sink)
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		v := task.values()
		task.mu.Lock()
		at := task.seekAt
		task.mu.Unlock()
		return len(v) >= at+9 && v[len(v)-1] == "v9", fmt.Sprintf("values %v", v)
	})
	v := task.values()
	if got, want := strings.Join(v[task.seekAt:], ","), strings.Join(seq(1, 10, nil), ","); got != want {
		t.Fatalf("after the seek got %s, want %s (all %v)", got, want, v)
	}
}

// pausingSink pauses its partition during the first Put and reports
// records that arrive while it is paused.
type pausingSink struct {
	*collectingSink
	paused        atomic.Bool
	whilePaused   atomic.Int64
	pausedAlready atomic.Bool
}

func (s *pausingSink) Put(ctx context.Context, recs []*connect.SinkRecord) error {
	if len(recs) > 0 && s.paused.Load() {
		s.whilePaused.Add(int64(len(recs)))
	}
	if err := s.collectingSink.Put(ctx, recs); err != nil {
		return err
	}
	if len(recs) > 0 && !s.pausedAlready.Swap(true) {
		s.paused.Store(true)
		s.tc.Pause(connect.TopicPartition{Topic: recs[0].Topic, Partition: 0})
	}
	return nil
}

// A partition the task pauses during a Put gets nothing more from the same
// poll, and after the resume its records come again from the first one not
// delivered.
func TestSinkPauseBetweenPutsOfOnePoll(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 10, nil)...)
	task := &pausingSink{collectingSink: newCollectingSink()}
	sink := newMaxPollSink(t, ss, task, 2)
	runTask(t, sink)
	task.waitValues(t, 2)
	// A commit follows the iteration that made the first Put.
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 2)
	if got := strings.Join(task.values(), ","); got != "v0,v1" {
		t.Fatalf("while paused got %s", got)
	}
	task.paused.Store(false)
	task.tc.Resume(connect.TopicPartition{Topic: ss.topic, Partition: 0})
	if got := strings.Join(task.waitValues(t, 10), ","); got != strings.Join(seq(0, 10, nil), ",") {
		t.Fatalf("after the resume got %s", got)
	}
	if n := task.whilePaused.Load(); n > 0 {
		t.Fatalf("%d records delivered while the partition was paused", n)
	}
}

// commitWaitingSink blocks its second Put until the first Put's records
// are committed, which only a commit between the Puts of one poll allows.
type commitWaitingSink struct {
	*collectingSink
	t                       *testing.T
	bootstrap, group, topic string
	sawCommitBetweenPuts    atomic.Bool
	calls                   atomic.Int64
}

func (s *commitWaitingSink) Put(ctx context.Context, recs []*connect.SinkRecord) error {
	switch s.calls.Add(1) {
	case 1:
		// Outlast the 20 ms commit interval, so a commit is due after
		// this Put.
		time.Sleep(50 * time.Millisecond)
	case 2:
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if committedOffset(s.t, s.bootstrap, s.group, s.topic) >= 5 {
				s.sawCommitBetweenPuts.Store(true)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return s.collectingSink.Put(ctx, recs)
}

// A poll split into several Puts by max.poll.records commits between them
// when the commit interval has passed.
func TestSinkCommitsBetweenPutsOfOnePoll(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, seq(0, 20, nil)...)
	task := &commitWaitingSink{collectingSink: newCollectingSink(), t: t, bootstrap: ss.bootstrap, group: ss.group, topic: ss.topic}
	sink := newMaxPollSink(t, ss, task, 5)
	runTask(t, sink)
	task.waitValues(t, 20)
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 20)
	if !task.sawCommitBetweenPuts.Load() {
		t.Fatal("the second Put of the poll never saw the first Put's records committed")
	}
}
