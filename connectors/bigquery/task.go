package bigquery

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
	bqapi "google.golang.org/api/bigquery/v2"

	"github.com/ferryhq/ferry/connect"
)

// Task writes the records of its partitions into BigQuery.
type Task struct {
	s        *settings
	tc       connect.SinkTaskContext
	log      *slog.Logger
	reporter connect.ErrantRecordReporter

	c       *clients
	tables  *tables
	router  router
	schemas schemaMapper
	rows    rowMapper
	ins     *inserter
	merger  *merger       // upsert/delete mode
	storage *storageWrite // useStorageWriteApi

	retriesLeft int
	outage      int // redeliveries in a row because BigQuery was unavailable
	// lastSchema memoises the table schema of the last value schema seen:
	// records of one topic nearly always share one schema object.
	lastValueSchema, lastKeySchema *connect.Schema
	lastBQSchema                   bq.Schema
}

var (
	_ connect.SinkTask         = (*Task)(nil)
	_ connect.PreCommitter     = (*Task)(nil)
	_ connect.PartitionHandler = (*Task)(nil)
)

// Start connects the clients; in upsert/delete mode it also starts the
// merge loop.
func (t *Task) Start(ctx context.Context, tc connect.SinkTaskContext, config map[string]string) error {
	s, err := parseSettings(config)
	if err != nil {
		return err
	}
	t.s, t.tc, t.log = s, tc, tc.Logger()
	t.retriesLeft = s.maxRetries
	if p, ok := tc.(connect.ErrantReporterProvider); ok {
		t.reporter = p.ErrantRecordReporter()
	}
	if t.c, err = newClients(ctx, s); err != nil {
		return err
	}
	t.tables = newTables(t.c, s)
	t.tables.logf = t.log.Warn
	t.router = router{s: s}
	t.schemas, t.rows = schemaMapper{s}, rowMapper{s}
	t.ins = &inserter{c: t.c, s: s, log: t.log}
	if s.upsert || s.delete {
		t.merger = newMerger(t, tc.TaskID())
		t.merger.start()
	}
	if s.storageAPI {
		if t.storage, err = newStorageWrite(ctx, t); err != nil {
			t.c.close()
			return err
		}
	}
	t.log.Info("BigQuery sink started", "project", s.project, "dataset", s.dataset,
		"upsert", s.upsert, "delete", s.delete, "storage_write_api", s.storageAPI)
	return nil
}

// Stop ends the merge loop and closes the clients.
func (t *Task) Stop() error {
	if t.merger != nil {
		t.merger.stop()
	}
	if t.storage != nil {
		t.storage.close()
	}
	if t.c != nil {
		t.c.close()
	}
	return nil
}

// Open does nothing: tables are found when records arrive.
func (t *Task) Open(context.Context, []connect.TopicPartition) error { return nil }

// Close forgets what the merge loop kept for revoked partitions.
func (t *Task) Close(_ context.Context, parts []connect.TopicPartition) error {
	if t.merger != nil {
		t.merger.forget(parts)
	}
	return nil
}

// PreCommit returns the offsets that are in BigQuery: with plain writes,
// everything Put returned from; in upsert/delete mode, only batches already
// merged; with Storage Write batch mode, only committed streams.
func (t *Task) PreCommit(ctx context.Context, offsets map[connect.TopicPartition]int64) (map[connect.TopicPartition]int64, error) {
	switch {
	case t.merger != nil:
		return t.merger.committable(offsets)
	case t.storage != nil:
		return t.storage.committable(ctx, offsets)
	}
	return offsets, nil
}

// tableBatch is one table's rows of a Put.
type tableBatch struct {
	id     tableID
	schema bq.Schema // what the rows need; nil when only tombstones
	desc   string
	recs   []*connect.SinkRecord
	rows   []map[string]any
}

