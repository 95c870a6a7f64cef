package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// workload is one row of the report. Exactly one of run, limit and needs is set:
// run measures one system, limit measures the broker with a plain client, needs marks a
// workload that cannot run yet and says why.
type workload struct {
	name  string
	title string
	kind  string // throughput, idle, startup, limit, pending
	run   func(ctx context.Context, e *env, s system) *result
	limit func(ctx context.Context, e *env) (*limitResult, error)
	needs string
}

// allWorkloads lists the workloads in report order. Adding one is adding an entry
// here, usually with a function that returns a pipeline for runPipeline.
func allWorkloads() []workload {
	return []workload{
		{name: "limit-producer", title: "franz-go producer, acks=all (limit)", kind: "limit", limit: rawProducer},
		{name: "limit-consumer", title: "franz-go consumer (limit)", kind: "limit", limit: rawConsumer},
		{name: "file-source", title: "FileStream source → topic (String)", kind: "throughput",
			run: fileSource("file-source", "string")},
		{name: "file-sink", title: "topic → FileStream sink (String)", kind: "throughput",
			run: fileSink("file-sink", "string")},
		{name: "file-source-json", title: "FileStream source → topic (JSON, schemas)", kind: "throughput",
			run: fileSource("file-source-json", "json")},
		{name: "file-sink-json", title: "topic → FileStream sink (JSON, schemas)", kind: "throughput",
			run: fileSink("file-sink-json", "json")},
		{name: "smt-chain", title: "FileStream source + 5-SMT chain (JSON)", kind: "throughput", run: smtChain},
		{name: "limit-producer-securebroker", title: "franz-go producer, acks=all, secured broker's PLAINTEXT listener (limit)",
			kind: "limit", limit: secureProducer(false)},
		{name: "limit-producer-sasl-ssl", title: "franz-go producer, acks=all, SASL_SSL SCRAM-SHA-512 (limit)",
			kind: "limit", limit: secureProducer(true)},
		{name: "file-source-plain-securebroker", title: "FileStream source → topic (String), secured broker's PLAINTEXT listener",
			kind: "throughput", run: fileSourceVia("file-source-plain-securebroker", "string", plainTarget)},
		{name: "file-source-sasl-ssl", title: "FileStream source → topic (String) over SASL_SSL (SCRAM-SHA-512)",
			kind: "throughput", run: fileSourceVia("file-source-sasl-ssl", "string", saslSSLTarget)},
		{name: "jdbc-sink", title: "topic → JDBC sink, PostgreSQL upsert, tasks.max=1 (Apache: Debezium)", kind: "throughput",
			run: jdbcSink("jdbc-sink", 1)},
		{name: "jdbc-sink-4", title: "topic → JDBC sink, PostgreSQL upsert, tasks.max=4 (Apache: Debezium)", kind: "throughput",
			run: jdbcSink("jdbc-sink-4", 4)},
		{name: "jdbc-source-bulk", title: "MariaDB → JDBC source, mode=bulk", kind: "throughput",
			run: jdbcSource("jdbc-source-bulk", "bulk")},
		{name: "jdbc-source-incrementing", title: "MariaDB → JDBC source, mode=incrementing", kind: "throughput",
			run: jdbcSource("jdbc-source-incrementing", "incrementing")},
		{name: "jdbc-source-limit", title: "MariaDB SELECT + franz-go producer, JSON (limit)", kind: "limit",
			limit: jdbcSourceLimit},
		{name: "idle-10", title: "idle, 10 connectors (RSS after idling)", kind: "idle", run: idleTen},
		{name: "startup", title: "start-up, 1 FileStream source", kind: "startup", run: startup},
		{name: "rebalance", title: "3-worker cluster, kill -9 → tasks RUNNING elsewhere", kind: "rebalance",
			run: rebalance},
	}
}

// fileSource: FileStreamSource reads the N-line input file into a fresh topic.
func fileSource(name, enc string) func(context.Context, *env, system) *result {
	return fileSourceVia(name, enc, func(e *env) (*kafkaTarget, error) {
		return &kafkaTarget{b: e.broker}, nil
	})
}

// kafkaTarget is the listener a workload's worker writes through: the client the
// harness creates and watches topics with, and the worker properties (bootstrap.servers
// and security keys) that replace the bench broker's.
type kafkaTarget struct {
	b     *broker
	props map[string]string
}

