// Command bench runs the same Kafka Connect workloads on Apache Kafka Connect and on
// Ferry, one after the other against one broker, and reports records per second, peak
// resident memory, CPU time and start-up latency of each, next to the raw rates of a
// franz-go producer and consumer on that broker.
//
// scripts/bench.sh (make bench) starts the broker, builds Ferry and runs this command;
// run it directly only with a broker already running (and, for the JDBC workloads, a
// PostgreSQL and a MariaDB server: -postgres, -mysql):
//
//	go run ./bench -kafka 127.0.0.1:19092 -ferry bin/ferry -records 100000
//
// Measurements (see docs/benchmarks.md for the full definitions):
//   - records/s: N divided by the time from the first record seen at the destination
//     (topic end offset, a line in the sink file, or a row in the sink's table) to the
//     N-th, polled every 20 ms (the table every 100 ms);
//   - peak RSS: VmHWM of the worker process when the N-th record arrived;
//   - CPU seconds: utime+stime of the worker process from its start to that moment;
//   - start → RUNNING: from starting the process to the first status poll (every
//     10 ms) showing the connectors and all their tasks RUNNING.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	kafka         string
	ferryBin      string
	java          string
	connectLib    string
	log4j         string
	out           string
	work          string
	records       int
	workloads     string
	systems       string
	heap          string
	clusterHeap   string
	flushMS       int
	idle          time.Duration
	startupReps   int
	rebalanceReps int
	micro         string
	command       string
	// JDBC workloads.
	postgres       string // admin DSN (URL form) of a PostgreSQL server
	mysql          string // admin DSN (go-sql-driver/mysql) of a MariaDB server
	debeziumLib    string // Debezium JDBC sink jars for Apache's classpath
	sinkPartitions int
	// The secured broker of the SASL_SSL workloads.
	kafkaSecure  string // its PLAINTEXT listener
	kafkaSASLSSL string // its SASL_SSL (SCRAM-SHA-512) listener
	kafkaCerts   string // the directory holding its ca.pem
	// Set in the child process that measures the JDBC source limit.
	limitTable string
	limitTopic string
}

