package e2e

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	settle     time.Duration // longest wait for RUNNING and caught-up sinks after a fault
	drain      time.Duration // longest wait at the end for RUNNING and caught-up sinks
	duration   time.Duration // rounds of faults repeat until this much time passed; 0: one round
	stable     time.Duration // RUNNING must hold this long to count
	rate       int64         // records a second per pipeline
}

func newSoakPlan(t *testing.T) soakPlan {
	t.Helper()
	p := soakPlan{outage: 20 * time.Second, brokerDown: 10 * time.Second, settle: 30 * time.Second,
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
	// FERRY_SOAK_OUTAGE lengthens (or shortens) the database and emulator
	// outages, e.g. 5m for the runtime issue's five-minute outage.
	if env := os.Getenv("FERRY_SOAK_OUTAGE"); env != "" {
		d, err := time.ParseDuration(env)
		if err != nil {
			t.Fatalf("FERRY_SOAK_OUTAGE=%q: %v", env, err)
		}
		p.outage = d
		p.settle = max(p.settle, d)
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

// The soak's topics; the JDBC source names its topic prefix+table.
const (
	soakFSTopic   = "soak-fs"
	soakJDBCTopic = "soak-jdbc-soak_rows"
	soakBQTopic   = "soak-bq"
)

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
// FERRY_SOAK_DIR a new directory to keep its services' and workers' files
// in.
func TestSoak(t *testing.T) {
	t.Parallel()
	soakNeedsTestbed(t)
	s := &soak{t: t, plan: newSoakPlan(t), script: testbedScript(t), bin: ferryBinary(t), began: time.Now()}
	s.makeRoot()
	s.startServices()
	s.openStores()
	s.startWorkers()
	s.createConnectors()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.ctx = ctx
	stopLoad := s.startLoad()
	defer stopLoad()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		s.mon.watch(ctx, s.workers, s.bin)
	}()
	defer func() { cancel(); <-watchDone }()

	s.warmUp()
	phases := s.runFaults()
	s.mon.setPhase("drain")
	stopLoad()
	r := s.drain()
	r.phases = phases
	t.Log(s.report(r))
	s.verdict(r)
}

// soak is the state of one soak run.
type soak struct {
	t      *testing.T
	plan   soakPlan
	script string // scripts/testbed.sh
	bin    string // the ferry binary
	began  time.Time
	root   string
	ctx    context.Context // ends when the test does

	ports     *portAllocator
	svc       map[string]*soakService
	bootstrap string

	maria, pg *sql.DB
	bqc       *bq.Client
	bqRef     string // the BigQuery table as GoogleSQL names it
	kcl       *kgo.Client
	fsIn      string // the FileStream source's file
	fsOut     string // the FileStream sink's file

	mu      sync.Mutex // guards workers against the signal handler
	workers []*soakWorker
	mon     *soakMonitor
	loaders []*loader
}

// makeRoot makes the directory for the services' data, the files and the
// worker logs: FERRY_SOAK_DIR, or a temporary one removed when the test
// passes.
func (s *soak) makeRoot() {
	t := s.t
	s.root = os.Getenv("FERRY_SOAK_DIR")
	if s.root != "" {
		// The services start with --keep: an earlier run's data would be
		// taken up again.
		if entries, err := os.ReadDir(s.root); err == nil && len(entries) > 0 {
			t.Fatalf("FERRY_SOAK_DIR=%s is not empty; name a new directory", s.root)
		}
	} else {
		var err error
		// Not t.TempDir: the database servers run as their own users and must
		// reach their directories.
		if s.root, err = os.MkdirTemp("", "ferry-soak-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("soak: files kept in %s", s.root)
				return
			}
			os.RemoveAll(s.root)
		})
	}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
}

