package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"   // registers driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The JDBC workloads:
//   - jdbc-sink, jdbc-sink-4: a keyed topic of N JSON records (schemas on, several
//     partitions) upserted into PostgreSQL, by Ferry's JDBC sink and by Debezium's JDBC
//     sink on Apache's worker, with tasks.max 1 and 4. Done when the table holds N rows.
//   - jdbc-source-bulk, jdbc-source-incrementing: an N-row MariaDB table read into a
//     topic by Ferry's JDBC source. Apache's jars hold no JDBC source, and Confluent's
//     is not on Maven Central, so Apache's cell is n/a.
//   - jdbc-source-limit: a plain Go program doing the source's job (one SELECT, each
//     row produced as JSON) in a child process: the ceiling on this machine.

const (
	sourceTableName = "bench_src" // the MariaDB table of the source workloads
	baseEpochMS     = int64(1705312200000)
	// dbPoll bounds how often the sink's table is probed: the probes are cheap index
	// lookups, but they share the machine with the worker under test.
	dbPoll = 100 * time.Millisecond
)

const apacheNoJDBCSource = "Apache Kafka Connect ships no JDBC source, and Confluent's JDBC connector is not on Maven Central"

// jdbcState is what the JDBC workloads of one run share.
type jdbcState struct {
	pgOnce, myOnce     sync.Once
	pg, my             *benchDB
	pgErr, myErr       error
	sinkOnce, srcOnce  sync.Once
	sinkTopic          string
	sinkFillErr        error
	srcFillErr         error
	srcFillTook        time.Duration
	debeziumCheckOnce  sync.Once
	debeziumMissingWhy string
}

// benchDB is the run's own database on one server.
type benchDB struct {
	kind     string // "postgres" or "mysql"
	db       *sql.DB
	admin    string // DSN of the server's admin connection
	name     string
	jdbcURL  string
	user     string
	password string
	dsn      string // Go DSN of the run's database
}

// postgres returns the run's PostgreSQL database, creating it on first use; nil with a
// reason when no server was given.
func (e *env) postgres(ctx context.Context) (*benchDB, error) {
	e.jdbc.pgOnce.Do(func() {
		if e.opts.postgres == "" {
			e.jdbc.pgErr = errNoServer("PostgreSQL", "-postgres or FERRY_TEST_POSTGRES")
			return
		}
		e.jdbc.pg, e.jdbc.pgErr = openPostgres(ctx, e.opts.postgres, "bench_"+e.runID)
	})
	return e.jdbc.pg, e.jdbc.pgErr
}

func (e *env) mariadb(ctx context.Context) (*benchDB, error) {
	e.jdbc.myOnce.Do(func() {
		if e.opts.mysql == "" {
			e.jdbc.myErr = errNoServer("MariaDB", "-mysql or FERRY_TEST_MYSQL")
			return
		}
		e.jdbc.my, e.jdbc.myErr = openMariaDB(ctx, e.opts.mysql, "bench_"+e.runID)
	})
	return e.jdbc.my, e.jdbc.myErr
}

// errNotConfigured marks a missing database server: the workload is n/a, not failed.
type errNotConfigured struct{ msg string }

func (e errNotConfigured) Error() string { return e.msg }

func errNoServer(what, how string) error {
	return errNotConfigured{fmt.Sprintf("no %s server (pass %s; scripts/bench.sh starts one)", what, how)}
}

// dbResult turns a database error into the row's result: n/a when no server was
// configured, failed otherwise.
func dbResult(err error) *result {
	var nc errNotConfigured
	if errors.As(err, &nc) {
		return &result{Status: statusNA, Note: nc.msg}
	}
	return &result{Status: statusFailed, Note: oneLine(err.Error())}
}

func openPostgres(ctx context.Context, admin, name string) (*benchDB, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("parsing the PostgreSQL DSN: %w", err)
	}
	adm, err := sql.Open("pgx", admin)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	if _, err := adm.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := adm.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pw, _ := u.User.Password()
	d := *u
	d.Path = "/" + name
	b := &benchDB{kind: "postgres", admin: admin, name: name, user: u.User.Username(), password: pw,
		jdbcURL: "jdbc:postgresql://" + u.Host + "/" + name, dsn: d.String()}
	if b.db, err = sql.Open("pgx", b.dsn); err != nil {
		return nil, err
	}
	return b, b.db.PingContext(ctx)
}

