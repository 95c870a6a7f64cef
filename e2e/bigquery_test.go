package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/ferryhq/ferry/internal/testbed"
)

// The BigQuery sink end to end: MariaDB → JDBC source → Kafka → BigQuery
// sink → the bqemulator test bed, with the workers as a real deployment
// runs them.
//
// Topics are named per run (the broker is shared by every test and keeps
// its topics across runs), so the orders of one run never reach another
// run's tables.

const (
	bqSinkClass   = "com.wepay.kafka.connect.bigquery.BigQuerySinkConnector"
	jdbcSrcClass  = "io.confluent.connect.jdbc.JdbcSourceConnector"
	jsonConverter = "org.apache.kafka.connect.json.JsonConverter"
)

// bqOrderBase is updated_at of order 0; order i is i seconds later. All of
// it is in the past, as the timestamp mode reads only rows older than now.
var bqOrderBase = time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)

// bqEnv is a fresh dataset on the emulator and a client to read it.
type bqEnv struct {
	e testbed.BigQueryEmulator
	c *bq.Client
}

func newBQEnv(t *testing.T) *bqEnv {
	t.Helper()
	e := testbed.BigQuery(t)
	c, err := bq.NewClient(context.Background(), e.Project,
		option.WithEndpoint(e.REST+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &bqEnv{e: e, c: c}
}

// ref is the table's name as GoogleSQL reads it.
func (b *bqEnv) ref(table string) string {
	return fmt.Sprintf("`%s.%s.%s`", b.e.Project, b.e.Dataset, table)
}

// rows runs a query; an error (the table does not exist yet) is returned.
func (b *bqEnv) rows(query string) ([]map[string]bq.Value, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := b.c.Query(query).Read(ctx)
	if err != nil {
		return nil, err
	}
	var out []map[string]bq.Value
	for {
		row := map[string]bq.Value{}
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
}

func (b *bqEnv) mustRows(t *testing.T, query string) []map[string]bq.Value {
	t.Helper()
	rows, err := b.rows(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return rows
}

// counts returns the table's rows and distinct values of col; -1, -1 when
// the table cannot be read (yet).
func (b *bqEnv) counts(table, col string) (rows, distinct int64) {
	r, err := b.rows(fmt.Sprintf("SELECT COUNT(*) AS n, COUNT(DISTINCT %s) AS d FROM %s", col, b.ref(table)))
	if err != nil || len(r) != 1 {
		return -1, -1
	}
	n, _ := r[0]["n"].(int64)
	d, _ := r[0]["d"].(int64)
	return n, d
}

func (b *bqEnv) schema(t *testing.T, table string) bq.Schema {
	t.Helper()
	md, err := b.c.Dataset(b.e.Dataset).Table(table).Metadata(context.Background())
	if err != nil {
		t.Fatalf("table %s: %v", table, err)
	}
	return md.Schema
}

// tables lists the dataset's tables.
func (b *bqEnv) tables(t *testing.T) []string {
	t.Helper()
	it := b.c.Dataset(b.e.Dataset).Tables(context.Background())
	var out []string
	for {
		tb, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("listing tables: %v", err)
		}
		out = append(out, tb.TableID)
	}
}

// sinkConfig is a BigQuery sink on the emulator: plain JSON records,
// tables created from them, topics turned into table names.
func (b *bqEnv) sinkConfig(topics ...string) map[string]string {
	return map[string]string{
		"connector.class":                bqSinkClass,
		"tasks.max":                      "1",
		"topics":                         strings.Join(topics, ","),
		"project":                        b.e.Project,
		"defaultDataset":                 b.e.Dataset,
		"bigQueryEndpoint":               b.e.REST, // http:// turns authentication off
		"bigQueryPartitionDecorator":     "false",  // the emulator has no $yyyyMMdd decorators
		"autoCreateTables":               "true",
		"sanitizeTopics":                 "true",
		"key.converter":                  jsonConverter,
		"key.converter.schemas.enable":   "false",
		"value.converter":                jsonConverter,
		"value.converter.schemas.enable": "false",
	}
}

// describeBQ renders a table schema as "name TYPE MODE, …".
func describeBQ(s bq.Schema) string {
	parts := make([]string, len(s))
	for i, f := range s {
		typ := string(f.Type)
		if f.Precision > 0 {
			typ += fmt.Sprintf("(%d,%d)", f.Precision, f.Scale)
		}
		mode := "NULLABLE"
		switch {
		case f.Repeated:
			mode = "REPEATED"
		case f.Required:
			mode = "REQUIRED"
		}
		parts[i] = f.Name + " " + typ + " " + mode
		if f.Type == bq.RecordFieldType {
			parts[i] += " {" + describeBQ(f.Schema) + "}"
		}
	}
	return strings.Join(parts, ", ")
}

// expectColumns checks the type and mode of some columns: "TYPE MODE"
// each, or alternatives separated by |.
func expectColumns(t *testing.T, s bq.Schema, want map[string]string) {
	t.Helper()
	for name, tm := range want {
		i := slices.IndexFunc(s, func(f *bq.FieldSchema) bool { return f.Name == name })
		if i < 0 {
			t.Errorf("column %s missing from %s", name, describeBQ(s))
			continue
		}
		got := strings.TrimPrefix(describeBQ(s[i:i+1]), name+" ")
		if !slices.Contains(strings.Split(tm, "|"), got) {
			t.Errorf("column %s is %q, want %q", name, got, tm)
		}
	}
}

// bqTableName is the table the sink makes of a topic with sanitizeTopics.
func bqTableName(topic string) string {
	b := []byte(topic)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// shopDB is a fresh MariaDB database with the scenario's orders and
// customers tables.
type shopDB struct {
	db   *sql.DB
	conn map[string]string // the JDBC source's connection keys
}

func openShopDB(t *testing.T) shopDB {
	t.Helper()
	dsn := testbed.MySQL(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := testbed.OpenDB(t, testbed.DriverMySQL, dsn)
	execSQL(t, db,
		`CREATE TABLE orders (
			id INT NOT NULL PRIMARY KEY,
			customer_id INT NOT NULL,
			amount DECIMAL(10,2) NOT NULL,
			status VARCHAR(32) NOT NULL,
			updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
		`CREATE TABLE customers (
			id INT NOT NULL PRIMARY KEY,
			name VARCHAR(64) NOT NULL,
			email VARCHAR(128) NULL,
			updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`)
	return shopDB{db: db, conn: map[string]string{
		"connection.url":      "jdbc:mysql://" + cfg.Addr + "/" + cfg.DBName,
		"connection.user":     cfg.User,
		"connection.password": cfg.Passwd,
	}}
}

// orderAmount is order id's amount: 649.99 and 89.50 for the scenario's
// two named orders, else a spread of values with two decimals.
func orderAmount(id int) string {
	switch id {
	case 1001:
		return "649.99"
	case 1002:
		return "89.50"
	}
	return fmt.Sprintf("%d.%02d", (id*37)%1000, (id*13)%100)
}

func orderStatus(id int) string {
	return []string{"CREATED", "PAID", "SHIPPED", "DELIVERED"}[id%4]
}

func sqlTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// insertOrders adds orders from..to (inclusive), 1,000 per statement.
func (s shopDB) insertOrders(t *testing.T, from, to int) {
	t.Helper()
	s.insertOrdersAt(t, from, to, bqOrderBase)
}

// insertOrdersAt inserts orders from..to with updated_at = base + id seconds.
func (s shopDB) insertOrdersAt(t *testing.T, from, to int, base time.Time) {
	t.Helper()
	for lo := from; lo <= to; lo += 1000 {
		var vals []string
		for id := lo; id <= min(lo+999, to); id++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, %s, '%s', '%s')", id, 1+id%125, orderAmount(id), orderStatus(id),
				sqlTime(base.Add(time.Duration(id)*time.Second))))
		}
		execSQL(t, s.db, "INSERT INTO orders (id, customer_id, amount, status, updated_at) VALUES "+strings.Join(vals, ", "))
	}
}

func (s shopDB) insertCustomers(t *testing.T, n int) {
	t.Helper()
	var vals []string
	for id := 1; id <= n; id++ {
		vals = append(vals, fmt.Sprintf("(%d, 'customer %d', 'c%d@example.com', '%s')", id, id, id,
			sqlTime(bqOrderBase.Add(time.Duration(id)*time.Second))))
	}
	execSQL(t, s.db, "INSERT INTO customers (id, name, email, updated_at) VALUES "+strings.Join(vals, ", "))
}

// sourceConfig is the scenario's JDBC source: timestamp+incrementing on
// updated_at and id, plain JSON (or JSON with schemas) with numeric
// decimals.
func (s shopDB) sourceConfig(prefix, tables string, schemas bool) map[string]string {
	c := map[string]string{
		"connector.class":                jdbcSrcClass,
		"tasks.max":                      "1",
		"mode":                           "timestamp+incrementing",
		"timestamp.column.name":          "updated_at",
		"incrementing.column.name":       "id",
		"table.whitelist":                tables,
		"topic.prefix":                   prefix,
		"poll.interval.ms":               "200",
		"batch.max.rows":                 "1000",
		"value.converter":                jsonConverter,
		"value.converter.schemas.enable": strconv.FormatBool(schemas),
		"value.converter.decimal.format": "NUMERIC",
	}
	for k, v := range s.conn {
		c[k] = v
	}
	return c
}

// mariaOrder is an order as MariaDB holds it: the amount as written and
// updated_at in epoch milliseconds.
type mariaOrder struct {
	amount    string
	updatedMs int64
	status    string
}

func (s shopDB) orders(t *testing.T, ids []int) map[int64]mariaOrder {
	t.Helper()
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = strconv.Itoa(id)
	}
	rows, err := s.db.Query(`SELECT id, CAST(amount AS CHAR), UNIX_TIMESTAMP(updated_at), status FROM orders WHERE id IN (` + strings.Join(strs, ",") + `)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]mariaOrder{}
	for rows.Next() {
		var id, secs int64
		var o mariaOrder
		if err := rows.Scan(&id, &o.amount, &secs, &o.status); err != nil {
			t.Fatal(err)
		}
		o.updatedMs = secs * 1000
		out[id] = o
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// createConnector creates a connector and fails on anything but 201.
func createConnector(t *testing.T, w *worker, name string, config map[string]string) {
	t.Helper()
	expectStatus(t, w.call(t, "POST", "/connectors", map[string]any{"name": name, "config": config}), 201)
}

// ferryLag runs `ferry lag` against a worker and returns its rows
// (GROUP TOPIC PARTITION LAG), header excluded.
func ferryLag(t *testing.T, url, connector string) ([][]string, string) {
	t.Helper()
	out, err := exec.Command(ferryBinary(t), "lag", "--url", url, connector).CombinedOutput()
	if err != nil {
		return nil, fmt.Sprintf("ferry lag: %v: %s", err, out)
	}
	var rows [][]string
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if i == 0 {
			continue
		}
		rows = append(rows, strings.Fields(line))
	}
	return rows, string(out)
}

// waitLagZero waits until `ferry lag` lists every topic of topics with LAG
// 0 on each of its partitions, and returns the command's output.
func waitLagZero(t *testing.T, url, connector string, topics ...string) string {
	t.Helper()
	var last string
	testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		rows, out := ferryLag(t, url, connector)
		last = out
		seen := map[string]bool{}
		for _, r := range rows {
			if len(r) != 4 || r[3] != "0" {
				return false, out
			}
			seen[r[1]] = true
		}
		for _, tp := range topics {
			if !seen[tp] {
				return false, out
			}
		}
		return len(rows) > 0, out
	})
	return last
}

// TestBigQueryReferenceScenario runs the reference scenario into
// BigQuery: 1,002 orders and 125 customers in MariaDB, a JDBC source in
// timestamp+incrementing mode, and a BigQuery sink that creates
// mysql_orders and mysql_customers from the records. Once as plain JSON
// (the scenario's converter: the sink infers the schema from the values),
// once as JSON with schemas (Connect Decimal and Timestamp become NUMERIC
// and TIMESTAMP columns).
func TestBigQueryReferenceScenario(t *testing.T) {
	t.Parallel()
	for _, schemas := range []bool{false, true} {
		name := "schemaless"
		if schemas {
			name = "schemas"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bqReferenceScenario(t, schemas)
		})
	}
}

func bqReferenceScenario(t *testing.T, schemas bool) {
	start := time.Now()
	shop := openShopDB(t)
	shop.insertOrders(t, 1, 1002)
	shop.insertCustomers(t, 125)
	b := newBQEnv(t)
	w := startWorker(t, nil)

	// The source writes <run>.mysql.orders and <run>.mysql.customers; a
	// RegexRouter on the sink gives the records the scenario's topic names
	// back, so the tables are the scenario's mysql_orders and
	// mysql_customers.
	run := testbed.UniqueName(t, "bq")
	orders, customers := run+".mysql.orders", run+".mysql.customers"
	testbed.CreateTopic(t, w.bootstrap, orders, 1)
	testbed.CreateTopic(t, w.bootstrap, customers, 1)
	createConnector(t, w, "mysql-orders-source", shop.sourceConfig(run+".mysql.", "orders,customers", schemas))

	sink := testbed.UniqueName(t, "bigquery-sink")
	cfg := b.sinkConfig(orders, customers)
	cfg["value.converter.schemas.enable"] = strconv.FormatBool(schemas)
	if schemas {
		cfg["decimalHandlingMode"] = "NUMERIC"
	}
	cfg["transforms"] = "scenario"
	cfg["transforms.scenario.type"] = "org.apache.kafka.connect.transforms.RegexRouter"
	cfg["transforms.scenario.regex"] = `.*\.(mysql\.[a-z]+)`
	cfg["transforms.scenario.replacement"] = "$1"
	createConnector(t, w, sink, cfg)

	testbed.WaitFor(t, 90*time.Second, 250*time.Millisecond, func() (bool, string) {
		noFailedTask(t, w, sink)
		noFailedTask(t, w, "mysql-orders-source")
		on, od := b.counts("mysql_orders", "id")
		cn, cd := b.counts("mysql_customers", "id")
		return on == 1002 && cn == 125, fmt.Sprintf("mysql_orders %d rows (%d ids), mysql_customers %d rows (%d ids)", on, od, cn, cd)
	})
	t.Logf("1,002 orders and 125 customers in BigQuery %v after the connectors were created", time.Since(start).Round(time.Millisecond))
	w.waitState(t, sink, "RUNNING", 1)
	if n, d := b.counts("mysql_orders", "id"); n != d {
		t.Errorf("mysql_orders: %d rows for %d ids", n, d)
	}

	ordS, cs := b.schema(t, "mysql_orders"), b.schema(t, "mysql_customers")
	t.Logf("inferred schema of mysql_orders: %s", describeBQ(ordS))
	t.Logf("inferred schema of mysql_customers: %s", describeBQ(cs))
	if schemas {
		// The sink asks for NUMERIC(10,2) (the source's precision and
		// scale); the emulator keeps NUMERIC and drops the parameters.
		expectColumns(t, ordS, map[string]string{"id": "INTEGER REQUIRED", "customer_id": "INTEGER REQUIRED",
			"amount": "NUMERIC(10,2) REQUIRED|NUMERIC REQUIRED", "status": "STRING REQUIRED", "updated_at": "TIMESTAMP REQUIRED"})
		expectColumns(t, cs, map[string]string{"id": "INTEGER REQUIRED", "name": "STRING REQUIRED",
			"email": "STRING NULLABLE", "updated_at": "TIMESTAMP REQUIRED"})
	} else {
		// Plain JSON: every column NULLABLE, typed after the JSON value;
		// updated_at is the source's epoch milliseconds.
		expectColumns(t, ordS, map[string]string{"id": "INTEGER NULLABLE", "customer_id": "INTEGER NULLABLE",
			"amount": "FLOAT NULLABLE", "status": "STRING NULLABLE", "updated_at": "INTEGER NULLABLE"})
		expectColumns(t, cs, map[string]string{"id": "INTEGER NULLABLE", "name": "STRING NULLABLE",
			"email": "STRING NULLABLE", "updated_at": "INTEGER NULLABLE"})
	}
	if len(ordS) != 5 || len(cs) != 4 {
		t.Errorf("unexpected columns: mysql_orders %s; mysql_customers %s", describeBQ(ordS), describeBQ(cs))
	}

	// Decimals and timestamps round-trip: several rows against MariaDB.
	ids := []int{1, 2, 3, 10, 125, 500, 777, 1000, 1001, 1002}
	want := shop.orders(t, ids)
	idList := make([]string, len(ids))
	for i, id := range ids {
		idList[i] = strconv.Itoa(id)
	}
	got := b.mustRows(t, fmt.Sprintf("SELECT id, amount, status, updated_at FROM %s WHERE id IN (%s)",
		b.ref("mysql_orders"), strings.Join(idList, ",")))
	if len(got) != len(ids) {
		t.Fatalf("%d of %d sample rows in BigQuery: %v", len(got), len(ids), got)
	}
	for _, r := range got {
		id, _ := r["id"].(int64)
		m, ok := want[id]
		if !ok {
			t.Fatalf("row %v is not in MariaDB", r)
		}
		var amount string
		var updatedMs int64
		switch v := r["amount"].(type) {
		case *big.Rat: // NUMERIC: exact
			amount = v.FloatString(2)
		case float64: // FLOAT: the double nearest the decimal
			if f, _ := strconv.ParseFloat(m.amount, 64); f == v {
				amount = m.amount
			} else {
				amount = strconv.FormatFloat(v, 'f', -1, 64)
			}
		default:
			t.Fatalf("amount of %d is %T %v", id, v, v)
		}
		switch v := r["updated_at"].(type) {
		case time.Time:
			updatedMs = v.UnixMilli()
		case int64:
			updatedMs = v
		default:
			t.Fatalf("updated_at of %d is %T %v", id, v, v)
		}
		if amount != m.amount || updatedMs != m.updatedMs || r["status"] != m.status {
			t.Errorf("order %d: BigQuery amount %s, updated_at %d, status %v; MariaDB %s, %d, %s",
				id, amount, updatedMs, r["status"], m.amount, m.updatedMs, m.status)
		}
		if id == 1001 {
			t.Logf("order 1001 in BigQuery: amount %v (%T), updated_at %v (%T)", r["amount"], r["amount"], r["updated_at"], r["updated_at"])
		}
	}
	if schemas {
		// NUMERIC sums exactly: the whole column against MariaDB.
		var sum string
		if err := shop.db.QueryRow(`SELECT CAST(SUM(amount) AS CHAR) FROM orders`).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		r := b.mustRows(t, "SELECT SUM(amount) AS s FROM "+b.ref("mysql_orders"))
		if s, ok := r[0]["s"].(*big.Rat); !ok || s.FloatString(2) != sum {
			t.Errorf("SUM(amount) in BigQuery %v, in MariaDB %s", r[0]["s"], sum)
		}
	}
	c := b.mustRows(t, "SELECT name, email FROM "+b.ref("mysql_customers")+" WHERE id = 42")
	if len(c) != 1 || c[0]["name"] != "customer 42" || c[0]["email"] != "c42@example.com" {
		t.Errorf("customer 42 = %v", c)
	}

	lag := waitLagZero(t, w.url, sink, orders, customers)
	t.Logf("ferry lag %s:\n%s", sink, lag)
	t.Logf("scenario done in %v", time.Since(start).Round(time.Millisecond))
}

// TestBigQueryUpsertDelete: the JDBC source with a ValueToKey SMT keys
// the orders by id; the sink in upsert/delete mode MERGEs them, so
// BigQuery holds one row per order at its latest state, and tombstones
// delete rows.
func TestBigQueryUpsertDelete(t *testing.T) {
	t.Parallel()
	start := time.Now()
	shop := openShopDB(t)
	shop.insertOrders(t, 1, 60)
	b := newBQEnv(t)
	w := startWorker(t, nil)
	prefix := testbed.UniqueName(t, "bq") + "."
	topic := prefix + "orders"
	table := bqTableName(topic)
	testbed.CreateTopic(t, w.bootstrap, topic, 1)

	src := shop.sourceConfig(prefix, "orders", false)
	src["transforms"] = "createKey"
	src["transforms.createKey.type"] = "org.apache.kafka.connect.transforms.ValueToKey"
	src["transforms.createKey.fields"] = "id"
	src["key.converter"] = jsonConverter
	src["key.converter.schemas.enable"] = "false" // keys are {"id":N}
	source := testbed.UniqueName(t, "orders-source")
	createConnector(t, w, source, src)

	sink := testbed.UniqueName(t, "bq-upsert")
	cfg := b.sinkConfig(topic)
	cfg["upsertEnabled"] = "true"
	cfg["deleteEnabled"] = "true"
	cfg["kafkaKeyFieldName"] = "pk"
	cfg["mergeIntervalMs"] = "10000" // the smallest allowed
	cfg["mergeRecordsThreshold"] = "5"
	cfg["mergeStreamingBufferWaitMs"] = "0"
	createConnector(t, w, sink, cfg)

	// state renders the table as "id:status" in id order, checking on the
	// way that there is one row per key and the key matches the row.
	state := func() (string, bool) {
		rows, err := b.rows(fmt.Sprintf("SELECT pk.id AS k, id, status FROM %s ORDER BY k", b.ref(table)))
		if err != nil {
			return err.Error(), false
		}
		parts := make([]string, len(rows))
		seen := map[int64]bool{}
		for i, r := range rows {
			k, _ := r["k"].(int64)
			if r["id"] != k || seen[k] {
				return fmt.Sprintf("row %v: key and id differ or the key repeats", r), false
			}
			seen[k] = true
			parts[i] = fmt.Sprintf("%v:%v", r["id"], r["status"])
		}
		return strings.Join(parts, " "), true
	}
	expect := func(what string, want map[int]string) {
		t.Helper()
		ids := make([]int, 0, len(want))
		for id := range want {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = fmt.Sprintf("%d:%s", id, want[id])
		}
		wantS := strings.Join(parts, " ")
		began := time.Now()
		testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
			noFailedTask(t, w, sink)
			got, ok := state()
			if !ok {
				t.Fatalf("%s: %s", what, got)
			}
			return got == wantS, fmt.Sprintf("%s: table\n%s\nwant\n%s", what, got, wantS)
		})
		t.Logf("%s: BigQuery at the expected state after %v", what, time.Since(began).Round(time.Millisecond))
	}
	want := map[int]string{}
	for id := 1; id <= 60; id++ {
		want[id] = orderStatus(id)
	}
	expect("initial load", want)

	// Status changes with updated_at bumps (order 1 twice), and new orders.
	later := bqOrderBase.Add(48 * time.Hour)
	for id := 1; id <= 10; id++ {
		execSQL(t, shop.db, fmt.Sprintf("UPDATE orders SET status = 'REFUNDED', updated_at = '%s' WHERE id = %d",
			sqlTime(later.Add(time.Duration(id)*time.Second)), id))
		want[id] = "REFUNDED"
	}
	execSQL(t, shop.db, fmt.Sprintf("UPDATE orders SET status = 'CLOSED', updated_at = '%s' WHERE id = 1", sqlTime(later.Add(time.Minute))))
	want[1] = "CLOSED"
	// New orders come after the updates in updated_at too: a timestamp
	// source never reads back behind the last timestamp it emitted, so
	// orders stamped earlier would be missed whenever a poll ran between
	// the updates and the inserts.
	shop.insertOrdersAt(t, 61, 65, later.Add(2*time.Minute))
	for id := 61; id <= 65; id++ {
		want[id] = orderStatus(id)
	}
	expect("updates", want)

	// The query-based JDBC source cannot see deletes (a deleted row simply
	// stops matching its query), so the tombstones a CDC source would
	// emit are produced here directly, with the key as the source's
	// converter writes it.
	var tombstones []*kgo.Record
	for _, id := range []int{2, 3, 4, 40, 62} {
		execSQL(t, shop.db, fmt.Sprintf("DELETE FROM orders WHERE id = %d", id))
		tombstones = append(tombstones, &kgo.Record{Key: fmt.Appendf(nil, `{"id":%d}`, id)})
		delete(want, id)
	}
	testbed.Produce(t, w.bootstrap, topic, tombstones...)
	expect("tombstones", want)

	// One update is below mergeRecordsThreshold: the merge timer applies it.
	execSQL(t, shop.db, fmt.Sprintf("UPDATE orders SET status = 'DISPUTED', updated_at = '%s' WHERE id = 50", sqlTime(later.Add(time.Hour))))
	want[50] = "DISPUTED"
	expect("single update, merged by the timer", want)
	t.Logf("schema of %s: %s", table, describeBQ(b.schema(t, table)))

	// Offsets are committed once their batch is merged: the lag drains.
	testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		r := w.call(t, "GET", "/connectors/"+sink+"/lag", nil)
		if r.status != 200 {
			return false, string(r.body)
		}
		parts, _ := r.object(t)["partitions"].([]any)
		for _, p := range parts {
			if p.(map[string]any)["lag"] != float64(0) {
				return false, string(r.body)
			}
		}
		return len(parts) == 1, string(r.body)
	})
	w.waitState(t, sink, "RUNNING", 1)
	t.Logf("upsert/delete done in %v", time.Since(start).Round(time.Millisecond))
}

