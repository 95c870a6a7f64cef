package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Connector is the sink connector: every task gets the same config and
// writes whatever partitions the consumer group assigns it.
type Connector struct {
	flavour flavour
	config  map[string]string
}

var (
	_ connect.SinkConnector   = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
	_ connect.OffsetAlterer   = (*Connector)(nil)
)

// Start checks the config.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, config map[string]string) error {
	if _, err := parseSettings(c.flavour, config); err != nil {
		return err
	}
	c.config = maps.Clone(config)
	return nil
}

// TaskConfigs returns maxTasks copies of the connector config.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return connect.CopiesForTasks(c.config, maxTasks), nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop() error { return nil }

// NewTask returns a fresh sink task.
func (c *Connector) NewTask() connect.SinkTask { return &Task{flavour: c.flavour} }

// ValidateConfig reports the rules that span keys under the key to fix.
func (c *Connector) ValidateConfig(config map[string]string) map[string][]string {
	def := ConfluentConfigDef()
	if c.flavour == aiven {
		def = AivenConfigDef()
	}
	if _, err := def.Parse(config); err != nil {
		return nil // single-key errors are reported by the ConfigDef itself
	}
	if _, err := parseSettings(c.flavour, config); err != nil {
		var ce *connect.ConfigError
		if errors.As(err, &ce) {
			return map[string][]string{ce.Name: {ce.Error()}}
		}
		return map[string][]string{"connector.class": {err.Error()}}
	}
	return nil
}

// AlterOffsets accepts any change: the sink stores no offsets of its own.
func (c *Connector) AlterOffsets(map[string]string, []connect.PartitionOffset) (bool, error) {
	return true, nil
}

// Task writes each delivery with bulk requests before Put returns.
type Task struct {
	flavour flavour
	s       *settings
	log     *slog.Logger
	client  *client
	errant  connect.ErrantRecordReporter
	enc     encoder
	ready   map[string]bool // indices and data streams known to exist
}

var _ connect.SinkTask = (*Task)(nil)

// Start parses the config and prepares the HTTP client.
func (t *Task) Start(_ context.Context, tc connect.SinkTaskContext, config map[string]string) error {
	s, err := parseSettings(t.flavour, config)
	if err != nil {
		return err
	}
	t.s, t.log = s, tc.Logger()
	if t.client, err = newClient(s); err != nil {
		return connect.NonRetriable(err)
	}
	if p, ok := tc.(connect.ErrantReporterProvider); ok {
		t.errant = p.ErrantRecordReporter()
	}
	t.enc = encoder{compactMaps: s.compactMaps}
	t.ready = map[string]bool{}
	tc.SetRetryTimeout(max(s.backoff, time.Second))
	return nil
}

// Stop releases the HTTP connections.
func (t *Task) Stop() error {
	if t.client != nil {
		t.client.close()
	}
	return nil
}

// action is one record's bulk action: its NDJSON lines.
type action struct {
	rec      *connect.SinkRecord
	lines    []byte
	external bool // version_type=external
	create   bool // data stream create
}

// Put converts the records, creates missing indices and writes them.
func (t *Task) Put(ctx context.Context, records []*connect.SinkRecord) error {
	if len(records) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.flushTimeout)
	defer cancel()
	acts := make([]action, 0, len(records))
	for _, rec := range records {
		a, skip, err := t.convert(ctx, rec)
		if err != nil {
			if isTransient(err) || errors.Is(err, context.DeadlineExceeded) {
				return connect.Retriable(err)
			}
			if err := t.invalid(ctx, rec, err); err != nil {
				return err
			}
			continue
		}
		if !skip {
			acts = append(acts, a)
		}
	}
	return t.write(ctx, acts)
}

// invalid deals with a record that cannot become a request.
func (t *Task) invalid(ctx context.Context, rec *connect.SinkRecord, err error) error {
	var de *connect.DataError
	if !errors.As(err, &de) {
		return err
	}
	if t.s.dropInvalid {
		t.log.Warn("dropping an invalid record", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.KafkaOffset, "error", err)
		return nil
	}
	if t.errant != nil {
		return t.errant.Report(ctx, rec, err)
	}
	return err
}

