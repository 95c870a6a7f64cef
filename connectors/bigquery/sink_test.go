package bigquery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

type taskCtx struct {
	mu       sync.Mutex
	commits  int
	reported []*connect.SinkRecord
	reasons  []error
}

func (c *taskCtx) ConnectorName() string                 { return "bq-sink-test" }
func (c *taskCtx) TaskID() int                           { return 0 }
func (c *taskCtx) Logger() *slog.Logger                  { return slog.New(slog.DiscardHandler) }
func (c *taskCtx) Assignment() []connect.TopicPartition  { return nil }
func (c *taskCtx) Seek(map[connect.TopicPartition]int64) {}
func (c *taskCtx) Pause(...connect.TopicPartition)       {}
func (c *taskCtx) Resume(...connect.TopicPartition)      {}
func (c *taskCtx) SetRetryTimeout(time.Duration)         {}
func (c *taskCtx) RequestCommit() {
	c.mu.Lock()
	c.commits++
	c.mu.Unlock()
}

// reportingCtx adds an errant record reporter (a dead letter queue).
type reportingCtx struct{ taskCtx }

func (c *reportingCtx) ErrantRecordReporter() connect.ErrantRecordReporter { return c }
func (c *reportingCtx) Report(_ context.Context, rec *connect.SinkRecord, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reported = append(c.reported, rec)
	c.reasons = append(c.reasons, err)
	return nil
}

func baseConfig(e testbed.BigQueryEmulator) map[string]string {
	return map[string]string{
		"connector.class":                Class,
		Project:                          e.Project,
		DefaultDataset:                   e.Dataset,
		Endpoint:                         e.REST,
		PartitionDecorator:               "false", // the emulator has no $yyyyMMdd decorators
		SanitizeTopics:                   "true",
		MergeStreamingWaitMs:             "0",
		"topics":                         "x",
		BigQueryRetry:                    "1",
		BigQueryRetryWait:                "10",
		AllowSchemaUnionization:          "false",
		AllowRequiredRelaxation:          "false",
		AllowNewFields:                   "false",
		AutoCreateTables:                 "true",
		IntermediateTableSuffix:          "tmp",
		"name":                           "bq",
		"tasks.max":                      "1",
		"errors.tolerance":               "none",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false",
	}
}

func startTask(t *testing.T, cfg map[string]string, tc connect.SinkTaskContext) *Task {
	t.Helper()
	task := &Task{}
	if err := task.Start(context.Background(), tc, cfg); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task
}

