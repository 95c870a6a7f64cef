package bigquery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/ferryhq/ferry/connect"
)

// merger runs upsert/delete mode: rows go into one intermediate table per
// destination table, tagged with a batch number; a merge (on a timer, or
// when a batch reaches mergeRecordsThreshold rows) closes the batch, MERGEs
// its latest row per key into the destination and then lets the offsets of
// that batch be committed. Replaying records after a crash is harmless:
// MERGE keeps the latest row per key.
type merger struct {
	t      *Task
	taskID int
	runID  string

	mu     sync.Mutex
	tables map[tableID]*mergeTable
	merged map[connect.TopicPartition]int64
	err    error

	trigger chan tableID
	cancel  context.CancelFunc
	done    chan struct{}
}

// mergeTable is the state of one destination table.
type mergeTable struct {
	dest, tmp tableID

	// mu is held while rows of the current batch are inserted, so that a
	// merge that closes the batch sees all of its rows.
	mu        sync.Mutex
	batch     int64
	rows      int64 // rows in the current batch
	next      int64 // running row counter (the "i" column)
	valueCols bq.Schema
	keyCols   bq.Schema
	offsets   map[int64]map[connect.TopicPartition]int64
}

func newMerger(t *Task, taskID int) *merger {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &merger{
		t: t, taskID: taskID, runID: hex.EncodeToString(b[:]),
		tables:  map[tableID]*mergeTable{},
		merged:  map[connect.TopicPartition]int64{},
		trigger: make(chan tableID, 64),
		done:    make(chan struct{}),
	}
}

func (m *merger) start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.loop(ctx)
}

// stop ends the merge loop and drops this run's intermediate tables: rows
// not merged yet were never committed and will be delivered again.
func (m *merger) stop() {
	m.cancel()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, mt := range m.snapshot() {
		if err := m.t.tables.handle(mt.tmp).Delete(ctx); err != nil && !isNotFound(err) {
			m.t.log.Warn("could not drop the intermediate table", "table", mt.tmp.String(), "err", err)
		}
	}
}

// snapshot lists the destination tables seen so far.
func (m *merger) snapshot() []*mergeTable {
	m.mu.Lock()
	defer m.mu.Unlock()
	tabs := make([]*mergeTable, 0, len(m.tables))
	for _, mt := range m.tables {
		tabs = append(tabs, mt)
	}
	return tabs
}

func (m *merger) loop(ctx context.Context) {
	defer close(m.done)
	var tick <-chan time.Time
	if iv := m.t.s.mergeInterval; iv > 0 {
		tk := time.NewTicker(iv)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			for _, mt := range m.snapshot() {
				m.mergeAndRecord(ctx, mt)
			}
		case id := <-m.trigger:
			m.mu.Lock()
			mt := m.tables[id]
			m.mu.Unlock()
			if mt != nil {
				m.mergeAndRecord(ctx, mt)
			}
		}
	}
}

func (m *merger) mergeAndRecord(ctx context.Context, mt *mergeTable) {
	if err := m.merge(ctx, mt); err != nil && ctx.Err() == nil {
		m.mu.Lock()
		if m.err == nil {
			m.err = err
		}
		m.mu.Unlock()
	}
}

// failure is the first merge error; the next Put fails the task with it.
func (m *merger) failure() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// committable returns the merged offsets of the partitions in offsets.
func (m *merger) committable(offsets map[connect.TopicPartition]int64) (map[connect.TopicPartition]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	out := make(map[connect.TopicPartition]int64, len(offsets))
	for tp := range offsets {
		if off, ok := m.merged[tp]; ok {
			out[tp] = off
		}
	}
	return out, nil
}

func (m *merger) forget(parts []connect.TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tp := range parts {
		delete(m.merged, tp)
	}
}

