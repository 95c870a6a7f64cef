package bigquery

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
)

// apiTimeout bounds one table call: the Go client retries 5xx and
// rate-limit answers on its own until its context ends, and a task must
// not hang on an endpoint that keeps failing.
const apiTimeout = 2 * time.Minute

// tableID names a table of the configured project.
type tableID struct{ dataset, table string }

func (t tableID) String() string { return t.dataset + "." + t.table }

// router maps topics to tables (§ table routing of the Java connector).
type router struct {
	s     *settings
	cache map[string]tableID
}

func (r *router) route(topic string) (tableID, error) {
	if id, ok := r.cache[topic]; ok {
		return id, nil
	}
	var id tableID
	if len(r.s.topicToTable) > 0 {
		t, ok := r.s.topicToTable[topic]
		if !ok {
			t = topic
		}
		id = tableID{r.s.dataset, t}
	} else {
		parts := strings.Split(topic, ":")
		switch len(parts) {
		case 1:
			id = tableID{r.s.dataset, parts[0]}
		case 2:
			id = tableID{parts[0], parts[1]}
		default:
			return tableID{}, fmt.Errorf("topic %q has more than one ':'; expected dataset:table or table", topic)
		}
		if r.s.sanitizeTopics {
			id.table = sanitizeTable(id.table)
		}
	}
	if r.cache == nil {
		r.cache = map[string]tableID{}
	}
	r.cache[topic] = id
	return id, nil
}

// tableInfo is what the connector knows of an existing table.
type tableInfo struct {
	schema bq.Schema
	etag   string
	// ingestionDay: partitioned by ingestion time per DAY, the only layout
	// partition decorators may target.
	ingestionDay bool
}

// tables caches table metadata and creates or evolves tables.
type tables struct {
	c    *clients
	s    *settings
	logf func(msg string, args ...any)

	mu    sync.Mutex
	known map[tableID]*tableInfo
}

func newTables(c *clients, s *settings) *tables {
	return &tables{c: c, s: s, known: map[tableID]*tableInfo{}, logf: func(string, ...any) {}}
}

func (t *tables) handle(id tableID) *bq.Table {
	return t.c.bq.DatasetInProject(t.c.project, id.dataset).Table(id.table)
}

// forget drops the cached metadata (after a write said the table changed).
func (t *tables) forget(id tableID) {
	t.mu.Lock()
	delete(t.known, id)
	t.mu.Unlock()
}

// lookup returns the table's metadata, nil when it does not exist.
func (t *tables) lookup(ctx context.Context, id tableID) (*tableInfo, error) {
	t.mu.Lock()
	info := t.known[id]
	t.mu.Unlock()
	if info != nil {
		return info, nil
	}
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	md, err := t.handle(id).Metadata(cctx)
	cancel()
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading table %s: %w", id, err)
	}
	info = infoOf(md)
	t.mu.Lock()
	t.known[id] = info
	t.mu.Unlock()
	return info, nil
}

func infoOf(md *bq.TableMetadata) *tableInfo {
	tp := md.TimePartitioning
	return &tableInfo{
		schema:       md.Schema,
		etag:         md.ETag,
		ingestionDay: tp != nil && tp.Field == "" && (tp.Type == "" || tp.Type == bq.DayPartitioningType),
	}
}

// createMetadata is the metadata of a table created for the records:
// partitioning, clustering and description from the config.
func (t *tables) createMetadata(schema bq.Schema, desc string) *bq.TableMetadata {
	md := &bq.TableMetadata{Schema: schema, Description: desc}
	if t.s.partitioningType != "NONE" {
		md.TimePartitioning = &bq.TimePartitioning{
			Type:       bq.TimePartitioningType(t.s.partitioningType),
			Field:      t.s.partitionField,
			Expiration: t.s.partitionExpiration,
		}
		if t.s.partitionField != "" && len(t.s.clustering) > 0 {
			md.Clustering = &bq.Clustering{Fields: t.s.clustering}
		}
	}
	return md
}

// create creates the table; when another task won the race, the existing
// table is read instead.
func (t *tables) create(ctx context.Context, id tableID, md *bq.TableMetadata) (*tableInfo, error) {
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	err := t.handle(id).Create(cctx, md)
	cancel()
	if err != nil && apiCode(err) != 409 {
		return nil, fmt.Errorf("creating table %s: %w", id, err)
	}
	t.forget(id)
	return t.lookup(ctx, id)
}