func openMariaDB(ctx context.Context, admin, name string) (*benchDB, error) {
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		return nil, fmt.Errorf("parsing the MariaDB DSN: %w", err)
	}
	adm, err := sql.Open("mysql", admin)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	if _, err := adm.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		return nil, fmt.Errorf("mariadb: %w", err)
	}
	if _, err := adm.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("mariadb: %w", err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	b := &benchDB{kind: "mysql", admin: admin, name: name, user: cfg.User, password: cfg.Passwd,
		jdbcURL: "jdbc:mysql://" + cfg.Addr + "/" + name, dsn: cfg.FormatDSN()}
	if b.db, err = sql.Open("mysql", b.dsn); err != nil {
		return nil, err
	}
	return b, b.db.PingContext(ctx)
}

// drop closes the run's database connections and drops the database.
func (b *benchDB) drop(ctx context.Context) {
	b.db.Close()
	driver, stmt := "pgx", "DROP DATABASE IF EXISTS "+b.name+" WITH (FORCE)"
	if b.kind == "mysql" {
		driver, stmt = "mysql", "DROP DATABASE IF EXISTS "+b.name
	}
	adm, err := sql.Open(driver, b.admin)
	if err != nil {
		return
	}
	defer adm.Close()
	_, _ = adm.ExecContext(ctx, stmt)
}

func (e *env) cleanupJDBC() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range []*benchDB{e.jdbc.pg, e.jdbc.my} {
		if b != nil {
			b.drop(ctx)
		}
	}
}

// ---------------------------------------------------------------- sink

