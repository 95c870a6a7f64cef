package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// The upsert stream of TestJdbcSinkKillNine: every id gets versions 1..4,
// produced in rounds (all ids at version 1, then all at version 2, …), so
// the final state of each row is its version 4.
const (
	killKeys     = 50000
	killVersions = 4
	killTotal    = killKeys * killVersions
	killTable    = "kill9_items"
	// Two tasks, so both race to auto-create the table (the loser must pick
	// up the winner's table) and write to it side by side.
	killTasks = 2
)

// killValue is the JSON-with-schema value of one id at one version. label
// and total are derived from both, so a row mixing two versions shows.
func killValue(id, version int) []byte {
	return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[`+
		`{"field":"id","type":"int64","optional":false},`+
		`{"field":"version","type":"int32","optional":false},`+
		`{"field":"label","type":"string","optional":false},`+
		`{"field":"total","type":"int64","optional":false}],"optional":false,"name":"item"},`+
		`"payload":{"id":%d,"version":%d,"label":"item-%d-v%d","total":%d}}`,
		id, version, id, version, int64(id)*10+int64(version))
}

// TestJdbcSinkKillNine kills a standalone worker with SIGKILL while its
// JDBC sink upserts a 200,000-record stream (50,000 ids, 4 versions each),
// restarts it on the same data directory, and checks that the table ends
// up exactly at the last version of every id: one row per id, under a
// primary key, with no duplicate-key failures on the way. It also checks
// at-least-once at the moment of the kill: no committed offset is ahead
// of what the table holds.
//
// The stream is produced once and replayed into PostgreSQL and MariaDB
// (when the test bed has them) and SQLite, each by its own connector.
func TestJdbcSinkKillNine(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "kill9-upsert")
	testbed.CreateTopic(t, bootstrap, topic, 3)
	partOf := produceKillStream(t, bootstrap, topic)

	// The three runs overlap; most of each is waiting for the killed
	// worker's consumer group session to expire.
	targets := map[string]func(*testing.T) string{
		"postgres": postgresJDBCURL,
		"mariadb":  mariadbJDBCURL,
		"sqlite":   func(t *testing.T) string { return "jdbc:sqlite:" + testbed.SQLite(t) },
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			killNineSink(t, bootstrap, topic, partOf, target(t))
		})
	}
}

// produceKillStream writes the stream and returns the partition of each
// id (keys are hashed, so an id always lands in one partition and its
// versions stay in order).
func produceKillStream(t *testing.T, bootstrap, topic string) []int32 {
	t.Helper()
	// Small batches, so the sink's fetches (and so its puts, one database
	// transaction each) can be small too.
	cl := testbed.Client(t, bootstrap, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(64<<10))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	partOf := make([]int32, killKeys)
	errs := make(chan error, 1)
	for v := 1; v <= killVersions; v++ {
		for id := range killKeys {
			cl.Produce(ctx, &kgo.Record{Key: jsonKey(id), Value: killValue(id, v)}, func(r *kgo.Record, err error) {
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				// An id's records share a partition, whose callbacks run in order.
				partOf[id] = r.Partition
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	select {
	case err := <-errs:
		t.Fatalf("produce: %v", err)
	default:
	}
	return partOf
}

func killNineSink(t *testing.T, bootstrap, topic string, partOf []int32, jdbcURL string) {
	start := time.Now()
	dir := t.TempDir()
	port := testbed.FreePort(t)
	name := testbed.UniqueName(t, "kill9-sink")
	writeFile(t, filepath.Join(dir, "worker.properties"), fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename=%s
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:%d
# Puts of a few thousand records rather than one per fetched megabyte, so
# rows land in the table between offset commits: those are the records a
# kill makes the restarted worker write again.
consumer.max.partition.fetch.bytes=262144
# The killed worker's sink members stay in the consumer group until their
# sessions time out; keep that short so the restarted tasks get the
# partitions soon.
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=1000
`, bootstrap, filepath.Join(dir, "connect.offsets"), port))
	writeFile(t, filepath.Join(dir, "sink.properties"), fmt.Sprintf(`name=%s
connector.class=io.confluent.connect.jdbc.JdbcSinkConnector
tasks.max=%d
topics=%s
connection.url=%s
insert.mode=upsert
pk.mode=record_key
auto.create=true
table.name.format=%s
`, name, killTasks, topic, jdbcURL, killTable))
	args := []string{"standalone", "worker.properties", "sink.properties"}
	restURL := fmt.Sprintf("http://127.0.0.1:%d", port)

	db, _, err := dialect.Open(t.Context(), jdbcURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// Each applied record raises its id's version by one (versions of an
	// id arrive in order), so the sum of versions counts applied records.
	applied := func() int64 {
		var n sql.NullInt64
		if err := db.QueryRow(`SELECT SUM(version) FROM ` + killTable).Scan(&n); err != nil {
			return 0 // the table is not created yet
		}
		return n.Int64
	}
	adm := testbed.Admin(t, bootstrap)
	group := "connect-" + name

	w := &worker{url: restURL}
	first := startFerry(t, dir, args...)
	waitHTTP(t, restURL)
	// Kill once a good part is in the table, preferably after an offset
	// commit and with rows written past it, so the restart resumes
	// mid-stream and writes some records a second time.
	testbed.WaitFor(t, 120*time.Second, 5*time.Millisecond, func() (bool, string) {
		noFailedTask(t, w, name)
		n := applied()
		if n < killTotal/10 {
			return false, fmt.Sprintf("%d records applied", n)
		}
		if n >= killTotal/2 {
			return true, ""
		}
		c := sumOffsets(committedOffsets(t, adm, group, topic))
		return c > 0 && n > c, fmt.Sprintf("%d records applied, %d committed", n, c)
	})
	first.kill()

	// A transaction whose COMMIT reached the server just before the kill may
	// still be finishing: read until two reads agree.
	last := int64(-1)
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		n := applied()
		stable := n == last
		last = n
		return stable, fmt.Sprint(n)
	})
	committed := committedOffsets(t, adm, group, topic)
	if last >= killTotal {
		t.Fatalf("the stream was complete (%d records applied) before the kill", last)
	}
	// At least once: no partition's committed offset is past what its ids
	// show in the table.
	perPart := appliedPerPartition(t, db, partOf)
	var redelivered int64
	for p, c := range committed {
		if perPart[p] < c {
			t.Fatalf("partition %d: offset %d committed but only %d records in the table", p, c, perPart[p])
		}
	}
	for p, n := range perPart {
		redelivered += n - committed[p]
	}
	t.Logf("killed after %v: %d of %d records applied, offsets %v committed (%d); %d records to be written again",
		time.Since(start).Round(time.Millisecond), last, killTotal, committed, sumOffsets(committed), redelivered)

	restart := time.Now()
	second := startFerry(t, dir, args...)
	waitHTTP(t, restURL)
	testbed.WaitFor(t, 120*time.Second, 200*time.Millisecond, func() (bool, string) {
		noFailedTask(t, w, name)
		c := committedOffsets(t, adm, group, topic)
		return sumOffsets(c) == killTotal, fmt.Sprintf("committed %v", c)
	})
	// Offsets are committed only after the rows they cover, so the table is
	// final now.
	checkKillTable(t, db)
	w.waitState(t, name, "RUNNING", killTasks)
	for i, p := range []*process{first, second} {
		for line := range strings.Lines(strings.ToLower(p.log.String())) {
			if strings.Contains(line, "by another writer meanwhile") {
				continue // the task that lost the race to create the table says why, and writes again
			}
			for _, s := range []string{"duplicate key", "duplicate entry", "unique constraint"} {
				if strings.Contains(line, s) {
					t.Fatalf("worker run %d logged %q:\n%s", i+1, s, p.log.String())
				}
			}
		}
	}
	t.Logf("%s: table final %v after the restart, %v in all", strings.SplitN(jdbcURL, ":", 3)[1],
		time.Since(restart).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// noFailedTask fails the test when a task of the connector has FAILED: a
// failed sink task leaves the consumer group and another task takes its
// partitions, so the table alone would not show it.
func noFailedTask(t *testing.T, w *worker, name string) {
	t.Helper()
	r := w.call(t, "GET", "/connectors/"+name+"/status", nil)
	if r.status != 200 {
		return // not created yet
	}
	tasks, _ := r.object(t)["tasks"].([]any)
	for _, x := range tasks {
		if task := x.(map[string]any); task["state"] == "FAILED" {
			t.Fatalf("task %v failed:\n%v", task["id"], task["trace"])
		}
	}
}

// checkKillTable reads the whole table: one row per id, each at version
// 4 with the fields of that version, and a primary key that refuses a
// second row for an id.
func checkKillTable(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query(`SELECT id, version, label, total FROM ` + killTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := make([]bool, killKeys)
	n := 0
	for rows.Next() {
		var id, version, total int64
		var label string
		if err := rows.Scan(&id, &version, &label, &total); err != nil {
			t.Fatal(err)
		}
		n++
		if id < 0 || id >= killKeys || seen[id] {
			t.Fatalf("unexpected or duplicate id %d", id)
		}
		seen[id] = true
		if version != killVersions || label != fmt.Sprintf("item-%d-v%d", id, killVersions) || total != id*10+killVersions {
			t.Fatalf("row %d = version %d, label %q, total %d; want the last version", id, version, label, total)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != killKeys {
		t.Fatalf("%d rows, want %d", n, killKeys)
	}
	if _, err := db.Exec(`INSERT INTO ` + killTable + ` (id, version, label, total) VALUES (7, 0, 'dup', 0)`); err == nil {
		t.Fatalf("a second row for id 7 was accepted: the table has no primary key on id")
	}
}

// appliedPerPartition sums the versions in the table per partition: the
// number of each partition's records the table reflects.
func appliedPerPartition(t *testing.T, db *sql.DB, partOf []int32) map[int32]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT id, version FROM ` + killTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var id, version int64
		if err := rows.Scan(&id, &version); err != nil {
			t.Fatal(err)
		}
		out[partOf[id]] += version
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// committedOffsets returns the group's committed offsets of topic by
// partition (partitions without a commit are absent).
func committedOffsets(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	out := map[int32]int64{}
	if err != nil {
		return out // the group does not exist yet, or the coordinator moves
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

func sumOffsets(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// postgresJDBCURL is a jdbc:postgresql URL of a fresh test database.
func postgresJDBCURL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testbed.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	return fmt.Sprintf("jdbc:postgresql://%s%s?user=%s&password=%s&sslmode=disable",
		u.Host, u.Path, url.QueryEscape(u.User.Username()), url.QueryEscape(pw))
}

// mariadbJDBCURL is a jdbc:mariadb URL of a fresh test database.
func mariadbJDBCURL(t *testing.T) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(testbed.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("jdbc:mariadb://%s/%s?user=%s&password=%s",
		cfg.Addr, cfg.DBName, url.QueryEscape(cfg.User), url.QueryEscape(cfg.Passwd))
}
