package source

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memOffsets stores offsets under the exact key bytes the worker writes.
type memOffsets struct {
	mu sync.Mutex
	m  map[string]map[string]any
}

func (o *memOffsets) put(p, off map[string]any) {
	k, err := storage.OffsetKey("c", p)
	if err != nil {
		panic(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]map[string]any{}
	}
	// Round-trip through the stored bytes, as a restarted worker reads them.
	v, _ := storage.OffsetValue(off)
	parsed, _ := storage.ParseOffsetValue(v)
	o.m[string(k)] = parsed
}

func (o *memOffsets) Offset(_ context.Context, p map[string]any) (map[string]any, error) {
	k, err := storage.OffsetKey("c", p)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[string(k)], nil
}

type taskCtx struct{ o *memOffsets }

func (c taskCtx) ConnectorName() string         { return "c" }
func (c taskCtx) TaskID() int                   { return 0 }
func (c taskCtx) Logger() *slog.Logger          { return slog.New(slog.DiscardHandler) }
func (c taskCtx) Offsets() connect.OffsetReader { return c.o }

type connCtx struct {
	mu       sync.Mutex
	reconfig int
	err      error
}

func (c *connCtx) RequestTaskReconfiguration() { c.mu.Lock(); c.reconfig++; c.mu.Unlock() }
func (c *connCtx) RaiseError(err error)        { c.mu.Lock(); c.err = err; c.mu.Unlock() }
func (c *connCtx) Logger() *slog.Logger        { return slog.New(slog.DiscardHandler) }

// testDB is one database under test: its JDBC URL and a pool to set it up.
type testDB struct {
	kind string
	url  string
	db   *sql.DB
	// fqn is the offset table name of a table in this database.
	fqn func(table string) string
	// ddl per column role.
	serial, ts, dec string
}

func (d *testDB) exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.db.Exec(s); err != nil {
			t.Fatalf("%s: %s: %v", d.kind, s, err)
		}
	}
}

func sqliteDB(t testing.TB) *testDB {
	path := testbed.SQLite(t)
	return &testDB{kind: "sqlite", url: "jdbc:sqlite:" + path, db: testbed.OpenDB(t, testbed.DriverSQLite, path+"?_pragma=busy_timeout(10000)"),
		fqn:    func(tb string) string { return "main." + tb },
		serial: "INTEGER PRIMARY KEY AUTOINCREMENT", ts: "TIMESTAMP", dec: "DECIMAL(10,2)"}
}

func mysqlDB(t testing.TB) *testDB {
	dsn := testbed.MySQL(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprintf("jdbc:mysql://%s/%s?user=%s&password=%s", cfg.Addr, cfg.DBName, url.QueryEscape(cfg.User), url.QueryEscape(cfg.Passwd))
	return &testDB{kind: "mysql", url: u, db: testbed.OpenDB(t, testbed.DriverMySQL, dsn),
		fqn:    func(tb string) string { return cfg.DBName + "." + tb },
		serial: "INT AUTO_INCREMENT PRIMARY KEY", ts: "DATETIME(3)", dec: "DECIMAL(10,2)"}
}

func postgresDB(t testing.TB) *testDB {
	dsn := testbed.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	j := fmt.Sprintf("jdbc:postgresql://%s%s?user=%s&password=%s", u.Host, u.Path, url.QueryEscape(u.User.Username()), url.QueryEscape(pw))
	return &testDB{kind: "postgres", url: j, db: testbed.OpenDB(t, testbed.DriverPostgres, dsn),
		fqn:    func(tb string) string { return "public." + tb },
		serial: "SERIAL PRIMARY KEY", ts: "TIMESTAMP(3)", dec: "DECIMAL(10,2)"}
}

// eachDB runs f on SQLite and, when the test bed provides them, on
// MariaDB and PostgreSQL.
func eachDB(t *testing.T, f func(t *testing.T, d *testDB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteDB(t)) })
	t.Run("mysql", func(t *testing.T) { f(t, mysqlDB(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresDB(t)) })
}

func (d *testDB) createOrders(t testing.TB, name string) {
	d.exec(t, fmt.Sprintf(`CREATE TABLE %s (id %s, customer_id INTEGER NOT NULL, amount %s NOT NULL, status VARCHAR(20) NOT NULL, updated_at %s NOT NULL)`,
		name, d.serial, d.dec, d.ts))
}

