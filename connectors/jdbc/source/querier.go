package source

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// Source partition and offset keys, as Confluent writes them.
const (
	partitionTable    = "table"
	partitionQuery    = "query"
	partitionProtocol = "protocol"
	protocolV1        = "1"
	offsetInc         = "incrementing"
	offsetTS          = "timestamp"
	offsetTSNanos     = "timestamp_nanos"
)

// offset is a querier's position: the last incrementing value and the
// last timestamp, each meaningful only in the modes that use it.
type offset struct {
	inc int64
	ts  time.Time
}

// querier reads one table (or the custom query) in one mode. It keeps its
// result set open between polls and hands out batch.max.rows rows at a
// time, so memory stays bounded whatever the table size.
type querier struct {
	s         *settings
	d         *dialect.Dialect
	tbl       table // zero in query mode
	topic     string
	partition map[string]any // nil-offset bulk partitions share this shape

	incColumn string   // resolved against the table's columns
	tsColumns []string // idem
	// tick is the coarsest step the timestamp columns move by: the
	// upper bound of a run stays on a tick boundary so that a tick still
	// in progress is never read as complete.
	tick time.Duration

	prepared bool                  // columns checked and SQL built
	info     map[string]columnInfo // table mode: catalog metadata
	sql      string

	off        offset // position of the last record handed out
	startAtNow bool   // timestamp.initial=-1 and no stored offset
	failures   int    // consecutive failed runs, for query.retry.attempts
	nextRun    time.Time

	// Open result set state.
	rows      *sql.Rows
	cols      []column
	colIdx    []int // result index of each kept column
	incIdx    int
	tsIdx     []int
	schema    *connect.Schema
	schemaKey string
	raw       []any
	pending   *pendingRow // timestamp mode: one row of lookahead
}

type pendingRow struct {
	rec *connect.SourceRecord
	off offset
}

func (q *querier) name() string {
	if q.s.queryMode() {
		return "query"
	}
	return q.tbl.fqn()
}

// loadOffset restores the stored offset: the V1 partition first, then
// the legacy one Confluent's older versions wrote.
func (q *querier) loadOffset(ctx context.Context, r connect.OffsetReader) (bool, error) {
	if q.s.mode == ModeBulk {
		return false, nil
	}
	candidates := []map[string]any{q.partition}
	if !q.s.queryMode() {
		candidates = append(candidates, map[string]any{partitionTable: q.tbl.bare()})
	}
	for _, p := range candidates {
		stored, err := r.Offset(ctx, p)
		if err != nil {
			return false, fmt.Errorf("reading the stored offset of %s: %w", q.name(), err)
		}
		if stored == nil {
			continue
		}
		if v, ok := number(stored[offsetInc]); ok {
			q.off.inc = v
		}
		if ms, ok := number(stored[offsetTS]); ok {
			sec, msr := floorDiv(ms, 1000)
			ns := msr * 1e6
			if n, ok := number(stored[offsetTSNanos]); ok {
				ns = n
			}
			q.off.ts = time.Unix(sec, ns).UTC()
		}
		return true, nil
	}
	return false, nil
}

