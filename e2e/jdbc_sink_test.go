package e2e

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// jdbcTarget returns a JDBC URL of a fresh PostgreSQL database when the
// test bed has one, else of a new SQLite file, and a pool on it.
func jdbcTarget(t *testing.T) (string, *sql.DB) {
	t.Helper()
	jdbcURL := "jdbc:sqlite:" + testbed.SQLite(t)
	if os.Getenv(testbed.EnvPostgres) != "" {
		u, err := url.Parse(testbed.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		pw, _ := u.User.Password()
		jdbcURL = fmt.Sprintf("jdbc:postgresql://%s%s?user=%s&password=%s&sslmode=disable",
			u.Host, u.Path, url.QueryEscape(u.User.Username()), url.QueryEscape(pw))
	}
	db, _, err := dialect.Open(t.Context(), jdbcURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return jdbcURL, db
}

// tableRows renders query results as "a|b|c" lines; an error (the table
// does not exist yet) reads as no rows.
func tableRows(db *sql.DB, query string) string {
	rows, err := db.Query(query)
	if err != nil {
		return "error: " + err.Error()
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
			return "error: " + err.Error()
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
	return strings.Join(out, ",")
}

func jsonKey(id int) []byte {
	return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"field":"id","type":"int64","optional":false}],"optional":false,"name":"Key"},"payload":{"id":%d}}`, id)
}

func jsonValue(id int, name string, email *string) []byte {
	fields := `{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true}`
	payload := fmt.Sprintf(`"id":%d,"name":%q`, id, name)
	if name == "" {
		payload = fmt.Sprintf(`"id":%d,"name":null`, id)
	}
	if email != nil {
		fields += `,{"field":"email","type":"string","optional":true}`
		payload += fmt.Sprintf(`,"email":%q`, *email)
	}
	return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[%s],"optional":false,"name":"Value"},"payload":{%s}}`, fields, payload)
}

// TestJdbcSink: schema'd JSON records go through the worker into a table
// the connector creates; a tombstone deletes its row, a field added
// mid-stream becomes a new column, and the committed offset passes every
// record.
func TestJdbcSink(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	jdbcURL, db := jdbcTarget(t)
	topic := testbed.UniqueName(t, "users")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	email := "c@example.com"
	testbed.Produce(t, w.bootstrap, topic,
		&kgo.Record{Key: jsonKey(1), Value: jsonValue(1, "ann", nil)},
		&kgo.Record{Key: jsonKey(2), Value: jsonValue(2, "bob", nil)},
		&kgo.Record{Key: jsonKey(1), Value: jsonValue(1, "ann ✓", nil)},
		&kgo.Record{Key: jsonKey(2)}, // tombstone
		&kgo.Record{Key: jsonKey(3), Value: jsonValue(3, "cy", &email)},
	)
	name := testbed.UniqueName(t, "jdbc-sink")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", map[string]string{
		"connector.class": "JdbcSink", "topics": topic, "connection.url": jdbcURL,
		"insert.mode": "upsert", "pk.mode": "record_key", "delete.enabled": "true",
		"auto.create": "true", "auto.evolve": "true", "table.name.format": "users",
	}), 201)
	want := "1|ann ✓|NULL,3|cy|c@example.com"
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		got := tableRows(db, `SELECT id, name, email FROM users ORDER BY id`)
		return got == want, got
	})
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		off := sinkOffset(t, w, name, topic)
		return off == 5, fmt.Sprint("committed offset ", off)
	})
	w.waitState(t, name, "RUNNING", 1)

	// Redelivery of the whole topic (a reset consumer group) leaves the
	// same state: upserts are idempotent.
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/stop", nil), 204)
	w.waitState(t, name, "STOPPED", 0)
	expectStatus(t, w.call(t, "DELETE", "/connectors/"+name+"/offsets", nil), 200)
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/resume", nil), 202)
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		return sinkOffset(t, w, name, topic) == 5, "offset"
	})
	if got := tableRows(db, `SELECT id, name, email FROM users ORDER BY id`); got != want {
		t.Fatalf("after replay: %s", got)
	}
}