func (d *testDB) insertOrder(t testing.TB, table string, id, cust int, amount, status, ts string) {
	d.exec(t, fmt.Sprintf(`INSERT INTO %s (id, customer_id, amount, status, updated_at) VALUES (%d, %d, %s, '%s', '%s')`,
		table, id, cust, amount, status, ts))
}

// runner drives one task like the runtime does: Poll, then store the
// offset of every returned record.
type runner struct {
	t    testing.TB
	task *Task
	o    *memOffsets
}

func startTask(t testing.TB, config map[string]string, o *memOffsets) *runner {
	t.Helper()
	c := &Connector{}
	cc := &connCtx{}
	if err := c.Start(context.Background(), cc, config); err != nil {
		t.Fatalf("connector start: %v", err)
	}
	tcs, err := c.TaskConfigs(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	task := &Task{}
	if err := task.Start(context.Background(), taskCtx{o}, tcs[0]); err != nil {
		t.Fatalf("task start: %v", err)
	}
	r := &runner{t: t, task: task, o: o}
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *runner) stop() {
	if r.task != nil {
		if err := r.task.Stop(); err != nil {
			r.t.Errorf("task stop: %v", err)
		}
		r.task = nil
	}
}

func (r *runner) poll() []*connect.SourceRecord {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := r.task.Poll(ctx)
	if err != nil {
		r.t.Fatalf("poll: %v", err)
	}
	for _, rec := range recs {
		if rec.SourceOffset != nil {
			r.o.put(rec.SourcePartition, rec.SourceOffset)
		}
	}
	return recs
}

// pollUntil polls until n records arrived in total or the deadline passes.
func (r *runner) pollUntil(n int) []*connect.SourceRecord {
	r.t.Helper()
	var out []*connect.SourceRecord
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		out = append(out, r.poll()...)
	}
	if len(out) != n {
		r.t.Fatalf("got %d records, want %d", len(out), n)
	}
	return out
}

func baseConfig(d *testDB, mode string) map[string]string {
	return map[string]string{
		"connector.class": Class, ConnectionURL: d.url, Mode: mode, TopicPrefix: "db.",
		PollInterval: "50", PollLinger: "200",
	}
}

func ids(recs []*connect.SourceRecord) []int64 {
	var out []int64
	for _, r := range recs {
		v := r.Value.(*connect.Struct).Get("id")
		switch n := v.(type) {
		case int32:
			out = append(out, int64(n))
		case int64:
			out = append(out, n)
		}
	}
	return out
}

func TestModesCaptureInserts(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		d.createOrders(t, "orders")
		d.insertOrder(t, "orders", 1, 10, "1.50", "NEW", "2024-01-15 09:50:00")
		d.insertOrder(t, "orders", 2, 11, "2.50", "NEW", "2024-01-15 09:51:00")
		for _, mode := range modes {
			t.Run(mode, func(t *testing.T) {
				cfg := baseConfig(d, mode)
				cfg[IncrementingColumn] = "id"
				if mode == ModeTimestamp || mode == ModeTimestampIncrementing {
					cfg[TimestampColumn] = "updated_at"
				}
				r := startTask(t, cfg, &memOffsets{})
				recs := r.pollUntil(2)
				if got := fmt.Sprint(ids(recs)); got != "[1 2]" {
					t.Fatalf("ids %s", got)
				}
				if recs[0].Topic != "db.orders" || recs[0].Key != nil || recs[0].ValueSchema.Name != "orders" {
					t.Fatalf("record %+v", recs[0].Record)
				}
				id := 3 + len(mode) // distinct per mode
				d.insertOrder(t, "orders", id, 12, "3.50", "NEW", time.Now().UTC().Add(-time.Hour).Format("2006-01-02 15:04:05"))
				if mode == ModeBulk {
					recs = r.pollUntil(3)
				} else {
					recs = r.pollUntil(1)
				}
				if got := ids(recs); got[len(got)-1] != int64(id) {
					t.Fatalf("after insert: ids %v", got)
				}
				d.exec(t, fmt.Sprintf("DELETE FROM orders WHERE id = %d", id))
			})
		}
	})
}

