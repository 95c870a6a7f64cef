package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// Task writes each Put in one database transaction: records are grouped
// per destination table, sent in multi-row statements, and committed
// together, so a failed Put leaves nothing behind and is redelivered whole.
type Task struct {
	s        *settings
	log      *slog.Logger
	tc       connect.SinkTaskContext
	db       *sql.DB
	reporter connect.ErrantRecordReporter

	target      dialect.Target
	retriesLeft int
	outage      int // redeliveries in a row because the database was unreachable
	// layouts remembers, per table, the layout whose columns were checked
	// against the database, so steady streams skip the metadata queries.
	layouts map[dialect.TableID]*layout
	tables  map[string]dialect.TableID // topic → table
	// reported holds the records of the current Put already handed to the
	// errant record reporter.
	reported map[*connect.SinkRecord]bool
}

var _ connect.SinkTask = (*Task)(nil)

// Start parses the config and connects, trying connection.attempts times.
// A database that is unreachable still (rather than one refusing the
// login) does not fail the task: Put connects once it is back.
func (t *Task) Start(ctx context.Context, tc connect.SinkTaskContext, config map[string]string) error {
	s, err := parseSettings(config)
	if err != nil {
		return err
	}
	t.s, t.tc, t.log = s, tc, tc.Logger()
	t.retriesLeft, t.outage = s.maxRetries, 0
	t.layouts = map[dialect.TableID]*layout{}
	t.tables = map[string]dialect.TableID{}
	t.reported = map[*connect.SinkRecord]bool{}
	if p, ok := tc.(connect.ErrantReporterProvider); ok {
		t.reporter = p.ErrantRecordReporter()
	}
	target, err := dialect.ParseURL(s.url, s.user, s.password)
	if err != nil {
		return err
	}
	if target.Driver == "sqlite" {
		// Take the write lock when the transaction begins: a deferred
		// transaction that reads table metadata first cannot wait for the
		// lock when it upgrades, and two tasks writing one file would fail
		// with SQLITE_BUSY instead of queueing behind busy_timeout.
		target.DSN += "&_txlock=immediate"
	}
	t.target = target
	for attempt := 1; ; attempt++ {
		err = t.open(ctx)
		if err == nil {
			return nil
		}
		if attempt >= s.attempts {
			break
		}
		t.log.Warn("database connection failed; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.attemptBackoff):
		}
	}
	if !dialect.IsUnreachable(err) {
		return fmt.Errorf("JDBC sink could not connect after %d attempts: %w", s.attempts, err)
	}
	t.log.Warn("the database is unreachable; the task connects when records arrive", "attempts", s.attempts, "err", err)
	return nil
}

func (t *Task) open(ctx context.Context) error {
	db, err := dialect.OpenTarget(ctx, t.target)
	if err != nil {
		return err
	}
	t.db = db
	t.log.Info("JDBC sink connected", "database", t.target.Redacted(), "dialect", t.s.dialect.Name())
	return nil
}

// Stop closes the connection pool.
func (t *Task) Stop() error {
	if t.db == nil {
		return nil
	}
	err := t.db.Close()
	t.db = nil
	return err
}