func client(t *testing.T, e testbed.BigQueryEmulator) *bq.Client {
	t.Helper()
	c, err := bq.NewClient(context.Background(), e.Project, option.WithEndpoint(e.REST+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// query returns the rows of sql, each as column → value.
func query(t *testing.T, c *bq.Client, sql string) []map[string]bq.Value {
	t.Helper()
	it, err := c.Query(sql).Read(context.Background())
	if err != nil {
		t.Fatalf("query %s: %v", sql, err)
	}
	var out []map[string]bq.Value
	for {
		row := map[string]bq.Value{}
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("query %s: %v", sql, err)
		}
		out = append(out, row)
	}
}

func tableSchema(t *testing.T, c *bq.Client, e testbed.BigQueryEmulator, table string) bq.Schema {
	t.Helper()
	md, err := c.Dataset(e.Dataset).Table(table).Metadata(context.Background())
	if err != nil {
		t.Fatalf("table %s: %v", table, err)
	}
	return md.Schema
}

func describeSchema(s bq.Schema) string {
	parts := make([]string, len(s))
	for i, f := range s {
		mode := "NULLABLE"
		switch {
		case f.Repeated:
			mode = "REPEATED"
		case f.Required:
			mode = "REQUIRED"
		}
		parts[i] = fmt.Sprintf("%s %s %s", f.Name, f.Type, mode)
		if f.Type == bq.RecordFieldType {
			parts[i] += " {" + describeSchema(f.Schema) + "}"
		}
	}
	return strings.Join(parts, ", ")
}

func rec(topic string, off int64, key, value any, keySchema, valueSchema *connect.Schema) *connect.SinkRecord {
	return &connect.SinkRecord{
		Record:      connect.Record{Topic: topic, Partition: 0, Key: key, Value: value, KeySchema: keySchema, ValueSchema: valueSchema, Timestamp: time.UnixMilli(1705312200000)},
		KafkaOffset: off,
	}
}

// TestStructRecordsCreateTable writes records with a Connect schema into a
// table the sink creates, and reads the values back.
func TestStructRecordsCreateTable(t *testing.T) {
	e := testbed.BigQuery(t)
	cfg := baseConfig(e)
	cfg[DecimalHandlingMode] = "NUMERIC"
	task := startTask(t, cfg, &taskCtx{})

	addr := connect.StructBuilder().Field("city", connect.StringSchema).Field("zip", connect.OptionalInt32Schema).MustBuild()
	schema := connect.StructBuilder().Doc("an order").
		Field("id", connect.Int64Schema).
		Field("amount", connect.DecimalSchema(2).Parameter("connect.decimal.precision", "10").MustBuild()).
		Field("status", connect.OptionalStringSchema).
		Field("updated_at", connect.TimestampSchema().MustBuild()).
		Field("day", connect.DateSchema().Optional().MustBuild()).
		Field("blob", connect.OptionalBytesSchema).
		Field("ratio", connect.OptionalFloat64Schema).
		Field("tags", connect.ArrayOf(connect.StringSchema).Optional().MustBuild()).
		Field("attrs", connect.MapOf(connect.StringSchema, connect.Int32Schema).Optional().MustBuild()).
		Field("address", addr).
		MustBuild()
	ts := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	mk := func(id int64, amount string, status any) *connect.Struct {
		d, _ := connect.ParseDecimal(amount)
		s := connect.NewStruct(schema).MustPut("id", id).MustPut("amount", d).MustPut("updated_at", ts).
			MustPut("address", connect.NewStruct(addr).MustPut("city", "Zürich").MustPut("zip", int32(8001)))
		if status != nil {
			s.MustPut("status", status)
		}
		return s
	}
	first := mk(1001, "649.99", "CREATED")
	first.MustPut("day", time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)).MustPut("blob", []byte{0, 1, 2}).MustPut("ratio", 0.5).
		MustPut("tags", []any{"a", "b"}).MustPut("attrs", map[string]any{"x": int32(1), "y": int32(2)})
	big := mk(9007199254740993, "89.50", nil) // 2^53+1 must not be rounded
	records := []*connect.SinkRecord{
		rec("mysql.orders", 0, nil, first, nil, schema),
		rec("mysql.orders", 1, nil, big, nil, schema),
	}
	if err := task.Put(context.Background(), records); err != nil {
		t.Fatalf("put: %v", err)
	}
	c := client(t, e)
	got := describeSchema(tableSchema(t, c, e, "mysql_orders"))
	want := "id INTEGER REQUIRED, amount NUMERIC REQUIRED, status STRING NULLABLE, updated_at TIMESTAMP REQUIRED, day DATE NULLABLE, blob BYTES NULLABLE, ratio FLOAT NULLABLE, tags STRING REPEATED, attrs RECORD REPEATED {key STRING REQUIRED, value INTEGER REQUIRED}, address RECORD REQUIRED {city STRING REQUIRED, zip INTEGER NULLABLE}"
	if got != want {
		t.Errorf("schema\n got %s\nwant %s", got, want)
	}
	rows := query(t, c, fmt.Sprintf("SELECT id, amount, status, updated_at, day, blob, ratio, tags, address.city AS city FROM `%s.%s.mysql_orders` ORDER BY id", e.Project, e.Dataset))
	if len(rows) != 2 {
		t.Fatalf("rows = %v", rows)
	}
	r := rows[0]
	if r["id"] != int64(1001) || ratString(r["amount"]) != "649.99" || r["status"] != "CREATED" || r["city"] != "Zürich" {
		t.Errorf("row 0 = %v", r)
	}
	if u, _ := r["updated_at"].(time.Time); !u.Equal(ts) {
		t.Errorf("updated_at = %v, want %v", r["updated_at"], ts)
	}
	if b, _ := r["blob"].([]byte); string(b) != "\x00\x01\x02" {
		t.Errorf("blob = %v", r["blob"])
	}
	if rows[1]["id"] != int64(9007199254740993) || ratString(rows[1]["amount"]) != "89.50" || rows[1]["status"] != nil {
		t.Errorf("row 1 = %v", rows[1])
	}
}

// TestSchemalessRecordsInferTable: JSON without schemas gets a table with
// inferred NULLABLE columns; a new field needs allowNewBigQueryFields.
func TestSchemalessRecordsInferTable(t *testing.T) {
	e := testbed.BigQuery(t)
	c := client(t, e)
	for _, allowNew := range []bool{false, true} {
		t.Run(fmt.Sprintf("allowNewBigQueryFields=%v", allowNew), func(t *testing.T) {
			cfg := baseConfig(e)
			cfg[AllowNewFields] = fmt.Sprint(allowNew)
			topic := fmt.Sprintf("events.new%v", allowNew)
			table := sanitizeTable(topic)
			task := startTask(t, cfg, &taskCtx{})
			first := []*connect.SinkRecord{
				rec(topic, 0, nil, map[string]any{"id": int64(1), "amount": 649.99, "status": "CREATED", "nested": map[string]any{"a": true}}, nil, nil),
				rec(topic, 1, nil, map[string]any{"id": int64(2), "amount": int64(89), "status": nil}, nil, nil),
			}
			if err := task.Put(context.Background(), first); err != nil {
				t.Fatalf("put: %v", err)
			}
			if got, want := describeSchema(tableSchema(t, c, e, table)), "amount FLOAT NULLABLE, id INTEGER NULLABLE, nested RECORD NULLABLE {a BOOLEAN NULLABLE}, status STRING NULLABLE"; got != want {
				t.Errorf("schema\n got %s\nwant %s", got, want)
			}
			second := []*connect.SinkRecord{rec(topic, 2, nil, map[string]any{"id": int64(3), "amount": 1.5, "coupon": "XMAS"}, nil, nil)}
			err := task.Put(context.Background(), second)
			if !allowNew {
				if err == nil || !strings.Contains(err.Error(), "coupon") || !strings.Contains(err.Error(), AllowNewFields) {
					t.Fatalf("put with a new field: err = %v, want one naming coupon and %s", err, AllowNewFields)
				}
				return
			}
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			rows := query(t, c, fmt.Sprintf("SELECT id, amount, coupon FROM `%s.%s.%s` ORDER BY id", e.Project, e.Dataset, table))
			if len(rows) != 3 || rows[2]["coupon"] != "XMAS" || rows[0]["amount"] != 649.99 || rows[1]["amount"] != float64(89) {
				t.Errorf("rows = %v", rows)
			}
		})
	}
}

// TestRefusedRows: a value BigQuery cannot convert fails the task with
// BigQuery's reason, or goes to the reporter (dead letter queue).
func TestRefusedRows(t *testing.T) {
	e := testbed.BigQuery(t)
	c := client(t, e)
	good := func(topic string, off int64) *connect.SinkRecord {
		return rec(topic, off, nil, map[string]any{"id": off}, nil, nil)
	}
	bad := func(topic string, off int64) *connect.SinkRecord {
		return rec(topic, off, nil, map[string]any{"id": "not a number"}, nil, nil)
	}

	task := startTask(t, baseConfig(e), &taskCtx{})
	if err := task.Put(context.Background(), []*connect.SinkRecord{good("fail", 0)}); err != nil {
		t.Fatal(err)
	}
	err := task.Put(context.Background(), []*connect.SinkRecord{good("fail", 1), bad("fail", 2)})
	if err == nil || !strings.Contains(err.Error(), "Cannot convert value to integer") || !strings.Contains(err.Error(), "offset 2") {
		t.Fatalf("err = %v, want BigQuery's reason for offset 2", err)
	}

	tc := &reportingCtx{}
	task = startTask(t, baseConfig(e), tc)
	if err := task.Put(context.Background(), []*connect.SinkRecord{good("dlq", 0), bad("dlq", 1), good("dlq", 2)}); err != nil {
		t.Fatalf("put with a reporter: %v", err)
	}
	if len(tc.reported) != 1 || tc.reported[0].KafkaOffset != 1 || !strings.Contains(tc.reasons[0].Error(), "Cannot convert") {
		t.Fatalf("reported %v (%v), want offset 1", tc.reported, tc.reasons)
	}
	rows := query(t, c, fmt.Sprintf("SELECT id FROM `%s.%s.dlq` ORDER BY id", e.Project, e.Dataset))
	if len(rows) != 2 {
		t.Errorf("rows = %v, want ids 0 and 2", rows)
	}
}

// TestUpsertDelete merges the latest row per key and applies tombstones;
// offsets become committable only once their batch is merged.
func TestUpsertDelete(t *testing.T) {
	e := testbed.BigQuery(t)
	c := client(t, e)
	cfg := baseConfig(e)
	cfg[UpsertEnabled], cfg[DeleteEnabled] = "true", "true"
	cfg[KafkaKeyFieldName] = "pk"
	cfg[MergeIntervalMs] = "-1"
	cfg[MergeRecordsThreshold] = "5"
	tc := &taskCtx{}
	task := startTask(t, cfg, tc)

	keySchema := connect.StructBuilder().Field("id", connect.Int64Schema).MustBuild()
	valSchema := connect.StructBuilder().Field("id", connect.Int64Schema).Field("status", connect.StringSchema).MustBuild()
	key := func(id int64) *connect.Struct { return connect.NewStruct(keySchema).MustPut("id", id) }
	val := func(id int64, st string) *connect.Struct {
		return connect.NewStruct(valSchema).MustPut("id", id).MustPut("status", st)
	}
	r := func(off, id int64, st string) *connect.SinkRecord {
		if st == "" {
			return rec("orders", off, key(id), nil, keySchema, nil)
		}
		return rec("orders", off, key(id), val(id, st), keySchema, valSchema)
	}
	tp := connect.TopicPartition{Topic: "orders", Partition: 0}
	// Four rows: under the threshold, so nothing is merged or committable.
	if err := task.Put(context.Background(), []*connect.SinkRecord{r(0, 1, "CREATED"), r(1, 2, "CREATED"), r(2, 3, "CREATED"), r(3, 1, "PAID")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp: 4}); len(got) != 0 {
		t.Fatalf("precommit before the merge = %v, want nothing", got)
	}
	// The fifth row reaches the threshold.
	if err := task.Put(context.Background(), []*connect.SinkRecord{r(4, 2, "SHIPPED")}); err != nil {
		t.Fatal(err)
	}
	waitCommittable(t, task, tp, 5)
	// A tombstone for 3, another update of 1, and two more rows to reach the threshold again.
	if err := task.Put(context.Background(), []*connect.SinkRecord{r(5, 3, ""), r(6, 1, "SHIPPED"), r(7, 4, "CREATED"), r(8, 4, "PAID"), r(9, 5, "CREATED")}); err != nil {
		t.Fatal(err)
	}
	waitCommittable(t, task, tp, 10)
	rows := query(t, c, fmt.Sprintf("SELECT pk.id AS k, id, status FROM `%s.%s.orders` ORDER BY k", e.Project, e.Dataset))
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%v:%v", row["k"], row["status"]))
	}
	if want := []string{"1:SHIPPED", "2:SHIPPED", "4:PAID", "5:CREATED"}; !slices.Equal(got, want) {
		t.Errorf("table = %v, want %v", got, want)
	}
	tc.mu.Lock()
	commits := tc.commits
	tc.mu.Unlock()
	if commits == 0 {
		t.Error("no commit was requested after a merge")
	}
	// Stop drops the intermediate table.
	_ = task.Stop()
	it := c.Dataset(e.Dataset).Tables(context.Background())
	var names []string
	for {
		tb, err := it.Next()
		if err != nil {
			break
		}
		names = append(names, tb.TableID)
	}
	if !slices.Equal(names, []string{"orders"}) {
		t.Errorf("tables after stop = %v, want only orders", names)
	}
}