// startServices starts the four services side by side on ports from
// FERRY_SOAK_PORT (default 29400) on.
func (s *soak) startServices() {
	t := s.t
	base := 29400
	if v := os.Getenv("FERRY_SOAK_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("FERRY_SOAK_PORT=%q: %v", v, err)
		}
		base = n
	}
	s.ports = &portAllocator{next: base}
	s.svc = map[string]*soakService{}
	for _, kind := range soakServices {
		svc := &soakService{kind: kind, dir: filepath.Join(s.root, kind)}
		switch kind {
		case "kafka", "bigquery":
			p := s.ports.take(t, 2)
			svc.ports = []int{p, p + 1}
		default:
			svc.ports = []int{s.ports.take(t, 1)}
		}
		s.svc[kind] = svc
	}
	s.stopOnSignal()
	var wg sync.WaitGroup
	errs := make([]error, len(soakServices))
	for i, kind := range soakServices {
		wg.Go(func() { errs[i] = s.svc[kind].start(s.script) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, kind := range soakServices {
			if err := s.svc[kind].stop(s.script); err != nil {
				t.Log(err)
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s.bootstrap = s.svc["kafka"].value("FERRY_TEST_KAFKA")
	t.Logf("soak: services up in %v: Kafka %s, MariaDB :%d, PostgreSQL :%d, BigQuery emulator %s; files in %s",
		time.Since(s.began).Round(time.Millisecond), s.bootstrap, s.svc["mariadb"].ports[0], s.svc["postgres"].ports[0],
		s.svc["bigquery"].value("FERRY_TEST_BIGQUERY"), s.root)
}

// openStores makes the source table, the dataset, the topics and the
// FileStream source's file, and opens the clients that check the sinks.
func (s *soak) openStores() {
	t := s.t
	s.maria = testbed.OpenDB(t, testbed.DriverMySQL,
		fmt.Sprintf("ferry:ferry@tcp(127.0.0.1:%d)/ferry?timeout=3s&readTimeout=10s&writeTimeout=10s", s.svc["mariadb"].ports[0]))
	execSQL(t, s.maria, `CREATE TABLE soak_rows (id BIGINT NOT NULL PRIMARY KEY, payload VARCHAR(64) NOT NULL)`)
	s.pg = testbed.OpenDB(t, testbed.DriverPostgres,
		fmt.Sprintf("postgres://ferry:ferry@127.0.0.1:%d/ferry?sslmode=disable&connect_timeout=3", s.svc["postgres"].ports[0]))
	emu := s.emulator()
	emu.CreateDataset(t, emu.Dataset)
	var err error
	s.bqc, err = bq.NewClient(context.Background(), emu.Project,
		option.WithEndpoint(emu.REST+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.bqc.Close() })
	s.bqRef = fmt.Sprintf("`%s.%s.%s`", emu.Project, emu.Dataset, bqTableName(soakBQTopic))
	for _, topic := range []string{soakFSTopic, soakJDBCTopic, soakBQTopic} {
		testbed.CreateTopic(t, s.bootstrap, topic, 1)
	}
	s.kcl = testbed.Client(t, s.bootstrap, kgo.DefaultProduceTopic(soakBQTopic))
	s.fsIn, s.fsOut = filepath.Join(s.root, "fs-in.txt"), filepath.Join(s.root, "fs-out.txt")
	writeFile(t, s.fsIn, "")
}

func (s *soak) emulator() testbed.BigQueryEmulator {
	return testbed.BigQueryEmulator{REST: s.svc["bigquery"].value("FERRY_TEST_BIGQUERY"),
		Project: testbed.BigQueryProject, Dataset: "soak"}
}

// startWorkers starts two distributed workers as child processes and
// waits until both answer.
func (s *soak) startWorkers() {
	t := s.t
	props := map[string]string{
		"bootstrap.servers":                 s.bootstrap,
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
	for i := range workers {
		workers[i] = newSoakWorker(t, i, filepath.Join(s.root, fmt.Sprintf("worker%d", i)), s.ports.take(t, 1), props)
	}
	s.mu.Lock()
	s.workers = workers
	s.mu.Unlock()
	for _, w := range s.workers {
		if err := w.start(s.bin); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, w := range s.workers {
			w.kill()
		}
		if t.Failed() {
			for _, w := range s.workers {
				t.Logf("soak: worker %d (%d runs), last lines of %s:\n%s", w.idx, w.runs, w.logPath(), w.logTail(60))
			}
		}
	})
	for _, w := range s.workers {
		(&worker{url: w.url}).waitHealthy(t)
	}
}

// stopOnSignal stops the workers and the services when the test binary
// gets SIGINT or SIGTERM, which end it without running cleanups: the
// services run detached (testbed.sh starts them with setsid), so nothing
// else would stop them.
func (s *soak) stopOnSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			s.mu.Lock()
			for _, w := range s.workers {
				w.kill()
			}
			s.mu.Unlock()
			for _, kind := range soakServices {
				_ = s.svc[kind].stop(s.script)
			}
			fmt.Fprintf(os.Stderr, "soak: %v: stopped the workers and services in %s\n", sig, s.root)
			os.Exit(1)
		case <-done:
		}
	}()
	s.t.Cleanup(func() { signal.Stop(sigs); close(done) })
}

// createConnectors creates the five connectors, one task each, and the
// monitor that watches them.
func (s *soak) createConnectors() {
	t := s.t
	emu := s.emulator()
	jdbcMaria := fmt.Sprintf("jdbc:mysql://127.0.0.1:%d/ferry", s.svc["mariadb"].ports[0])
	jdbcPG := fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/ferry?user=ferry&password=ferry&sslmode=disable", s.svc["postgres"].ports[0])
	connectors := map[string]map[string]string{
		"fs-source": {"connector.class": "FileStreamSource", "tasks.max": "1", "file": s.fsIn, "topic": soakFSTopic},
		"fs-sink":   {"connector.class": "FileStreamSink", "tasks.max": "1", "file": s.fsOut, "topics": soakFSTopic},
		"jdbc-source": {"connector.class": jdbcSrcClass, "tasks.max": "1", "connection.url": jdbcMaria,
			"connection.user": "ferry", "connection.password": "ferry", "mode": "incrementing",
			"incrementing.column.name": "id", "table.whitelist": "soak_rows", "topic.prefix": "soak-jdbc-",
			"poll.interval.ms": "200"},
		"jdbc-sink": {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "tasks.max": "1",
			"topics": soakJDBCTopic, "connection.url": jdbcPG, "insert.mode": "upsert", "pk.mode": "record_value",
			"pk.fields": "id", "auto.create": "true", "table.name.format": "soak_rows"},
		"bq-sink": {"connector.class": bqSinkClass, "tasks.max": "1", "topics": soakBQTopic,
			"project": emu.Project, "defaultDataset": emu.Dataset, "bigQueryEndpoint": emu.REST,
			"bigQueryPartitionDecorator": "false", "autoCreateTables": "true", "sanitizeTopics": "true",
			"key.converter": jsonConverter, "key.converter.schemas.enable": "false",
			"value.converter": jsonConverter, "value.converter.schemas.enable": "false"},
	}
	want := map[string]int{}
	w := &worker{url: s.workers[0].url}
	for _, name := range slices.Sorted(maps.Keys(connectors)) {
		want[name] = 1
		var r response
		testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
			r = w.call(t, "PUT", "/connectors/"+name+"/config", connectors[name])
			return r.status != 409 && r.status < 500, string(r.body)
		})
		expectStatus(t, r, 201)
	}
	urls := make([]string, len(s.workers))
	for i, w := range s.workers {
		urls[i] = w.url
	}
	s.mon = newSoakMonitor(urls, want)
}