// Put writes the batch in one transaction. A transient database error
// (lost connection, deadlock) becomes connect.Retriable up to max.retries
// times in a row, so the runtime redelivers the batch after
// retry.backoff.ms; other errors fail the task.
//
// An unreachable database (refused or lost connection, server restarting)
// does not use up max.retries: the batch is redelivered for as long as the
// outage lasts, retry.backoff.ms apart at first and at most 10 s apart
// later (or retry.backoff.ms when that is longer).
func (t *Task) Put(ctx context.Context, records []*connect.SinkRecord) error {
	if len(records) == 0 {
		return nil
	}
	clear(t.reported)
	var err error
	if t.db == nil {
		err = t.open(ctx)
	}
	if err == nil {
		err = t.write(ctx, records)
	}
	if err == nil {
		if t.outage > 0 {
			t.log.Info("the database is reachable again; the batch was written", "redeliveries", t.outage)
		}
		t.retriesLeft, t.outage = t.s.maxRetries, 0
		return nil
	}
	// DDL may have been rolled back with the transaction: check again.
	clear(t.layouts)
	if dialect.IsUnreachable(err) && ctx.Err() == nil {
		t.outage++
		wait := outageBackoff(t.s.retryBackoff, t.outage)
		t.log.Warn("the database is unreachable; the batch will be redelivered", "redelivery", t.outage, "backoff", wait, "err", err)
		t.tc.SetRetryTimeout(wait)
		return connect.Retriable(err)
	}
	if t.db == nil {
		return fmt.Errorf("JDBC sink could not connect: %w", err)
	}
	var de *connect.DataError
	if !errors.As(err, &de) && isTransient(err) && t.retriesLeft > 0 && ctx.Err() == nil {
		t.retriesLeft--
		t.log.Warn("write failed with a transient database error; the batch will be redelivered",
			"remaining_retries", t.retriesLeft, "backoff", t.s.retryBackoff, "err", err)
		t.tc.SetRetryTimeout(t.s.retryBackoff)
		return connect.Retriable(err)
	}
	if t.reporter != nil && !errors.As(err, &de) {
		return t.writeEach(ctx, records, err)
	}
	return err
}

// writeEach writes a failed batch again one record per transaction and
// hands the records that still fail to the errant record reporter (dead
// letter queue), as Confluent's sink does once retries are used up.
func (t *Task) writeEach(ctx context.Context, records []*connect.SinkRecord, batchErr error) error {
	t.log.Warn("batch failed; writing it record by record and reporting the failing records", "records", len(records), "err", batchErr)
	for _, rec := range records {
		if t.reported[rec] {
			continue // already reported as a bad record in the first pass
		}
		err := t.write(ctx, []*connect.SinkRecord{rec})
		if err == nil {
			continue
		}
		clear(t.layouts)
		if isTransient(err) {
			// The whole batch is redelivered; upserts make the replay harmless.
			t.tc.SetRetryTimeout(t.s.retryBackoff)
			return connect.Retriable(err)
		}
		if rerr := t.reporter.Report(ctx, rec, err); rerr != nil {
			return rerr
		}
	}
	return nil
}

// batch collects one table's rows of a Put between two flushes.
type batch struct {
	table  dialect.TableID
	layout *layout
	rows   [][]any // keys then values
	dels   [][]any // keys
	size   int
}

func (t *Task) tableFor(topic string) (dialect.TableID, error) {
	if id, ok := t.tables[topic]; ok {
		return id, nil
	}
	name := strings.ReplaceAll(t.s.tableFormat, "${topic}", topic)
	id, err := t.s.dialect.ParseTableID(name)
	if err != nil {
		return dialect.TableID{}, fmt.Errorf("%s %q for topic %s: %w", TableNameFormat, t.s.tableFormat, topic, err)
	}
	t.tables[topic] = id
	return id, nil
}

// ddlRaceAttempts bounds how often one write is started again because
// another writer created or evolved the same table meanwhile; each retry
// finds the table as the other writer left it, so one is normally enough.
const ddlRaceAttempts = 3

// errDDLRace marks a write that kept losing the race to create or evolve
// a table; it is transient, so the batch is redelivered.
var errDDLRace = errors.New("the table was created or evolved concurrently by another writer")