func floorDiv(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// number reads back an integer from a stored offset.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// prepare checks the configured columns against the table and builds the
// SQL; it runs on the first query so that a database that is down at
// start only delays the task.
func (q *querier) prepare(ctx context.Context, db *sql.DB) error {
	q.incColumn = q.s.incColumn
	q.tsColumns = q.s.tsColumns
	usesInc := q.s.mode == ModeIncrementing || q.s.mode == ModeTimestampIncrementing
	usesTS := q.s.mode == ModeTimestamp || q.s.mode == ModeTimestampIncrementing
	// Until the catalog or the result set says otherwise (query mode),
	// assume whole seconds.
	q.tick = time.Second
	if !q.s.queryMode() {
		names, info, err := tableColumns(ctx, db, q.d, q.tbl)
		if err != nil {
			return err
		}
		q.info = info
		if usesInc {
			if q.incColumn == "" {
				for _, n := range names {
					if info[n].autoInc {
						q.incColumn = n
						break
					}
				}
				if q.incColumn == "" {
					return permanent(fmt.Errorf("%s: table %s has no auto-increment column; set %s", IncrementingColumn, q.tbl.fqn(), IncrementingColumn))
				}
			} else {
				n, ok := findColumn(names, q.incColumn)
				if !ok {
					return permanent(fmt.Errorf("%s: column %q not found in table %s", IncrementingColumn, q.incColumn, q.tbl.fqn()))
				}
				q.incColumn = n
			}
			if q.s.validateNonNull && !info[q.incColumn].notNull {
				return permanent(fmt.Errorf("%s: column %q of table %s must be NOT NULL", IncrementingColumn, q.incColumn, q.tbl.fqn()))
			}
		}
		if usesTS {
			resolved := make([]string, len(q.tsColumns))
			anyNotNull := false
			q.tick = 0
			for i, c := range q.tsColumns {
				n, ok := findColumn(names, c)
				if !ok {
					return permanent(fmt.Errorf("%s: column %q not found in table %s", TimestampColumn, c, q.tbl.fqn()))
				}
				resolved[i] = n
				anyNotNull = anyNotNull || info[n].notNull
				q.tick = max(q.tick, tickOf(info[n], q.d.Kind()))
			}
			q.tsColumns = resolved
			if q.s.validateNonNull && !anyNotNull {
				return permanent(fmt.Errorf("%s: at least one of the columns %s of table %s must be NOT NULL", TimestampColumn, strings.Join(resolved, ","), q.tbl.fqn()))
			}
		}
	}
	q.sql = buildSQL(q.d, q.s, q.tbl, q.incColumn, q.tsColumns)
	q.prepared = true
	return nil
}

// buildSQL renders the statement of §1.4 for the querier's mode.
func buildSQL(d *dialect.Dialect, s *settings, t table, inc string, ts []string) string {
	var b strings.Builder
	if s.queryMode() {
		b.WriteString(s.query)
	} else {
		b.WriteString("SELECT * FROM ")
		b.WriteString(d.Table(t.id))
	}
	incExpr := d.Ident(inc)
	tsCol := d.Ident
	if d.Kind() == dialect.KindSQLite {
		// SQLite compares timestamps as text; bring every stored form
		// (ISO 8601 with T, a zone suffix, missing milliseconds) to one
		// canonical text so that bounds and ties compare correctly.
		tsCol = func(c string) string { return "strftime('%Y-%m-%d %H:%M:%f'," + d.Ident(c) + ")" }
	}
	var tsExpr string
	if len(ts) == 1 {
		tsExpr = tsCol(ts[0])
	} else if len(ts) > 1 {
		parts := make([]string, len(ts))
		for i, c := range ts {
			parts[i] = tsCol(c)
		}
		tsExpr = "COALESCE(" + strings.Join(parts, ",") + ")"
	}
	p := func(n int) string { return d.Placeholder(n) }
	switch s.mode {
	case ModeIncrementing:
		fmt.Fprintf(&b, " WHERE %s > %s ORDER BY %s ASC", incExpr, p(1), incExpr)
	case ModeTimestamp:
		fmt.Fprintf(&b, " WHERE %s > %s AND %s < %s ORDER BY %s ASC", tsExpr, p(1), tsExpr, p(2), tsExpr)
	case ModeTimestampIncrementing:
		fmt.Fprintf(&b, " WHERE %s < %s AND ((%s = %s AND %s > %s) OR %s > %s) ORDER BY %s,%s ASC",
			tsExpr, p(1), tsExpr, p(2), incExpr, p(3), tsExpr, p(4), tsExpr, incExpr)
	}
	if s.suffix != "" {
		b.WriteString(" ")
		b.WriteString(s.suffix)
	}
	return b.String()
}

// permanentError marks problems retrying cannot fix (a missing column).
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// dbNow reads the database's current time as Confluent does, reading a
// zone-less result as wall-clock time in db.timezone.
func dbNow(ctx context.Context, db *sql.DB, d *dialect.Dialect, zone *time.Location) (time.Time, error) {
	var q string
	switch d.Kind() {
	case dialect.KindMySQL:
		q = "SELECT CURRENT_TIMESTAMP(6)"
	case dialect.KindPostgreSQL:
		q = "SELECT CURRENT_TIMESTAMP"
	default:
		q = "SELECT strftime('%Y-%m-%d %H:%M:%f','now')"
	}
	var v any
	if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("reading the database time: %w", err)
	}
	t, _, err := wall(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the database time: %w", err)
	}
	switch d.Kind() {
	case dialect.KindPostgreSQL:
		return t, nil
	case dialect.KindSQLite:
		// strftime('now') is UTC.
		return inZone(t, time.UTC), nil
	}
	return inZone(t, zone), nil
}

