package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
	"github.com/ferryhq/ferry/internal/testbed"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

type taskCtx struct {
	retry    time.Duration
	reporter connect.ErrantRecordReporter
}

func (c *taskCtx) ConnectorName() string                 { return "jdbc-sink-test" }
func (c *taskCtx) TaskID() int                           { return 0 }
func (c *taskCtx) Logger() *slog.Logger                  { return slog.New(slog.DiscardHandler) }
func (c *taskCtx) Assignment() []connect.TopicPartition  { return nil }
func (c *taskCtx) Seek(map[connect.TopicPartition]int64) {}
func (c *taskCtx) Pause(...connect.TopicPartition)       {}
func (c *taskCtx) Resume(...connect.TopicPartition)      {}
func (c *taskCtx) SetRetryTimeout(d time.Duration)       { c.retry = d }
func (c *taskCtx) RequestCommit()                        {}

// database is one database a test runs against.
type database struct {
	name string
	url  string // JDBC URL
	db   *sql.DB
}

// databases returns SQLite always, plus MariaDB and PostgreSQL when the test
// bed provides them.
func databases(t *testing.T) []func(t *testing.T) database {
	return []func(t *testing.T) database{
		func(t *testing.T) database {
			path := testbed.SQLite(t)
			return database{"sqlite", "jdbc:sqlite:" + path, testbed.OpenDB(t, "sqlite", path)}
		},
		func(t *testing.T) database {
			u, dsn := mysqlURL(t)
			return database{"mariadb", u, testbed.OpenDB(t, "mysql", dsn)}
		},
		func(t *testing.T) database {
			u, dsn := postgresURL(t)
			return database{"postgresql", u, testbed.OpenDB(t, "pgx", dsn)}
		},
	}
}