// convert builds the action of one record; skip is true for records that
// need no request (ignored tombstones).
func (t *Task) convert(ctx context.Context, rec *connect.SinkRecord) (action, bool, error) {
	s := t.s
	a := action{rec: rec}
	keyIgnore := s.keyIgnore || s.keyIgnoreTopics[rec.Topic]
	strategy := idKey
	if keyIgnore {
		strategy = s.ignoreStrategy
	}
	var index string
	if s.dataStream {
		index = s.dataStreamName(rec.Topic)
	} else {
		index = indexName(s.flavour, rec.Topic)
	}
	if rec.Value == nil {
		switch s.onNull {
		case "ignore":
			return a, true, nil
		case "fail":
			return a, false, connect.NewDataError(fmt.Sprintf("Sink record with key of %s and null value encountered for topic/partition/offset %s/%d/%d (to ignore future records like this change the configuration 'behavior.on.null.values' to 'IGNORE')",
				connect.FormatValue(rec.Key), rec.Topic, rec.Partition, rec.KafkaOffset), nil)
		}
		if rec.Key == nil {
			return a, true, nil // a tombstone without key names no document
		}
	}
	var id string
	switch strategy {
	case idKey:
		var err error
		if id, err = keyID(rec); err != nil {
			return a, false, err
		}
	case idCoords:
		id = rec.Topic + "+" + strconv.Itoa(int(rec.Partition)) + "+" + strconv.FormatInt(rec.KafkaOffset, 10)
	}
	if !t.ready[index] {
		if err := t.prepare(ctx, index, rec); err != nil {
			return a, false, err
		}
		// A tombstone creates the index but cannot give it a mapping: the
		// first record with a value still must.
		if rec.Value != nil || s.dataStream || s.schemaIgnore || s.schemaTopics[rec.Topic] {
			t.ready[index] = true
		}
	}
	version := rec.KafkaOffset
	if s.versionHeader != "" {
		h, ok := rec.Headers.Last(s.versionHeader)
		if !ok {
			return a, false, connect.NewDataError(fmt.Sprintf("header %s with the external version is missing", s.versionHeader), nil)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(connect.FormatValue(h.Value)), 10, 64)
		if err != nil {
			return a, false, connect.NewDataError(fmt.Sprintf("header %s is not a long", s.versionHeader), err)
		}
		version = v
	}
	a.external = !s.dataStream && strategy == idKey && s.method == insert || (rec.Value == nil && strategy == idKey)
	b := make([]byte, 0, 256)
	op := "index"
	switch {
	case rec.Value == nil:
		op = "delete"
	case s.dataStream:
		op, a.create = "create", true
	case s.method == upsert:
		op = "update"
	}
	b = append(b, `{"`...)
	b = append(b, op...)
	b = append(b, `":{"_index":`...)
	b = appendString(b, index)
	if strategy != idNone {
		b = append(b, `,"_id":`...)
		b = appendString(b, id)
	}
	if a.external {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, version, 10)
		b = append(b, `,"version_type":"external"`...)
	}
	if op == "update" {
		limit := 5
		if s.flavour == aiven {
			limit = 3
		}
		b = append(b, `,"retry_on_conflict":`...)
		b = strconv.AppendInt(b, int64(min(s.inFlight, limit)), 10)
	}
	b = append(b, "}}\n"...)
	if op == "delete" {
		a.lines = b
		return a, false, nil
	}
	start := len(b)
	var err error
	if b, err = t.enc.value(b, rec.ValueSchema, rec.Value); err != nil {
		return a, false, connect.NewDataError("could not convert the record value to JSON", err)
	}
	doc := b[start:]
	if len(doc) == 0 || doc[0] != '{' {
		if s.dataStream || op == "update" {
			return a, false, connect.NewDataError("the record value must be a struct or map to be written as a document", nil)
		}
	}
	if s.dataStream {
		if b, err = t.addTimestamp(b[:start], doc, rec); err != nil {
			return a, false, err
		}
	}
	if op == "update" {
		value := append([]byte(nil), doc...)
		b = append(b[:start], `{"doc":`...)
		b = append(b, value...)
		b = append(b, `,"upsert":`...)
		b = append(b, value...)
		if s.flavour == aiven {
			b = append(b, `,"doc_as_upsert":true`...)
		}
		b = append(b, '}')
	}
	a.lines = append(b, '\n')
	return a, false, nil
}