func TestTimestampModesCaptureUpdates(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		d.createOrders(t, "orders")
		d.insertOrder(t, "orders", 1, 10, "1.50", "NEW", "2024-01-15 09:50:00")
		for _, mode := range []string{ModeTimestamp, ModeTimestampIncrementing} {
			t.Run(mode, func(t *testing.T) {
				cfg := baseConfig(d, mode)
				cfg[IncrementingColumn] = "id"
				cfg[TimestampColumn] = "updated_at"
				r := startTask(t, cfg, &memOffsets{})
				r.pollUntil(1)
				now := time.Now().UTC().Add(-time.Minute).Format("2006-01-02 15:04:05.000")
				d.exec(t, fmt.Sprintf("UPDATE orders SET status = 'SHIPPED', updated_at = '%s' WHERE id = 1", now))
				recs := r.pollUntil(1)
				if s := recs[0].Value.(*connect.Struct).Get("status"); s != "SHIPPED" {
					t.Fatalf("status %v", s)
				}
				d.exec(t, "UPDATE orders SET updated_at = '2024-01-15 09:50:00' WHERE id = 1")
			})
		}
	})
}

// TestEqualTimestampsAcrossBatchesAndRestart: many rows share one
// timestamp, batches cut through the group, the task restarts from its
// stored offset in the middle: nothing is missed or duplicated.
func TestEqualTimestampsAcrossBatchesAndRestart(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		const n = 1000
		d.createOrders(t, "orders")
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if b.Len() == 0 {
				b.WriteString("INSERT INTO orders (id, customer_id, amount, status, updated_at) VALUES ")
			} else {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "(%d, %d, 1.00, 'NEW', '2024-01-15 09:50:00')", i, i)
			if i%200 == 0 {
				d.exec(t, b.String())
				b.Reset()
			}
		}
		cfg := baseConfig(d, ModeTimestampIncrementing)
		cfg[IncrementingColumn] = "id"
		cfg[TimestampColumn] = "updated_at"
		cfg[BatchMaxRows] = "7"
		o := &memOffsets{}
		r := startTask(t, cfg, o)
		var got []int64
		for range 30 {
			got = append(got, ids(r.poll())...)
		}
		r.stop()
		if len(got) != 210 {
			t.Fatalf("first run read %d rows, want 210", len(got))
		}
		r2 := startTask(t, cfg, o)
		got = append(got, ids(r2.pollUntil(n-210))...)
		seen := map[int64]int{}
		for _, id := range got {
			seen[id]++
		}
		for i := int64(1); i <= n; i++ {
			if seen[i] != 1 {
				t.Fatalf("id %d seen %d times", i, seen[i])
			}
		}
	})
}

// TestTimestampModeGroupRestart: timestamp mode moves the offset past a
// timestamp only with the last row that has it, so a restart in the
// middle of a group re-reads the group instead of losing it.
func TestTimestampModeGroupRestart(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	for i, ts := range []string{"2024-01-15 09:50:01", "2024-01-15 09:50:01", "2024-01-15 09:50:02", "2024-01-15 09:50:02", "2024-01-15 09:50:03"} {
		d.insertOrder(t, "orders", i+1, 1, "1.00", "NEW", ts)
	}
	cfg := baseConfig(d, ModeTimestamp)
	cfg[TimestampColumn] = "updated_at"
	cfg[BatchMaxRows] = "3"
	o := &memOffsets{}
	r := startTask(t, cfg, o)
	recs := r.poll()
	var offs []int64
	for _, rec := range recs {
		offs = append(offs, rec.SourceOffset[offsetTS].(int64))
	}
	t0 := time.Date(2024, 1, 15, 9, 50, 1, 0, time.UTC).UnixMilli()
	if fmt.Sprint(offs) != fmt.Sprint([]int64{0, t0, t0}) {
		t.Fatalf("offsets %v", offs)
	}
	r.stop()
	r2 := startTask(t, cfg, o)
	if got := fmt.Sprint(ids(r2.pollUntil(3))); got != "[3 4 5]" {
		t.Fatalf("after restart: %s", got)
	}
}