// sinkKey and sinkValue are JsonConverter's bytes (schemas on) for record i of the sink
// input: key struct {id}, value struct {id, name, amount, updated_at (Timestamp)}.
func sinkKey(i int) []byte {
	return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],`+
		`"optional":false,"name":"bench.Key"},"payload":{"id":%d}}`, i)
}

const sinkValueSchema = `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},` +
	`{"type":"string","optional":false,"field":"name"},{"type":"double","optional":false,"field":"amount"},` +
	`{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"updated_at"}],` +
	`"optional":false,"name":"bench.Row"}`

func sinkValue(i int) []byte {
	b := make([]byte, 0, len(sinkValueSchema)+120)
	b = append(b, `{"schema":`...)
	b = append(b, sinkValueSchema...)
	b = fmt.Appendf(b, `,"payload":{"id":%d,"name":"name-%d","amount":%s,"updated_at":%d}}`,
		i, i, strconv.FormatFloat(sinkAmount(i), 'f', 2, 64), baseEpochMS+int64(i)*1000)
	return b
}

// sinkAmount is a multiple of 0.25, so every sum of amounts is exact in a double.
func sinkAmount(i int) float64 { return float64(i) * 0.25 }

// sinkInput fills, once per run, the keyed topic both systems' sinks read: record i goes
// to partition i mod P, so position k of partition p holds id p + P·k.
func (e *env) sinkInput(ctx context.Context) (string, error) {
	e.jdbc.sinkOnce.Do(func() {
		topic := e.topicName("jdbc-sink-input", "shared")
		p := e.opts.sinkPartitions
		if err := e.broker.createTopicN(ctx, topic, int32(p)); err != nil {
			e.jdbc.sinkFillErr = err
			return
		}
		e.log.Info("filling the jdbc-sink input topic", "topic", topic, "records", e.opts.records, "partitions", p)
		start := time.Now()
		e.jdbc.sinkFillErr = produceKeyed(ctx, e.broker.addr, topic, e.opts.records, func(i int) *kgo.Record {
			return &kgo.Record{Key: sinkKey(i), Value: sinkValue(i), Partition: int32(i % p)}
		})
		e.log.Info("filled", "topic", topic, "took", time.Since(start).Round(time.Millisecond))
		e.jdbc.sinkTopic = topic
	})
	return e.jdbc.sinkTopic, e.jdbc.sinkFillErr
}

// produceKeyed writes n records made by gen, each to the partition gen sets.
func produceKeyed(ctx context.Context, addr, topic string, n int, gen func(i int) *kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(1<<16),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		cl.Produce(ctx, gen(i), func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("producing to %s: %w", topic, firstErr)
	}
	return nil
}

// debeziumMissing says why Apache cannot run the Debezium JDBC sink, or "" when its
// jars are in place.
func (e *env) debeziumMissing() string {
	e.jdbc.debeziumCheckOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(e.opts.debeziumLib, ".complete")); err == nil {
			return
		}
		why := "no Debezium JDBC sink jars in " + e.opts.debeziumLib
		mvnLog := filepath.Join(e.opts.out, "debezium-mvn.log")
		if tail := tailFile(mvnLog, 200); !strings.HasPrefix(tail, "(") {
			// scripts/bench.sh tried and kept Maven's output: quote its error.
			why += ": Maven could not resolve scripts/testbed/debezium-pom.xml (" + mavenError(tail) + "; " + mvnLog + ")"
		} else {
			why += " (scripts/bench.sh fetches them with scripts/testbed/debezium-pom.xml)"
		}
		e.jdbc.debeziumMissingWhy = why
	})
	return e.jdbc.debeziumMissingWhy
}

// jdbcSink: the keyed input topic upserted into a fresh PostgreSQL table with tasks.max
// tasks, by Ferry's JDBC sink or by Debezium's on Apache's worker.
func jdbcSink(name string, tasks int) func(context.Context, *env, system) *result {
	return func(ctx context.Context, e *env, s system) *result {
		pg, err := e.postgres(ctx)
		if err != nil {
			return dbResult(err)
		}
		if s.name == "apache" {
			if why := e.debeziumMissing(); why != "" {
				return &result{Status: statusNA, Note: why}
			}
			s = s.withClasspath(e.opts.debeziumLib)
		}
		topic, err := e.sinkInput(ctx)
		if err != nil {
			return &result{Status: statusFailed, Note: "filling the input topic: " + oneLine(err.Error())}
		}
		table := strings.ReplaceAll(name, "-", "_") + "_" + s.name
		if _, err := pg.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			return &result{Status: statusFailed, Note: oneLine(err.Error())}
		}
		conn := map[string]string{
			// The connector name makes the consumer group: each run reads from the start.
			"name":      "bench-" + name + "-" + e.runID + "-" + s.name,
			"tasks.max": strconv.Itoa(tasks), "topics": topic,
			"connection.url": pg.jdbcURL, "connection.password": pg.password,
			"insert.mode": "upsert",
		}
		if s.name == "apache" {
			conn["connector.class"] = "io.debezium.connector.jdbc.JdbcSinkConnector"
			conn["connection.username"] = pg.user
			conn["primary.key.mode"] = "record_key"
			conn["schema.evolution"] = "basic"
			conn["collection.name.format"] = table
		} else {
			conn["connector.class"] = "io.confluent.connect.jdbc.JdbcSinkConnector"
			conn["connection.user"] = pg.user
			conn["pk.mode"] = "record_key"
			conn["auto.create"] = "true"
			conn["table.name.format"] = table
		}
		prog := newSinkProgress(pg.db, table, e.opts.records, e.opts.sinkPartitions)
		return runPipeline(ctx, e, s, pipeline{
			workload:   name,
			converter:  "json",
			connectors: []map[string]string{conn},
			target:     int64(e.opts.records),
			counter:    prog.count,
			verify:     func(ctx context.Context) error { return verifySinkTable(ctx, pg.db, table, e.opts.records) },
		})
	}
}

// sinkProgress counts the rows of the sink's table cheaply while it fills. A partition
// is written in offset order (one task owns it, and each batch commits at once), so the
// rows present from partition p are a prefix of its ids p, p+P, p+2P, …; its length is
// found with a few batched primary-key probes per poll instead of a count(*) that would
// scan the whole table every time. Once every partition's last id is present, one
// count(*) confirms the total.
type sinkProgress struct {
	probe   func(ctx context.Context, ids []int64) (map[int64]bool, error)
	counter func(ctx context.Context) (int64, error)
	n, p    int
	done    []int // per partition: length of the present prefix
	last    time.Time
	cached  int64
}

func newSinkProgress(db *sql.DB, table string, n, p int) *sinkProgress {
	sp := &sinkProgress{n: n, p: p, done: make([]int, p)}
	sp.probe = func(ctx context.Context, ids []int64) (map[int64]bool, error) {
		rows, err := db.QueryContext(ctx, "SELECT id FROM "+table+" WHERE id = ANY($1)", ids)
		if err != nil {
			if isUndefinedTable(err) {
				return map[int64]bool{}, nil // created on the first write
			}
			return nil, err
		}
		defer rows.Close()
		got := make(map[int64]bool, len(ids))
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			got[id] = true
		}
		return got, rows.Err()
	}
	sp.counter = func(ctx context.Context) (int64, error) {
		var c int64
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&c)
		return c, err
	}
	return sp
}

func isUndefinedTable(err error) bool {
	return strings.Contains(err.Error(), "SQLSTATE 42P01")
}

// size is the number of records of partition q.
func (sp *sinkProgress) size(q int) int { return (sp.n - q + sp.p - 1) / sp.p }

func (sp *sinkProgress) count(ctx context.Context) (int64, error) {
	if time.Since(sp.last) < dbPoll {
		return sp.cached, nil
	}
	sp.last = time.Now()
	n, err := sp.measure(ctx)
	if err != nil {
		return 0, err
	}
	sp.cached = n
	return n, nil
}

// measure advances each partition's prefix: first probes at growing steps past it
// (1, 2, 4, … and the partition's last position), then up to probesPerRound evenly
// spaced probes inside the gap found, until the prefix end is exact or maxRounds
// queries were made (the count is then a lower bound, refined on the next poll).
func (sp *sinkProgress) measure(ctx context.Context) (int64, error) {
	const probesPerRound, maxRounds = 32, 4
	// hi[q]: a position known to be absent (or the partition size).
	hi := make([]int, sp.p)
	for q := range sp.p {
		hi[q] = sp.size(q)
	}
	for round := 0; round < maxRounds; round++ {
		var ids []int64
		cand := make([][]int, sp.p)
		for q := range sp.p {
			lo := sp.done[q]
			if lo >= hi[q] {
				continue
			}
			if round == 0 {
				for step := 1; lo+step-1 < hi[q]; step *= 2 {
					cand[q] = append(cand[q], lo+step-1)
				}
				if last := hi[q] - 1; len(cand[q]) == 0 || cand[q][len(cand[q])-1] != last {
					cand[q] = append(cand[q], last)
				}
			} else {
				gap := hi[q] - lo
				stride := max(1, gap/probesPerRound)
				for k := lo; k < hi[q]; k += stride {
					cand[q] = append(cand[q], k)
				}
			}
			for _, k := range cand[q] {
				ids = append(ids, int64(q+sp.p*k))
			}
		}
		if len(ids) == 0 {
			break
		}
		got, err := sp.probe(ctx, ids)
		if err != nil {
			return 0, err
		}
		exact := true
		for q := range sp.p {
			for _, k := range cand[q] {
				if !got[int64(q+sp.p*k)] {
					hi[q] = k
					break
				}
				sp.done[q] = k + 1
			}
			if sp.done[q] < hi[q] {
				exact = false
			}
		}
		if exact {
			break
		}
	}
	var total int64
	complete := true
	for q := range sp.p {
		total += int64(sp.done[q])
		complete = complete && sp.done[q] == sp.size(q)
	}
	if complete {
		// Every last id is present: confirm with an exact count.
		return sp.counter(ctx)
	}
	return total, nil
}

// verifySinkTable checks every row of the sink's table against its id: N rows, ids 0 to
// N-1, and name, amount and updated_at as produced.
func verifySinkTable(ctx context.Context, db *sql.DB, table string, n int) error {
	var rows, good, minID, maxID int64
	var sumAmount float64
	err := db.QueryRowContext(ctx, `SELECT count(*), min(id), max(id), sum(amount),
		count(*) FILTER (WHERE name = 'name-' || id AND amount = id * 0.25
			AND extract(epoch FROM updated_at) * 1000 = $1 + id * 1000)
		FROM `+table, baseEpochMS).Scan(&rows, &minID, &maxID, &sumAmount, &good)
	if err != nil {
		return err
	}
	wantSum := 0.25 * float64(n) * float64(n-1) / 2
	switch {
	case rows != int64(n) || minID != 0 || maxID != int64(n-1):
		return fmt.Errorf("%d rows with ids %d..%d, want %d with ids 0..%d", rows, minID, maxID, n, n-1)
	case good != rows:
		var sample string
		_ = db.QueryRowContext(ctx, `SELECT id || ' ' || name || ' ' || amount || ' ' || updated_at FROM `+table+
			` WHERE NOT (name = 'name-' || id AND amount = id * 0.25 AND extract(epoch FROM updated_at) * 1000 = $1 + id * 1000) LIMIT 1`,
			baseEpochMS).Scan(&sample)
		return fmt.Errorf("%d of %d rows differ from their record, e.g. %q", rows-good, rows, sample)
	case sumAmount != wantSum:
		return fmt.Errorf("sum(amount) = %v, want %v", sumAmount, wantSum)
	}
	return nil
}

// ---------------------------------------------------------------- source

// sourceTable fills, once per run, the MariaDB table the source workloads read: ids 1
// to N with a name, an amount and a DATETIME(3).
func (e *env) sourceTable(ctx context.Context) (*benchDB, error) {
	my, err := e.mariadb(ctx)
	if err != nil {
		return nil, err
	}
	e.jdbc.srcOnce.Do(func() {
		start := time.Now()
		e.jdbc.srcFillErr = fillSourceTable(ctx, my.db, e.opts.records)
		e.jdbc.srcFillTook = time.Since(start)
		e.log.Info("filled the MariaDB source table", "rows", e.opts.records, "took", e.jdbc.srcFillTook.Round(time.Millisecond), "err", e.jdbc.srcFillErr)
	})
	return my, e.jdbc.srcFillErr
}

func fillSourceTable(ctx context.Context, db *sql.DB, n int) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+sourceTableName+` (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(32) NOT NULL,
		amount DOUBLE NOT NULL,
		updated_at DATETIME(3) NOT NULL) ENGINE=InnoDB`); err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	// MariaDB's SEQUENCE engine makes the rows in the server: one statement.
	_, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO `+sourceTableName+` (id, name, amount, updated_at)
		SELECT seq, CONCAT('name-', seq), seq * 0.25, TIMESTAMP'2024-01-15 09:50:00' + INTERVAL seq SECOND
		FROM seq_1_to_%d`, n))
	if err == nil {
		return nil
	}
	// Without it: multi-row INSERTs.
	const perStmt = 2000
	for lo := 1; lo <= n; lo += perStmt {
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + sourceTableName + ` (id, name, amount, updated_at) VALUES `)
		for i := lo; i < lo+perStmt && i <= n; i++ {
			if i > lo {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%d,'name-%d',%s,TIMESTAMP'2024-01-15 09:50:00' + INTERVAL %d SECOND)",
				i, i, strconv.FormatFloat(sinkAmount(i), 'f', 2, 64), i)
		}
		if _, err := db.ExecContext(ctx, b.String()); err != nil {
			return fmt.Errorf("mariadb: %w", err)
		}
	}
	return nil
}