// addTimestamp sets @timestamp of a data stream document: the first
// present field of the timestamp fields, else the record timestamp.
func (t *Task) addTimestamp(b, doc []byte, rec *connect.SinkRecord) ([]byte, error) {
	var ts any
	if st, ok := rec.Value.(*connect.Struct); ok {
		for _, f := range t.s.dsTimeFields {
			if st.Schema().Field(f) != nil {
				if v := st.Get(f); v != nil {
					ts = v
					if f == "@timestamp" {
						return append(b, doc...), nil
					}
					break
				}
			}
		}
	} else if m, ok := rec.Value.(map[string]any); ok {
		for _, f := range t.s.dsTimeFields {
			if v, ok := m[f]; ok && v != nil {
				ts = v
				if f == "@timestamp" {
					return append(b, doc...), nil
				}
				break
			}
		}
	}
	if ts == nil {
		ts = rec.Timestamp.UnixMilli()
		if rec.Timestamp.IsZero() {
			ts = time.Now().UnixMilli()
		}
	}
	enc, err := t.enc.value(nil, nil, ts)
	if err != nil {
		return nil, connect.NewDataError("could not write @timestamp", err)
	}
	doc = append([]byte(nil), doc...)
	b = append(b, `{"@timestamp":`...)
	b = append(b, enc...)
	if len(doc) > 2 {
		b = append(b, ',')
	}
	return append(b, doc[1:]...), nil
}

// prepare creates the index (with its mapping) or data stream of a record.
func (t *Task) prepare(ctx context.Context, index string, rec *connect.SinkRecord) error {
	if t.s.dataStream {
		return t.client.ensureDataStream(ctx, index)
	}
	var m map[string]any
	if !t.s.schemaIgnore && !t.s.schemaTopics[rec.Topic] && rec.Value != nil {
		var err error
		if m, err = mapping(rec.ValueSchema); err != nil {
			return err
		}
	}
	return t.client.ensureIndex(ctx, index, m)
}

// failure is an action the cluster refused for good.
type failure struct {
	a    *action
	kind string // malformed, conflict, other
	err  error
}

// malformedTypes are the item errors the Java connector treats as a bad
// document rather than a bad cluster.
var malformedTypes = []string{"strict_dynamic_mapping_exception", "mapper_parsing_exception", "illegal_argument_exception",
	"action_request_validation_exception", "document_parsing_exception"}