func main() {
	var o options
	home, _ := os.UserHomeDir()
	cache := os.Getenv("FERRY_CACHE")
	if cache == "" {
		cache = filepath.Join(home, ".cache", "ferry")
	}
	flag.StringVar(&o.kafka, "kafka", os.Getenv("FERRY_TEST_KAFKA"), "bootstrap address of the broker (default $FERRY_TEST_KAFKA)")
	flag.StringVar(&o.ferryBin, "ferry", "bin/ferry", "Ferry binary")
	flag.StringVar(&o.java, "java", "java", "java binary for Apache Kafka Connect")
	flag.StringVar(&o.connectLib, "connect-lib", filepath.Join(cache, "connect-4.1.1", "lib"), "directory of the Apache Kafka Connect jars")
	flag.StringVar(&o.log4j, "log4j", "scripts/testbed/log4j2-quiet.properties", "Log4j 2 configuration for Apache's worker")
	flag.StringVar(&o.out, "out", "bench-out", "directory for bench-results.{md,json} and the workers' logs")
	flag.StringVar(&o.work, "work", "", "scratch directory for input and output files (default: a new temporary directory, removed at the end)")
	flag.IntVar(&o.records, "records", 1_000_000, "records per throughput workload")
	flag.StringVar(&o.workloads, "workloads", "all", "comma-separated workload names, or all; -list shows them")
	flag.StringVar(&o.systems, "systems", "apache,ferry", "systems to run: apache, ferry or both")
	flag.StringVar(&o.heap, "heap", "-Xms256m -Xmx2G", "JVM heap flags for Apache's worker (connect-standalone.sh's default)")
	flag.StringVar(&o.clusterHeap, "cluster-heap", "-Xms256m -Xmx512m", "JVM heap flags for each of Apache's three distributed workers in the rebalance workload")
	flag.IntVar(&o.flushMS, "flush-ms", 10000, "offset.flush.interval.ms for both workers")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "how long the idle workload waits before sampling memory")
	flag.IntVar(&o.startupReps, "startup-reps", 3, "start-ups per system in the start-up workload (the median is reported)")
	flag.IntVar(&o.rebalanceReps, "rebalance-reps", 3, "kill/restart rounds per system in the rebalance workload (the median is reported)")
	flag.StringVar(&o.micro, "micro", "", "file holding 'go test -bench -benchmem' output to include in the report")
	flag.StringVar(&o.command, "command", "", "the command line that produced this run, for the report")
	flag.StringVar(&o.postgres, "postgres", os.Getenv("FERRY_TEST_POSTGRES"), "admin DSN of the PostgreSQL server of the jdbc-sink workloads, postgres://user:password@host:port/db (default $FERRY_TEST_POSTGRES); the harness makes a database of its own there and drops it at the end")
	flag.StringVar(&o.mysql, "mysql", os.Getenv("FERRY_TEST_MYSQL"), "admin DSN of the MariaDB server of the jdbc-source workloads, user:password@tcp(host:port)/db (default $FERRY_TEST_MYSQL); the harness makes a database of its own there and drops it at the end")
	flag.StringVar(&o.debeziumLib, "debezium-lib", filepath.Join(cache, "debezium-jdbc", "lib"), "directory of the Debezium JDBC sink jars (scripts/testbed/debezium-pom.xml), added to Apache's classpath in the jdbc-sink workloads")
	flag.StringVar(&o.kafkaSecure, "kafka-secure", os.Getenv("FERRY_TEST_KAFKA_SECURE"), "PLAINTEXT listener of the secured broker of the SASL_SSL workloads, from scripts/testbed.sh start-kafka-secure (default $FERRY_TEST_KAFKA_SECURE)")
	flag.StringVar(&o.kafkaSASLSSL, "kafka-sasl-ssl", os.Getenv("FERRY_TEST_KAFKA_SASL_SSL"), "SASL_SSL listener of that broker (default $FERRY_TEST_KAFKA_SASL_SSL)")
	flag.StringVar(&o.kafkaCerts, "kafka-certs", os.Getenv("FERRY_TEST_KAFKA_CERTS"), "certificate directory of that broker, holding ca.pem (default $FERRY_TEST_KAFKA_CERTS)")
	flag.IntVar(&o.sinkPartitions, "sink-partitions", 4, "partitions of the jdbc-sink input topic")
	flag.StringVar(&o.limitTable, "jdbc-limit-table", "", "internal: run the JDBC source limit program on this MariaDB table of -mysql (a DSN naming the database) and exit")
	flag.StringVar(&o.limitTopic, "jdbc-limit-topic", "", "internal: the topic of -jdbc-limit-table")
	list := flag.Bool("list", false, "list the workloads and exit")
	flag.Parse()

	if o.limitTable != "" {
		// The harness runs this in a child process so that its memory and CPU are
		// measured alone.
		if err := runJDBCLimit(context.Background(), o); err != nil {
			fmt.Fprintln(os.Stderr, "jdbc source limit:", err)
			os.Exit(1)
		}
		return
	}

	if *list {
		for _, w := range allWorkloads() {
			fmt.Printf("%-31s %s\n", w.name, w.title)
		}
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, logger); err != nil {
		logger.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, logger *slog.Logger) error {
	if o.kafka == "" {
		return errors.New("no broker: pass -kafka or set FERRY_TEST_KAFKA (scripts/bench.sh starts one)")
	}
	if o.records < 1 {
		return errors.New("-records must be positive")
	}
	if o.sinkPartitions < 1 {
		return errors.New("-sink-partitions must be positive")
	}
	selected, err := selectWorkloads(o.workloads)
	if err != nil {
		return err
	}
	var systems []system
	for _, s := range strings.Split(o.systems, ",") {
		switch strings.TrimSpace(s) {
		case "apache":
			log4j, err := filepath.Abs(o.log4j)
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(o.connectLib, "connect-runtime-4.1.1.jar")); err != nil {
				return fmt.Errorf("no Apache Kafka Connect jars in %s (run scripts/testbed.sh install): %w", o.connectLib, err)
			}
			systems = append(systems, apacheSystem(o.java, strings.Fields(o.heap), strings.Fields(o.clusterHeap), log4j, o.connectLib))
		case "ferry":
			bin, err := filepath.Abs(o.ferryBin)
			if err != nil {
				return err
			}
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("ferry binary: %w", err)
			}
			systems = append(systems, ferrySystem(bin))
		case "":
		default:
			return fmt.Errorf("unknown system %q (apache, ferry)", s)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "ferry-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}

	b, err := newBroker(o.kafka)
	if err != nil {
		return err
	}
	defer b.close()

	e := &env{opts: o, broker: b, work: work, logs: filepath.Join(o.out, "logs"), ticks: clockTicks(),
		log: logger, runID: time.Now().Format("150405"), plugins: map[string]map[string]bool{}}
	if err := os.MkdirAll(e.logs, 0o755); err != nil {
		return err
	}
	began := time.Now()
	rep := &report{Started: began.UTC().Format(time.RFC3339), Records: o.records,
		ApacheHeap: o.heap, ApacheJVMOpts: strings.Join(jvmPerfOpts, " "), FlushIntervalMS: o.flushMS,
		Command: o.command, Machine: describeMachine(o.java, o.ferryBin)}
	defer e.cleanupTopics()
	defer func() {
		if e.secure != nil {
			e.secure.close()
		}
	}()
	defer e.cleanupJDBC()

	for _, w := range selected {
		if err := ctx.Err(); err != nil {
			return err
		}
		logger.Info("workload", "name", w.name)
		row := workloadResult{Name: w.name, Title: w.title, Kind: w.kind}
		switch {
		case w.limit != nil:
			row.Limit, err = w.limit(ctx, e)
			if errors.Is(err, errNoSecureBroker) {
				row.Limit = &limitResult{Note: "n/a: " + err.Error()}
			} else if err != nil {
				row.Limit = &limitResult{Note: "failed: " + err.Error()}
				logger.Error("limit failed", "workload", w.name, "err", err)
			}
		case w.needs != "":
			row.Apache = &result{System: "apache", Status: statusNA, Note: w.needs}
			row.Ferry = &result{System: "ferry", Status: statusNA, Note: w.needs}
		default:
			for _, s := range systems {
				r := w.run(ctx, e, s)
				r.System = s.name
				logger.Info("result", "workload", w.name, "system", s.name, "status", r.Status,
					"rec/s", int64(r.RecordsPerSec), "peak_rss_mib", r.PeakRSSBytes>>20,
					"cpu_s", r.CPUSeconds, "start_to_running_s", r.StartToRunningSeconds, "note", r.Note)
				if s.name == "apache" {
					row.Apache = r
				} else {
					row.Ferry = r
				}
			}
		}
		rep.Workloads = append(rep.Workloads, row)
	}
	rep.DurationSeconds = time.Since(began).Seconds()
	rep.Machine.LoadEnd = loadAvg()
	if o.micro != "" {
		if rep.Micro, err = parseMicro(o.micro); err != nil {
			logger.Warn("reading microbenchmarks", "err", err)
		}
	}
	rep.evaluateTargets()
	fmt.Print(rep.textTable())
	if err := rep.write(o.out); err != nil {
		return err
	}
	logger.Info("results written", "md", filepath.Join(o.out, "bench-results.md"),
		"json", filepath.Join(o.out, "bench-results.json"), "took", time.Since(began).Round(time.Second))
	return nil
}

func selectWorkloads(spec string) ([]workload, error) {
	all := allWorkloads()
	if spec == "" || spec == "all" {
		return all, nil
	}
	byName := make(map[string]workload, len(all))
	for _, w := range all {
		byName[w.name] = w
	}
	var out []workload
	for _, n := range strings.Split(spec, ",") {
		n = strings.TrimSpace(n)
		w, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown workload %q (see -list)", n)
		}
		out = append(out, w)
	}
	return out, nil
}