// bindTime renders a bound as wall-clock text in db.timezone, which is how
// Confluent binds timestamps (setTimestamp with a db.timezone calendar).
// SQLite compares text, so its bound has the canonical form the query
// normalises columns to. PostgreSQL gets the zone offset too: it is
// ignored for columns without a time zone and honoured for timestamptz.
func bindTime(d *dialect.Dialect, t time.Time, zone *time.Location) string {
	w := t.In(zone)
	switch d.Kind() {
	case dialect.KindSQLite:
		return w.Format("2006-01-02 15:04:05.000")
	case dialect.KindPostgreSQL:
		return w.Format("2006-01-02 15:04:05.999999999-07:00")
	}
	return w.Format("2006-01-02 15:04:05.999999999")
}

// truncateTick rounds t down to a multiple of tick; a day is a calendar
// day in zone, the zone naive DATE columns are read in.
func truncateTick(t time.Time, tick time.Duration, zone *time.Location) time.Time {
	if tick <= 0 {
		return t
	}
	if tick >= 24*time.Hour {
		w := t.In(zone)
		return time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, zone)
	}
	return t.Truncate(tick)
}

// begin runs the query from the current offset.
func (q *querier) begin(ctx context.Context, db *sql.DB) error {
	if !q.prepared {
		if err := q.prepare(ctx, db); err != nil {
			return err
		}
	}
	var args []any
	if q.s.mode == ModeTimestamp || q.s.mode == ModeTimestampIncrementing {
		now, err := dbNow(ctx, db, q.d, q.s.zone)
		if err != nil {
			return err
		}
		// The newest tick may still gain rows (a whole-second column
		// written at .2 and again at .8 of the same second): read only
		// ticks that have ended.
		bound := truncateTick(now.Add(-q.s.delay), q.tick, q.s.zone)
		if q.startAtNow {
			// Start with the tick in progress, so that a row changed
			// in it after the start is not taken as already read.
			q.off.ts, q.startAtNow = bound.Add(-q.tick), false
		}
		end := bindTime(q.d, bound, q.s.zone)
		begin := bindTime(q.d, q.off.ts, q.s.zone)
		if q.s.mode == ModeTimestamp {
			args = []any{begin, end}
		} else {
			args = []any{end, begin, q.off.inc, begin}
		}
	} else if q.s.mode == ModeIncrementing {
		args = []any{q.off.inc}
	}
	rows, err := db.QueryContext(ctx, q.sql, args...)
	if err != nil {
		return fmt.Errorf("querying %s: %w", q.name(), err)
	}
	if err := q.describe(rows); err != nil {
		rows.Close()
		return err
	}
	q.rows = rows
	return nil
}