// write sends the actions in batches and settles the refused ones.
func (t *Task) write(ctx context.Context, acts []action) error {
	if len(acts) == 0 {
		return nil
	}
	var batches [][]action
	size := 0
	startAt := 0
	for i := range acts {
		n := len(acts[i].lines)
		if i > startAt && (i-startAt >= t.s.batchSize || (t.s.bulkBytes > 0 && int64(size+n) > t.s.bulkBytes)) {
			batches = append(batches, acts[startAt:i])
			startAt, size = i, 0
		}
		size += n
	}
	batches = append(batches, acts[startAt:])

	// Order matters only where a later write of a document may not win by
	// version: upserts and data stream creates go one batch at a time.
	parallel := t.s.inFlight
	if t.s.method == upsert || t.s.dataStream {
		parallel = 1
	}
	results := make([][]failure, len(batches))
	errs := make([]error, len(batches))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, b := range batches {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = t.sendBatch(ctx, b)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, fs := range results {
		for _, f := range fs {
			if err := t.settle(ctx, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendBatch writes one batch, retrying transient failures of the request
// or of single items. It returns the items refused for good.
func (t *Task) sendBatch(ctx context.Context, batch []action) ([]failure, error) {
	pending := make([]*action, len(batch))
	for i := range batch {
		pending[i] = &batch[i]
	}
	var failed []failure
	var body []byte
	for attempt := 0; ; attempt++ {
		body = body[:0]
		for _, a := range pending {
			body = append(body, a.lines...)
		}
		items, err := t.client.bulk(ctx, body, len(pending))
		var retry []*action
		if err != nil {
			if !isTransient(err) {
				if ctx.Err() != nil {
					return nil, connect.Retriable(fmt.Errorf("writing %d documents: %w", len(pending), err))
				}
				return nil, fmt.Errorf("writing %d documents: %w", len(pending), err)
			}
			retry = pending
		} else {
			for i, it := range items {
				a := pending[i]
				if it.Error == nil {
					continue // includes 404 not_found of a delete: the document is gone
				}
				typ, reason := "", ""
				if it.Error != nil {
					typ, reason = it.Error.Type, it.Error.Reason
				}
				ierr := fmt.Errorf("document of topic %s partition %d offset %d: status %d: %s: %s", a.rec.Topic, a.rec.Partition, a.rec.KafkaOffset, it.Status, typ, reason)
				switch {
				case typ == "version_conflict_engine_exception":
					failed = append(failed, failure{a, "conflict", ierr})
				case it.Status == 429 || it.Status >= 500:
					retry = append(retry, a)
					err = ierr
				case isMalformed(typ, reason):
					failed = append(failed, failure{a, "malformed", ierr})
				default:
					failed = append(failed, failure{a, "other", ierr})
				}
			}
		}
		if len(retry) == 0 {
			return failed, nil
		}
		if attempt >= t.s.maxRetries {
			return nil, connect.Retriable(fmt.Errorf("writing %d documents failed after %d attempts: %w", len(retry), attempt+1, err))
		}
		wait := t.backoff(attempt)
		t.log.Warn("bulk request failed, retrying", "documents", len(retry), "attempt", attempt+1, "wait", wait, "error", err)
		select {
		case <-ctx.Done():
			return nil, connect.Retriable(fmt.Errorf("writing %d documents: %w (last error: %w)", len(retry), ctx.Err(), err))
		case <-time.After(wait):
		}
		pending = retry
	}
}

func isMalformed(typ, reason string) bool {
	for _, m := range malformedTypes {
		if typ == m || strings.Contains(reason, m) {
			return true
		}
	}
	return false
}

// backoff is a random wait up to retry.backoff.ms·2^attempt, at most 24 h.
func (t *Task) backoff(attempt int) time.Duration {
	limit := t.s.backoff << min(attempt, 30)
	if limit <= 0 || limit > 24*time.Hour {
		limit = 24 * time.Hour
	}
	return time.Duration(rand.Int64N(int64(limit) + 1))
}

// settle applies the configured behaviour to a refused document.
func (t *Task) settle(ctx context.Context, f failure) error {
	rec := f.a.rec
	log := t.log.With("topic", rec.Topic, "partition", rec.Partition, "offset", rec.KafkaOffset)
	behaviour := "fail"
	switch f.kind {
	case "conflict":
		behaviour = t.s.onConflict
		if t.s.flavour == confluent {
			if f.a.external || f.a.create {
				return nil // a replay of a write already done, or superseded: written
			}
			behaviour = "report" // Confluent reports other conflicts and goes on
		}
	case "malformed":
		behaviour = t.s.onMalformed
	}
	// Confluent's connector reports a malformed document to the errant
	// record reporter whatever the behaviour, then applies it; Aiven's
	// reports only under "report". A reported document counts as settled.
	reported := false
	if t.errant != nil && (behaviour == "report" || behaviour == "fail" || (t.s.flavour == confluent && f.kind == "malformed")) {
		if err := t.errant.Report(ctx, rec, connect.NewDataError("Indexing record failed: "+f.err.Error(), nil)); err != nil {
			return err
		}
		reported = true
	}
	if behaviour == "warn" || (behaviour == "report" && !reported) {
		log.Warn("document refused, skipping it", "error", f.err)
	}
	if behaviour != "fail" || reported {
		return nil
	}
	hint := "a dead letter queue (errors.tolerance=all) takes such documents"
	if f.kind == "malformed" {
		hint = "behavior.on.malformed.documents=IGNORE or WARN skips such documents; " + hint
	}
	return connect.NewDataError("the cluster refused the document ("+hint+")", f.err)
}
