package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/testbed"
)

// scenarioDB is the orders database of the reference scenario: MariaDB
// when the test bed provides it, else an SQLite file.
type scenarioDB struct {
	db     *sql.DB
	config map[string]string // connection keys
	kind   string
	fqn    string // the orders table as offsets name it
}

func openScenarioDB(t *testing.T) scenarioDB {
	t.Helper()
	if os.Getenv(testbed.EnvMySQL) != "" {
		dsn := testbed.MySQL(t)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		db := testbed.OpenDB(t, testbed.DriverMySQL, dsn)
		execSQL(t, db, `CREATE TABLE orders (
			id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
			customer_id INT NOT NULL,
			amount DECIMAL(10,2) NOT NULL,
			status VARCHAR(32) NOT NULL,
			updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3))`)
		return scenarioDB{db: db, kind: "mariadb", fqn: cfg.DBName + ".orders", config: map[string]string{
			"connection.url":      "jdbc:mysql://" + cfg.Addr + "/" + url.PathEscape(cfg.DBName),
			"connection.user":     cfg.User,
			"connection.password": cfg.Passwd,
		}}
	}
	path := testbed.SQLite(t)
	db := testbed.OpenDB(t, testbed.DriverSQLite, path+"?_pragma=busy_timeout(10000)")
	execSQL(t, db, `CREATE TABLE orders (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		customer_id INTEGER NOT NULL,
		amount DECIMAL(10,2) NOT NULL,
		status VARCHAR(32) NOT NULL,
		updated_at TIMESTAMP NOT NULL)`)
	return scenarioDB{db: db, kind: "sqlite", fqn: "main.orders", config: map[string]string{"connection.url": "jdbc:sqlite:" + path}}
}

func execSQL(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// consumeValuesFrom reads n record values of partition 0 of topic from
// offset start.
func consumeValuesFrom(t *testing.T, bootstrap, topic string, start int64, n int) []string {
	t.Helper()
	cl := testbed.Client(t, bootstrap,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(start)}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	for len(out) < n && ctx.Err() == nil {
		f := cl.PollFetches(ctx)
		f.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	if len(out) < n {
		t.Fatalf("got %d of %d records from %s: %q", len(out), n, topic, out)
	}
	return out
}

// TestJDBCSourceReferenceScenario runs §1 of the reference scenario: a
// JDBC source in timestamp+incrementing mode publishing the orders table
// to mysql.orders as schemaless JSON with numeric decimals.
func TestJDBCSourceReferenceScenario(t *testing.T) {
	d := openScenarioDB(t)
	t.Logf("orders database: %s", d.kind)
	execSQL(t, d.db,
		`INSERT INTO orders (id, customer_id, amount, status, updated_at) VALUES (1001, 500, 649.99, 'CREATED', '2024-01-15 09:50:00')`,
		`INSERT INTO orders (id, customer_id, amount, status, updated_at) VALUES (1002, 501, 89.50, 'SHIPPED', '2024-01-15 09:51:00')`)

	w := startWorker(t, nil)
	const topic = "mysql.orders"
	start := endOffset(t, w.bootstrap, topic)
	config := map[string]string{
		"connector.class":                "io.confluent.connect.jdbc.JdbcSourceConnector",
		"tasks.max":                      "1",
		"mode":                           "timestamp+incrementing",
		"timestamp.column.name":          "updated_at",
		"incrementing.column.name":       "id",
		"table.whitelist":                "orders",
		"topic.prefix":                   "mysql.",
		"poll.interval.ms":               "5000",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false",
		"value.converter.decimal.format": "NUMERIC",
	}
	for k, v := range d.config {
		config[k] = v
	}
	expectStatus(t, w.call(t, "POST", "/connectors", map[string]any{"name": "mysql-orders-source", "config": config}), 201)
	st := w.waitState(t, "mysql-orders-source", "RUNNING", 1)
	if st["type"] != "source" || st["tasks"].([]any)[0].(map[string]any)["id"] != float64(0) {
		t.Fatalf("status %v", st)
	}

	got := consumeValuesFrom(t, w.bootstrap, topic, start, 2)
	want := []string{
		`{"id":1001,"customer_id":500,"amount":649.99,"status":"CREATED","updated_at":1705312200000}`,
		`{"id":1002,"customer_id":501,"amount":89.50,"status":"SHIPPED","updated_at":1705312260000}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// An update and an insert are picked up by the next poll.
	execSQL(t, d.db,
		`UPDATE orders SET status = 'DELIVERED', updated_at = '2024-01-15 10:00:00' WHERE id = 1001`,
		`INSERT INTO orders (id, customer_id, amount, status, updated_at) VALUES (1003, 502, 10.00, 'CREATED', '2024-01-15 10:01:00')`)
	got = consumeValuesFrom(t, w.bootstrap, topic, start+2, 2)
	want = []string{
		`{"id":1001,"customer_id":500,"amount":649.99,"status":"DELIVERED","updated_at":1705312800000}`,
		`{"id":1003,"customer_id":502,"amount":10.00,"status":"CREATED","updated_at":1705312860000}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records after update\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The stored offset has Confluent's partition and offset shapes.
	wantOffsets := `{"offsets":[{"partition":{"protocol":"1","table":"` + d.fqn + `"},"offset":{"timestamp_nanos":0,"incrementing":1003,"timestamp":1705312860000}}]}`
	testbed.WaitFor(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		r := w.call(t, "GET", "/connectors/mysql-orders-source/offsets", nil)
		if r.status != 200 {
			return false, string(r.body)
		}
		var got, want any
		_ = json.Unmarshal(r.body, &got)
		_ = json.Unmarshal([]byte(wantOffsets), &want)
		return reflect.DeepEqual(got, want), string(r.body)
	})

	// Bad input is refused at create time, naming the key.
	bad := maps.Clone(config)
	bad["mode"] = "sometimes"
	r := w.call(t, "POST", "/connectors", map[string]any{"name": "bad-mode", "config": bad})
	if r.status != 400 || !strings.Contains(string(r.body), "mode") {
		t.Fatalf("bad mode: %d %s", r.status, r.body)
	}
	bad = maps.Clone(config)
	bad["incrementing.column.name"] = "no_such_column"
	r = w.call(t, "PUT", "/connector-plugins/JdbcSourceConnector/config/validate", bad)
	expectStatus(t, r, 200)
	if !strings.Contains(string(r.body), "no_such_column") {
		t.Fatalf("validate: %s", r.body)
	}
}
