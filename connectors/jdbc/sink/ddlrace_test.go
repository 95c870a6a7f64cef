package sink

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// lockedBuffer is an io.Writer that two tasks' loggers may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logCtx is a task context whose logger writes to a shared buffer.
type logCtx struct {
	taskCtx
	log *slog.Logger
}

func (c *logCtx) Logger() *slog.Logger { return c.log }

func startLoggingTask(t *testing.T, out *lockedBuffer, config map[string]string) *Task {
	t.Helper()
	task := &Task{}
	tc := &logCtx{log: slog.New(slog.NewTextHandler(out, nil))}
	if err := task.Start(t.Context(), tc, config); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task
}

// putAsRuntime calls Put as the worker does: a Retriable error means the
// same batch is delivered again (here at once), up to a bound.
func putAsRuntime(ctx context.Context, task *Task, recs []*connect.SinkRecord) (redeliveries int, err error) {
	for {
		err = task.Put(ctx, recs)
		if err == nil || !connect.IsRetriable(err) || redeliveries >= 10 {
			return redeliveries, err
		}
		redeliveries++
	}
}

// TestConcurrentAutoCreateAndEvolve: two tasks of one connector start
// writing a topic whose table does not exist yet, at the same moment, with
// auto.create; later both meet a new optional field at once, with
// auto.evolve. Both try the DDL; whichever loses must pick up the table
// the other made and write its rows, not fail. Several rounds (one new
// table each) give the race many chances to happen.
func TestConcurrentAutoCreateAndEvolve(t *testing.T) {
	eachDB(t, func(t *testing.T, d database) {
		var logs lockedBuffer
		config := map[string]string{"connection.url": d.url, "auto.create": "true", "auto.evolve": "true",
			"pk.mode": "record_key", "insert.mode": "insert", "max.retries": "3", "retry.backoff.ms": "1"}
		tasks := []*Task{startLoggingTask(t, &logs, config), startLoggingTask(t, &logs, config)}
		const rounds, perPut = 8, 50
		redelivered := 0
		for round := range rounds {
			topic := fmt.Sprintf("race_%d", round)
			// Each task's ids are its own; phase 0 creates the table, phase 1 adds a column.
			batch := func(task, phase int) []*connect.SinkRecord {
				recs := make([]*connect.SinkRecord, perPut)
				for k := range recs {
					id := int64(task*100_000 + phase*1000 + k)
					if phase == 0 {
						recs[k] = rec(topic, id, v1(id, "n"))
					} else {
						recs[k] = rec(topic, id, v2(id, "n", fmt.Sprintf("%d@x", id)))
					}
				}
				return recs
			}
			for phase := range 2 {
				start := make(chan struct{})
				type result struct {
					redeliveries int
					err          error
				}
				results := make(chan result, len(tasks))
				for i, task := range tasks {
					recs := batch(i, phase)
					go func() {
						<-start
						n, err := putAsRuntime(context.Background(), task, recs)
						results <- result{n, err}
					}()
				}
				close(start)
				for range tasks {
					r := <-results
					redelivered += r.redeliveries
					if r.err != nil {
						t.Fatalf("round %d phase %d: %v", round, phase, r.err)
					}
				}
			}
			var rows, emails int
			if err := d.db.QueryRowContext(t.Context(), `SELECT COUNT(*), COUNT(email) FROM `+topic).Scan(&rows, &emails); err != nil {
				t.Fatal(err)
			}
			if rows != 4*perPut || emails != 2*perPut {
				t.Fatalf("round %d: %d rows, %d with an email; want %d and %d", round, rows, emails, 4*perPut, 2*perPut)
			}
		}
		raced := strings.Count(logs.String(), "by another writer meanwhile")
		t.Logf("%d lost DDL races picked up in Put, %d batches redelivered", raced, redelivered)
	})
}

// TestPostgresLostCreateAndAlter makes the race on PostgreSQL certain: a
// third session creates (then alters) the table in a transaction it holds
// open, so both tasks see no table, both CREATE TABLE and wait on it, and
// both fail once it commits (duplicate key in pg_type, SQLSTATE 23505 —
// or 42701 duplicate column for the ALTER). Both must still write.
func TestPostgresLostCreateAndAlter(t *testing.T) {
	u, dsn := postgresURL(t)
	admin := testbed.OpenDB(t, "pgx", dsn)
	var logs lockedBuffer
	config := map[string]string{"connection.url": u, "auto.create": "true", "auto.evolve": "true",
		"pk.mode": "record_key", "insert.mode": "insert", "max.retries": "0"}
	tasks := []*Task{startLoggingTask(t, &logs, config), startLoggingTask(t, &logs, config)}

	steps := []struct {
		ddl     string
		version func(id int64) *connect.Struct
	}{
		{`CREATE TABLE held (id BIGINT NOT NULL, name TEXT NOT NULL, score DOUBLE PRECISION NULL, PRIMARY KEY(id))`,
			func(id int64) *connect.Struct { return v1(id, "n") }},
		{`ALTER TABLE held ADD COLUMN email TEXT NULL`,
			func(id int64) *connect.Struct { return v2(id, "n", "e") }},
	}
	for step, s := range steps {
		tx, err := admin.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback() // releases the tasks should the test stop early
		if _, err := tx.ExecContext(t.Context(), s.ddl); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, len(tasks))
		for i, task := range tasks {
			id := int64(step*10 + i)
			go func() { errs <- task.Put(context.Background(), []*connect.SinkRecord{rec("held", id, s.version(id))}) }()
		}
		// Commit only once both tasks wait for the held transaction's locks.
		waitFor(t, func() bool {
			var n int
			err := admin.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`).Scan(&n)
			return err == nil && n == len(tasks)
		})
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		for range tasks {
			if err := <-errs; err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
	}
	if got := dump(t, admin, `SELECT id, email FROM held ORDER BY id`); strings.Join(got, ",") != "0|NULL,1|NULL,10|e,11|e" {
		t.Errorf("rows %v", got)
	}
	if n := strings.Count(logs.String(), "by another writer meanwhile"); n != 4 {
		t.Errorf("%d lost races logged, want 4:\n%s", n, logs.String())
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