// Put writes the batch: rows are grouped per table, tables are created or
// evolved first, then rows go out with insertAll (or the Storage Write
// API, or to the intermediate tables in upsert/delete mode).
func (t *Task) Put(ctx context.Context, records []*connect.SinkRecord) error {
	if t.merger != nil {
		if err := t.merger.failure(); err != nil {
			return err
		}
	}
	if len(records) == 0 {
		return nil
	}
	err := t.write(ctx, records)
	if err == nil {
		if t.outage > 0 {
			t.log.Info("BigQuery is reachable again; the batch was written", "redeliveries", t.outage)
		}
		t.retriesLeft, t.outage = t.s.maxRetries, 0
		return nil
	}
	if isRetriableFailure(err) && isUnavailable(err) && ctx.Err() == nil {
		// An outage says nothing about the batch: redeliver it for as
		// long as the outage lasts, without using up max.retries.
		t.outage++
		wait := outageBackoff(t.s.retryWait, t.outage)
		t.log.Warn("BigQuery is unreachable or failing; the batch will be redelivered",
			"redelivery", t.outage, "backoff", wait, "err", err)
		t.tc.SetRetryTimeout(wait)
		return connect.Retriable(err)
	}
	if isRetriableFailure(err) && t.retriesLeft > 0 && ctx.Err() == nil {
		t.retriesLeft--
		t.log.Warn("write failed with a retriable BigQuery error; the batch will be redelivered",
			"remaining_retries", t.retriesLeft, "err", err)
		t.tc.SetRetryTimeout(t.s.retryWait)
		return connect.Retriable(err)
	}
	if isAuthFailure(err) {
		// The runtime must not restart the task for ever over a key or
		// grant that only a user can fix.
		return connect.NonRetriable(err)
	}
	return err
}

func (t *Task) write(ctx context.Context, records []*connect.SinkRecord) error {
	batches, order, err := t.group(ctx, records)
	if err != nil {
		return err
	}
	if t.merger != nil {
		return t.merger.put(ctx, batches, order)
	}
	var bad []badRow
	for _, id := range order {
		b := batches[id]
		if len(b.rows) == 0 {
			continue // only tombstones: nothing to write, nothing to create
		}
		info, err := t.tables.ensure(ctx, id, b.schema, b.desc)
		if err != nil {
			if isRetriable(err) {
				return &retriableError{err}
			}
			if t.reporter == nil {
				return err
			}
			for _, rec := range b.recs {
				bad = append(bad, badRow{rec, err})
			}
			delete(batches, id)
			continue
		}
		if t.s.ignoreUnknown {
			for _, r := range b.rows {
				dropUnknown(r, info.schema)
			}
		}
		if t.s.decorator && !info.ingestionDay && t.storage == nil {
			return fmt.Errorf("table %s is not partitioned by ingestion day, so it cannot take partition decorators; set %s=false", id, PartitionDecorator)
		}
	}
	if t.storage != nil {
		b, err := t.storage.write(ctx, batches, order)
		if err != nil {
			return err
		}
		bad = append(bad, b...)
	} else {
		b, err := t.insertAll(ctx, batches, order)
		if err != nil {
			return err
		}
		bad = append(bad, b...)
	}
	return t.handleBad(ctx, bad)
}

// handleBad hands refused rows to the errant record reporter, or fails the
// task with BigQuery's reason for the first of them.
func (t *Task) handleBad(ctx context.Context, bad []badRow) error {
	if len(bad) == 0 {
		return nil
	}
	if t.reporter == nil {
		first := bad[0]
		return fmt.Errorf("%d record(s) could not be written; first: %s-%d offset %d: %w",
			len(bad), first.rec.Topic, first.rec.Partition, first.rec.KafkaOffset, first.err)
	}
	for _, b := range bad {
		if err := t.reporter.Report(ctx, b.rec, b.err); err != nil {
			return err
		}
	}
	return nil
}

// group routes records to tables and converts them to rows. Records that
// cannot be converted are reported (or fail the batch).
func (t *Task) group(ctx context.Context, records []*connect.SinkRecord) (map[tableID]*tableBatch, []tableID, error) {
	batches := map[tableID]*tableBatch{}
	var order []tableID
	now := time.Now()
	for _, rec := range records {
		id, err := t.router.route(rec.Topic)
		if err != nil {
			return nil, nil, err
		}
		b := batches[id]
		if b == nil {
			b = &tableBatch{id: id}
			batches[id] = b
			order = append(order, id)
		}
		if rec.Value == nil && t.merger == nil {
			continue // a tombstone means nothing without deleteEnabled
		}
		schema, row, err := t.convert(rec, now)
		if err != nil {
			derr := connect.NewDataError(fmt.Sprintf("record %s-%d offset %d cannot become a BigQuery row", rec.Topic, rec.Partition, rec.KafkaOffset), err)
			if t.reporter == nil {
				return nil, nil, derr
			}
			if rerr := t.reporter.Report(ctx, rec, derr); rerr != nil {
				return nil, nil, rerr
			}
			continue
		}
		if schema != nil {
			switch {
			case b.schema == nil:
				b.schema = schema
			case t.s.unionize || rec.ValueSchema == nil:
				b.schema = unionSchemas(b.schema, schema)
			default:
				b.schema = schema // the last record's schema wins
			}
			if rec.ValueSchema != nil && rec.ValueSchema.Doc != "" {
				b.desc = rec.ValueSchema.Doc
			}
		}
		b.recs = append(b.recs, rec)
		b.rows = append(b.rows, row)
	}
	return batches, order, nil
}

