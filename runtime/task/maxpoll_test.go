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

// max.poll.records bounds every Put, and records left in the consumer's
// buffer after a short poll arrive in order in later ones.
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

// A seek requested while fetched records are still buffered wins over them.
func TestSinkSeekWithBufferedRecords(t *testing.T) {
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