// TestBigQueryKillNine kills the worker running the BigQuery sink with
// SIGKILL while it streams 20,000 orders, restarts it, and checks that
// every order reaches BigQuery.
//
// With streaming inserts delivery is at least once: rows written after the
// last offset commit are written again (their insertId would let BigQuery
// drop them within its dedupe window; the emulator keeps them), so
// duplicates are counted and logged, not failed on. In upsert mode the
// replayed rows are merged again, so the table ends with exactly one row
// per order, and the intermediate tables of the killed run are dropped.
func TestBigQueryKillNine(t *testing.T) {
	t.Parallel()
	for _, upsert := range []bool{false, true} {
		name := "insertAll"
		if upsert {
			name = "upsert"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bqKillNine(t, upsert)
		})
	}
}

func bqKillNine(t *testing.T, upsert bool) {
	const total = 20000
	start := time.Now()
	shop := openShopDB(t)
	shop.insertOrders(t, 1, total)
	b := newBQEnv(t)

	// The source runs in this process; the sink gets a worker process of
	// its own, the one that is killed.
	w := startWorker(t, nil)
	prefix := testbed.UniqueName(t, "bq") + "."
	topic := prefix + "orders"
	table := bqTableName(topic)
	testbed.CreateTopic(t, w.bootstrap, topic, 3)
	src := shop.sourceConfig(prefix, "orders", false)
	if upsert {
		src["transforms"] = "createKey"
		src["transforms.createKey.type"] = "org.apache.kafka.connect.transforms.ValueToKey"
		src["transforms.createKey.fields"] = "id"
		src["key.converter"] = jsonConverter
		src["key.converter.schemas.enable"] = "false"
	}
	createConnector(t, w, testbed.UniqueName(t, "orders-source"), src)
	adm := testbed.Admin(t, w.bootstrap)
	testbed.WaitFor(t, 90*time.Second, 100*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n == total, fmt.Sprintf("%d of %d orders in %s", n, total, topic)
	})
	t.Logf("%d orders in Kafka after %v", total, time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	port := testbed.FreePort(t)
	name := testbed.UniqueName(t, "bq-kill9")
	writeFile(t, filepath.Join(dir, "worker.properties"), fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename=%s
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:%d
# Puts of 100 records, so the stream takes many insertAll requests and the
# kill lands between two of them; offsets are committed between them.
consumer.max.poll.records=100
# The killed worker's members stay in the group until their sessions
# time out; keep that short so the restarted tasks get the partitions soon.
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=1000
`, w.bootstrap, filepath.Join(dir, "connect.offsets"), port))
	cfg := b.sinkConfig(topic)
	cfg["name"] = name
	cfg["tasks.max"] = "2"
	if upsert {
		cfg["upsertEnabled"] = "true"
		cfg["kafkaKeyFieldName"] = "pk"
		cfg["mergeIntervalMs"] = "10000"
		cfg["mergeRecordsThreshold"] = "1000"
		cfg["mergeStreamingBufferWaitMs"] = "0"
	}
	var props strings.Builder
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		fmt.Fprintf(&props, "%s=%s\n", k, cfg[k])
	}
	writeFile(t, filepath.Join(dir, "sink.properties"), props.String())
	args := []string{"standalone", "worker.properties", "sink.properties"}
	restURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	sw := &worker{url: restURL}
	group := "connect-" + name

	sinkStart := time.Now()
	first := startFerry(t, dir, args...)
	waitHTTP(t, restURL)
	// Kill once part of the stream is in BigQuery, preferably after an
	// offset commit and with rows written past it, so the restart resumes
	// mid-stream and writes some rows a second time.
	var firstRows time.Time
	testbed.WaitFor(t, 120*time.Second, 10*time.Millisecond, func() (bool, string) {
		noFailedTask(t, sw, name)
		n, _ := b.counts(table, "id")
		if n > 0 && firstRows.IsZero() {
			firstRows = time.Now()
		}
		if n < total/10 {
			return false, fmt.Sprintf("%d rows in BigQuery", n)
		}
		if n >= total/2 {
			return true, ""
		}
		c := sumOffsets(committedOffsets(t, adm, group, topic))
		return c > 0 && n > c, fmt.Sprintf("%d rows in BigQuery, %d offsets committed", n, c)
	})
	first.kill()
	killedAt := time.Now()
	atKill, _ := b.counts(table, "id")
	committed := committedOffsets(t, adm, group, topic)
	if atKill >= total {
		t.Fatalf("the stream was complete (%d rows) before the kill", atKill)
	}
	t.Logf("killed the sink worker %v after it started (%v after its first rows were seen): %d of %d rows in BigQuery, %d offsets committed %v; tables %v",
		killedAt.Sub(sinkStart).Round(time.Millisecond), killedAt.Sub(firstRows).Round(time.Millisecond),
		atKill, total, sumOffsets(committed), committed, b.tables(t))

	second := startFerry(t, dir, args...)
	waitHTTP(t, restURL)
	testbed.WaitFor(t, 120*time.Second, 250*time.Millisecond, func() (bool, string) {
		noFailedTask(t, sw, name)
		c := committedOffsets(t, adm, group, topic)
		n, d := b.counts(table, "id")
		return sumOffsets(c) == total && d == total, fmt.Sprintf("committed %v; %d rows, %d ids", c, n, d)
	})
	sw.waitState(t, name, "RUNNING", 2)
	r := b.mustRows(t, fmt.Sprintf("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, MIN(id) AS lo, MAX(id) AS hi FROM %s", b.ref(table)))
	n, d := r[0]["n"].(int64), r[0]["d"].(int64)
	if d != total || r[0]["lo"] != int64(1) || r[0]["hi"] != int64(total) {
		t.Fatalf("ids in BigQuery: %d distinct from %v to %v; want 1..%d, none missing", d, r[0]["lo"], r[0]["hi"], total)
	}
	t.Logf("after the restart: %d rows for %d ids, %d duplicates (%.2f%%; rows past the committed offsets at the kill: %d); all ids present %v after the kill, %v in all",
		n, d, n-d, 100*float64(n-d)/total, atKill-sumOffsets(committed),
		time.Since(killedAt).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if upsert && n != d {
		t.Errorf("upsert mode: %d rows for %d keys", n, d)
	}
	t.Logf("ferry lag %s:\n%s", name, waitLagZero(t, restURL, name, topic))
	second.terminate(t)
	for i, p := range []*process{first, second} {
		for line := range strings.Lines(p.log.String()) {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				t.Logf("sink worker run %d: %s", i+1, strings.TrimSpace(line))
			}
		}
	}
	if upsert {
		// The restarted tasks dropped the killed run's intermediate tables;
		// a clean stop drops their own.
		if got := b.tables(t); !slices.Equal(got, []string{table}) {
			t.Errorf("tables after a clean stop: %v, want only %s", got, table)
		}
	}
}

// TestBigQuerySchemaChange: a column added to the MariaDB table mid-stream
// reaches the records (an optional Connect field with schemas, a new JSON
// member without), and with allowNewBigQueryFields=true the sink adds it
// to the BigQuery table as a NULLABLE column.
func TestBigQuerySchemaChange(t *testing.T) {
	t.Parallel()
	for _, schemas := range []bool{true, false} {
		name := "schemas"
		if !schemas {
			name = "schemaless"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bqSchemaChange(t, schemas)
		})
	}
}

func bqSchemaChange(t *testing.T, schemas bool) {
	shop := openShopDB(t)
	shop.insertOrders(t, 1, 20)
	b := newBQEnv(t)
	w := startWorker(t, nil)
	prefix := testbed.UniqueName(t, "bq") + "."
	topic := prefix + "orders"
	table := bqTableName(topic)
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	createConnector(t, w, testbed.UniqueName(t, "orders-source"), shop.sourceConfig(prefix, "orders", schemas))
	sink := testbed.UniqueName(t, "bq-evolve")
	cfg := b.sinkConfig(topic)
	cfg["value.converter.schemas.enable"] = strconv.FormatBool(schemas)
	cfg["allowNewBigQueryFields"] = "true"
	createConnector(t, w, sink, cfg)

	waitRows := func(want int64) {
		t.Helper()
		testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
			noFailedTask(t, w, sink)
			n, _ := b.counts(table, "id")
			return n == want, fmt.Sprintf("%d of %d rows", n, want)
		})
	}
	waitRows(20)
	before := describeBQ(b.schema(t, table))
	t.Logf("schema before the change: %s", before)
	if strings.Contains(before, "coupon") {
		t.Fatalf("coupon column before the change: %s", before)
	}

	execSQL(t, shop.db, `ALTER TABLE orders ADD COLUMN coupon VARCHAR(20) NULL`)
	later := bqOrderBase.Add(48 * time.Hour)
	for id := 21; id <= 30; id++ {
		coupon := fmt.Sprintf("'SPRING-%d'", id)
		if id == 30 {
			coupon = "NULL"
		}
		execSQL(t, shop.db, fmt.Sprintf("INSERT INTO orders (id, customer_id, amount, status, updated_at, coupon) VALUES (%d, 7, %s, 'CREATED', '%s', %s)",
			id, orderAmount(id), sqlTime(later.Add(time.Duration(id)*time.Second)), coupon))
	}
	waitRows(30)
	s := b.schema(t, table)
	t.Logf("schema after the change: %s", describeBQ(s))
	idMode := "INTEGER NULLABLE"
	if schemas {
		idMode = "INTEGER REQUIRED"
	}
	expectColumns(t, s, map[string]string{"coupon": "STRING NULLABLE", "id": idMode})
	rows := b.mustRows(t, fmt.Sprintf("SELECT id, coupon FROM %s ORDER BY id", b.ref(table)))
	for _, r := range rows {
		id, _ := r["id"].(int64)
		var want bq.Value
		if id > 20 && id < 30 {
			want = fmt.Sprintf("SPRING-%d", id)
		}
		if r["coupon"] != want {
			t.Errorf("order %d: coupon %v, want %v", id, r["coupon"], want)
		}
	}
	w.waitState(t, sink, "RUNNING", 1)
}

// TestBigQueryBadRecord: a value BigQuery refuses (a string for an
// INTEGER column) fails the task with BigQuery's reason under
// errors.tolerance=none, and goes to the dead letter queue under
// errors.tolerance=all while the good rows are written.
func TestBigQueryBadRecord(t *testing.T) {
	t.Parallel()
	kcat := testbed.Kcat(t)
	b := newBQEnv(t)
	w := startWorker(t, nil)
	// The table exists with an INTEGER id before any record arrives, so
	// the bad record is refused by BigQuery itself.
	topicWithTable := func(prefix string) string {
		topic := testbed.UniqueName(t, prefix)
		testbed.CreateTopic(t, w.bootstrap, topic, 1)
		md := &bq.TableMetadata{Schema: bq.Schema{
			{Name: "id", Type: bq.IntegerFieldType},
			{Name: "note", Type: bq.StringFieldType},
		}}
		if err := b.c.Dataset(b.e.Dataset).Table(bqTableName(topic)).Create(context.Background(), md); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kcat, "-P", "-b", w.bootstrap, "-t", topic)
		cmd.Stdin = strings.NewReader(`{"id":1,"note":"good"}` + "\n" + `{"id":"not a number","note":"bad"}` + "\n" + `{"id":3,"note":"good"}` + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v: %s", err, out)
		}
		return topic
	}

	t.Run("tolerance=none", func(t *testing.T) {
		topic := topicWithTable("bq-bad")
		name := testbed.UniqueName(t, "bq-bad")
		cfg := b.sinkConfig(topic)
		cfg["errors.tolerance"] = "none"
		createConnector(t, w, name, cfg)
		trace := w.waitTaskFailed(t, name)
		t.Logf("trace of the failed task:\n%s", trace)
		if !strings.Contains(trace, "Cannot convert value to integer") || !strings.Contains(trace, "offset 1") {
			t.Errorf("the trace does not give BigQuery's reason for offset 1:\n%s", trace)
		}
		if off := sinkOffset(t, w, name, topic); off > 1 {
			t.Errorf("committed offset %v is past the bad record at offset 1", off)
		}
		// insertAll skips the invalid row only: the good rows of the batch
		// are in the table although the task failed.
		rows := b.mustRows(t, fmt.Sprintf("SELECT id FROM %s ORDER BY id", b.ref(bqTableName(topic))))
		t.Logf("rows in the table after the failure: %v", rows)
	})

	t.Run("tolerance=all", func(t *testing.T) {
		topic := topicWithTable("bq-dlq")
		dlq := topic + "-dlq"
		name := testbed.UniqueName(t, "bq-dlq")
		cfg := b.sinkConfig(topic)
		cfg["errors.tolerance"] = "all"
		cfg["errors.deadletterqueue.topic.name"] = dlq
		cfg["errors.deadletterqueue.topic.replication.factor"] = "1"
		cfg["errors.deadletterqueue.context.headers.enable"] = "true"
		createConnector(t, w, name, cfg)
		table := bqTableName(topic)
		testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			noFailedTask(t, w, name)
			rows, err := b.rows(fmt.Sprintf("SELECT id, note FROM %s ORDER BY id", b.ref(table)))
			if err != nil {
				return false, err.Error()
			}
			return fmt.Sprint(rows) == "[map[id:1 note:good] map[id:3 note:good]]", fmt.Sprint(rows)
		})
		recs := testbed.ConsumeN(t, w.bootstrap, dlq, 1, 60*time.Second)
		h := dlqHeaders(recs[0])
		t.Logf("dead letter queue record: %s; exception message %q", recs[0].Value, h["__connect.errors.exception.message"])
		if string(recs[0].Value) != `{"id":"not a number","note":"bad"}` {
			t.Errorf("dead letter queue value %s", recs[0].Value)
		}
		if h["__connect.errors.topic"] != topic || h["__connect.errors.offset"] != "1" ||
			!strings.Contains(h["__connect.errors.exception.message"], "Cannot convert value to integer") {
			t.Errorf("dead letter queue headers %v", h)
		}
		testbed.WaitFor(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
			off := sinkOffset(t, w, name, topic)
			return off == 3, fmt.Sprint("committed offset ", off)
		})
		w.waitState(t, name, "RUNNING", 1)
	})
}

// TestBigQueryValidateREST: an unknown dataset is reported by
// config/validate under defaultDataset, and refused by POST /connectors
// with Apache's 400 body.
func TestBigQueryValidateREST(t *testing.T) {
	t.Parallel()
	b := newBQEnv(t)
	w := startWorker(t, nil)
	cfg := b.sinkConfig("orders")
	cfg["defaultDataset"] = "no_such_dataset"
	r := w.call(t, "PUT", "/connector-plugins/BigQuerySinkConnector/config/validate", cfg)
	expectStatus(t, r, 200)
	body := r.object(t)
	if n, _ := body["error_count"].(float64); n < 1 {
		t.Fatalf("error_count %v: %s", body["error_count"], r.body)
	}
	var msgs []any
	for _, c := range body["configs"].([]any) {
		v := c.(map[string]any)["value"].(map[string]any)
		if v["name"] == "defaultDataset" {
			msgs, _ = v["errors"].([]any)
		}
	}
	if len(msgs) == 0 || !strings.Contains(fmt.Sprint(msgs[0]), "no_such_dataset") {
		t.Fatalf("defaultDataset errors %v: %s", msgs, r.body)
	}
	t.Logf("defaultDataset: %v", msgs[0])

	r = w.call(t, "POST", "/connectors", map[string]any{"name": testbed.UniqueName(t, "bq-bad-dataset"), "config": cfg})
	expectError(t, r, 400, "no_such_dataset")
	t.Logf("POST /connectors: %s", r.body)
}

// TestBigQueryUpsertRenamedTopic: upsert mode behind an SMT that renames
// the topic (RegexRouter routing the orders to a table of another name).
// The rows are merged into the routed table, and the offsets to commit
// must be those of the topic the records were read from (KIP-793's
// original topic), or the group never commits and the lag never drains.
func TestBigQueryUpsertRenamedTopic(t *testing.T) {
	t.Parallel()
	shop := openShopDB(t)
	shop.insertOrders(t, 1, 10)
	b := newBQEnv(t)
	w := startWorker(t, nil)
	prefix := testbed.UniqueName(t, "bq") + "."
	topic := prefix + "orders"
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	src := shop.sourceConfig(prefix, "orders", false)
	src["transforms"] = "createKey"
	src["transforms.createKey.type"] = "org.apache.kafka.connect.transforms.ValueToKey"
	src["transforms.createKey.fields"] = "id"
	src["key.converter"] = jsonConverter
	src["key.converter.schemas.enable"] = "false"
	createConnector(t, w, testbed.UniqueName(t, "orders-source"), src)

	sink := testbed.UniqueName(t, "bq-upsert-routed")
	cfg := b.sinkConfig(topic)
	cfg["upsertEnabled"] = "true"
	cfg["kafkaKeyFieldName"] = "pk"
	cfg["mergeIntervalMs"] = "10000"
	cfg["mergeRecordsThreshold"] = "5"
	cfg["mergeStreamingBufferWaitMs"] = "0"
	cfg["transforms"] = "route"
	cfg["transforms.route.type"] = "org.apache.kafka.connect.transforms.RegexRouter"
	cfg["transforms.route.regex"] = `.*\.(orders)`
	cfg["transforms.route.replacement"] = "routed_$1"
	createConnector(t, w, sink, cfg)
	testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		noFailedTask(t, w, sink)
		n, d := b.counts("routed_orders", "id")
		return n == 10 && d == 10, fmt.Sprintf("%d rows, %d ids in routed_orders", n, d)
	})
	// Ten rows reach mergeRecordsThreshold at once, so their merges are
	// done; the commit follows within an offset flush or two.
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := w.call(t, "GET", "/connectors/"+sink+"/lag", nil)
		parts, _ := r.object(t)["partitions"].([]any)
		if len(parts) == 1 && parts[0].(map[string]any)["lag"] == float64(0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the merged rows' offsets are not committed behind a topic-renaming SMT; lag: %s", r.body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