func waitCommittable(t *testing.T, task *Task, tp connect.TopicPartition, want int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp: want})
		if err != nil {
			t.Fatalf("precommit: %v", err)
		}
		if got[tp] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset %d of %v not committable after 60 s (got %v)", want, tp, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestValidation: bad credentials, an unknown dataset and conflicting keys
// are reported under the key to fix.
func TestValidation(t *testing.T) {
	e := testbed.BigQuery(t)
	conn := &Connector{}
	check := func(name string, mutate func(map[string]string), key, fragment string) {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig(e)
			mutate(cfg)
			errs := conn.ValidateConfig(cfg)
			msgs := errs[key]
			if len(msgs) == 0 || !strings.Contains(strings.Join(msgs, " "), fragment) {
				t.Fatalf("errors = %v, want one under %s containing %q", errs, key, fragment)
			}
		})
	}
	check("unknown dataset", func(c map[string]string) { c[DefaultDataset] = "nope" }, DefaultDataset, "not found")
	check("unknown project", func(c map[string]string) { c[Project] = "other-project" }, DefaultDataset, "other-project")
	check("bad keyfile", func(c map[string]string) {
		delete(c, Endpoint)
		c[KeySource], c[Keyfile] = "JSON", "{not json"
	}, Keyfile, "not a Google credentials JSON document")
	check("missing keyfile", func(c map[string]string) {
		delete(c, Endpoint)
		c[KeySource] = "FILE"
		c[Keyfile] = "/nonexistent/key.json"
	}, Keyfile, "cannot read the key file")
	check("unreachable endpoint", func(c map[string]string) { c[Endpoint] = "http://127.0.0.1:1" }, Endpoint, "cannot reach BigQuery at http://127.0.0.1:1")
	check("upsert without key field", func(c map[string]string) { c[UpsertEnabled] = "true" }, KafkaKeyFieldName, "must be set")
	check("storage api with upsert", func(c map[string]string) {
		c[UpsertEnabled], c[KafkaKeyFieldName], c[UseStorageWriteAPI] = "true", "k", "true"
	}, UseStorageWriteAPI, "cannot be combined")
	check("batch load", func(c map[string]string) { c[EnableBatchLoad] = "t1" }, EnableBatchLoad, "not supported")
	if errs := conn.ValidateConfig(baseConfig(e)); len(errs) != 0 {
		t.Errorf("valid config: %v", errs)
	}
}