// TestOffsetBytes checks the stored key and value bytes against the
// shapes Confluent's connector writes.
func TestOffsetBytes(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	d.insertOrder(t, "orders", 1001, 500, "649.99", "CREATED", "2024-01-15 09:50:00.123")
	cases := []struct {
		mode, query, key, value string
	}{
		{ModeTimestampIncrementing, "", `["c",{"protocol":"1","table":"main.orders"}]`, `{"timestamp_nanos":123000000,"incrementing":1001,"timestamp":1705312200123}`},
		{ModeIncrementing, "", `["c",{"protocol":"1","table":"main.orders"}]`, `{"incrementing":1001}`},
		{ModeTimestamp, "", `["c",{"protocol":"1","table":"main.orders"}]`, `{"timestamp_nanos":123000000,"timestamp":1705312200123}`},
		{ModeIncrementing, "SELECT * FROM orders", `["c",{"query":"query"}]`, `{"incrementing":1001}`},
		{ModeBulk, "", `["c",{"table":"orders"}]`, ``},
	}
	for _, c := range cases {
		t.Run(c.mode+c.query, func(t *testing.T) {
			cfg := baseConfig(d, c.mode)
			cfg[IncrementingColumn] = "id"
			cfg[TimestampColumn] = "updated_at"
			if c.query != "" {
				cfg[Query] = c.query
			}
			r := startTask(t, cfg, &memOffsets{})
			rec := r.pollUntil(1)[0]
			k, err := storage.OffsetKey("c", rec.SourcePartition)
			if err != nil {
				t.Fatal(err)
			}
			v, err := storage.OffsetValue(rec.SourceOffset)
			if err != nil {
				t.Fatal(err)
			}
			if string(k) != c.key || string(v) != c.value {
				t.Fatalf("key %s value %s\nwant %s %s", k, v, c.key, c.value)
			}
		})
	}
}

// TestResumeFromLegacyPartition: offsets written under the V0 partition
// {"table":"orders"} are found.
func TestResumeFromLegacyPartition(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	for i := 1; i <= 3; i++ {
		d.insertOrder(t, "orders", i, 1, "1.00", "NEW", "2024-01-15 09:50:00")
	}
	o := &memOffsets{}
	o.put(map[string]any{"table": "orders"}, map[string]any{"incrementing": int64(2)})
	cfg := baseConfig(d, ModeIncrementing)
	cfg[IncrementingColumn] = "id"
	r := startTask(t, cfg, o)
	if got := fmt.Sprint(ids(r.pollUntil(1))); got != "[3]" {
		t.Fatalf("ids %s", got)
	}
}

func TestValueTypes(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	d.insertOrder(t, "orders", 1001, 500, "649.99", "CREATED", "2024-01-15 09:50:00")
	d.insertOrder(t, "orders", 1002, 501, "89.5", "SHIPPED", "2024-01-15 09:51:00")
	cfg := baseConfig(d, ModeTimestampIncrementing)
	cfg[IncrementingColumn] = "id"
	cfg[TimestampColumn] = "updated_at"
	r := startTask(t, cfg, &memOffsets{})
	recs := r.pollUntil(2)
	v := recs[1].Value.(*connect.Struct)
	amt := v.Get("amount").(connect.Decimal)
	if amt.String() != "89.50" {
		t.Fatalf("amount %s", amt)
	}
	if ts := v.Get("updated_at").(time.Time); ts.UnixMilli() != 1705312260000 {
		t.Fatalf("updated_at %v", ts)
	}
	s := recs[1].ValueSchema
	if f := s.Field("amount").Schema; f.Name != connect.DecimalName || f.Parameters["scale"] != "2" || f.Optional {
		t.Fatalf("amount schema %+v", f)
	}
	if f := s.Field("id").Schema; f.Type != connect.Int32 || f.Optional {
		t.Fatalf("id schema %+v", f)
	}
}