// describe builds (or reuses) the value schema from the result columns.
func (q *querier) describe(rows *sql.Rows) error {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return fmt.Errorf("reading the result columns of %s: %w", q.name(), err)
	}
	var key strings.Builder
	for _, ct := range cts {
		key.WriteString(ct.Name())
		key.WriteByte(0)
		key.WriteString(ct.DatabaseTypeName())
		key.WriteByte(0)
	}
	q.raw = make([]any, len(cts))
	if q.schema != nil && key.String() == q.schemaKey {
		return nil
	}
	sb := connect.StructBuilder()
	if !q.s.queryMode() {
		sb.Name(q.tbl.bare())
	}
	q.cols, q.colIdx = q.cols[:0], q.colIdx[:0]
	for i, ct := range cts {
		optional := true
		// Nullability comes from the catalog when known; drivers
		// report it unreliably (SQLite always says nullable).
		if ci, ok := q.info[ct.Name()]; ok {
			optional = !ci.notNull
		} else if n, ok := ct.Nullable(); ok && q.d.Kind() == dialect.KindMySQL {
			optional = n
		}
		c, ok := mapColumn(ct, q.d.Kind(), q.s.numeric, optional, q.s.zone)
		if !ok {
			continue
		}
		sb.Field(c.name, c.schema)
		q.cols = append(q.cols, c)
		q.colIdx = append(q.colIdx, i)
	}
	schema, err := sb.Build()
	if err != nil {
		return fmt.Errorf("building the schema of %s: %w", q.name(), err)
	}
	q.schema, q.schemaKey = schema, key.String()
	names := make([]string, len(cts))
	for i, ct := range cts {
		names[i] = ct.Name()
	}
	q.incIdx = -1
	if q.incColumn != "" {
		n, ok := findColumn(names, q.incColumn)
		if !ok {
			return permanent(fmt.Errorf("%s: column %q is not in the result of %s", IncrementingColumn, q.incColumn, q.name()))
		}
		q.incIdx = indexOf(names, n)
	}
	q.tsIdx = q.tsIdx[:0]
	for _, c := range q.tsColumns {
		n, ok := findColumn(names, c)
		if !ok {
			return permanent(fmt.Errorf("%s: column %q is not in the result of %s", TimestampColumn, c, q.name()))
		}
		q.tsIdx = append(q.tsIdx, indexOf(names, n))
	}
	if q.s.queryMode() && len(q.tsIdx) > 0 {
		// A custom query has no catalog entry: take the precision the
		// driver reports (MySQL/MariaDB do for DATETIME and TIMESTAMP);
		// the run before this one assumed whole seconds.
		q.tick = 0
		for _, idx := range q.tsIdx {
			ci := columnInfo{typ: cts[idx].DatabaseTypeName(), precision: -1}
			if p, _, ok := cts[idx].DecimalSize(); ok {
				ci.precision = int(p)
			}
			q.tick = max(q.tick, tickOf(ci, q.d.Kind()))
		}
	}
	return nil
}

func indexOf(names []string, n string) int {
	for i, x := range names {
		if x == n {
			return i
		}
	}
	return -1
}

// close ends the open result set, if any.
func (q *querier) close() error {
	q.pending = nil
	if q.rows == nil {
		return nil
	}
	err := q.rows.Close()
	q.rows = nil
	return err
}