// put writes the batches into the intermediate tables.
func (m *merger) put(ctx context.Context, batches map[tableID]*tableBatch, order []tableID) error {
	s := m.t.s
	var bad []badRow
	now := time.Now()
	for _, id := range order {
		b := batches[id]
		mt, err := m.table(ctx, id, b)
		if err != nil {
			if isRetriable(err) {
				return &retriableError{err}
			}
			return err
		}
		if mt == nil {
			// Tombstones for a table that does not exist: nothing to
			// delete. No row of these partitions waits in a batch (a
			// partition feeds one table), so their offsets are done.
			m.mu.Lock()
			for _, rec := range b.recs {
				tp, next := consumed(rec)
				if next > m.merged[tp] {
					m.merged[tp] = next
				}
			}
			m.mu.Unlock()
			continue
		}
		rows := make([]pendingRow, 0, len(b.rows))
		mt.mu.Lock()
		n := mt.batch
		offs := mt.offsets[n]
		if offs == nil {
			offs = map[connect.TopicPartition]int64{}
			mt.offsets[n] = offs
		}
		for i, rec := range b.recs {
			tp, next := consumed(rec)
			if next > offs[tp] {
				offs[tp] = next
			}
			if rec.Value == nil && !s.delete {
				continue
			}
			row := b.rows[i]
			key := row[s.keyField]
			if _, ok := key.(map[string]any); !ok {
				bad = append(bad, badRow{rec, connect.NewDataError("upsert and delete need a record key that is a struct or a JSON object", nil)})
				continue
			}
			delete(row, s.keyField)
			ts := now
			if !rec.Timestamp.IsZero() {
				ts = rec.Timestamp
			}
			r := map[string]any{"key": key, "i": strconv.FormatInt(mt.next, 10), "batchNumber": strconv.FormatInt(n, 10), "partitionTime": formatTimestamp(ts)}
			if rec.Value != nil {
				r["value"] = row
			}
			mt.next++
			rows = append(rows, pendingRow{rec: rec, insertID: insertID(rec), json: jsonRow(r)})
		}
		if len(rows) > 0 {
			refused, err := m.t.ins.insert(ctx, mt.tmp.dataset, mt.tmp.table, rows)
			if err != nil {
				mt.mu.Unlock()
				return err
			}
			bad = append(bad, refused...)
			mt.rows += int64(len(rows))
		}
		full := s.mergeThreshold > 0 && mt.rows >= s.mergeThreshold
		mt.mu.Unlock()
		if full {
			select {
			case m.trigger <- id:
			default: // a merge is queued already
			}
		}
	}
	return m.t.handleBad(ctx, bad)
}

// table returns the state of a destination table, creating or evolving the
// destination and its intermediate table to fit the batch.
func (m *merger) table(ctx context.Context, id tableID, b *tableBatch) (*mergeTable, error) {
	s := m.t.s
	m.mu.Lock()
	mt := m.tables[id]
	m.mu.Unlock()
	if b.schema == nil {
		// Only tombstones: nothing to create; without a destination there
		// is nothing to delete either.
		if mt != nil {
			return mt, nil
		}
		info, err := m.t.tables.lookup(ctx, id)
		if err != nil || info == nil {
			return nil, err
		}
		b.schema = info.schema
	}
	if _, err := m.t.tables.ensure(ctx, id, b.schema, b.desc); err != nil {
		return nil, err
	}
	var valueCols, keyCols bq.Schema
	for _, f := range b.schema {
		if f.Name == s.keyField {
			keyCols = f.Schema
			continue
		}
		valueCols = append(valueCols, f)
	}
	if len(keyCols) == 0 {
		return nil, fmt.Errorf("table %s: upsert and delete need a struct record key to fill %s", id, s.keyField)
	}
	tmpSchema := bq.Schema{
		{Name: "value", Type: bq.RecordFieldType, Schema: relaxed(valueCols)},
		{Name: "key", Type: bq.RecordFieldType, Required: true, Schema: keyCols},
		{Name: "i", Type: bq.IntegerFieldType, Required: true},
		{Name: "partitionTime", Type: bq.TimestampFieldType},
		{Name: "batchNumber", Type: bq.IntegerFieldType, Required: true},
	}
	if mt == nil {
		tmp := tableID{id.dataset, sanitizeName(fmt.Sprintf("%s_%s_%d_%s_%d", id.table, s.intermediateSuffix, m.taskID, m.runID, time.Now().UnixMilli()))}
		m.dropStale(ctx, id)
		md := &bq.TableMetadata{Schema: tmpSchema, Description: "Temporary table",
			TimePartitioning: &bq.TimePartitioning{Type: bq.DayPartitioningType}}
		if _, err := m.t.tables.create(ctx, tmp, md); err != nil {
			return nil, err
		}
		mt = &mergeTable{dest: id, tmp: tmp, valueCols: valueCols, keyCols: keyCols, offsets: map[int64]map[connect.TopicPartition]int64{}}
		m.mu.Lock()
		m.tables[id] = mt
		m.mu.Unlock()
		return mt, nil
	}
	// The value schema may have grown: the intermediate table follows.
	info, err := m.t.tables.lookup(ctx, mt.tmp)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, fmt.Errorf("intermediate table %s disappeared", mt.tmp)
	}
	ch, err := evolve(info.schema, tmpSchema, true, true)
	if err != nil {
		return nil, fmt.Errorf("intermediate table %s: %w", mt.tmp, err)
	}
	if ch.changed {
		if _, err := m.t.tables.handle(mt.tmp).Update(ctx, bq.TableMetadataToUpdate{Schema: ch.merged}, ""); err != nil {
			return nil, fmt.Errorf("updating intermediate table %s: %w", mt.tmp, err)
		}
		m.t.tables.forget(mt.tmp)
	}
	mt.mu.Lock()
	mt.valueCols = unionSchemas(mt.valueCols, valueCols)
	mt.mu.Unlock()
	return mt, nil
}