// fileSourceVia is fileSource through the listener target returns; a nil target with
// its error makes the row n/a.
func fileSourceVia(name, enc string, target func(e *env) (*kafkaTarget, error)) func(context.Context, *env, system) *result {
	return func(ctx context.Context, e *env, s system) *result {
		kt, err := target(e)
		if err != nil {
			return &result{Status: statusNA, Note: err.Error()}
		}
		in, err := e.inputFile()
		if err != nil {
			return &result{Status: statusFailed, Note: err.Error()}
		}
		topic := e.topicName(name, s.name)
		if kt.b != e.broker {
			e.forgetTopic(topic) // it lives on the other broker
			defer kt.b.deleteTopics(context.WithoutCancel(ctx), topic)
		}
		if err := kt.b.createTopic(ctx, topic); err != nil {
			return &result{Status: statusFailed, Note: err.Error()}
		}
		want := line
		if enc == "json" {
			want = func(i int) string { return jsonString(line(i)) }
		}
		return runPipeline(ctx, e, s, pipeline{
			workload:  name,
			converter: enc,
			worker:    kt.props,
			connectors: []map[string]string{{
				"name": "bench-source", "connector.class": "FileStreamSource", "tasks.max": "1",
				"file": in, "topic": topic,
			}},
			target:  int64(e.opts.records),
			counter: func(ctx context.Context) (int64, error) { return kt.b.endOffset(ctx, topic) },
			verify: func(ctx context.Context) error {
				return checkTopicEnds(ctx, kt.b, topic, e.opts.records, func(i int, v []byte) error {
					if string(v) != want(i) {
						return fmt.Errorf("record %d is %q, want %q", i, trunc(string(v)), trunc(want(i)))
					}
					return nil
				})
			},
		})
	}
}

// checkTopicEnds checks the first and the last of the n records of topic.
func checkTopicEnds(ctx context.Context, b *broker, topic string, n int, check func(i int, v []byte) error) error {
	for _, i := range []int{0, n - 1} {
		v, err := b.recordAt(ctx, topic, int64(i))
		if err != nil {
			return err
		}
		if err := check(i, v); err != nil {
			return err
		}
	}
	return nil
}

// fileSink: FileStreamSink writes a topic of N records (filled once per run) to a file.
func fileSink(name, enc string) func(context.Context, *env, system) *result {
	return func(ctx context.Context, e *env, s system) *result {
		fill, err := e.filledTopic(ctx, enc)
		if err != nil {
			return &result{Status: statusFailed, Note: "filling the input topic: " + err.Error()}
		}
		out := filepath.Join(e.work, fmt.Sprintf("%s-%s.out", name, s.name))
		defer os.Remove(out)
		lc := &lineCounter{path: out}
		defer lc.close()
		return runPipeline(ctx, e, s, pipeline{
			workload:  name,
			converter: enc,
			connectors: []map[string]string{{
				// The connector name makes the consumer group, so each run reads the
				// topic from the start.
				"name": "bench-sink-" + e.runID + "-" + s.name, "connector.class": "FileStreamSink",
				"tasks.max": "1", "file": out, "topics": fill.topic,
			}},
			target:  int64(e.opts.records),
			counter: lc.count,
			verify:  func(context.Context) error { return checkFileLines(out, e.opts.records, line) },
		})
	}
}

// smtTransforms is a chain of five of Apache's stock transformations: wrap the line in
// a struct, add a static field, copy the line into the key, unwrap the key, rename the
// topic.
var smtTransforms = map[string]string{
	"transforms":                     "hoist,insert,tokey,extract,route",
	"transforms.hoist.type":          "org.apache.kafka.connect.transforms.HoistField$Value",
	"transforms.hoist.field":         "line",
	"transforms.insert.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
	"transforms.insert.static.field": "origin",
	"transforms.insert.static.value": "bench",
	"transforms.tokey.type":          "org.apache.kafka.connect.transforms.ValueToKey",
	"transforms.tokey.fields":        "line",
	"transforms.extract.type":        "org.apache.kafka.connect.transforms.ExtractField$Key",
	"transforms.extract.field":       "line",
	"transforms.route.type":          "org.apache.kafka.connect.transforms.RegexRouter",
	"transforms.route.regex":         "(.*)",
	"transforms.route.replacement":   "$1-routed",
}

// smtChain: FileStreamSource through the five transformations into the routed topic.
func smtChain(ctx context.Context, e *env, s system) *result {
	in, err := e.inputFile()
	if err != nil {
		return &result{Status: statusFailed, Note: err.Error()}
	}
	topic := e.topicName("smt-chain", s.name)
	routed := topic + "-routed"
	e.mu.Lock()
	e.topics = append(e.topics, routed)
	e.mu.Unlock()
	if err := e.broker.createTopic(ctx, routed); err != nil {
		return &result{Status: statusFailed, Note: err.Error()}
	}
	conn := map[string]string{"name": "bench-smt", "connector.class": "FileStreamSource", "tasks.max": "1",
		"file": in, "topic": topic}
	var requires []string
	for k, v := range smtTransforms {
		conn[k] = v
		if strings.HasSuffix(k, ".type") {
			requires = append(requires, v)
		}
	}
	return runPipeline(ctx, e, s, pipeline{
		workload:   "smt-chain",
		converter:  "json",
		connectors: []map[string]string{conn},
		requires:   requires,
		target:     int64(e.opts.records),
		counter:    func(ctx context.Context) (int64, error) { return e.broker.endOffset(ctx, routed) },
		verify: func(ctx context.Context) error {
			return checkTopicEnds(ctx, e.broker, routed, e.opts.records, func(i int, v []byte) error {
				var env struct {
					Payload struct {
						Line   string `json:"line"`
						Origin string `json:"origin"`
					} `json:"payload"`
				}
				if err := json.Unmarshal(v, &env); err != nil {
					return fmt.Errorf("record %d: %w", i, err)
				}
				if env.Payload.Line != line(i) || env.Payload.Origin != "bench" {
					return fmt.Errorf("record %d is %s", i, trunc(string(v)))
				}
				return nil
			})
		},
	})
}

