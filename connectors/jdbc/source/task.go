package source

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// Task reads its share of the tables one after another, each at most once
// per poll.interval.ms.
type Task struct {
	log      *slog.Logger
	s        *settings
	target   dialect.Target
	d        *dialect.Dialect
	db       *sql.DB
	queriers []*querier
	current  *querier // the querier whose result set is open

	// ctx bounds the database work; result sets stay open across polls,
	// so it is the task's lifetime rather than one Poll's.
	ctx    context.Context
	cancel context.CancelFunc
}

var _ connect.SourceTask = (*Task)(nil)

// Start parses the config, builds one querier per assigned table and
// restores their stored offsets. The database is opened lazily by Poll so
// that an outage at start only delays the task.
func (t *Task) Start(ctx context.Context, tc connect.SourceTaskContext, config map[string]string) error {
	s, err := parse(config)
	if err != nil {
		return err
	}
	t.s, t.log = s, tc.Logger()
	if t.target, err = resolve(s); err != nil {
		return err
	}
	t.d = t.target.Dialect.WithQuoting(s.quote)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.queriers = nil
	if s.queryMode() {
		t.queriers = append(t.queriers, t.newQuerier(table{}))
	} else {
		tables, err := decodeTables(t.d, config[TablesKey])
		if err != nil {
			return fmt.Errorf("invalid %s task config: %w", TablesKey, err)
		}
		for _, tb := range tables {
			t.queriers = append(t.queriers, t.newQuerier(tb))
		}
	}
	for _, q := range t.queriers {
		found, err := q.loadOffset(ctx, tc.Offsets())
		if err != nil {
			return err
		}
		if !found && s.tsInitial != nil {
			if *s.tsInitial == -1 {
				q.startAtNow = true
			} else {
				q.off.ts = time.UnixMilli(*s.tsInitial).UTC()
			}
		}
	}
	if len(t.queriers) == 0 {
		t.log.Info("no tables assigned to this task; it stays idle")
	}
	return nil
}

// resolve parses connection.url, honouring dialect.name.
func resolve(s *settings) (dialect.Target, error) {
	tg, err := dialect.ParseURL(s.url, s.user, s.password)
	if err != nil {
		return tg, fmt.Errorf("%s: %w", ConnectionURL, err)
	}
	if s.dialectName != "" {
		d, err := dialect.ByName(s.dialectName)
		if err != nil {
			return tg, fmt.Errorf("%s: %w", DialectName, err)
		}
		if d.Kind() != tg.Dialect.Kind() {
			return tg, fmt.Errorf("%s: %s does not match the %s URL", DialectName, s.dialectName, tg.Dialect.Kind())
		}
	}
	return tg, nil
}

func (t *Task) newQuerier(tb table) *querier {
	q := &querier{s: t.s, d: t.d, tbl: tb, off: offset{inc: -1, ts: time.Unix(0, 0).UTC()}}
	if t.s.queryMode() {
		q.topic = t.s.topicPrefix
		q.partition = map[string]any{partitionQuery: partitionQuery}
	} else {
		q.topic = t.s.topicPrefix + tb.bare()
		if t.s.mode == ModeBulk {
			q.partition = map[string]any{partitionTable: tb.bare()}
		} else {
			q.partition = map[string]any{partitionProtocol: protocolV1, partitionTable: tb.fqn()}
		}
	}
	return q
}

// open connects, trying connection.attempts times connection.backoff.ms
// apart.
func (t *Task) open(ctx context.Context) error {
	var err error
	for i := range t.s.attempts {
		if i > 0 && !sleep(ctx, t.s.backoff) {
			return ctx.Err()
		}
		var db *sql.DB
		if db, err = dialect.OpenTarget(ctx, t.target); err == nil {
			t.db = db
			return nil
		}
		t.log.Warn("cannot connect to the database", "attempt", i+1, "of", t.s.attempts, "error", err)
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// Poll returns up to batch.max.rows records of the table that is due
// next, waiting for it when none is due. Database errors are returned as
// Retriable: the runtime calls Poll again after a backoff and the table's
// query restarts from the offset of the last record returned.
func (t *Task) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if len(t.queriers) == 0 {
		sleep(ctx, t.s.pollLinger)
		return nil, nil
	}
	deadline := time.Now().Add(t.s.pollLinger)
	for {
		q := t.current
		if q == nil {
			q = t.queriers[0]
			for _, c := range t.queriers[1:] {
				if c.nextRun.Before(q.nextRun) {
					q = c
				}
			}
			wait := time.Until(q.nextRun)
			if wait > 0 {
				// Wait for the table that is due first, but return empty
				// handed by poll.linger.ms so the runtime can commit.
				if left := time.Until(deadline); left < wait {
					sleep(ctx, left)
					return nil, nil
				}
				if !sleep(ctx, wait) {
					return nil, nil
				}
			}
			if ctx.Err() != nil {
				return nil, nil
			}
			if t.db == nil {
				if err := t.open(ctx); err != nil {
					err = fmt.Errorf("connecting to %s: %w", t.target.Redacted(), err)
					if dialect.IsAuthFailure(err) {
						// Refused credentials do not heal by waiting.
						return nil, connect.NonRetriable(err)
					}
					return nil, connect.Retriable(err)
				}
			}
			if err := q.begin(t.ctx, t.db); err != nil {
				return nil, t.failed(q, err)
			}
			t.current = q
		}
		recs, done, err := q.read(t.s.batchMaxRows)
		if done {
			t.current = nil
			q.nextRun = time.Now().Add(t.s.pollInterval)
			if err == nil {
				q.failures = 0
			}
		}
		if err != nil {
			if len(recs) > 0 {
				// Hand out what was read; the error comes back on the
				// next run of this table.
				return recs, nil
			}
			return nil, t.failed(q, err)
		}
		if len(recs) > 0 || done {
			// A run that found nothing returns too, so the caller sees
			// the task alive between runs.
			return recs, nil
		}
	}
}

// failed turns a querier error into Poll's error. Database errors are
// retriable; the querier runs again from its last handed-out offset.
func (t *Task) failed(q *querier, err error) error {
	q.close()
	t.current = nil
	q.nextRun = time.Now()
	if isPermanent(err) {
		return err
	}
	q.failures++
	if t.s.retryAttempts >= 0 && q.failures > t.s.retryAttempts {
		return fmt.Errorf("%s failed %d times in a row (%s=%d): %w", q.name(), q.failures, QueryRetryAttempts, t.s.retryAttempts, err)
	}
	t.log.Warn("query failed; it will be retried", "table", q.name(), "error", err)
	return connect.Retriable(err)
}

// Stop closes the open result set and the connection pool.
func (t *Task) Stop() error {
	if t.cancel != nil {
		t.cancel()
	}
	for _, q := range t.queriers {
		q.close()
	}
	t.current = nil
	if t.db != nil {
		err := t.db.Close()
		t.db = nil
		return err
	}
	return nil
}