// sourceRow is the payload of one record of the source workloads.
type sourceRow struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Amount    float64 `json:"amount"`
	UpdatedAt int64   `json:"updated_at"`
}

func checkSourceRow(i int, v []byte, wantID int64) error {
	var env struct {
		Payload sourceRow `json:"payload"`
	}
	if err := json.Unmarshal(v, &env); err != nil {
		return fmt.Errorf("record %d: %w", i, err)
	}
	r := env.Payload
	id := r.ID
	if wantID > 0 && id != wantID || id < 1 || r.Name != fmt.Sprint("name-", id) ||
		r.Amount != sinkAmount(int(id)) || r.UpdatedAt != baseEpochMS+id*1000 {
		return fmt.Errorf("record %d is %s", i, trunc(string(v)))
	}
	return nil
}

// jdbcSource: Ferry's JDBC source reads the N-row MariaDB table into a fresh topic in
// mode (bulk or incrementing on id).
func jdbcSource(name, mode string) func(context.Context, *env, system) *result {
	return func(ctx context.Context, e *env, s system) *result {
		if s.name == "apache" {
			return &result{Status: statusNA, Note: apacheNoJDBCSource}
		}
		my, err := e.sourceTable(ctx)
		if err != nil {
			return dbResult(err)
		}
		prefix := e.topicName(name, s.name) + "-"
		topic := e.trackTopic(prefix + sourceTableName)
		if err := e.broker.createTopic(ctx, topic); err != nil {
			return &result{Status: statusFailed, Note: err.Error()}
		}
		conn := map[string]string{
			"name": "bench-" + name, "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
			"tasks.max": "1", "connection.url": my.jdbcURL, "connection.user": my.user,
			"connection.password": my.password, "mode": mode, "table.whitelist": sourceTableName,
			"topic.prefix": prefix,
			// One read of the table: a bulk source would otherwise read it again.
			"poll.interval.ms": "3600000",
		}
		if mode == "incrementing" {
			conn["incrementing.column.name"] = "id"
		}
		n := e.opts.records
		return runPipeline(ctx, e, s, pipeline{
			workload:   name,
			converter:  "json",
			connectors: []map[string]string{conn},
			target:     int64(n),
			counter:    func(ctx context.Context) (int64, error) { return e.broker.endOffset(ctx, topic) },
			verify: func(ctx context.Context) error {
				return checkTopicEnds(ctx, e.broker, topic, n, func(i int, v []byte) error {
					want := int64(0) // bulk: any row, in the server's order
					if mode == "incrementing" {
						want = int64(i + 1)
					}
					return checkSourceRow(i, v, want)
				})
			},
		})
	}
}