// ensure makes the table exist and fit proposed: it creates the table
// (autoCreateTables) or adds and relaxes columns (allowNewBigQueryFields,
// allowBigQueryRequiredFieldRelaxation). It returns the table's schema.
func (t *tables) ensure(ctx context.Context, id tableID, proposed bq.Schema, desc string) (*tableInfo, error) {
	info, err := t.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if info == nil {
		if !t.s.autoCreate {
			return nil, fmt.Errorf("table %s does not exist and %s=false", id, AutoCreateTables)
		}
		if len(proposed) == 0 {
			return nil, fmt.Errorf("table %s does not exist and the records carry no fields to create it from", id)
		}
		return t.create(ctx, id, t.createMetadata(proposed, desc))
	}
	for attempt := 0; ; attempt++ {
		target := proposed
		if t.s.ignoreUnknown && !t.s.allowNewFields {
			target = restrict(proposed, info.schema)
		}
		ch, err := evolve(info.schema, target, t.s.allowNewFields, t.s.allowRelaxation)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		if !ch.changed {
			return info, nil
		}
		if attempt == 0 && t.alterTopLevel(ctx, id, info.schema, ch.merged) {
			// DDL changed the table; read it again and patch whatever
			// the statements did not cover.
			t.forget(id)
			if info, err = t.lookup(ctx, id); err != nil {
				return nil, err
			}
			if info == nil {
				return nil, fmt.Errorf("table %s disappeared during a schema update", id)
			}
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		md, err := t.handle(id).Update(cctx, bq.TableMetadataToUpdate{Schema: ch.merged}, info.etag)
		cancel()
		if err == nil {
			info = infoOf(md)
			t.mu.Lock()
			t.known[id] = info
			t.mu.Unlock()
			return info, nil
		}
		// Another task changed the table first (etag mismatch): re-read and
		// evolve from its schema.
		if apiCode(err) != 412 || attempt >= 5 {
			return nil, fmt.Errorf("updating the schema of table %s: %w", id, err)
		}
		t.forget(id)
		if info, err = t.lookup(ctx, id); err != nil {
			return nil, err
		}
		if info == nil {
			return nil, fmt.Errorf("table %s disappeared during a schema update", id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// alterTopLevel applies the top-level part of a schema change with DDL
// (ALTER TABLE … ADD COLUMN IF NOT EXISTS, ALTER COLUMN … DROP NOT NULL),
// one statement per column. It reports whether any statement ran; the
// caller re-reads the table and patches what is left (nested fields).
// DDL is idempotent where PATCH races on the etag, and it changes the
// stored table itself rather than only its metadata.
func (t *tables) alterTopLevel(ctx context.Context, id tableID, table, merged bq.Schema) bool {
	ref := "`" + t.c.project + "." + id.dataset + "." + id.table + "`"
	var stmts []string
	for _, f := range merged {
		old := findField(table, f.Name)
		switch {
		case old == nil:
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s", ref, quoteIdent(f.Name), ddlType(f)))
		case old.Required && !f.Required:
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", ref, quoteIdent(f.Name)))
		}
	}
	ran := false
	for _, q := range stmts {
		if err := t.c.runQuery(ctx, q); err != nil {
			t.logf("schema DDL failed; patching the table instead", "table", id.String(), "statement", q, "err", err)
			return ran
		}
		ran = true
	}
	return ran
}

// ddlType spells a column type in GoogleSQL DDL (new columns are
// NULLABLE, so no NOT NULL).
func ddlType(f *bq.FieldSchema) string {
	var typ string
	switch f.Type {
	case bq.IntegerFieldType:
		typ = "INT64"
	case bq.FloatFieldType:
		typ = "FLOAT64"
	case bq.BooleanFieldType:
		typ = "BOOL"
	case bq.NumericFieldType, bq.BigNumericFieldType:
		typ = string(f.Type)
		if f.Precision > 0 {
			typ += fmt.Sprintf("(%d, %d)", f.Precision, f.Scale)
		}
	case bq.RecordFieldType:
		parts := make([]string, len(f.Schema))
		for i, sub := range f.Schema {
			parts[i] = quoteIdent(sub.Name) + " " + ddlType(sub)
		}
		typ = "STRUCT<" + strings.Join(parts, ", ") + ">"
	default:
		typ = string(f.Type)
	}
	if f.Repeated {
		return "ARRAY<" + typ + ">"
	}
	return typ
}

// restrict keeps the fields of proposed the table has (recursively).
func restrict(proposed, table bq.Schema) bq.Schema {
	out := make(bq.Schema, 0, len(proposed))
	for _, p := range proposed {
		f := findField(table, p.Name)
		if f == nil {
			continue
		}
		if p.Type == bq.RecordFieldType && f.Type == bq.RecordFieldType {
			c := *p
			c.Schema = restrict(p.Schema, f.Schema)
			out = append(out, &c)
			continue
		}
		out = append(out, p)
	}
	return out
}

// dropUnknown removes the row's fields the table has no column for
// (ignoreUnknownFields), recursively into records.
func dropUnknown(row map[string]any, schema bq.Schema) {
	for k, v := range row {
		f := findField(schema, k)
		if f == nil {
			delete(row, k)
			continue
		}
		if f.Type != bq.RecordFieldType {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			dropUnknown(x, f.Schema)
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					dropUnknown(m, f.Schema)
				}
			}
		}
	}
}