// mysqlURL returns a JDBC URL and Go DSN of a fresh MariaDB database.
func mysqlURL(t testing.TB) (string, string) {
	dsn := testbed.MySQL(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("jdbc:mariadb://%s/%s?user=%s&password=%s", cfg.Addr, cfg.DBName, url.QueryEscape(cfg.User), url.QueryEscape(cfg.Passwd)), dsn
}

// postgresURL returns a JDBC URL and Go DSN of a fresh PostgreSQL database.
func postgresURL(t testing.TB) (string, string) {
	dsn := testbed.Postgres(t)
	pu, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := pu.User.Password()
	return fmt.Sprintf("jdbc:postgresql://%s%s?user=%s&password=%s&sslmode=disable", pu.Host, pu.Path, url.QueryEscape(pu.User.Username()), url.QueryEscape(pw)), dsn
}

func eachDB(t *testing.T, f func(t *testing.T, db database)) {
	for i, open := range databases(t) {
		t.Run([]string{"sqlite", "mariadb", "postgresql"}[i], func(t *testing.T) {
			f(t, open(t))
		})
	}
}

func startTask(t *testing.T, config map[string]string) (*Task, *taskCtx) {
	t.Helper()
	task := &Task{}
	tc := &taskCtx{}
	if err := task.Start(t.Context(), tc, config); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task, tc
}

var (
	keySchema = connect.StructBuilder().Name("Key").Field("id", connect.Int64Schema).MustBuild()
	valueV1   = connect.StructBuilder().Name("Value").
			Field("id", connect.Int64Schema).
			Field("name", connect.StringSchema).
			Field("score", connect.OptionalFloat64Schema).MustBuild()
	valueV2 = connect.StructBuilder().Name("Value").
		Field("id", connect.Int64Schema).
		Field("name", connect.StringSchema).
		Field("score", connect.OptionalFloat64Schema).
		Field("email", connect.OptionalStringSchema).MustBuild()
)

// offset numbers test records; tests may build records concurrently.
var offset atomic.Int64

func rec(topic string, id int64, value *connect.Struct) *connect.SinkRecord {
	r := &connect.SinkRecord{Record: connect.Record{Topic: topic, Partition: 0,
		KeySchema: keySchema, Key: connect.NewStruct(keySchema).MustPut("id", id)}, KafkaOffset: offset.Add(1)}
	if value != nil {
		r.ValueSchema, r.Value = value.Schema(), value
	}
	return r
}

func v1(id int64, name string) *connect.Struct {
	return connect.NewStruct(valueV1).MustPut("id", id).MustPut("name", name).MustPut("score", float64(id)/2)
}

func v2(id int64, name, email string) *connect.Struct {
	return connect.NewStruct(valueV2).MustPut("id", id).MustPut("name", name).MustPut("email", email)
}

// dump returns the table's rows as "id|name|email" strings ordered by id.
func dump(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = v.String
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUpsertDeleteEvolve(t *testing.T) {
	eachDB(t, func(t *testing.T, d database) {
		task, _ := startTask(t, map[string]string{
			"connection.url": d.url, "insert.mode": "upsert", "pk.mode": "record_key",
			"delete.enabled": "true", "auto.create": "true", "auto.evolve": "true",
			"table.name.format": "sink_${topic}", "batch.size": "2",
		})
		put := func(recs ...*connect.SinkRecord) {
			t.Helper()
			if err := task.Put(t.Context(), recs); err != nil {
				t.Fatal(err)
			}
		}
		put(rec("users", 1, v1(1, "ann")), rec("users", 2, v1(2, "bob")), rec("users", 3, v1(3, "cy")),
			rec("users", 1, v1(1, "ann2")))
		// Delete then re-insert the same key in one Put: the re-insert must survive.
		put(rec("users", 2, nil), rec("users", 2, v1(2, "bob2")), rec("users", 3, nil))
		// The schema gains an optional column mid-stream.
		put(rec("users", 4, v2(4, "dee", "d@x")), rec("users", 1, v2(1, "ann3", "a@x")))
		// A tombstone for a key never written is harmless.
		put(rec("users", 99, nil))
		got := dump(t, d.db, `SELECT id, name, email FROM sink_users ORDER BY id`)
		want := []string{"1|ann3|a@x", "2|bob2|NULL", "4|dee|d@x"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("rows %v, want %v", got, want)
		}
	})
}

func TestEvolveDisabled(t *testing.T) {
	eachDB(t, func(t *testing.T, d database) {
		task, _ := startTask(t, map[string]string{
			"connection.url": d.url, "insert.mode": "upsert", "pk.mode": "record_key", "auto.create": "true",
		})
		if err := task.Put(t.Context(), []*connect.SinkRecord{rec("ev", 1, v1(1, "a"))}); err != nil {
			t.Fatal(err)
		}
		err := task.Put(t.Context(), []*connect.SinkRecord{rec("ev", 2, v1(2, "b")), rec("ev", 3, v2(3, "c", "c@x"))})
		if err == nil || !strings.Contains(err.Error(), "missing columns [email]") || !strings.Contains(err.Error(), "auto.evolve") {
			t.Fatalf("err = %v", err)
		}
		if connect.IsRetriable(err) {
			t.Error("schema error marked retriable")
		}
		// Nothing of the failed Put was committed.
		if got := dump(t, d.db, `SELECT id FROM ev ORDER BY id`); strings.Join(got, ",") != "1" {
			t.Errorf("rows %v", got)
		}
	})
}

func TestInsertModesAndKafkaKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, d database) {
		task, _ := startTask(t, map[string]string{
			"connection.url": d.url, "pk.mode": "kafka", "auto.create": "true", "fields.whitelist": "name",
		})
		var recs []*connect.SinkRecord
		for i := range 10 {
			recs = append(recs, rec("ins", int64(i), v1(int64(i), fmt.Sprintf("n%d", i))))
		}
		if err := task.Put(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
		got := dump(t, d.db, `SELECT COUNT(*), COUNT(DISTINCT __connect_offset), MIN(name), MAX(__connect_topic) FROM ins`)
		if got[0] != "10|10|n0|ins" {
			t.Errorf("got %v", got)
		}
		// Plain insert of the same offsets again breaks the primary key.
		if err := task.Put(t.Context(), recs[:1]); err == nil {
			t.Error("duplicate insert accepted")
		}

		upd, _ := startTask(t, map[string]string{
			"connection.url": d.url, "insert.mode": "update", "pk.mode": "record_value", "pk.fields": "id",
			"table.name.format": "ins_upd",
		})
		if _, err := d.db.Exec(`CREATE TABLE ins_upd (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL, score DOUBLE PRECISION)`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.db.Exec(`INSERT INTO ins_upd VALUES (1, 'old', NULL), (2, 'old', NULL)`); err != nil {
			t.Fatal(err)
		}
		if err := upd.Put(t.Context(), []*connect.SinkRecord{rec("x", 1, v1(1, "new")), rec("x", 3, v1(3, "absent"))}); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, d.db, `SELECT id, name, score FROM ins_upd ORDER BY id`); strings.Join(got, ",") != "1|new|0.5,2|old|NULL" {
			t.Errorf("update: %v", got)
		}
	})
}