// dropStale removes intermediate tables an earlier run of this task left
// behind (a crash skips the cleanup in stop); their rows were never
// committed and are delivered again.
func (m *merger) dropStale(ctx context.Context, dest tableID) {
	prefix := sanitizeName(fmt.Sprintf("%s_%s_%d_", dest.table, m.t.s.intermediateSuffix, m.taskID))
	it := m.t.c.bq.DatasetInProject(m.t.c.project, dest.dataset).Tables(ctx)
	for {
		tb, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return
		}
		if err != nil {
			m.t.log.Debug("listing tables for stale intermediate tables failed", "err", err)
			return
		}
		if strings.HasPrefix(tb.TableID, prefix) && !strings.Contains(tb.TableID, m.runID) {
			if err := tb.Delete(ctx); err == nil {
				m.t.log.Info("dropped an intermediate table left by an earlier run", "table", tb.TableID)
			}
		}
	}
}

func relaxed(s bq.Schema) bq.Schema {
	out := make(bq.Schema, len(s))
	for i, f := range s {
		c := *f
		c.Required = false
		out[i] = &c
	}
	return out
}

// merge closes the current batch of mt and merges it into the destination.
func (m *merger) merge(ctx context.Context, mt *mergeTable) error {
	mt.mu.Lock()
	n, rows := mt.batch, mt.rows
	cols := mt.valueCols
	mt.batch++
	mt.rows = 0
	offs := mt.offsets[n]
	delete(mt.offsets, n)
	mt.mu.Unlock()
	if rows > 0 {
		if w := m.t.s.mergeWait; w > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(w):
			}
		}
		sql := m.mergeSQL(mt, n, cols)
		start := time.Now()
		// The batch's rows are in the intermediate table and its offsets
		// wait for this merge: through an outage, keep trying rather than
		// fail the task.
		for attempt := 1; ; attempt++ {
			err := m.runQuery(ctx, sql)
			if err == nil {
				break
			}
			if !isUnavailable(err) || ctx.Err() != nil {
				return fmt.Errorf("merging batch %d of %s into %s: %w", n, mt.tmp, mt.dest, err)
			}
			wait := outageBackoff(m.t.s.retryWait, attempt)
			m.t.log.Warn("BigQuery is unreachable or failing; the merge will be tried again", "table", mt.dest.String(), "batch", n, "backoff", wait, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		m.t.log.Debug("merged a batch", "table", mt.dest.String(), "batch", n, "rows", rows, "took", time.Since(start))
		// Rows still in the streaming buffer cannot be deleted yet; a later
		// merge's cleanup removes them.
		cleanup := fmt.Sprintf("DELETE FROM %s WHERE batchNumber <= %d", m.quote(mt.tmp), n)
		if err := m.runQuery(ctx, cleanup); err != nil {
			m.t.log.Debug("cleaning the intermediate table failed; a later merge retries", "table", mt.tmp.String(), "err", err)
		}
	}
	if len(offs) > 0 {
		m.mu.Lock()
		for tp, off := range offs {
			if off > m.merged[tp] {
				m.merged[tp] = off
			}
		}
		m.mu.Unlock()
		m.t.tc.RequestCommit()
	}
	return nil
}