// startLoad starts the three loads; the function it returns stops them
// and waits until they are done (it may be called more than once).
func (s *soak) startLoad() func() {
	tick := 100 * time.Millisecond
	perTick := s.plan.rate / 10
	s.loaders = []*loader{fileLoader(s.fsIn, perTick, tick), mariaLoader(s.maria, perTick, tick), kafkaLoader(s.kcl, perTick, tick)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range s.loaders {
		wg.Go(func() { l.run(s.ctx, stop) })
	}
	return sync.OnceFunc(func() { close(stop); wg.Wait() })
}

// produced is what each load wrote so far, by loader name.
func (s *soak) produced() map[string]int64 {
	m := map[string]int64{}
	for _, l := range s.loaders {
		m[l.name] = l.produced.Load()
	}
	return m
}

// warmUp waits until everything is RUNNING and each sink has its first
// record.
func (s *soak) warmUp() {
	s.mon.setPhase("start")
	start := time.Now()
	testbed.WaitFor(s.t, 2*time.Minute, 500*time.Millisecond, func() (bool, string) {
		if msg := s.mon.notRunning(); msg != "" {
			return false, msg
		}
		return s.caughtUp(map[string]int64{"filestream": 1, "mariadb": 1, "kafka": 1})()
	})
	s.t.Logf("soak: %d connectors and their tasks RUNNING and records at every sink %v after creating them",
		len(s.mon.want), time.Since(start).Round(time.Millisecond))
}

// caughtUp returns a check that every sink holds every record below its
// load's mark.
func (s *soak) caughtUp(marks map[string]int64) func() (bool, string) {
	return func() (bool, string) {
		ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
		defer cancel()
		var lag []string
		if fs, err := fileTally(s.fsOut, marks["filestream"]); err != nil || fs.lost() > 0 {
			lag = append(lag, fmt.Sprintf("file sink lacks %d of %d lines %s", fs.lost(), marks["filestream"], errText(err)))
		}
		var n int64
		err := s.pg.QueryRowContext(ctx, "SELECT COUNT(*) FROM soak_rows WHERE id < $1", marks["mariadb"]).Scan(&n)
		if err != nil || n < marks["mariadb"] {
			lag = append(lag, fmt.Sprintf("PostgreSQL has %d of %d rows %s", n, marks["mariadb"], errText(err)))
		}
		if n, err := bqDistinctBelow(ctx, s.bqc, s.bqRef, marks["kafka"]); err != nil || n < marks["kafka"] {
			lag = append(lag, fmt.Sprintf("BigQuery has %d of %d ids %s", n, marks["kafka"], errText(err)))
		}
		return len(lag) == 0, strings.Join(lag, "; ")
	}
}

// faults is one round of the fault schedule.
func (s *soak) faults() []soakFault {
	outage := func(kind string, down time.Duration) func() (string, error) {
		return func() (string, error) {
			if err := s.svc[kind].stop(s.script); err != nil {
				return "", err
			}
			time.Sleep(down)
			return "", s.svc[kind].start(s.script)
		}
	}
	return []soakFault{
		{"kill -9 a worker", s.killWorker},
		{fmt.Sprintf("broker down %v", s.plan.brokerDown), outage("kafka", s.plan.brokerDown)},
		{fmt.Sprintf("MariaDB down %v", s.plan.outage), outage("mariadb", s.plan.outage)},
		{fmt.Sprintf("PostgreSQL down %v", s.plan.outage), outage("postgres", s.plan.outage)},
		{fmt.Sprintf("BigQuery emulator down %v", s.plan.outage), outage("bigquery", s.plan.outage)},
	}
}

// killWorker kill -9s the worker running the most, waits until the other
// one runs everything, and starts it again 10 s after the kill, as a
// process supervisor would (the pause is longer than the session timeout,
// so the takeover happens first).
func (s *soak) killWorker() (string, error) {
	w := s.workers[s.mon.busiestWorker(s.workers)]
	id := strings.TrimPrefix(w.url, "http://")
	s.mon.hold(w.idx)
	defer s.mon.release(w.idx)
	w.kill()
	killed := time.Now()
	moved, why := s.mon.movedOff(s.ctx, id, s.plan.settle)
	time.Sleep(time.Until(killed.Add(10 * time.Second)))
	if err := w.start(s.bin); err != nil {
		return "", err
	}
	note := fmt.Sprintf("worker %d (%s) killed; everything RUNNING on the other worker %s later%s; restarted %v after the kill",
		w.idx, id, after(moved, s.plan.settle), orEmpty(": ", why), time.Since(killed).Round(time.Second))
	return note, waitUp(s.ctx, w.url+"/health", 60*time.Second)
}

// runFaults runs rounds of faults (one unless the plan has a duration),
// each followed by a wait for RUNNING and caught-up sinks.
func (s *soak) runFaults() []soakPhase {
	var phases []soakPhase
	for round := 1; ; round++ {
		for _, f := range s.faults() {
			// Let the load run a little between faults.
			time.Sleep(3 * time.Second)
			name := f.name
			if s.plan.duration > 0 {
				name = fmt.Sprintf("round %d: %s", round, name)
			}
			ph := soakPhase{name: name, began: time.Now()}
			s.mon.setPhase(name)
			var err error
			if ph.note, err = f.do(); err != nil {
				s.t.Fatalf("soak: %s: %v", name, err)
			}
			ph.back = time.Now()
			ph.running, ph.caught, ph.stuck = s.mon.settle(s.ctx, s.plan.settle, s.plan.stable, s.caughtUp(s.produced()))
			ph.seen = s.mon.seenIn(name)
			phases = append(phases, ph)
			s.t.Logf("soak: %s: repaired after %v; all RUNNING after the repair: %s; sinks caught up: %s%s", name,
				ph.back.Sub(ph.began).Round(time.Millisecond), after(ph.running, s.plan.settle), after(ph.caught, s.plan.settle),
				orEmpty("; still: ", ph.stuck)+orEmpty("; ", ph.note))
		}
		if s.plan.duration == 0 || time.Since(s.began) >= s.plan.duration {
			return phases
		}
	}
}

// soakResult is what the sinks hold at the end.
type soakResult struct {
	phases             []soakPhase
	produced           map[string]int64
	drained            bool
	drainTook          time.Duration
	stuck              string // not RUNNING at the end
	readErr            string // a sink that could not be read
	fs, jdbc, bq       tally
	mariaRows          int64
	fsTopic, jdbcTopic tally // the topics in front of the FileStream and JDBC sinks
	fsTopicErr         error
	jdbcTopicErr       error
}

// drain waits (at most plan.drain) until everything is RUNNING and every
// sink holds every record, then counts what the sinks and topics hold.
func (s *soak) drain() soakResult {
	r := soakResult{produced: s.produced()}
	start := time.Now()
	for {
		r.readErr = s.tally(&r)
		r.stuck = s.mon.notRunning()
		if r.readErr == "" && r.stuck == "" && r.fs.lost() == 0 && r.jdbc.lost() == 0 && r.bq.lost() == 0 {
			r.drained = true
			break
		}
		if time.Since(start) >= s.plan.drain {
			break
		}
		time.Sleep(time.Second)
	}
	r.drainTook = time.Since(start)
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	r.fsTopic, r.fsTopicErr = topicTally(ctx, s.kcl, soakFSTopic, r.produced["filestream"], fsRecordID)
	r.jdbcTopic, r.jdbcTopicErr = topicTally(ctx, s.kcl, soakJDBCTopic, r.produced["mariadb"], jdbcRecordID)
	return r
}

// tally counts what each sink holds into r, and returns the errors of
// sinks it could not read.
func (s *soak) tally(r *soakResult) string {
	var errs []string
	var err error
	if r.fs, err = fileTally(s.fsOut, r.produced["filestream"]); err != nil {
		errs = append(errs, "file: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	if err := s.maria.QueryRowContext(ctx, "SELECT COUNT(*) FROM soak_rows").Scan(&r.mariaRows); err != nil {
		errs = append(errs, "mariadb: "+err.Error())
	}
	if seen, err := sqlIDs(ctx, s.pg, "SELECT id FROM soak_rows"); err != nil {
		errs = append(errs, "postgres: "+err.Error())
	} else {
		r.jdbc = count(r.produced["mariadb"], seen, 0)
	}
	if r.bq, err = bqTally(ctx, s.bqc, s.bqRef, r.produced["kafka"]); err != nil {
		errs = append(errs, "bigquery: "+err.Error())
	}
	return strings.Join(errs, "; ")
}

// report renders the run: each fault with its figures and the states
// seen, then each pipeline's losses and duplicates.
func (s *soak) report(r soakResult) string {
	var b strings.Builder
	mode := "CI mode"
	if s.plan.duration > 0 {
		mode = "long mode"
	}
	fmt.Fprintf(&b, "soak report (%s, outages %v, broker down %v, %d records/s per pipeline, %v in all):\n",
		mode, s.plan.outage, s.plan.brokerDown, s.plan.rate, time.Since(s.began).Round(time.Second))
	fmt.Fprintf(&b, "  %-36s %10s  %-16s %s\n", "fault", "repaired", "all RUNNING", "sinks caught up (after the repair)")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, "  %-36s %10v  %-16s %s\n", ph.name, ph.back.Sub(ph.began).Round(100*time.Millisecond),
			after(ph.running, s.plan.settle), after(ph.caught, s.plan.settle))
		if ph.note != "" {
			fmt.Fprintf(&b, "      %s\n", ph.note)
		}
		for _, x := range ph.seen {
			fmt.Fprintf(&b, "      seen: %s\n", x)
		}
		if ph.stuck != "" {
			fmt.Fprintf(&b, "      still: %s\n", ph.stuck)
		}
	}
	for _, x := range s.mon.seenIn("drain") {
		fmt.Fprintf(&b, "  seen after the load stopped: %s\n", x)
	}
	if r.drained {
		fmt.Fprintf(&b, "  drained in %v: every connector and task RUNNING, every record at its sink\n", r.drainTook.Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(&b, "  not drained after %v; not RUNNING: %s\n", r.drainTook.Round(time.Second), orNone(r.stuck))
	}
	fmt.Fprintf(&b, "  filestream (file → %s → file): %v\n", soakFSTopic, r.fs)
	if r.fsTopicErr == nil {
		fmt.Fprintf(&b, "      topic %s: %d records, %d duplicates\n", soakFSTopic, r.fsTopic.total, r.fsTopic.dups())
	}
	fmt.Fprintf(&b, "  jdbc (MariaDB → %s → PostgreSQL upsert): %v; MariaDB holds %d rows\n", soakJDBCTopic, r.jdbc, r.mariaRows)
	if r.jdbcTopicErr == nil {
		fmt.Fprintf(&b, "      topic %s: %d records, %d duplicates (the upsert folds them), %d ids missing\n",
			soakJDBCTopic, r.jdbcTopic.total, r.jdbcTopic.dups(), r.jdbcTopic.lost())
	}
	fmt.Fprintf(&b, "  bigquery (%s → insertAll): %v\n", soakBQTopic, r.bq)
	for _, l := range s.loaders {
		if n := l.failures.Load(); n > 0 {
			last, _ := l.lastErr.Load().(string)
			fmt.Fprintf(&b, "  load %s: %d failed batch attempts while its service was down (last: %s)\n",
				l.name, n, strings.TrimPrefix(traceSuffix(last), ": "))
		}
	}
	if c := s.mon.crashes(); len(c) > 0 {
		fmt.Fprintf(&b, "  worker exits nobody asked for: %v\n", c)
	}
	return b.String()
}

// verdict fails the test on what the contract rules out: anything
// not RUNNING at the end, a record missing at a sink, a worker that exited
// on its own.
func (s *soak) verdict(r soakResult) {
	t := s.t
	if r.readErr != "" {
		t.Errorf("soak: reading the sinks: %s", r.readErr)
	}
	if r.stuck != "" {
		t.Errorf("soak: not every connector and task RUNNING %v after the load stopped: %s", r.drainTook.Round(time.Second), r.stuck)
	}
	for _, p := range []struct {
		name string
		c    tally
	}{{"filestream", r.fs}, {"jdbc", r.jdbc}, {"bigquery", r.bq}} {
		if p.c.lost() > 0 {
			t.Errorf("soak: %s pipeline: %d of %d records missing at the sink (first: %v)", p.name, p.c.lost(), p.c.produced, p.c.missing)
		}
	}
	if r.mariaRows != r.produced["mariadb"] {
		t.Errorf("soak: MariaDB holds %d rows, the load wrote %d", r.mariaRows, r.produced["mariadb"])
	}
	if c := s.mon.crashes(); len(c) > 0 {
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
	return "(" + strings.TrimPrefix(traceSuffix(err.Error()), ": ") + ")"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