func TestTypes(t *testing.T) {
	vs := connect.StructBuilder().
		Field("id", connect.Int32Schema).
		Field("i8", connect.Int8Schema).
		Field("flag", connect.BooleanSchema).
		Field("price", connect.DecimalSchema(2).MustBuild()).
		Field("day", connect.DateSchema().MustBuild()).
		Field("at", connect.TimestampSchema().MustBuild()).
		Field("txt", connect.OptionalStringSchema).
		Field("raw", connect.OptionalBytesSchema).
		Field("dflt", connect.NewSchemaBuilder(connect.Int32).Optional().DefaultValue(int32(7)).MustBuild()).
		MustBuild()
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	eachDB(t, func(t *testing.T, d database) {
		task, _ := startTask(t, map[string]string{
			"connection.url": d.url, "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id", "auto.create": "true",
		})
		mk := func(id int32, txt any) *connect.SinkRecord {
			v := connect.NewStruct(vs).MustPut("id", id).MustPut("i8", int8(-3)).MustPut("flag", true).
				MustPut("price", connect.NewDecimal(-12345, 2)).MustPut("day", connect.DaysToDate(20000)).
				MustPut("at", at).MustPut("txt", txt).MustPut("raw", []byte{0, 1, 0xff})
			return &connect.SinkRecord{Record: connect.Record{Topic: "types", ValueSchema: vs, Value: v}}
		}
		if err := task.Put(t.Context(), []*connect.SinkRecord{mk(1, "héllo wörld ✓ 日本"), mk(2, nil)}); err != nil {
			t.Fatal(err)
		}
		var (
			price, txt  sql.NullString
			i8, dflt    int64
			raw         []byte
			flag        bool
			countNullTx int
		)
		row := d.db.QueryRow(`SELECT i8, flag, price, txt, raw, dflt FROM types WHERE id = 1`)
		if err := row.Scan(&i8, &flag, &price, &txt, &raw, &dflt); err != nil {
			t.Fatal(err)
		}
		if i8 != -3 || !flag || !strings.HasPrefix(price.String, "-123.45") || txt.String != "héllo wörld ✓ 日本" || string(raw) != "\x00\x01\xff" || dflt != 7 {
			t.Errorf("row = %d %v %q %q %x %d", i8, flag, price.String, txt.String, raw, dflt)
		}
		if err := d.db.QueryRow(`SELECT COUNT(*) FROM types WHERE txt IS NULL`).Scan(&countNullTx); err != nil || countNullTx != 1 {
			t.Errorf("null count %d %v", countNullTx, err)
		}
		var atText string
		q := `SELECT CAST(at AS CHAR(30)) FROM types WHERE id = 1`
		if d.name == "postgresql" {
			q = `SELECT CAST("at" AS TEXT) FROM types WHERE id = 1`
		}
		if err := d.db.QueryRow(q).Scan(&atText); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(atText, "2026-03-04 05:06:07.89") {
			t.Errorf("timestamp stored as %q", atText)
		}
	})
}

