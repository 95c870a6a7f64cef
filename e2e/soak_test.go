package e2e

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/api/option"

	"github.com/ferryhq/ferry/internal/testbed"
)

var soakLong = flag.Bool("soak.long", false,
	"soak: 60 s outages and rounds of faults for FERRY_SOAK_DURATION (default 15m) instead of the short CI run")

// soakPlan is how hard the soak pushes.
type soakPlan struct {
	outage     time.Duration // each database and the emulator stays down this long
	brokerDown time.Duration // the broker stays down this long
	settle     time.Duration // longest wait for everything RUNNING after a fault
	drain      time.Duration // longest wait at the end for RUNNING and caught-up sinks
	duration   time.Duration // rounds of faults repeat until this much time passed
	stable     time.Duration // RUNNING must hold this long to count
	rate       int64         // records a second per pipeline
}

func newSoakPlan(t *testing.T) soakPlan {
	t.Helper()
	p := soakPlan{outage: 20 * time.Second, brokerDown: 10 * time.Second, settle: 45 * time.Second,
		drain: 2 * time.Minute, stable: 5 * time.Second, rate: 100}
	env := os.Getenv("FERRY_SOAK_DURATION")
	if *soakLong || env != "" {
		p.outage, p.brokerDown, p.settle, p.drain, p.rate = 60*time.Second, 30*time.Second, 3*time.Minute, 5*time.Minute, 200
		p.duration = 15 * time.Minute
		if env != "" {
			d, err := time.ParseDuration(env)
			if err != nil {
				t.Fatalf("FERRY_SOAK_DURATION=%q: %v", env, err)
			}
			p.duration = d
		}
	}
	return p
}

// soakFault is one thing the harness does to the running pipelines.
type soakFault struct {
	name string
	// do breaks something and repairs it; it returns when the repair is
	// done (the service or worker started again), with a note for the
	// report.
	do func() (string, error)
}

// soakPhase is what one fault did: when it was repaired and how long
// until every connector and task was RUNNING again.
type soakPhase struct {
	name    string
	began   time.Time
	back    time.Time     // service or worker started again
	running time.Duration // from back to RUNNING held for plan.stable; -1: never
	caught  time.Duration // from back until the sinks held every record produced until back; -1: never
	stuck   string        // what was wrong when the wait gave up
	seen    []string      // non-RUNNING states seen during the phase
	note    string
}