// TestJdbcSinkBadRecord: a NULL for a NOT NULL column fails the task with
// errors.tolerance=none, and no offset past the bad record is committed.
func TestJdbcSinkBadRecord(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	jdbcURL, db := jdbcTarget(t)
	if _, err := db.Exec(`CREATE TABLE strict (id BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	topic := testbed.UniqueName(t, "strict")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	testbed.Produce(t, w.bootstrap, topic,
		&kgo.Record{Key: jsonKey(1), Value: jsonValue(1, "ok", nil)},
		&kgo.Record{Key: jsonKey(2), Value: jsonValue(2, "", nil)}, // name null
		&kgo.Record{Key: jsonKey(3), Value: jsonValue(3, "later", nil)},
	)
	name := testbed.UniqueName(t, "jdbc-bad")
	expectStatus(t, w.call(t, "PUT", "/connectors/"+name+"/config", map[string]string{
		"connector.class": "io.aiven.connect.jdbc.JdbcSinkConnector", "topics": topic, "connection.url": jdbcURL,
		"insert.mode": "upsert", "pk.mode": "record_key", "table.name.format": "strict",
		"errors.tolerance": "none", "consumer.override.max.poll.records": "1",
	}), 201)
	trace := w.waitTaskFailed(t, name)
	if !strings.Contains(strings.ToLower(trace), "null") || !strings.Contains(trace, "strict") {
		t.Errorf("trace does not explain the failure:\n%s", trace)
	}
	if off := sinkOffset(t, w, name, topic); off > 1 {
		t.Fatalf("committed offset %v is past the bad record at offset 1", off)
	}
	if got := tableRows(db, `SELECT id FROM strict ORDER BY id`); got != "" && got != "1" {
		t.Fatalf("rows past the bad record: %s", got)
	}
}

// TestJdbcSinkValidate: cross-key rules come back from config/validate
// under the key to fix.
func TestJdbcSinkValidate(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	r := w.call(t, "PUT", "/connector-plugins/JdbcSinkConnector/config/validate", map[string]string{
		"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "name": "v", "topics": "t",
		"connection.url": "jdbc:sqlite:/tmp/x.db", "delete.enabled": "true", "pk.mode": "record_value",
	})
	expectStatus(t, r, 200)
	body := r.object(t)
	if body["error_count"] == float64(0) {
		t.Fatalf("no errors: %s", r.body)
	}
	found := false
	for _, c := range body["configs"].([]any) {
		v := c.(map[string]any)["value"].(map[string]any)
		if v["name"] == "delete.enabled" {
			errs, _ := v["errors"].([]any)
			found = len(errs) == 1 && strings.Contains(errs[0].(string), "record_key")
		}
	}
	if !found {
		t.Fatalf("delete.enabled has no error naming record_key: %s", r.body)
	}
}

// TestJdbcRoundTrip: JDBC source → Kafka → JDBC sink copies a table with
// decimals, timestamps, NULLs and unicode text into another database.
func TestJdbcRoundTrip(t *testing.T) {
	t.Parallel()
	w := startWorker(t, nil)
	srcURL := "jdbc:sqlite:" + testbed.SQLite(t)
	src, _, err := dialect.Open(t.Context(), srcURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dstURL, dst := jdbcTarget(t)
	if _, err := src.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price DECIMAL(10,2), at TIMESTAMP, note TEXT)`); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 1; i <= n; i++ {
		var note any
		if i%3 != 0 {
			note = fmt.Sprintf("nöte %d ✓ 日本", i)
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * 1500 * time.Millisecond)
		if _, err := src.Exec(`INSERT INTO items VALUES (?, ?, ?, ?, ?)`, i, fmt.Sprintf("item-%d", i),
			fmt.Sprintf("%d.%02d", i*7, i%100), at.Format("2006-01-02 15:04:05.000"), note); err != nil {
			t.Fatal(err)
		}
	}
	prefix := testbed.UniqueName(t, "rt") + "-"
	source, sink := testbed.UniqueName(t, "rt-source"), testbed.UniqueName(t, "rt-sink")
	testbed.CreateTopic(t, w.bootstrap, prefix+"items", 1)
	expectStatus(t, w.call(t, "PUT", "/connectors/"+source+"/config", map[string]string{
		"connector.class": "JdbcSource", "connection.url": srcURL, "mode": "incrementing",
		"incrementing.column.name": "id", "table.whitelist": "items", "topic.prefix": prefix, "poll.interval.ms": "200",
	}), 201)
	expectStatus(t, w.call(t, "PUT", "/connectors/"+sink+"/config", map[string]string{
		"connector.class": "JdbcSink", "topics": prefix + "items", "connection.url": dstURL,
		"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id", "auto.create": "true",
		"table.name.format": "items_copy",
	}), 201)
	summary := func(db *sql.DB, table string) string {
		return tableRows(db, `SELECT COUNT(*), COUNT(note), SUM(id), SUM(LENGTH(name)), SUM(LENGTH(note)) FROM `+table)
	}
	want := summary(src, "items")
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		got := summary(dst, "items_copy")
		return got == want, got + " want " + want
	})
	// Row by row: decimals, timestamps and text as the database renders them.
	rows := func(db *sql.DB, table string) string {
		return tableRows(db, `SELECT id, name, CAST(price AS TEXT), CAST(at AS TEXT), note FROM `+table+` ORDER BY id`)
	}
	if strings.HasPrefix(dstURL, "jdbc:postgresql") {
		// PostgreSQL renders the same values its own way: check one row.
		got := tableRows(dst, `SELECT price::TEXT, to_char(at, 'YYYY-MM-DD HH24:MI:SS.MS'), note FROM items_copy WHERE id = 7`)
		if want := "49.07|2026-01-02 03:04:15.500|nöte 7 ✓ 日本"; got != want {
			t.Fatalf("row 7 = %s, want %s", got, want)
		}
		return
	}
	if strings.HasPrefix(dstURL, "jdbc:sqlite") {
		if got, want := rows(dst, "items_copy"), rows(src, "items"); got != want {
			t.Fatalf("copy differs:\n got %.300s\nwant %.300s", got, want)
		}
	}
}