func TestBadRecords(t *testing.T) {
	path := testbed.SQLite(t)
	task, _ := startTask(t, map[string]string{"connection.url": "jdbc:sqlite:" + path, "auto.create": "true"})
	schemaless := &connect.SinkRecord{Record: connect.Record{Topic: "bad", Value: map[string]any{"a": 1}}}
	err := task.Put(t.Context(), []*connect.SinkRecord{schemaless})
	var de *connect.DataError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "schemaless") {
		t.Errorf("schemaless: %v", err)
	}
	tomb := rec("bad", 1, nil)
	if err := task.Put(t.Context(), []*connect.SinkRecord{tomb}); !errors.As(err, &de) || !strings.Contains(err.Error(), "delete.enabled=false") {
		t.Errorf("tombstone: %v", err)
	}

	// NOT NULL violated on an existing table: the whole Put is rolled back.
	db := testbed.OpenDB(t, "sqlite", path)
	if _, err := db.Exec(`CREATE TABLE strict (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)`); err != nil {
		t.Fatal(err)
	}
	opt := connect.StructBuilder().Field("id", connect.Int64Schema).Field("name", connect.OptionalStringSchema).MustBuild()
	good := connect.NewStruct(opt).MustPut("id", int64(1)).MustPut("name", "ok")
	bad := connect.NewStruct(opt).MustPut("id", int64(2))
	err = task.Put(t.Context(), []*connect.SinkRecord{
		{Record: connect.Record{Topic: "strict", ValueSchema: opt, Value: good}},
		{Record: connect.Record{Topic: "strict", ValueSchema: opt, Value: bad}},
	})
	if err == nil || connect.IsRetriable(err) || !strings.Contains(err.Error(), "NOT NULL") {
		t.Errorf("not null: %v", err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM strict`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows after failed put: %d %v", n, err)
	}
}

func TestValidateConfig(t *testing.T) {
	c := &Connector{}
	errs := c.ValidateConfig(map[string]string{"connection.url": "jdbc:sqlite:x.db", "delete.enabled": "true", "insert.mode": "upsert"})
	if len(errs[DeleteEnabled]) != 1 || !strings.Contains(errs[DeleteEnabled][0], "record_key") || len(errs[PKMode]) != 1 {
		t.Errorf("errs = %v", errs)
	}
	errs = c.ValidateConfig(map[string]string{"connection.url": "jdbc:oracle:thin:@x", "pk.mode": "kafka", "pk.fields": "a,b"})
	if len(errs[ConnectionURL]) != 1 || len(errs[PKFields]) != 1 {
		t.Errorf("errs = %v", errs)
	}
	if errs := c.ValidateConfig(map[string]string{"connection.url": "jdbc:postgresql://h/db", "dialect.name": "MySqlDatabaseDialect"}); len(errs[DialectName]) != 1 {
		t.Errorf("errs = %v", errs)
	}
	if errs := c.ValidateConfig(map[string]string{"connection.url": "jdbc:sqlite:x.db", "pk.mode": "record_key", "delete.enabled": "true", "insert.mode": "upsert"}); errs != nil {
		t.Errorf("valid config: %v", errs)
	}
	if err := c.Start(t.Context(), nil, map[string]string{"connection.url": "jdbc:sqlite:x.db", "delete.enabled": "true"}); err == nil || !strings.Contains(err.Error(), "delete.enabled") {
		t.Errorf("start: %v", err)
	}
}

func TestTransientErrorsAreRetriable(t *testing.T) {
	if !dialect.IsTransient(fmt.Errorf("wrapped: %w", context.DeadlineExceeded)) {
		t.Error("deadline not transient")
	}
	path := testbed.SQLite(t)
	task, tc := startTask(t, map[string]string{"connection.url": "jdbc:sqlite:" + path, "auto.create": "true",
		"pk.mode": "record_key", "insert.mode": "upsert", "max.retries": "1", "retry.backoff.ms": "5"})
	// Hold the write lock from another connection: the sink sees SQLITE_BUSY.
	lock := testbed.OpenDB(t, "sqlite", path+"?_pragma=busy_timeout(0)")
	conn, err := lock.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	task.db.SetMaxOpenConns(1)
	if _, err := task.db.Exec("PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	err = task.Put(t.Context(), []*connect.SinkRecord{rec("busy", 1, v1(1, "a"))})
	if !connect.IsRetriable(err) || tc.retry != 5*time.Millisecond {
		t.Fatalf("first failure: %v (retriable %v), retry timeout %v", err, connect.IsRetriable(err), tc.retry)
	}
	if err := task.Put(t.Context(), []*connect.SinkRecord{rec("busy", 1, v1(1, "a"))}); err == nil || connect.IsRetriable(err) {
		t.Fatalf("retries exhausted: %v", err)
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := task.Put(t.Context(), []*connect.SinkRecord{rec("busy", 1, v1(1, "a"))}); err != nil {
		t.Fatal(err)
	}
}

type reporterCtx struct {
	taskCtx
	reported []*connect.SinkRecord
	errs     []error
}

func (c *reporterCtx) ErrantRecordReporter() connect.ErrantRecordReporter { return c }

func (c *reporterCtx) Report(_ context.Context, rec *connect.SinkRecord, err error) error {
	c.reported = append(c.reported, rec)
	c.errs = append(c.errs, err)
	return nil
}

func TestErrantRecordsReported(t *testing.T) {
	eachDB(t, func(t *testing.T, d database) {
		if _, err := d.db.Exec(`CREATE TABLE strict (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(10) NOT NULL, score DOUBLE PRECISION)`); err != nil {
			t.Fatal(err)
		}
		tc := &reporterCtx{}
		task := &Task{}
		if err := task.Start(t.Context(), tc, map[string]string{"connection.url": d.url, "pk.mode": "record_key",
			"insert.mode": "upsert", "table.name.format": "strict"}); err != nil {
			t.Fatal(err)
		}
		defer task.Stop()
		opt := connect.StructBuilder().Field("id", connect.Int64Schema).Field("name", connect.OptionalStringSchema).MustBuild()
		mk := func(id int64, name any) *connect.SinkRecord {
			r := rec("strict", id, nil)
			r.ValueSchema, r.Value = opt, connect.NewStruct(opt).MustPut("id", id).MustPut("name", name)
			return r
		}
		schemaless := &connect.SinkRecord{Record: connect.Record{Topic: "strict", Value: map[string]any{"a": 1}}}
		recs := []*connect.SinkRecord{mk(1, "ok"), mk(2, nil), schemaless, mk(3, "fine"), mk(4, "much too long for ten")}
		if err := task.Put(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
		wantReported := []*connect.SinkRecord{recs[1], schemaless}
		if d.name != "sqlite" { // SQLite does not enforce VARCHAR lengths
			wantReported = append(wantReported, recs[4])
		}
		if len(tc.reported) != len(wantReported) {
			t.Fatalf("reported %d records: %v", len(tc.reported), tc.errs)
		}
		for i := range wantReported {
			if tc.reported[i] != wantReported[i] {
				t.Errorf("report %d: %v", i, tc.errs[i])
			}
		}
		want := "1,3"
		if d.name == "sqlite" {
			want = "1,3,4"
		}
		if got := dump(t, d.db, `SELECT id FROM strict ORDER BY id`); strings.Join(got, ",") != want {
			t.Errorf("rows %v, want %s", got, want)
		}
	})
}

// TestConnectionLoss: the server ends the sink's sessions between two
// Puts. The next Put either reconnects at once or returns a Retriable
// error; either way the batch lands once it is redelivered.
func TestConnectionLoss(t *testing.T) {
	kill := map[string]string{
		"mariadb": `SELECT CONCAT('KILL ', id) FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND id <> CONNECTION_ID()`,
		"postgresql": `SELECT 'SELECT pg_terminate_backend(' || pid || ')' FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`,
	}
	eachDB(t, func(t *testing.T, d database) {
		if d.name == "sqlite" {
			t.Skip("no server connection to lose")
		}
		task, _ := startTask(t, map[string]string{"connection.url": d.url, "auto.create": "true",
			"pk.mode": "record_key", "insert.mode": "upsert", "retry.backoff.ms": "1"})
		if err := task.Put(t.Context(), []*connect.SinkRecord{rec("loss", 1, v1(1, "a"))}); err != nil {
			t.Fatal(err)
		}
		var stmts []string
		rows, err := d.db.Query(kill[d.name])
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			stmts = append(stmts, s)
		}
		rows.Close()
		if len(stmts) == 0 {
			t.Fatal("no sink session found")
		}
		for _, s := range stmts {
			if _, err := d.db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		batch := []*connect.SinkRecord{rec("loss", 2, v1(2, "b"))}
		for attempt := 0; ; attempt++ {
			err := task.Put(t.Context(), batch)
			if err == nil {
				break
			}
			if !connect.IsRetriable(err) || attempt > 3 {
				t.Fatalf("after connection loss: %v (retriable %v)", err, connect.IsRetriable(err))
			}
		}
		if got := dump(t, d.db, `SELECT id FROM loss ORDER BY id`); strings.Join(got, ",") != "1,2" {
			t.Errorf("rows %v", got)
		}
	})
}

func TestPrimitiveKeyAndWhitelist(t *testing.T) {
	eachDB(t, func(t *testing.T, d database) {
		task, _ := startTask(t, map[string]string{"connection.url": d.url, "auto.create": "true",
			"pk.mode": "record_key", "pk.fields": "user_id", "insert.mode": "upsert", "fields.whitelist": "name",
			"delete.enabled": "true", "quote.sql.identifiers": "never"})
		mk := func(id int64, v *connect.Struct) *connect.SinkRecord {
			r := &connect.SinkRecord{Record: connect.Record{Topic: "prim", KeySchema: connect.Int64Schema, Key: id}}
			if v != nil {
				r.ValueSchema, r.Value = v.Schema(), v
			}
			return r
		}
		if err := task.Put(t.Context(), []*connect.SinkRecord{mk(7, v1(1, "x")), mk(8, v1(2, "y")), mk(7, v1(3, "z")), mk(8, nil)}); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, d.db, `SELECT * FROM prim`); strings.Join(got, ",") != "7|z" {
			t.Errorf("rows %v", got)
		}
		err := task.Put(t.Context(), []*connect.SinkRecord{{Record: connect.Record{Topic: "prim", Value: v1(1, "x"), ValueSchema: valueV1}}})
		var de *connect.DataError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "non-null record key") {
			t.Errorf("null key: %v", err)
		}
	})
}

func TestDBTimezone(t *testing.T) {
	vs := connect.StructBuilder().Field("id", connect.Int32Schema).
		Field("at", connect.TimestampSchema().MustBuild()).
		Field("tod", connect.TimeSchema().MustBuild()).
		Field("day", connect.DateSchema().MustBuild()).MustBuild()
	eachDB(t, func(t *testing.T, d database) {
		task, _ := startTask(t, map[string]string{"connection.url": d.url, "auto.create": "true", "db.timezone": "America/New_York"})
		v := connect.NewStruct(vs).MustPut("id", int32(1)).
			MustPut("at", time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)).
			MustPut("tod", connect.MillisToTime(13*3600_000)).
			MustPut("day", connect.DaysToDate(20000))
		if err := task.Put(t.Context(), []*connect.SinkRecord{{Record: connect.Record{Topic: "tz", ValueSchema: vs, Value: v}}}); err != nil {
			t.Fatal(err)
		}
		q := map[string]string{
			"sqlite":     `SELECT at, tod, day FROM tz`,
			"mariadb":    `SELECT DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s'), TIME_FORMAT(tod, '%H:%i:%s'), CAST(day AS CHAR) FROM tz`,
			"postgresql": `SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), to_char(tod, 'HH24:MI:SS'), day::TEXT FROM tz`,
		}[d.name]
		got := strings.Join(dump(t, d.db, q), ",")
		want := "2026-01-02 07:00:00|08:00:00|2024-10-04"
		if d.name == "sqlite" {
			want = "2026-01-02 07:00:00.000|08:00:00.000|2024-10-04"
		}
		if got != want {
			t.Errorf("stored %s, want %s", got, want)
		}
	})
}

// TestSQLiteConcurrentTasks: two tasks writing one SQLite file queue for
// the write lock instead of failing with SQLITE_BUSY.
func TestSQLiteConcurrentTasks(t *testing.T) {
	path := testbed.SQLite(t)
	config := map[string]string{"connection.url": "jdbc:sqlite:" + path, "auto.create": "true",
		"pk.mode": "record_key", "insert.mode": "upsert", "max.retries": "0"}
	a, _ := startTask(t, config)
	b, _ := startTask(t, config)
	errs := make(chan error, 2)
	for i, task := range []*Task{a, b} {
		go func() {
			var err error
			for j := range 20 {
				var recs []*connect.SinkRecord
				for k := range 50 {
					id := int64(i*100_000 + j*50 + k)
					recs = append(recs, rec("conc", id, v1(id, "n")))
				}
				if err = task.Put(context.Background(), recs); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	db := testbed.OpenDB(t, "sqlite", path)
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM conc`).Scan(&n); err != nil || n != 2000 {
		t.Fatalf("rows %d %v", n, err)
	}
}
