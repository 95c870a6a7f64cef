package sink

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// TestDatabaseOutage stops the database (a private MariaDB) in the middle
// of a stream for 20 s (5 s with -short) with max.retries=2: the batch in
// flight is redelivered, as the runtime does on a Retriable error, until
// the database is back, and a task started during the outage starts and
// writes once it is back. The private server starts again with an empty
// data directory, so only the rows written after the outage are checked.
func TestDatabaseOutage(t *testing.T) {
	outage := 20 * time.Second
	if testing.Short() {
		outage = 5 * time.Second
	}
	m := testbed.PrivateMariaDB(t)
	cfg := map[string]string{
		"connection.url": fmt.Sprintf("jdbc:mariadb://127.0.0.1:%d/ferry?user=ferry&password=ferry", m.Port),
		"auto.create":    "true", "pk.mode": "record_key", "insert.mode": "upsert",
		"max.retries": "2", "retry.backoff.ms": "200", "connection.attempts": "1",
	}
	task, tc := startTask(t, cfg)
	batch := func(from, to int64) []*connect.SinkRecord {
		var out []*connect.SinkRecord
		for id := from; id <= to; id++ {
			out = append(out, rec("outage", id, v1(id, fmt.Sprint("n", id))))
		}
		return out
	}
	redeliveries := 0
	deliver := func(task *Task, tc *taskCtx, b []*connect.SinkRecord) {
		t.Helper()
		for {
			err := task.Put(t.Context(), b)
			if err == nil {
				return
			}
			if !connect.IsRetriable(err) {
				t.Fatalf("put failed for good after %d redeliveries: %v", redeliveries, err)
			}
			redeliveries++
			time.Sleep(tc.retry)
		}
	}
	deliver(task, tc, batch(1, 10))

	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	// A task started while the database is down starts.
	late, lateCtx := startTask(t, cfg)
	var (
		wg      sync.WaitGroup
		backAt  time.Time
		restart error
	)
	wg.Go(func() {
		time.Sleep(outage - time.Since(stoppedAt))
		restart = m.Start()
		backAt = time.Now()
	})
	deliver(task, tc, batch(11, 20))
	wg.Wait()
	if restart != nil {
		t.Fatal(restart)
	}
	t.Logf("database down for %v; the batch went in %v after it was back, after %d redeliveries",
		backAt.Sub(stoppedAt).Round(time.Second), time.Since(backAt).Round(10*time.Millisecond), redeliveries)
	deliver(task, tc, batch(21, 30))
	deliver(late, lateCtx, batch(31, 35))

	db := testbed.OpenDB(t, "mysql", m.MySQLDSN())
	got := dump(t, db, `SELECT id FROM outage ORDER BY id`)
	var want []string
	for id := 1; id <= 35; id++ {
		want = append(want, fmt.Sprint(id))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("rows after the outage %v, want 1..35", got)
	}
}