func TestTaskConfigsSplitTables(t *testing.T) {
	d := sqliteDB(t)
	for i := range 7 {
		d.createOrders(t, fmt.Sprintf("t%d", i))
	}
	c := &Connector{}
	if err := c.Start(context.Background(), &connCtx{}, baseConfig(d, ModeBulk)); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	tcs, err := c.TaskConfigs(3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tc := range tcs {
		got = append(got, tc[TablesKey])
	}
	want := []string{`"main"."t0","main"."t1","main"."t2"`, `"main"."t3","main"."t4"`, `"main"."t5","main"."t6"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tables %q", got)
	}
}

func TestNewTableTriggersReconfiguration(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "a")
	cfg := baseConfig(d, ModeBulk)
	cfg[TablePollInterval] = "50"
	cc := &connCtx{}
	c := &Connector{}
	if err := c.Start(context.Background(), cc, cfg); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	d.createOrders(t, "b")
	testbed.WaitFor(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return cc.reconfig > 0, "no reconfiguration requested"
	})
	tcs, _ := c.TaskConfigs(1)
	if tcs[0][TablesKey] != `"main"."a","main"."b"` {
		t.Fatalf("tables %q", tcs[0][TablesKey])
	}
}

func TestValidateConfig(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	d.exec(t, "CREATE TABLE notes (id INTEGER NOT NULL, body TEXT, created TIMESTAMP)")
	c := &Connector{}
	cases := []struct {
		cfg map[string]string
		key string
	}{
		{map[string]string{ConnectionURL: d.url}, Mode},
		{map[string]string{ConnectionURL: d.url, Mode: "sometimes"}, Mode},
		{map[string]string{Mode: ModeBulk}, ConnectionURL},
		{map[string]string{ConnectionURL: d.url, Mode: ModeTimestamp}, TimestampColumn},
		{map[string]string{ConnectionURL: d.url, Mode: ModeIncrementing, Query: "SELECT * FROM orders"}, IncrementingColumn},
		{map[string]string{ConnectionURL: d.url, Mode: ModeIncrementing, IncrementingColumn: "nope", TableWhitelist: "orders"}, IncrementingColumn},
		{map[string]string{ConnectionURL: d.url, Mode: ModeIncrementing, IncrementingColumn: "status", TableWhitelist: "orders"}, IncrementingColumn},
		{map[string]string{ConnectionURL: d.url, Mode: ModeBulk, TableWhitelist: "missing"}, TableWhitelist},
		{map[string]string{ConnectionURL: d.url, Mode: ModeTimestamp, TimestampColumn: "created", TableWhitelist: "notes"}, TimestampColumn},
		{map[string]string{ConnectionURL: "jdbc:oracle:thin:@x", Mode: ModeBulk}, ConnectionURL},
		{map[string]string{ConnectionURL: d.url, Mode: ModeBulk, TableWhitelist: "a", TableIncludeList: "b"}, TableIncludeList},
	}
	for _, tc := range cases {
		errs := c.ValidateConfig(tc.cfg)
		if len(errs[tc.key]) == 0 {
			t.Errorf("config %v: no error on %s (errors %v)", tc.cfg, tc.key, errs)
		}
	}
	ok := map[string]string{ConnectionURL: d.url, Mode: ModeTimestampIncrementing, TimestampColumn: "updated_at", IncrementingColumn: "id", TableWhitelist: "orders"}
	if errs := c.ValidateConfig(ok); len(errs) != 0 {
		t.Fatalf("valid config: %v", errs)
	}
}

// TestRecoversFromDatabaseErrors: a failing query is a retriable error,
// and once the database is back the task goes on from its offset.
func TestRecoversFromDatabaseErrors(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		d.createOrders(t, "orders")
		d.insertOrder(t, "orders", 1, 1, "1.00", "NEW", "2024-01-15 09:50:00")
		cfg := baseConfig(d, ModeIncrementing)
		cfg[IncrementingColumn] = "id"
		r := startTask(t, cfg, &memOffsets{})
		r.pollUntil(1)
		if d.kind == "postgres" {
			// Kill the task's sessions: the pool must reconnect.
			d.exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		}
		d.exec(t, "ALTER TABLE orders RENAME TO orders_away")
		var err error
		testbed.WaitFor(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
			_, err = r.task.Poll(context.Background())
			return err != nil, "no error while the table is gone"
		})
		if !connect.IsRetriable(err) {
			t.Fatalf("error %v is not retriable", err)
		}
		d.exec(t, "ALTER TABLE orders_away RENAME TO orders")
		d.insertOrder(t, "orders", 2, 1, "1.00", "NEW", "2024-01-15 09:50:00")
		var got []*connect.SourceRecord
		testbed.WaitFor(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
			recs, err := r.task.Poll(context.Background())
			got = append(got, recs...)
			return err == nil && len(got) > 0, fmt.Sprintf("poll: %v", err)
		})
		if fmt.Sprint(ids(got)) != "[2]" {
			t.Fatalf("ids %v", ids(got))
		}
	})
}

// TestPollHonoursContext: an idle Poll returns once its context ends.
func TestPollHonoursContext(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	cfg := baseConfig(d, ModeIncrementing)
	cfg[IncrementingColumn] = "id"
	cfg[PollInterval] = "3600000"
	cfg[PollLinger] = "3600000"
	r := startTask(t, cfg, &memOffsets{})
	r.poll() // first run: empty table
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.task.Poll(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestDBTimezone: naive timestamps are read as wall-clock time in
// db.timezone.
func TestDBTimezone(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	d.insertOrder(t, "orders", 1, 1, "1.00", "NEW", "2024-01-15 10:50:00")
	cfg := baseConfig(d, ModeIncrementing)
	cfg[IncrementingColumn] = "id"
	cfg[DBTimezone] = "Europe/Paris"
	r := startTask(t, cfg, &memOffsets{})
	v := r.pollUntil(1)[0].Value.(*connect.Struct)
	if ms := v.Get("updated_at").(time.Time).UnixMilli(); ms != 1705312200000 {
		t.Fatalf("updated_at %d", ms)
	}
}

// TestQueryRetryAttempts: with query.retry.attempts=1 the second failure
// in a row fails the task.
func TestQueryRetryAttempts(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	cfg := baseConfig(d, ModeIncrementing)
	cfg[IncrementingColumn] = "id"
	cfg[QueryRetryAttempts] = "1"
	cfg[PollInterval] = "0"
	r := startTask(t, cfg, &memOffsets{})
	r.poll()
	d.exec(t, "DROP TABLE orders")
	_, err1 := r.task.Poll(context.Background())
	_, err2 := r.task.Poll(context.Background())
	if !connect.IsRetriable(err1) || err2 == nil || connect.IsRetriable(err2) {
		t.Fatalf("errors %v / %v", err1, err2)
	}
}

// TestTimestampDelayCoalesceAndNulls: rows newer than now − delay wait;
// several timestamp columns are COALESCEd; rows whose timestamps are all
// NULL are never emitted, as with Confluent; timestamp.initial skips
// older rows.
func TestTimestampDelayCoalesceAndNulls(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		d.exec(t, fmt.Sprintf(`CREATE TABLE items (id %s, modified_at %s NULL, created_at %s NULL)`, d.serial, d.ts, d.ts))
		now := func(off time.Duration) string { return time.Now().UTC().Add(off).Format("2006-01-02 15:04:05") }
		d.exec(t,
			fmt.Sprintf(`INSERT INTO items (id, modified_at, created_at) VALUES (1, NULL, '%s')`, now(-2*time.Hour)),
			fmt.Sprintf(`INSERT INTO items (id, modified_at, created_at) VALUES (2, '%s', '%s')`, now(-time.Hour), now(-3*time.Hour)),
			`INSERT INTO items (id, modified_at, created_at) VALUES (3, NULL, NULL)`,
			fmt.Sprintf(`INSERT INTO items (id, modified_at, created_at) VALUES (4, '%s', NULL)`, now(10*time.Second)),
			`INSERT INTO items (id, modified_at, created_at) VALUES (5, '2020-01-01 00:00:00', NULL)`)
		cfg := baseConfig(d, ModeTimestamp)
		cfg[TimestampColumn] = "modified_at,created_at"
		cfg[ValidateNonNull] = "false"
		cfg[TimestampDelay] = "60000"
		cfg[TimestampInitial] = fmt.Sprint(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
		if d.kind != "sqlite" {
			// MariaDB and PostgreSQL report their own clock; keep to UTC.
			cfg[DBTimezone] = "UTC"
		}
		r := startTask(t, cfg, &memOffsets{})
		got := r.pollUntil(2)
		if fmt.Sprint(ids(got)) != "[1 2]" {
			t.Fatalf("ids %v", ids(got))
		}
		// id 4 is within the delay, 3 has no timestamp, 5 predates timestamp.initial.
		for range 3 {
			if recs := r.poll(); len(recs) > 0 {
				t.Fatalf("unexpected rows %v", ids(recs))
			}
		}
	})
}

// TestValidateWrongPassword: a refused login is reported on
// connection.password.
func TestValidateWrongPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		if d.kind == "sqlite" {
			t.Skip("SQLite has no login")
		}
		cfg := map[string]string{ConnectionURL: d.url, Mode: ModeBulk, ConnectionPassword: "wrong-password"}
		if errs := (&Connector{}).ValidateConfig(cfg); len(errs[ConnectionPassword]) == 0 {
			t.Fatalf("errors %v", errs)
		}
	})
}

// TestSQLiteTimestampForms: SQLite stores timestamps as text in several
// forms; each row is captured exactly once whatever its form.
func TestSQLiteTimestampForms(t *testing.T) {
	d := sqliteDB(t)
	d.createOrders(t, "orders")
	d.insertOrder(t, "orders", 1, 1, "1.00", "NEW", "2024-01-15T09:50:00Z")
	d.insertOrder(t, "orders", 2, 1, "1.00", "NEW", "2024-01-15 10:50:00+01:00")
	d.insertOrder(t, "orders", 3, 1, "1.00", "NEW", "2024-01-15 09:50:00.000")
	d.insertOrder(t, "orders", 4, 1, "1.00", "NEW", "2024-01-15 09:50:00.5")
	for _, mode := range []string{ModeTimestamp, ModeTimestampIncrementing} {
		t.Run(mode, func(t *testing.T) {
			cfg := baseConfig(d, mode)
			cfg[IncrementingColumn] = "id"
			cfg[TimestampColumn] = "updated_at"
			r := startTask(t, cfg, &memOffsets{})
			recs := r.pollUntil(4)
			for _, rec := range recs {
				ms := rec.Value.(*connect.Struct).Get("updated_at").(time.Time).UnixMilli()
				if ms != 1705312200000 && ms != 1705312200500 {
					t.Fatalf("updated_at %d", ms)
				}
			}
			for range 3 {
				if extra := r.poll(); len(extra) > 0 {
					t.Fatalf("rows read twice: %v", ids(extra))
				}
			}
		})
	}
}

// TestAutoIncrementingColumnAndQueryMode: an empty incrementing.column.name
// picks the auto-increment column; query mode appends the criteria and
// query.suffix and writes to topic.prefix.
func TestAutoIncrementingColumnAndQueryMode(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		d.createOrders(t, "orders")
		for i := 1; i <= 5; i++ {
			d.insertOrder(t, "orders", i, i, "1.00", "NEW", "2024-01-15 09:50:00")
		}
		r := startTask(t, baseConfig(d, ModeIncrementing), &memOffsets{})
		if got := fmt.Sprint(ids(r.pollUntil(5))); got != "[1 2 3 4 5]" {
			t.Fatalf("auto column: %s", got)
		}
		cfg := baseConfig(d, ModeIncrementing)
		cfg[Query] = "SELECT * FROM (SELECT id, status FROM orders WHERE customer_id > 1) t"
		cfg[IncrementingColumn] = "id"
		cfg[QuerySuffix] = "LIMIT 2"
		cfg[TopicPrefix] = "orders-query"
		r = startTask(t, cfg, &memOffsets{})
		recs := r.pollUntil(2)
		if got := fmt.Sprint(ids(recs)); got != "[2 3]" {
			t.Fatalf("query: %s", got)
		}
		if recs[0].Topic != "orders-query" || recs[0].ValueSchema.Name != "" || len(recs[0].ValueSchema.Fields) != 2 {
			t.Fatalf("query record %+v schema %+v", recs[0].Record, recs[0].ValueSchema)
		}
		if got := fmt.Sprint(ids(r.pollUntil(2))); got != "[4 5]" {
			t.Fatalf("query, next page: %s", got)
		}
	})
}

// TestDuplicateBareNames: two schemas with a table of the same name would
// share a topic; the connector refuses to start and says why.
func TestDuplicateBareNames(t *testing.T) {
	d := postgresDB(t)
	d.exec(t, "CREATE SCHEMA a", "CREATE SCHEMA b", "CREATE TABLE a.orders (id INT)", "CREATE TABLE b.orders (id INT)")
	err := (&Connector{}).Start(context.Background(), &connCtx{}, baseConfig(d, ModeBulk))
	if err == nil || !strings.Contains(err.Error(), "a.orders") || !strings.Contains(err.Error(), "b.orders") {
		t.Fatalf("error %v", err)
	}
	cfg := baseConfig(d, ModeBulk)
	cfg[SchemaPattern] = "a"
	c := &Connector{}
	if err := c.Start(context.Background(), &connCtx{}, cfg); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	tcs, _ := c.TaskConfigs(1)
	if tcs[0][TablesKey] != `"a"."orders"` {
		t.Fatalf("tables %q", tcs[0][TablesKey])
	}
}