func (m *merger) quote(id tableID) string {
	return "`" + m.t.c.project + "." + id.dataset + "." + id.table + "`"
}

func quoteIdent(s string) string { return "`" + s + "`" }

// keyPaths lists the key's leaf columns as dotted paths (key.a, key.b.c).
func keyPaths(prefix string, cols bq.Schema) []string {
	var out []string
	for _, f := range cols {
		p := prefix + "." + quoteIdent(f.Name)
		if f.Type == bq.RecordFieldType && !f.Repeated {
			out = append(out, keyPaths(p, f.Schema)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// mergeSQL builds the MERGE of batch n for the configured mode.
func (m *merger) mergeSQL(mt *mergeTable, n int64, cols bq.Schema) string {
	s := m.t.s
	k := quoteIdent(s.keyField)
	names := make([]string, len(cols))
	sets := make([]string, len(cols))
	vals := make([]string, len(cols))
	for i, f := range cols {
		c := quoteIdent(f.Name)
		names[i], sets[i], vals[i] = c, c+" = src.value."+c, "src.value."+c
	}
	insert := fmt.Sprintf("INSERT (%s, %s) VALUES (src.key, %s)", k, strings.Join(names, ", "), strings.Join(vals, ", "))
	var b strings.Builder
	fmt.Fprintf(&b, "MERGE %s dst USING ", m.quote(mt.dest))
	if s.upsert {
		fmt.Fprintf(&b, "(SELECT * FROM (SELECT ARRAY_AGG(x ORDER BY i DESC LIMIT 1)[OFFSET(0)] src FROM %s x WHERE batchNumber = %d GROUP BY %s)) ON dst.%s = src.key ",
			m.quote(mt.tmp), n, strings.Join(keyPaths("key", mt.keyCols), ", "), k)
		if s.delete {
			fmt.Fprintf(&b, "WHEN MATCHED AND src.value IS NOT NULL THEN UPDATE SET %s WHEN MATCHED AND src.value IS NULL THEN DELETE WHEN NOT MATCHED AND src.value IS NOT NULL THEN %s",
				strings.Join(sets, ", "), insert)
		} else {
			fmt.Fprintf(&b, "WHEN MATCHED THEN UPDATE SET %s WHEN NOT MATCHED THEN %s", strings.Join(sets, ", "), insert)
		}
		return b.String()
	}
	// Delete only: rows before a key's latest tombstone in the batch are
	// dropped, the tombstone deletes, later rows are appended.
	fmt.Fprintf(&b, "(SELECT key, value FROM (SELECT x.key, x.value, x.i, MAX(IF(x.value IS NULL, x.i, NULL)) OVER (PARTITION BY %s) AS di FROM %s x WHERE batchNumber = %d) WHERE di IS NULL OR i >= di) src ",
		strings.Join(keyPaths("x.key", mt.keyCols), ", "), m.quote(mt.tmp), n)
	fmt.Fprintf(&b, "ON dst.%s = src.key AND src.value IS NULL WHEN MATCHED THEN DELETE WHEN NOT MATCHED AND src.value IS NOT NULL THEN %s", k, insert)
	return b.String()
}

// runQuery runs a DML job, retrying serialization conflicts and backend
// errors bigQueryRetry times.
func (m *merger) runQuery(ctx context.Context, sql string) error {
	s := m.t.s
	for attempt := 0; ; attempt++ {
		err := m.t.c.runQuery(ctx, sql)
		if err == nil {
			return nil
		}
		msg := err.Error()
		transient := strings.Contains(msg, "Could not serialize access") || strings.Contains(msg, "jobInternalError") ||
			strings.Contains(msg, "jobBackendError") || isRetriable(err) && apiCode(err) != 0
		if !transient || attempt >= s.retries || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.retryWait + time.Duration(attempt)*100*time.Millisecond):
		}
	}
}