// outageBackoff is the wait before the n-th redelivery (n ≥ 1) during an
// outage: base (at least 100 ms) doubling up to 10 s, or base when that is
// longer, so that the end of an outage is noticed within 10 s.
func outageBackoff(base time.Duration, n int) time.Duration {
	base = max(base, 100*time.Millisecond)
	ceiling := max(base, 10*time.Second)
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// isTransient reports whether a failed write may succeed when tried again.
func isTransient(err error) bool {
	return errors.Is(err, errDDLRace) || dialect.IsTransient(err)
}

// ddlError is a failed CREATE TABLE or ALTER TABLE ADD COLUMN, with the
// columns the statement was to provide.
type ddlError struct {
	table dialect.TableID
	cols  []string
	err   error
}

func (e *ddlError) Error() string { return e.err.Error() }
func (e *ddlError) Unwrap() error { return e.err }

// write writes records in one transaction. Several tasks of a connector
// may find a new table (or column) missing at once and all try to create
// it; the losers' DDL fails ("already exists", or on PostgreSQL a unique
// violation in pg_type) and, on PostgreSQL, aborts their transaction. So
// when DDL fails and the table now has what was wanted, the transaction is
// rolled back and the write started again against the table as it is.
func (t *Task) write(ctx context.Context, records []*connect.SinkRecord) error {
	for attempt := 1; ; attempt++ {
		err := t.writeTx(ctx, records)
		var de *ddlError
		if err == nil || !errors.As(err, &de) {
			return err
		}
		clear(t.layouts) // the DDL's effects, if any, were rolled back
		if !t.hasColumns(ctx, de.table, de.cols) {
			return err
		}
		if attempt >= ddlRaceAttempts {
			return fmt.Errorf("%w: %w", errDDLRace, err)
		}
		t.log.Info("the table was created or evolved by another writer meanwhile; writing the batch again",
			"table", de.table.String(), "err", de.err)
	}
}

// hasColumns reports whether the table exists, outside any transaction of
// this task, and has all the named columns (compared ignoring case, as
// the layout resolves them).
func (t *Task) hasColumns(ctx context.Context, id dialect.TableID, cols []string) bool {
	existing, err := t.s.dialect.Columns(ctx, t.db, id)
	if err != nil || existing == nil {
		return false
	}
	for _, name := range cols {
		if !slices.ContainsFunc(existing, func(c dialect.ColumnInfo) bool { return strings.EqualFold(c.Name, name) }) {
			return false
		}
	}
	return true
}

func (t *Task) writeTx(ctx context.Context, records []*connect.SinkRecord) (err error) {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting a transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	batches := map[dialect.TableID]*batch{}
	var order []*batch
	for _, rec := range records {
		if t.reported[rec] {
			continue // reported by an earlier attempt of this Put
		}
		skip, err := t.add(ctx, tx, batches, &order, rec)
		if err != nil {
			var de *connect.DataError
			if !errors.As(err, &de) || t.reporter == nil {
				return err
			}
			if rerr := t.reporter.Report(ctx, rec, err); rerr != nil {
				return rerr
			}
			t.reported[rec] = true
			continue
		}
		_ = skip
	}
	for _, b := range order {
		if err := t.flush(ctx, tx, b); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// add routes one record into its table's batch, flushing first when the
// schema changes, when a row follows a delete (so a re-insert after a
// delete of the same key is not lost), or when batch.size is reached.
func (t *Task) add(ctx context.Context, tx *sql.Tx, batches map[dialect.TableID]*batch, order *[]*batch, rec *connect.SinkRecord) (bool, error) {
	tombstone := rec.Value == nil
	if tombstone && !t.s.deleteEnabled {
		return false, dataErr(rec, "record with a null value (tombstone) and delete.enabled=false")
	}
	id, err := t.tableFor(rec.Topic)
	if err != nil {
		return false, err
	}
	b := batches[id]
	if b == nil {
		b = &batch{table: id, layout: t.layouts[id]}
		batches[id] = b
		*order = append(*order, b)
	}
	if b.layout == nil || !b.layout.matches(t.s, rec) {
		if err := t.flush(ctx, tx, b); err != nil {
			return false, err
		}
		l, err := newLayout(t.s, rec)
		if err != nil {
			return false, err
		}
		if err := t.prepareTable(ctx, tx, id, l); err != nil {
			return false, err
		}
		b.layout = l
		t.layouts[id] = l
	}
	if tombstone {
		if b.layout.tableMissing {
			return true, nil
		}
		args, err := b.layout.appendKeyArgs(make([]any, 0, len(b.layout.keyCols)), t.s, rec)
		if err != nil {
			return false, err
		}
		b.dels = append(b.dels, args)
	} else {
		if len(b.dels) > 0 {
			if err := t.flush(ctx, tx, b); err != nil {
				return false, err
			}
		}
		args := make([]any, 0, len(b.layout.keyCols)+len(b.layout.valCols))
		if args, err = b.layout.appendKeyArgs(args, t.s, rec); err != nil {
			return false, err
		}
		if args, err = b.layout.appendValueArgs(args, t.s, rec); err != nil {
			return false, err
		}
		b.rows = append(b.rows, args)
	}
	b.size++
	if t.s.batchSize > 0 && b.size >= t.s.batchSize {
		return false, t.flush(ctx, tx, b)
	}
	return false, nil
}

// prepareTable checks that the table and its columns exist, creating or
// evolving it when allowed.
func (t *Task) prepareTable(ctx context.Context, tx *sql.Tx, id dialect.TableID, l *layout) error {
	d := t.s.dialect
	existing, err := d.Columns(ctx, tx, id)
	if err != nil {
		return err
	}
	if existing == nil {
		if l.valueSchema == nil {
			l.tableMissing = true // a delete from a missing table deletes nothing
			return nil
		}
		if !t.s.autoCreate {
			return fmt.Errorf("table %s is missing and auto-creation is disabled (set %s=true to create it)", id, AutoCreate)
		}
		cols := append(append([]dialect.Column{}, l.keyCols...), l.valCols...)
		stmt, err := d.CreateTableSQL(id, cols)
		if err != nil {
			return fmt.Errorf("creating table %s: %w", id, err)
		}
		t.log.Info("creating table", "table", id.String(), "sql", stmt)
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return &ddlError{table: id, cols: columnNames(cols), err: fmt.Errorf("creating table %s: %w", id, err)}
		}
		return nil
	}
	missing := l.resolveColumns(existing)
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for i, c := range missing {
		names[i] = c.Name
	}
	if !t.s.autoEvolve {
		return fmt.Errorf("table %s is missing columns [%s] for the record schema and auto-evolution is disabled (set %s=true to add them)", id, strings.Join(names, ", "), AutoEvolve)
	}
	for _, c := range missing {
		if c.Key {
			return fmt.Errorf("cannot add primary key column %s to existing table %s", c.Name, id)
		}
		if !c.Schema.Optional && !c.Schema.HasDefault {
			return fmt.Errorf("cannot ALTER TABLE %s to add missing field %s: the field is not optional and has no default value", id, c.Name)
		}
	}
	stmts, err := d.AddColumnSQL(id, missing)
	if err != nil {
		return fmt.Errorf("evolving table %s: %w", id, err)
	}
	for _, stmt := range stmts {
		t.log.Info("evolving table", "table", id.String(), "sql", stmt)
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return &ddlError{table: id, cols: names, err: fmt.Errorf("evolving table %s: %w", id, err)}
		}
	}
	return nil
}

func columnNames(cols []dialect.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// flush writes a batch's rows, then its deletes.
func (t *Task) flush(ctx context.Context, tx *sql.Tx, b *batch) error {
	if b.layout == nil || (len(b.rows) == 0 && len(b.dels) == 0) {
		return nil
	}
	l := b.layout
	d := t.s.dialect
	nk := len(l.keyCols)
	if len(b.rows) > 0 {
		rows := b.rows
		switch t.s.insertMode {
		case "update":
			stmt, err := l.statement(d, 'u', 1, b.table)
			if err != nil {
				return err
			}
			ps, err := tx.PrepareContext(ctx, stmt)
			if err != nil {
				return fmt.Errorf("preparing %s: %w", stmt, err)
			}
			args := make([]any, len(rows[0]))
			for _, r := range rows {
				copy(args, r[nk:])
				copy(args[len(r)-nk:], r[:nk])
				if _, err := ps.ExecContext(ctx, args...); err != nil {
					_ = ps.Close()
					return fmt.Errorf("updating %s: %w", b.table, err)
				}
			}
			if err := ps.Close(); err != nil {
				return err
			}
		default:
			kind := byte('i')
			if t.s.insertMode == "upsert" {
				kind = 'p'
				rows = lastPerKey(rows, nk)
			}
			if err := t.execChunks(ctx, tx, b.table, l, kind, rows); err != nil {
				return err
			}
		}
	}
	if len(b.dels) > 0 {
		if err := t.execChunks(ctx, tx, b.table, l, 'd', b.dels); err != nil {
			return err
		}
	}
	b.rows, b.dels, b.size = b.rows[:0], b.dels[:0], 0
	return nil
}

// execChunks sends rows in multi-row statements within the dialect's bind
// parameter limit.
func (t *Task) execChunks(ctx context.Context, tx *sql.Tx, table dialect.TableID, l *layout, kind byte, rows [][]any) error {
	width := len(rows[0])
	per := max(1, t.s.dialect.MaxParams()/width)
	if t.s.batchSize > 0 {
		per = min(per, t.s.batchSize)
	}
	args := make([]any, 0, min(per, len(rows))*width)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		stmt, err := l.statement(t.s.dialect, kind, len(chunk), table)
		if err != nil {
			return err
		}
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			verb := map[byte]string{'i': "inserting into", 'p': "upserting into", 'd': "deleting from"}[kind]
			return fmt.Errorf("%s %s (%d rows): %w", verb, table, len(chunk), err)
		}
	}
	return nil
}