// convert returns the table schema the record needs (nil for a tombstone)
// and its row.
func (t *Task) convert(rec *connect.SinkRecord, now time.Time) (bq.Schema, map[string]any, error) {
	var schema bq.Schema
	if rec.Value != nil {
		if rec.ValueSchema != nil && rec.ValueSchema == t.lastValueSchema && rec.KeySchema == t.lastKeySchema && t.s.keyField == "" {
			schema = t.lastBQSchema
		} else {
			var err error
			if schema, err = t.schemas.recordSchema(rec); err != nil {
				return nil, nil, err
			}
			if rec.ValueSchema != nil {
				t.lastValueSchema, t.lastKeySchema, t.lastBQSchema = rec.ValueSchema, rec.KeySchema, schema
			}
		}
	}
	row, err := t.rows.row(rec, now)
	if err != nil {
		return nil, nil, err
	}
	return schema, row, nil
}

// insertAll writes every table's rows with streaming inserts, tables in
// parallel up to threadPoolSize requests at a time.
func (t *Task) insertAll(ctx context.Context, batches map[tableID]*tableBatch, order []tableID) ([]badRow, error) {
	type job struct {
		dataset, table string
		rows           []pendingRow
	}
	var jobs []job
	for _, id := range order {
		b := batches[id]
		if b == nil || len(b.rows) == 0 {
			continue
		}
		parts := map[string][]pendingRow{}
		var targets []string
		for i, rec := range b.recs {
			target := id.table
			if t.s.decorator {
				day := time.Now()
				if t.s.messageTime && !rec.Timestamp.IsZero() {
					day = rec.Timestamp
				}
				target += "$" + day.UTC().Format("20060102")
			}
			if _, ok := parts[target]; !ok {
				targets = append(targets, target)
			}
			parts[target] = append(parts[target], pendingRow{rec: rec, insertID: insertID(rec), json: jsonRow(b.rows[i])})
		}
		for _, target := range targets {
			rows := parts[target]
			for start := 0; start < len(rows); start += maxRowsPerRequest {
				jobs = append(jobs, job{id.dataset, target, rows[start:min(start+maxRowsPerRequest, len(rows))]})
			}
		}
	}
	var (
		mu       sync.Mutex
		bad      []badRow
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, t.s.threads)
	)
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b, err := t.ins.insert(ctx, j.dataset, j.table, j.rows)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			bad = append(bad, b...)
		})
	}
	wg.Wait()
	if firstErr != nil {
		if isNotFound(firstErr) {
			// The table went away under us: look it up again next time.
			for _, id := range order {
				t.tables.forget(id)
			}
			return nil, &retriableError{firstErr}
		}
		return nil, firstErr
	}
	return bad, nil
}

// insertID lets BigQuery drop a row sent twice (best effort, within its
// dedupe window): the Java connector's topic-partition-offset.
func insertID(rec *connect.SinkRecord) string {
	return rec.Topic + "-" + strconv.Itoa(int(rec.Partition)) + "-" + strconv.FormatInt(rec.KafkaOffset, 10)
}

func jsonRow(row map[string]any) map[string]bqapi.JsonValue {
	out := make(map[string]bqapi.JsonValue, len(row))
	for k, v := range row {
		out[k] = v
	}
	return out
}

// consumed names the partition a record was consumed from and the offset
// to commit once it is written: the coordinates before any transform, as
// the runtime commits consumer offsets of the partitions it read.
func consumed(rec *connect.SinkRecord) (connect.TopicPartition, int64) {
	if rec.OriginalTopic != "" {
		return connect.TopicPartition{Topic: rec.OriginalTopic, Partition: rec.OriginalPartition}, rec.OriginalOffset + 1
	}
	return connect.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}, rec.KafkaOffset + 1
}