// TestSoak runs FileStream, JDBC (MariaDB → Kafka → PostgreSQL) and
// BigQuery pipelines on a two-worker distributed cluster under a steady
// load while it kill -9s a worker, restarts the broker and stops MariaDB,
// PostgreSQL and the BigQuery emulator in turn. Nobody restarts a
// connector or task: at the end every one must be RUNNING on its own and
// every record produced must be at its sink. Duplicates are allowed (at
// least once) and reported, as is the time to RUNNING after each fault.
//
// The test starts its own broker, databases and emulator with
// scripts/testbed.sh, because it stops them. It runs one round of faults
// with 20 s outages; -soak.long (or FERRY_SOAK_DURATION=30m) makes the
// outages 60 s and repeats the rounds for the duration (raise -timeout).
// FERRY_SOAK_PORT sets the first port it tries (default 29400) and
// FERRY_SOAK_DIR a directory to keep its services' and workers' files in.
func TestSoak(t *testing.T) {
	t.Parallel()
	soakNeedsTestbed(t)
	plan := newSoakPlan(t)
	script := testbedScript(t)
	bin := ferryBinary(t)
	began := time.Now()

	root := os.Getenv("FERRY_SOAK_DIR")
	if root != "" {
		// The services start with --keep: an earlier run's data would be
		// taken up again.
		if entries, err := os.ReadDir(root); err == nil && len(entries) > 0 {
			t.Fatalf("FERRY_SOAK_DIR=%s is not empty; name a new directory", root)
		}
	} else {
		var err error
		// Not t.TempDir: the database servers run as their own users and must
		// reach their directories.
		if root, err = os.MkdirTemp("", "ferry-soak-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("soak: files kept in %s", root)
				return
			}
			os.RemoveAll(root)
		})
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}

	// Services, started side by side.
	base := 29400
	if v := os.Getenv("FERRY_SOAK_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("FERRY_SOAK_PORT=%q: %v", v, err)
		}
		base = n
	}
	ports := &portAllocator{next: base}
	svc := map[string]*soakService{}
	for _, kind := range soakServices {
		s := &soakService{kind: kind, dir: filepath.Join(root, kind)}
		switch kind {
		case "kafka", "bigquery":
			p := ports.take(t, 2)
			s.ports = []int{p, p + 1}
		default:
			s.ports = []int{ports.take(t, 1)}
		}
		svc[kind] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, len(soakServices))
	for i, kind := range soakServices {
		wg.Go(func() { errs[i] = svc[kind].start(script) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, kind := range soakServices {
			if err := svc[kind].stop(script); err != nil {
				t.Log(err)
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	bootstrap := svc["kafka"].value("FERRY_TEST_KAFKA")
	mariaPort, pgPort := svc["mariadb"].ports[0], svc["postgres"].ports[0]
	bqREST := svc["bigquery"].value("FERRY_TEST_BIGQUERY")
	t.Logf("soak: services up in %v: Kafka %s, MariaDB :%d, PostgreSQL :%d, BigQuery emulator %s; files in %s",
		time.Since(began).Round(time.Millisecond), bootstrap, mariaPort, pgPort, bqREST, root)

	// What the pipelines read and write.
	maria := testbed.OpenDB(t, testbed.DriverMySQL,
		fmt.Sprintf("ferry:ferry@tcp(127.0.0.1:%d)/ferry?timeout=3s&readTimeout=10s&writeTimeout=10s", mariaPort))
	execSQL(t, maria, `CREATE TABLE soak_rows (id BIGINT NOT NULL PRIMARY KEY, payload VARCHAR(64) NOT NULL)`)
	pg := testbed.OpenDB(t, testbed.DriverPostgres,
		fmt.Sprintf("postgres://ferry:ferry@127.0.0.1:%d/ferry?sslmode=disable&connect_timeout=3", pgPort))
	emu := testbed.BigQueryEmulator{REST: bqREST, Project: testbed.BigQueryProject, Dataset: "soak"}
	emu.CreateDataset(t, emu.Dataset)
	bqc, err := bq.NewClient(context.Background(), emu.Project,
		option.WithEndpoint(emu.REST+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bqc.Close() })
	const (
		fsTopic   = "soak-fs"
		jdbcTopic = "soak-jdbc-soak_rows"
		bqTopic   = "soak-bq"
	)
	bqRef := fmt.Sprintf("`%s.%s.%s`", emu.Project, emu.Dataset, bqTableName(bqTopic))
	for _, topic := range []string{fsTopic, jdbcTopic, bqTopic} {
		testbed.CreateTopic(t, bootstrap, topic, 1)
	}
	fsIn, fsOut := filepath.Join(root, "fs-in.txt"), filepath.Join(root, "fs-out.txt")
	writeFile(t, fsIn, "")

	// Two workers as child processes.
	props := map[string]string{
		"bootstrap.servers":                 bootstrap,
		"group.id":                          "soak",
		"config.storage.topic":              "soak-configs",
		"offset.storage.topic":              "soak-offsets",
		"status.storage.topic":              "soak-status",
		"config.storage.replication.factor": "1",
		"offset.storage.replication.factor": "1",
		"status.storage.replication.factor": "1",
		"key.converter":                     jsonConverter,
		"value.converter":                   jsonConverter,
		"offset.flush.interval.ms":          "1000",
		"session.timeout.ms":                "6000",
		"heartbeat.interval.ms":             "1000",
		"scheduled.rebalance.max.delay.ms":  "0",
		"task.shutdown.graceful.timeout.ms": "5000",
		"consumer.session.timeout.ms":       "6000",
		"consumer.heartbeat.interval.ms":    "1000",
	}
	workers := make([]*soakWorker, 2)
	var urls []string
	for i := range workers {
		workers[i] = newSoakWorker(t, i, filepath.Join(root, fmt.Sprintf("worker%d", i)), ports.take(t, 1), props)
		urls = append(urls, workers[i].url)
	}
	for _, w := range workers {
		if err := w.start(bin); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, w := range workers {
			w.kill()
		}
		if t.Failed() {
			for _, w := range workers {
				t.Logf("soak: worker %d (%d runs), last lines of %s:\n%s", w.idx, w.runs, w.logPath(), w.logTail(60))
			}
		}
	})
	for _, w := range workers {
		(&worker{url: w.url}).waitHealthy(t)
	}

	// The connectors.
	jdbcMaria := fmt.Sprintf("jdbc:mysql://127.0.0.1:%d/ferry", mariaPort)
	jdbcPG := fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/ferry?user=ferry&password=ferry&sslmode=disable", pgPort)
	connectors := map[string]map[string]string{
		"fs-source": {"connector.class": "FileStreamSource", "tasks.max": "1", "file": fsIn, "topic": fsTopic},
		"fs-sink":   {"connector.class": "FileStreamSink", "tasks.max": "1", "file": fsOut, "topics": fsTopic},
		"jdbc-source": {"connector.class": jdbcSrcClass, "tasks.max": "1", "connection.url": jdbcMaria,
			"connection.user": "ferry", "connection.password": "ferry", "mode": "incrementing",
			"incrementing.column.name": "id", "table.whitelist": "soak_rows", "topic.prefix": "soak-jdbc-",
			"poll.interval.ms": "200"},
		"jdbc-sink": {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "tasks.max": "1",
			"topics": jdbcTopic, "connection.url": jdbcPG, "insert.mode": "upsert", "pk.mode": "record_value",
			"pk.fields": "id", "auto.create": "true", "table.name.format": "soak_rows"},
		"bq-sink": {"connector.class": bqSinkClass, "tasks.max": "1", "topics": bqTopic,
			"project": emu.Project, "defaultDataset": emu.Dataset, "bigQueryEndpoint": emu.REST,
			"bigQueryPartitionDecorator": "false", "autoCreateTables": "true", "sanitizeTopics": "true",
			"key.converter": jsonConverter, "key.converter.schemas.enable": "false",
			"value.converter": jsonConverter, "value.converter.schemas.enable": "false"},
	}
	want := map[string]int{}
	for _, name := range slices.Sorted(maps.Keys(connectors)) {
		want[name] = 1
		w := &worker{url: workers[0].url}
		var r response
		testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
			r = w.call(t, "PUT", "/connectors/"+name+"/config", connectors[name])
			return r.status != 409 && r.status < 500, string(r.body)
		})
		expectStatus(t, r, 201)
	}

	// Load, and a watcher that restarts workers that exited (as a process
	// supervisor would) and records every state that is not RUNNING.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kcl := testbed.Client(t, bootstrap, kgo.DefaultProduceTopic(bqTopic))
	tick := 100 * time.Millisecond
	perTick := plan.rate / 10
	loaders := []*loader{fileLoader(fsIn, perTick, tick), mariaLoader(maria, perTick, tick), kafkaLoader(kcl, perTick, tick)}
	stopLoad := make(chan struct{})
	var loadWG sync.WaitGroup
	for _, l := range loaders {
		loadWG.Go(func() { l.run(ctx, stopLoad) })
	}
	stopLoading := sync.OnceFunc(func() { close(stopLoad); loadWG.Wait() })
	defer stopLoading()
	mon := newSoakMonitor(urls, want)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		mon.watch(ctx, workers, bin)
	}()
	defer func() { cancel(); <-watchDone }()

	// Warm up: everything RUNNING and records at every sink.
	mon.setPhase("start")
	startWait := time.Now()
	testbed.WaitFor(t, 2*time.Minute, 500*time.Millisecond, func() (bool, string) {
		if msg := mon.notRunning(); msg != "" {
			return false, msg
		}
		fs, _ := fileTally(fsOut, 1)
		pgc, _ := sqlIDs(ctx, pg, "SELECT id FROM soak_rows WHERE id = 0")
		bqt, _ := bqTally(ctx, bqc, bqRef, 1)
		return fs.distinct == 1 && len(pgc) == 1 && bqt.distinct == 1,
			fmt.Sprintf("first record at the sinks: file %v, postgres %v, bigquery %v", fs.distinct == 1, len(pgc) == 1, bqt.distinct == 1)
	})
	t.Logf("soak: %d connectors and their tasks RUNNING and records at every sink %v after creating them",
		len(want), time.Since(startWait).Round(time.Millisecond))

	// producedNow is what each load wrote so far; caughtUp(marks) reports
	// whether every sink holds every record below its mark.
	producedNow := func() map[string]int64 {
		m := map[string]int64{}
		for _, l := range loaders {
			m[l.name] = l.produced.Load()
		}
		return m
	}
	caughtUp := func(marks map[string]int64) func() (bool, string) {
		return func() (bool, string) {
			qctx, qcancel := context.WithTimeout(ctx, 15*time.Second)
			defer qcancel()
			var lag []string
			if fs, err := fileTally(fsOut, marks["filestream"]); err != nil || fs.lost() > 0 {
				lag = append(lag, fmt.Sprintf("file sink lacks %d of %d lines %v", fs.lost(), marks["filestream"], errText(err)))
			}
			var n int64
			if err := pg.QueryRowContext(qctx, "SELECT COUNT(*) FROM soak_rows WHERE id < $1", marks["mariadb"]).Scan(&n); err != nil || n < marks["mariadb"] {
				lag = append(lag, fmt.Sprintf("PostgreSQL has %d of %d rows %v", n, marks["mariadb"], errText(err)))
			}
			if n, err := bqDistinctBelow(qctx, bqc, bqRef, marks["kafka"]); err != nil || n < marks["kafka"] {
				lag = append(lag, fmt.Sprintf("BigQuery has %d of %d ids %v", n, marks["kafka"], errText(err)))
			}
			return len(lag) == 0, strings.Join(lag, "; ")
		}
	}

	// The faults.
	outage := func(kind string, down time.Duration) func() (string, error) {
		return func() (string, error) {
			if err := svc[kind].stop(script); err != nil {
				return "", err
			}
			time.Sleep(down)
			return "", svc[kind].start(script)
		}
	}
	faults := []soakFault{
		{"kill -9 a worker", func() (string, error) {
			// A supervisor restarts a killed worker after a pause; the pause is
			// longer than the session timeout, so the other worker takes over
			// its connectors and tasks first.
			w := workers[mon.busiestWorker(workers)]
			id := strings.TrimPrefix(w.url, "http://")
			mon.hold(w.idx)
			defer mon.release(w.idx)
			w.kill()
			killed := time.Now()
			moved, why := mon.movedOff(ctx, id, plan.settle)
			time.Sleep(time.Until(killed.Add(10 * time.Second)))
			if err := w.start(bin); err != nil {
				return "", err
			}
			note := fmt.Sprintf("worker %d (%s) killed; everything RUNNING on the other worker %s later%s; restarted %v after the kill",
				w.idx, id, after(moved, plan.settle), orEmpty(": ", why), time.Since(killed).Round(time.Second))
			return note, waitUp(ctx, w.url+"/health", 60*time.Second)
		}},
		{fmt.Sprintf("broker down %v", plan.brokerDown), outage("kafka", plan.brokerDown)},
		{fmt.Sprintf("MariaDB down %v", plan.outage), outage("mariadb", plan.outage)},
		{fmt.Sprintf("PostgreSQL down %v", plan.outage), outage("postgres", plan.outage)},
		{fmt.Sprintf("BigQuery emulator down %v", plan.outage), outage("bigquery", plan.outage)},
	}
	var phases []soakPhase
	for round := 1; ; round++ {
		for _, f := range faults {
			// Let the load run a little between faults.
			time.Sleep(3 * time.Second)
			name := f.name
			if plan.duration > 0 {
				name = fmt.Sprintf("round %d: %s", round, name)
			}
			ph := soakPhase{name: name, began: time.Now()}
			mon.setPhase(name)
			var err error
			if ph.note, err = f.do(); err != nil {
				t.Fatalf("soak: %s: %v", name, err)
			}
			ph.back = time.Now()
			ph.running, ph.caught, ph.stuck = mon.settle(ctx, plan.settle, plan.stable, caughtUp(producedNow()))
			ph.seen = mon.seenIn(name)
			phases = append(phases, ph)
			t.Logf("soak: %s: repaired after %v; all RUNNING after the repair: %s; sinks caught up: %s%s", name,
				ph.back.Sub(ph.began).Round(time.Millisecond), after(ph.running, plan.settle), after(ph.caught, plan.settle),
				orEmpty("; still: ", ph.stuck)+orEmpty("; ", ph.note))
		}
		if plan.duration == 0 || time.Since(began) >= plan.duration {
			break
		}
	}

	// Stop the load and let the sinks catch up.
	mon.setPhase("drain")
	stopLoading()
	produced := producedNow()
	drainStart := time.Now()
	var fsT, jdbcT, bqT tally
	var mariaRows int64
	tallies := func() string {
		var errs []string
		var err error
		if fsT, err = fileTally(fsOut, produced["filestream"]); err != nil {
			errs = append(errs, "file: "+err.Error())
		}
		qctx, qcancel := context.WithTimeout(ctx, 20*time.Second)
		defer qcancel()
		if err := maria.QueryRowContext(qctx, "SELECT COUNT(*) FROM soak_rows").Scan(&mariaRows); err != nil {
			errs = append(errs, "mariadb: "+err.Error())
		}
		if seen, err := sqlIDs(qctx, pg, "SELECT id FROM soak_rows"); err != nil {
			errs = append(errs, "postgres: "+err.Error())
		} else {
			jdbcT = count(produced["mariadb"], seen, 0)
		}
		if bqT, err = bqTally(qctx, bqc, bqRef, produced["kafka"]); err != nil {
			errs = append(errs, "bigquery: "+err.Error())
		}
		return strings.Join(errs, "; ")
	}
	drained := false
	stuck := ""
	for time.Since(drainStart) < plan.drain {
		errs := tallies()
		stuck = mon.notRunning()
		if errs == "" && stuck == "" && fsT.lost() == 0 && jdbcT.lost() == 0 && bqT.lost() == 0 {
			drained = true
			break
		}
		time.Sleep(time.Second)
	}
	if !drained {
		if errs := tallies(); errs != "" {
			t.Errorf("soak: reading the sinks: %s", errs)
		}
	}
	drainTook := time.Since(drainStart)
	stuck = mon.notRunning()

	// Duplicates upstream of the sinks that upsert or dedupe.
	tctx, tcancel := context.WithTimeout(ctx, time.Minute)
	fsTopicT, errFS := topicTally(tctx, kcl, fsTopic, produced["filestream"], fsRecordID)
	jdbcTopicT, errJ := topicTally(tctx, kcl, jdbcTopic, produced["mariadb"], jdbcRecordID)
	tcancel()

	// The report.
	var b strings.Builder
	mode := "CI mode"
	if plan.duration > 0 {
		mode = "long mode"
	}
	fmt.Fprintf(&b, "soak report (%s, outages %v, broker down %v, %d records/s per pipeline, %v in all):\n",
		mode, plan.outage, plan.brokerDown, plan.rate,
		time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "  %-36s %10s  %-16s %s\n", "fault", "repaired", "all RUNNING", "sinks caught up (after the repair)")
	for _, ph := range phases {
		fmt.Fprintf(&b, "  %-36s %10v  %-16s %s\n", ph.name, ph.back.Sub(ph.began).Round(100*time.Millisecond),
			after(ph.running, plan.settle), after(ph.caught, plan.settle))
		if ph.note != "" {
			fmt.Fprintf(&b, "      %s\n", ph.note)
		}
		for _, s := range ph.seen {
			fmt.Fprintf(&b, "      seen: %s\n", s)
		}
		if ph.stuck != "" {
			fmt.Fprintf(&b, "      still: %s\n", ph.stuck)
		}
	}
	if s := mon.seenIn("drain"); len(s) > 0 {
		for _, x := range s {
			fmt.Fprintf(&b, "  drain seen: %s\n", x)
		}
	}
	if drained {
		fmt.Fprintf(&b, "  drained in %v: every connector and task RUNNING, every record at its sink\n", drainTook.Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(&b, "  not drained after %v; not RUNNING: %s\n", drainTook.Round(time.Second), orNone(stuck))
	}
	fmt.Fprintf(&b, "  filestream (file → %s → file):      %v\n", fsTopic, fsT)
	if errFS == nil {
		fmt.Fprintf(&b, "      topic %s: %d records, %d duplicates\n", fsTopic, fsTopicT.total, fsTopicT.dups())
	}
	fmt.Fprintf(&b, "  jdbc (MariaDB → %s → PostgreSQL upsert): %v; MariaDB holds %d rows\n", jdbcTopic, jdbcT, mariaRows)
	if errJ == nil {
		fmt.Fprintf(&b, "      topic %s: %d records, %d duplicates (the upsert folds them), %d ids missing\n",
			jdbcTopic, jdbcTopicT.total, jdbcTopicT.dups(), jdbcTopicT.lost())
	}
	fmt.Fprintf(&b, "  bigquery (%s → insertAll):          %v\n", bqTopic, bqT)
	for _, l := range loaders {
		if n := l.failures.Load(); n > 0 {
			last, _ := l.lastErr.Load().(string)
			fmt.Fprintf(&b, "  load %s: %d failed batch attempts while its service was down (last: %s)\n", l.name, n, strings.TrimPrefix(firstLine(last), ": "))
		}
	}
	if c := mon.crashes(); len(c) > 0 {
		fmt.Fprintf(&b, "  worker exits nobody asked for: %v\n", c)
	}
	t.Log(b.String())

	// The verdict.
	if stuck != "" {
		t.Errorf("soak: not every connector and task RUNNING %v after the load stopped: %s", drainTook.Round(time.Second), stuck)
	}
	for name, c := range map[string]tally{"filestream": fsT, "jdbc": jdbcT, "bigquery": bqT} {
		if c.lost() > 0 {
			t.Errorf("soak: %s pipeline: %d of %d records missing at the sink (first: %v)", name, c.lost(), c.produced, c.missing)
		}
	}
	if mariaRows != produced["mariadb"] {
		t.Errorf("soak: MariaDB holds %d rows, the load wrote %d", mariaRows, produced["mariadb"])
	}
	if c := mon.crashes(); len(c) > 0 {
		t.Errorf("soak: workers exited on their own: %v", c)
	}
}

// after renders a wait's result: the time, or "not within limit".
func after(d, limit time.Duration) string {
	if d < 0 {
		return "not within " + limit.String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func orEmpty(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + strings.TrimPrefix(firstLine(err.Error()), ": ") + ")"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
