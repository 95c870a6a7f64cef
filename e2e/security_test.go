package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// secureBed is the broker of scripts/testbed.sh start-kafka-secure.
type secureBed struct {
	ssl, saslSSL, saslPlain, certs string
}

func newSecureBed(t *testing.T) *secureBed {
	t.Helper()
	b := &secureBed{ssl: os.Getenv("FERRY_TEST_KAFKA_SSL"), saslSSL: os.Getenv("FERRY_TEST_KAFKA_SASL_SSL"),
		saslPlain: os.Getenv("FERRY_TEST_KAFKA_SASL_PLAINTEXT"), certs: os.Getenv("FERRY_TEST_KAFKA_CERTS")}
	if b.ssl == "" || b.saslSSL == "" || b.saslPlain == "" || b.certs == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run the secured broker tests: FERRY_TEST_KAFKA_SSL etc. are not set (scripts/test.sh starts the broker)")
		}
		t.Skip("no secured broker: run scripts/testbed.sh start-kafka-secure and export its FERRY_TEST_KAFKA_* lines")
	}
	return b
}

func (b *secureBed) cert(name string) string { return filepath.Join(b.certs, name) }

const (
	scramJAAS = `org.apache.kafka.common.security.scram.ScramLoginModule required username="connect" password="connect-secret";`
	plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="connect" password="connect-secret";`
)

// listener returns the bootstrap address and client security properties
// of one listener; each uses other store formats.
func (b *secureBed) listener(name string) (string, map[string]string) {
	switch name {
	case "SSL":
		return b.ssl, map[string]string{"security.protocol": "SSL",
			"ssl.truststore.type": "PKCS12", "ssl.truststore.location": b.cert("truststore.p12"), "ssl.truststore.password": "changeit",
			"ssl.keystore.type": "JKS", "ssl.keystore.location": b.cert("client.jks"), "ssl.keystore.password": "changeit", "ssl.key.password": "changeit"}
	case "SASL_SSL":
		return b.saslSSL, map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": scramJAAS,
			"ssl.truststore.type": "PEM", "ssl.truststore.location": b.cert("ca.pem")}
	default:
		return b.saslPlain, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": plainJAAS}
	}
}

// workerSecurity repeats the client security keys at top level and under
// producer. and consumer., as a secured Apache worker must.
func workerSecurity(bootstrap string, sec map[string]string) map[string]string {
	props := map[string]string{"bootstrap.servers": bootstrap}
	for k, v := range sec {
		props[k] = v
		props["producer."+k] = v
		props["consumer."+k] = v
	}
	return props
}

func writeProps(t *testing.T, path string, props map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.ReplaceAll(props[k], `\`, `\\`))
	}
	writeFile(t, path, b.String())
}

// startSecureStandalone runs the binary as a standalone worker on the
// given listener.
func startSecureStandalone(t *testing.T, bootstrap string, sec map[string]string) (*worker, *process, string) {
	t.Helper()
	dir := t.TempDir()
	port := testbed.FreePort(t)
	props := workerSecurity(bootstrap, sec)
	maps.Copy(props, map[string]string{
		"key.converter": "org.apache.kafka.connect.storage.StringConverter", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
		"offset.storage.file.filename": filepath.Join(dir, "connect.offsets"), "offset.flush.interval.ms": "500",
		"listeners": fmt.Sprintf("http://127.0.0.1:%d", port), "consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "1000",
	})
	writeProps(t, filepath.Join(dir, "worker.properties"), props)
	p := startFerry(t, dir, "standalone", "worker.properties")
	w := &worker{url: fmt.Sprintf("http://127.0.0.1:%d", port), bootstrap: bootstrap, dir: dir}
	waitHTTP(t, w.url)
	return w, p, dir
}

// runPipeline creates a FileStream source and sink through topic and
// waits until every line went through; it returns how long that took.
func runPipeline(t *testing.T, w *worker, dir, topic string, lines int, srcExtra, sinkExtra map[string]string) time.Duration {
	t.Helper()
	in, out := filepath.Join(dir, topic+".in"), filepath.Join(dir, topic+".out")
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "line-%d\n", i)
	}
	writeFile(t, in, b.String())
	start := time.Now()
	src := map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": topic}
	sink := map[string]string{"connector.class": "FileStreamSink", "file": out, "topics": topic}
	maps.Copy(src, srcExtra)
	maps.Copy(sink, sinkExtra)
	expectStatus(t, w.call(t, "POST", "/connectors", map[string]any{"name": topic + "-src", "config": src}), 201)
	expectStatus(t, w.call(t, "POST", "/connectors", map[string]any{"name": topic + "-sink", "config": sink}), 201)
	testbed.WaitFor(t, 90*time.Second, 100*time.Millisecond, func() (bool, string) {
		n := countLines(out)
		return n >= lines, fmt.Sprintf("%d of %d lines in the sink file; source %v; sink %v", n, lines,
			w.call(t, "GET", "/connectors/"+topic+"-src/status", nil).body, w.call(t, "GET", "/connectors/"+topic+"-sink/status", nil).body)
	})
	return time.Since(start)
}

var listenerNames = []string{"SSL", "SASL_SSL", "SASL_PLAINTEXT"}

func TestSecureStandalonePipelines(t *testing.T) {
	bed := newSecureBed(t)
	for _, name := range listenerNames {
		t.Run(name, func(t *testing.T) {
			bootstrap, sec := bed.listener(name)
			w, p, dir := startSecureStandalone(t, bootstrap, sec)
			// The secrets are set at every level: worker top level,
			// producer., consumer. and the connectors' overrides.
			srcExtra, sinkExtra := map[string]string{}, map[string]string{}
			for k, v := range sec {
				srcExtra["producer.override."+k] = v
				sinkExtra["consumer.override."+k] = v
			}
			topic := testbed.UniqueName(t, "sec")
			d := runPipeline(t, w, dir, topic, 500, srcExtra, sinkExtra)
			t.Logf("%s standalone: 500 lines source to sink in %v", name, d)
			// No secret reaches a response or the log.
			responses := []response{w.call(t, "GET", "/connectors?expand=info&expand=status", nil),
				w.call(t, "GET", "/connectors/"+topic+"-src", nil), w.call(t, "GET", "/connectors/"+topic+"-src/config", nil),
				w.call(t, "GET", "/connectors/"+topic+"-sink/config", nil), w.call(t, "GET", "/connectors/"+topic+"-src/tasks", nil),
				w.call(t, "GET", "/connectors/"+topic+"-sink/tasks", nil), w.call(t, "GET", "/connectors/none", nil),
				w.call(t, "PUT", "/connector-plugins/FileStreamSink/config/validate", withClass(sinkExtra, "FileStreamSink")),
				w.call(t, "PUT", "/connectors/"+topic+"-src/config", map[string]string{"connector.class": "FileStreamSource", "file": "x", "topic": topic, "producer.override.ssl.keystore.password": "changeit", "producer.override.security.protocol": "NOPE"})}
			for _, r := range responses {
				if body := string(r.body); strings.Contains(body, "connect-secret") || strings.Contains(body, "changeit") {
					t.Errorf("a response (%d) shows a secret: %s", r.status, body)
				}
			}
			if got := string(w.call(t, "GET", "/connectors/"+topic+"-src/config", nil).body); !strings.Contains(got, "[hidden]") {
				t.Errorf("the override secrets are not shown as [hidden]: %s", got)
			}
			if strings.Contains(p.log.String(), "connect-secret") || strings.Contains(p.log.String(), "password=\"") {
				t.Error("the worker log shows a secret")
			}
		})
	}
}

func TestSecureDistributedPipelines(t *testing.T) {
	bed := newSecureBed(t)
	for _, name := range listenerNames {
		t.Run(name, func(t *testing.T) {
			c := secureCluster(t, bed, name)
			dir := t.TempDir()
			start := time.Now()
			w1, _ := c.startProcess(t, mkdir(t, dir, "w1"))
			w2, _ := c.startProcess(t, mkdir(t, dir, "w2"))
			w1.waitHealthy(t)
			w2.waitHealthy(t)
			t.Logf("%s: two workers healthy after %v", name, time.Since(start))
			// Both workers must be members: the leader's status lists both.
			d := runPipeline(t, w1, dir, testbed.UniqueName(t, "sec"), 500, nil, nil)
			t.Logf("%s distributed: 500 lines source to sink in %v", name, d)
			testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
				r := w2.call(t, "GET", "/connectors", nil)
				return strings.Count(string(r.body), "-src") == 1, string(r.body)
			})
		})
	}
}

// secureCluster is the settings of a distributed cluster on one listener.
func secureCluster(t *testing.T, bed *secureBed, listener string) *cluster {
	t.Helper()
	bootstrap, sec := bed.listener(listener)
	g := testbed.UniqueName(t, "secdist")
	c := &cluster{bootstrap: bootstrap, props: map[string]string{
		"group.id": g, "config.storage.topic": g + "-configs", "offset.storage.topic": g + "-offsets", "status.storage.topic": g + "-status",
		"config.storage.replication.factor": "1", "offset.storage.replication.factor": "1", "status.storage.replication.factor": "1",
		"offset.storage.partitions": "5", "status.storage.partitions": "3",
		"key.converter": "org.apache.kafka.connect.storage.StringConverter", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
		"offset.flush.interval.ms": "500", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000", "scheduled.rebalance.max.delay.ms": "0",
		"consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "1000",
	}}
	maps.Copy(c.props, workerSecurity(bootstrap, sec))
	return c
}

// TestSecureMixedCluster: an Apache Connect 4.1.1 worker joins a group of
// two Ferry workers over SASL_SSL with the same worker properties; work is
// spread over all three and a FileStream pipeline runs through them.
func TestSecureMixedCluster(t *testing.T) {
	bed := newSecureBed(t)
	lib := connectLib(t)
	c := secureCluster(t, bed, "SASL_SSL")
	dir := t.TempDir()
	w1, _ := c.startProcess(t, mkdir(t, dir, "w1"))
	w2, _ := c.startProcess(t, mkdir(t, dir, "w2"))
	w1.waitHealthy(t)
	w2.waitHealthy(t)

	port := testbed.FreePort(t)
	props := maps.Clone(c.props)
	props["listeners"] = fmt.Sprintf("http://127.0.0.1:%d", port)
	props["plugin.discovery"] = "service_load"
	start := time.Now()
	startApacheDistributed(t, lib, mkdir(t, dir, "apache"), props)
	apache := &worker{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	testbed.WaitFor(t, 120*time.Second, 250*time.Millisecond, func() (bool, string) {
		code, err := httpGet(apache.url + "/connectors")
		return err == nil && code == 200, fmt.Sprint("Apache REST: ", code, err)
	})
	t.Logf("the Apache worker joined the secured group %v after start", time.Since(start))

	topic := testbed.UniqueName(t, "mixed")
	d := runPipeline(t, w1, dir, topic, 500, nil, nil)
	t.Logf("SASL_SSL mixed cluster: 500 lines source to sink in %v", d)
	// More sources, so the assignment gives the Apache worker a share: it
	// must run them against the secured broker too.
	extraIn := filepath.Join(dir, "extra.in")
	writeFile(t, extraIn, "x\ny\n")
	for i := range 4 {
		expectStatus(t, w1.call(t, "POST", "/connectors", map[string]any{"name": fmt.Sprintf("%s-extra-%d", topic, i),
			"config": map[string]string{"connector.class": "FileStreamSource", "file": extraIn, "topic": topic + "-extra"}}), 201)
	}
	apacheID := fmt.Sprintf("127.0.0.1:%d", port)
	workers := map[string]bool{}
	testbed.WaitFor(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		r := apache.call(t, "GET", "/connectors?expand=status", nil)
		if r.status != 200 {
			return false, string(r.body)
		}
		clear(workers)
		running := 0
		for _, v := range r.object(t) {
			st := v.(map[string]any)["status"].(map[string]any)
			workers[st["connector"].(map[string]any)["worker_id"].(string)] = true
			for _, tk := range st["tasks"].([]any) {
				task := tk.(map[string]any)
				workers[task["worker_id"].(string)] = true
				if task["state"] == "RUNNING" {
					running++
				}
			}
		}
		return running == 6 && len(workers) == 3 && workers[apacheID], string(r.body)
	})
	t.Logf("connectors and tasks run on %d workers: %v", len(workers), slices.Sorted(maps.Keys(workers)))
}

func withClass(m map[string]string, class string) map[string]string {
	out := maps.Clone(m)
	out["connector.class"] = class
	return out
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSecureMisconfigurationErrors checks that a wrong password, an
// untrusted CA and a missing ACL each fail the task with the cause in its
// status trace and in the log, within seconds.
func TestSecureMisconfigurationErrors(t *testing.T) {
	bed := newSecureBed(t)
	bootstrap, sec := bed.listener("SASL_SSL")
	w, p, dir := startSecureStandalone(t, bootstrap, sec)
	cases := []struct {
		name      string
		overrides map[string]string
		want      string
	}{
		{"wrong-password", map[string]string{"producer.override.sasl.jaas.config": strings.Replace(scramJAAS, "connect-secret", "wrong-secret", 1)}, "SASL authentication failed"},
		{"wrong-CA", map[string]string{"producer.override.ssl.truststore.location": bed.cert("other-ca.pem")}, "TLS certificate was not accepted"},
		{"missing-ACL", map[string]string{"producer.override.sasl.jaas.config": strings.NewReplacer(`"connect"`, `"noacl"`, "connect-secret", "noacl-secret").Replace(scramJAAS)}, "TOPIC_AUTHORIZATION_FAILED"},
		{"sink-wrong-password", map[string]string{"consumer.override.sasl.jaas.config": strings.Replace(scramJAAS, "connect-secret", "wrong-secret", 1)}, "SASL authentication failed"},
		{"sink-missing-ACL", map[string]string{"consumer.override.sasl.jaas.config": strings.NewReplacer(`"connect"`, `"noacl"`, "connect-secret", "noacl-secret").Replace(scramJAAS)}, "AUTHORIZATION_FAILED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := testbed.UniqueName(t, "bad")
			in := filepath.Join(dir, name+".in")
			writeFile(t, in, "a\nb\n")
			config := map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": name}
			if strings.HasPrefix(c.name, "sink-") {
				testbed.CreateTopic(t, os.Getenv("FERRY_TEST_KAFKA_SECURE"), name, 1)
				config = map[string]string{"connector.class": "FileStreamSink", "file": in + ".out", "topics": name}
			}
			maps.Copy(config, c.overrides)
			start := time.Now()
			expectStatus(t, w.call(t, "POST", "/connectors", map[string]any{"name": name, "config": config}), 201)
			var trace string
			testbed.WaitFor(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
				st := w.call(t, "GET", "/connectors/"+name+"/status", nil).object(t)
				tasks, _ := st["tasks"].([]any)
				if len(tasks) == 0 {
					return false, "no task yet"
				}
				task := tasks[0].(map[string]any)
				trace, _ = task["trace"].(string)
				return task["state"] == "FAILED", fmt.Sprint(task)
			})
			took := time.Since(start)
			if !strings.Contains(trace, c.want) {
				t.Fatalf("trace lacks %q:\n%s", c.want, trace)
			}
			testbed.WaitFor(t, 5*time.Second, 50*time.Millisecond, func() (bool, string) {
				return strings.Contains(p.log.String(), c.want), "log lacks " + c.want
			})
			if strings.Contains(trace, "wrong-secret") || strings.Contains(p.log.String(), "wrong-secret") {
				t.Error("the password appears in the trace or the log")
			}
			// Override secrets are [hidden] in every response about the connector.
			for _, r := range []response{w.call(t, "GET", "/connectors/"+name+"/config", nil), w.call(t, "GET", "/connectors/"+name, nil),
				w.call(t, "GET", "/connectors/"+name+"/tasks", nil), w.call(t, "GET", "/connectors?expand=info", nil),
				w.call(t, "PUT", "/connector-plugins/"+config["connector.class"]+"/config/validate", config)} {
				if body := string(r.body); strings.Contains(body, "secret") || strings.Contains(body, "password=") {
					t.Errorf("a response shows a secret: %s", body)
				}
			}
			t.Logf("%s: task FAILED %v after create: %s", c.name, took, firstLine(trace))
		})
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// TestSecureWorkerRefusesToStart: a worker whose own clients cannot
// authenticate, or whose security settings Ferry cannot honour, exits with
// the reason instead of running without them.
func TestSecureWorkerRefusesToStart(t *testing.T) {
	bed := newSecureBed(t)
	bootstrap, sec := bed.listener("SASL_SSL")
	for name, change := range map[string]map[string]string{
		"wrong-password": {"sasl.jaas.config": strings.Replace(scramJAAS, "connect-secret", "wrong-secret", 1)},
		"kerberos":       {"sasl.mechanism": "GSSAPI"},
		"engine-factory": {"ssl.engine.factory.class": "com.example.MyFactory"},
	} {
		t.Run(name, func(t *testing.T) {
			g := testbed.UniqueName(t, "refuse")
			props := map[string]string{"group.id": g, "config.storage.topic": g + "-c", "offset.storage.topic": g + "-o", "status.storage.topic": g + "-s",
				"config.storage.replication.factor": "1", "offset.storage.replication.factor": "1", "status.storage.replication.factor": "1",
				"key.converter": "org.apache.kafka.connect.storage.StringConverter", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
				"listeners": fmt.Sprintf("http://127.0.0.1:%d", testbed.FreePort(t))}
			maps.Copy(props, workerSecurity(bootstrap, sec))
			maps.Copy(props, change)
			dir := t.TempDir()
			writeProps(t, filepath.Join(dir, "worker.properties"), props)
			start := time.Now()
			p := startFerry(t, dir, "distributed", "worker.properties")
			select {
			case <-p.done:
			case <-time.After(60 * time.Second):
				t.Fatal("the worker still runs after 60 s")
			}
			log := p.log.String()
			t.Logf("exited after %v: %s", time.Since(start), lastLines(log, 2))
			if p.cmd.ProcessState.ExitCode() == 0 {
				t.Error("exit code 0")
			}
			want := map[string]string{"wrong-password": "SASL authentication failed", "kerberos": "GSSAPI", "engine-factory": "ssl.engine.factory.class"}[name]
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q", want)
			}
			if strings.Contains(log, "wrong-secret") {
				t.Error("the log shows the password")
			}
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestSecureThroughput measures the FileStream source over PLAINTEXT and
// SASL_SSL on the same broker (set FERRY_BENCH_SECURITY=1); it asserts
// nothing about speed.
func TestSecureThroughput(t *testing.T) {
	if os.Getenv("FERRY_BENCH_SECURITY") == "" {
		t.Skip("a measurement: set FERRY_BENCH_SECURITY=1")
	}
	bed := newSecureBed(t)
	admin := os.Getenv("FERRY_TEST_KAFKA_SECURE")
	const lines = 1000000
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "line-%07d-%s\n", i, strings.Repeat("x", 90))
	}
	for _, name := range []string{"PLAINTEXT", "SASL_SSL", "PLAINTEXT", "SASL_SSL", "PLAINTEXT", "SASL_SSL"} {
		bootstrap, sec := admin, map[string]string{}
		if name != "PLAINTEXT" {
			bootstrap, sec = bed.listener(name)
		}
		w, _, dir := startSecureStandalone(t, bootstrap, sec)
		topic := testbed.UniqueName(t, "tput")
		testbed.CreateTopic(t, admin, topic, 1)
		in := filepath.Join(dir, "in.txt")
		writeFile(t, in, b.String())
		start := time.Now()
		expectStatus(t, w.call(t, "POST", "/connectors", map[string]any{"name": topic,
			"config": map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": topic, "batch.size": "2000"}}), 201)
		testbed.WaitFor(t, 300*time.Second, 50*time.Millisecond, func() (bool, string) {
			n := endOffset(t, admin, topic)
			return n >= lines, fmt.Sprint(n)
		})
		d := time.Since(start)
		t.Logf("%s: %d lines of 107 bytes in %v = %.0f records/s", name, lines, d.Round(time.Millisecond), float64(lines)/d.Seconds())
	}
}