// read returns up to n records from the open result set; done reports
// that the result set is exhausted (and closed).
func (q *querier) read(n int) (out []*connect.SourceRecord, done bool, err error) {
	ptrs := make([]any, len(q.raw))
	for i := range q.raw {
		ptrs[i] = &q.raw[i]
	}
	for len(out) < n {
		if !q.rows.Next() {
			if err := q.rows.Err(); err != nil {
				q.close()
				return out, true, fmt.Errorf("reading %s: %w", q.name(), err)
			}
			if q.pending != nil {
				// The last row of the set commits its own timestamp.
				out = append(out, q.emit(q.pending.rec, q.pending.off))
				q.pending = nil
			}
			if err := q.close(); err != nil {
				return out, true, fmt.Errorf("closing the result of %s: %w", q.name(), err)
			}
			return out, true, nil
		}
		clear(q.raw)
		if err := q.rows.Scan(ptrs...); err != nil {
			q.close()
			return out, true, fmt.Errorf("reading %s: %w", q.name(), err)
		}
		rec, rowOff, err := q.record()
		if err != nil {
			q.close()
			return out, true, permanent(err)
		}
		if q.s.mode != ModeTimestamp {
			out = append(out, q.emit(rec, rowOff))
			continue
		}
		// Timestamp mode: a row's timestamp becomes the committed offset
		// only with the last row carrying it, so that a restart within a
		// group of equal timestamps reads the group again rather than
		// skipping its rest.
		if p := q.pending; p != nil {
			off := q.off
			if !p.off.ts.Equal(rowOff.ts) {
				off = p.off
			}
			out = append(out, q.emit(p.rec, off))
		}
		q.pending = &pendingRow{rec: rec, off: rowOff}
	}
	return out, false, nil
}

// emit stamps rec with off and makes off the querier's position.
func (q *querier) emit(rec *connect.SourceRecord, off offset) *connect.SourceRecord {
	q.off = off
	rec.SourceOffset = q.offsetMap(off)
	return rec
}

func (q *querier) offsetMap(off offset) map[string]any {
	switch q.s.mode {
	case ModeIncrementing:
		return map[string]any{offsetInc: off.inc}
	case ModeTimestamp:
		return map[string]any{offsetTS: off.ts.UnixMilli(), offsetTSNanos: int64(off.ts.Nanosecond())}
	case ModeTimestampIncrementing:
		return map[string]any{offsetInc: off.inc, offsetTS: off.ts.UnixMilli(), offsetTSNanos: int64(off.ts.Nanosecond())}
	}
	return nil
}

// record converts the scanned row and reads its offset columns.
func (q *querier) record() (*connect.SourceRecord, offset, error) {
	v := connect.NewStruct(q.schema)
	var off offset
	for i, c := range q.cols {
		raw := q.raw[q.colIdx[i]]
		if raw == nil {
			if !c.schema.Optional {
				return nil, off, fmt.Errorf("%s: column %s is NULL but declared NOT NULL", q.name(), c.name)
			}
			continue
		}
		val, err := c.conv(raw)
		if err != nil {
			return nil, off, fmt.Errorf("%s: column %s: %w", q.name(), c.name, err)
		}
		if err := v.Put(c.name, val); err != nil {
			return nil, off, fmt.Errorf("%s: %w", q.name(), err)
		}
	}
	if q.incIdx >= 0 {
		raw := q.raw[q.incIdx]
		if raw == nil {
			return nil, off, fmt.Errorf("%s: the incrementing column %s is NULL", q.name(), q.incColumn)
		}
		n, err := toInt64(raw)
		if err != nil {
			return nil, off, fmt.Errorf("%s: the incrementing column %s: %w", q.name(), q.incColumn, err)
		}
		off.inc = n
	}
	for _, idx := range q.tsIdx {
		raw := q.raw[idx]
		if raw == nil {
			continue
		}
		conv := timestampConv(q.s.zone, q.tzAware(idx))
		t, err := conv(raw)
		if err != nil {
			return nil, off, fmt.Errorf("%s: timestamp column: %w", q.name(), err)
		}
		off.ts = t.(time.Time)
		break
	}
	rec := &connect.SourceRecord{
		Record: connect.Record{
			Topic:       q.topic,
			Partition:   -1,
			ValueSchema: q.schema,
			Value:       v,
		},
		SourcePartition: q.partition,
	}
	return rec, off, nil
}

func (q *querier) tzAware(resultIdx int) bool {
	for i, idx := range q.colIdx {
		if idx == resultIdx {
			return q.cols[i].tzAware
		}
	}
	return false
}