func ratString(v bq.Value) string {
	r, ok := v.(*big.Rat)
	if !ok {
		return fmt.Sprintf("%T %v", v, v)
	}
	return r.FloatString(2)
}

// TestUpsertOffsetsFollowConsumedPartition: after a topic-renaming
// transform the merged offsets are reported for the partition the records
// were consumed from, which is what the runtime commits.
func TestUpsertOffsetsFollowConsumedPartition(t *testing.T) {
	e := testbed.BigQuery(t)
	cfg := baseConfig(e)
	cfg[UpsertEnabled] = "true"
	cfg[KafkaKeyFieldName] = "pk"
	cfg[MergeIntervalMs] = "-1"
	cfg[MergeRecordsThreshold] = "2"
	task := startTask(t, cfg, &taskCtx{})
	var recs []*connect.SinkRecord
	for off := range int64(2) {
		r := rec("renamed", off, map[string]any{"id": off}, map[string]any{"id": off, "v": "x"}, nil, nil)
		r.OriginalTopic, r.OriginalPartition, r.OriginalOffset = "mysql.orders", 3, 100+off
		recs = append(recs, r)
	}
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	waitCommittable(t, task, connect.TopicPartition{Topic: "mysql.orders", Partition: 3}, 102)
}

// TestCreatedTablePartitioning: timestampPartitionFieldName, the
// partitioning type, expiration and clustering apply to created tables.
func TestCreatedTablePartitioning(t *testing.T) {
	e := testbed.BigQuery(t)
	c := client(t, e)
	cfg := baseConfig(e)
	cfg[TimestampPartitionField] = "updated_at"
	cfg[TimePartitioningType] = "month"
	cfg[PartitionExpirationMs] = "86400000"
	cfg[ClusteringFields] = "status,id"
	task := startTask(t, cfg, &taskCtx{})
	schema := connect.StructBuilder().Field("id", connect.Int64Schema).Field("status", connect.StringSchema).
		Field("updated_at", connect.TimestampSchema().MustBuild()).MustBuild()
	v := connect.NewStruct(schema).MustPut("id", int64(1)).MustPut("status", "NEW").MustPut("updated_at", time.UnixMilli(1705312200000))
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("parts", 0, nil, v, nil, schema)}); err != nil {
		t.Fatal(err)
	}
	md, err := c.Dataset(e.Dataset).Table("parts").Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tp := md.TimePartitioning
	if tp == nil || tp.Field != "updated_at" || tp.Type != bq.MonthPartitioningType || tp.Expiration != 24*time.Hour {
		t.Errorf("time partitioning = %+v", tp)
	}
	if md.Clustering == nil || strings.Join(md.Clustering.Fields, ",") != "status,id" {
		t.Errorf("clustering = %+v", md.Clustering)
	}
}

// TestTombstonesWithoutDeletes: without deleteEnabled a tombstone is
// skipped, also when it is all a batch holds for a table not created yet.
func TestTombstonesWithoutDeletes(t *testing.T) {
	e := testbed.BigQuery(t)
	cfg := baseConfig(e)
	cfg[AllowRequiredRelaxation] = "true"
	task := startTask(t, cfg, &taskCtx{})
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("graves", 0, "k", nil, nil, nil)}); err != nil {
		t.Fatalf("a tombstone for a new table: %v", err)
	}
	schema := connect.StructBuilder().Field("id", connect.Int64Schema).MustBuild()
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("graves", 1, "k", connect.NewStruct(schema).MustPut("id", int64(1)), nil, schema)}); err != nil {
		t.Fatal(err)
	}
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("graves", 2, "k", nil, nil, nil)}); err != nil {
		t.Fatalf("a tombstone for an existing table: %v", err)
	}
	// The tombstone must not relax the table's REQUIRED column.
	c := client(t, e)
	if got := describeSchema(tableSchema(t, c, e, "graves")); got != "id INTEGER REQUIRED" {
		t.Errorf("schema after a tombstone = %s", got)
	}
}