// idleTen: five FileStream sources on 100-line files, each followed by a FileStream
// sink on its topic; once the sinks hold the lines, idle and sample the resident set.
func idleTen(ctx context.Context, e *env, s system) *result {
	const pairs, lines = 5, 100
	var conns []map[string]string
	var topics []string
	for i := range pairs {
		in := filepath.Join(e.work, fmt.Sprintf("idle-%s-%d.txt", s.name, i))
		var b strings.Builder
		for j := range lines {
			b.WriteString(line(j))
			b.WriteByte('\n')
		}
		if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
			return &result{Status: statusFailed, Note: err.Error()}
		}
		out := in + ".out"
		defer os.Remove(in)
		defer os.Remove(out)
		topic := e.topicName(fmt.Sprintf("idle-%d", i), s.name)
		if err := e.broker.createTopic(ctx, topic); err != nil {
			return &result{Status: statusFailed, Note: err.Error()}
		}
		topics = append(topics, topic)
		conns = append(conns,
			map[string]string{"name": fmt.Sprintf("idle-source-%d", i), "connector.class": "FileStreamSource",
				"tasks.max": "1", "file": in, "topic": topic},
			map[string]string{"name": fmt.Sprintf("idle-sink-%d-%s-%s", i, e.runID, s.name),
				"connector.class": "FileStreamSink", "tasks.max": "1", "file": out, "topics": topic})
	}
	return runPipeline(ctx, e, s, pipeline{
		workload:   "idle-10",
		converter:  "string",
		connectors: conns,
		idle:       e.opts.idle,
		// The sinks buffer until an offset flush at the latest, so settle on the
		// sources' topics rather than on the files.
		settle: func(ctx context.Context) (bool, error) {
			for _, t := range topics {
				n, err := e.broker.endOffset(ctx, t)
				if err != nil || n < lines {
					return false, err
				}
			}
			return true, nil
		},
	})
}

// startup: a worker with one FileStream source on a 10-line file, started
// startupReps times; the run with the median start → RUNNING is reported.
func startup(ctx context.Context, e *env, s system) *result {
	in := filepath.Join(e.work, "startup-"+s.name+".txt")
	var b strings.Builder
	for j := range 10 {
		b.WriteString(line(j))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		return &result{Status: statusFailed, Note: err.Error()}
	}
	defer os.Remove(in)
	var runs []*result
	for rep := range max(e.opts.startupReps, 1) {
		topic := e.topicName(fmt.Sprintf("startup-%d", rep), s.name)
		if err := e.broker.createTopic(ctx, topic); err != nil {
			return &result{Status: statusFailed, Note: err.Error()}
		}
		r := runPipeline(ctx, e, s, pipeline{
			workload:  "startup",
			converter: "string",
			connectors: []map[string]string{{"name": "startup-source", "connector.class": "FileStreamSource",
				"tasks.max": "1", "file": in, "topic": topic}},
		})
		if r.Status != statusOK {
			return r
		}
		runs = append(runs, r)
		time.Sleep(500 * time.Millisecond) // let the port and the page cache settle
	}
	sortBy(runs, func(r *result) float64 { return r.StartToRunningSeconds })
	med := runs[len(runs)/2]
	for _, r := range runs {
		med.StartupSamples = append(med.StartupSamples, r.StartToRunningSeconds)
	}
	return med
}

// rawProducer fills the String input topic of the sink workloads and reports that as
// the plain client's produce rate.
func rawProducer(ctx context.Context, e *env) (*limitResult, error) {
	fill, err := e.filledTopic(ctx, "string")
	if err != nil {
		return nil, err
	}
	return &limitResult{Records: e.opts.records, Seconds: fill.took.Seconds(),
		RecordsPerSec: float64(e.opts.records-1) / fill.took.Seconds(),
		Note:          "kgo, acks=all, idempotent, no compression, default linger and batch size; 100-byte values, null keys, one partition"}, nil
}

// rawConsumer reads the String input topic from the start with a plain client.
func rawConsumer(ctx context.Context, e *env) (*limitResult, error) {
	fill, err := e.filledTopic(ctx, "string")
	if err != nil {
		return nil, err
	}
	took, counted, err := consumeAll(ctx, e.broker.addr, fill.topic, e.opts.records)
	if err != nil {
		return nil, err
	}
	return &limitResult{Records: e.opts.records, Seconds: took.Seconds(),
		RecordsPerSec: float64(counted) / took.Seconds(),
		Note:          "kgo, no consumer group, from the earliest offset, default fetch sizes"}, nil
}