// trackTopic remembers a topic made outside topicName for deletion at the end.
func (e *env) trackTopic(t string) string {
	e.mu.Lock()
	e.topics = append(e.topics, t)
	e.mu.Unlock()
	return t
}

// jdbcSourceLimit runs the limit program (limit.go) in a child process on the source
// table and reports its rate, peak RSS and CPU time.
func jdbcSourceLimit(ctx context.Context, e *env) (*limitResult, error) {
	my, err := e.sourceTable(ctx)
	if err != nil {
		return nil, err
	}
	topic := e.topicName("jdbc-source-limit", "go")
	if err := e.broker.createTopic(ctx, topic); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(e.opts.records)*time.Second/2000)
	defer cancel()
	logPath := filepath.Join(e.logs, "jdbc-source-limit.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, self, "-jdbc-limit-table", sourceTableName, "-jdbc-limit-topic", topic,
		"-mysql", my.dsn, "-kafka", e.broker.addr, "-records", strconv.Itoa(e.opts.records))
	cmd.Stderr = logf
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("limit program: %w; last lines of %s:\n%s", err, logPath, tailFile(logPath, 3))
	}
	var lr limitResult
	if err := json.Unmarshal(out, &lr); err != nil {
		return nil, fmt.Errorf("limit program output %q: %w", trunc(string(out)), err)
	}
	n, err := e.broker.endOffset(ctx, topic)
	if err != nil {
		return nil, err
	}
	if n != int64(e.opts.records) {
		return nil, fmt.Errorf("limit program wrote %d records, want %d", n, e.opts.records)
	}
	if err := checkTopicEnds(ctx, e.broker, topic, e.opts.records, func(i int, v []byte) error {
		return checkSourceRow(i, v, int64(i+1))
	}); err != nil {
		return nil, err
	}
	return &lr, nil
}

// mavenError picks Maven's first error line out of its output.
func mavenError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if msg, ok := strings.CutPrefix(strings.TrimSpace(l), "[ERROR] "); ok && msg != "" {
			return msg
		}
	}
	return "see the log"
}