// statement returns (and caches) the SQL for kind and row count.
func (l *layout) statement(d *dialect.Dialect, kind byte, rows int, table dialect.TableID) (string, error) {
	k := sqlKey{kind, rows}
	if s, ok := l.sql[k]; ok {
		return s, nil
	}
	var (
		s   string
		err error
	)
	switch kind {
	case 'i':
		s = d.InsertSQL(table, l.keyNames(), l.valNames(), rows)
	case 'p':
		s, err = d.UpsertSQL(table, l.keyNames(), l.valNames(), rows)
	case 'u':
		s, err = d.UpdateSQL(table, l.keyNames(), l.valNames())
	case 'd':
		s, err = d.DeleteSQL(table, l.keyNames(), rows)
	}
	if err != nil {
		return "", err
	}
	if len(l.sql) > 64 {
		clear(l.sql) // odd chunk sizes vary; keep the cache small
	}
	l.sql[k] = s
	return s, nil
}

// lastPerKey keeps only the last row of each key, in the order of those
// last rows: one multi-row upsert may not touch a row twice (PostgreSQL
// refuses it), and the final state is the same.
func lastPerKey(rows [][]any, nk int) [][]any {
	if len(rows) < 2 || nk == 0 {
		return rows
	}
	seen := make(map[string]int, len(rows))
	var sb strings.Builder
	dup := false
	keys := make([]string, len(rows))
	for i, r := range rows {
		sb.Reset()
		for _, v := range r[:nk] {
			fmt.Fprintf(&sb, "%T\x00%v\x01", v, v)
		}
		keys[i] = sb.String()
		if _, ok := seen[keys[i]]; ok {
			dup = true
		}
		seen[keys[i]] = i
	}
	if !dup {
		return rows
	}
	out := make([][]any, 0, len(seen))
	for i, r := range rows {
		if seen[keys[i]] == i {
			out = append(out, r)
		}
	}
	return out
}
