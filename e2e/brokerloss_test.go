package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/testbed"
)

// privateKafka is a broker of the test's own, which it may stop and start:
// a real Apache Kafka broker started with scripts/testbed.sh when the
// real-service suite runs (FERRY_TEST_KAFKA set), else a kfake cluster in
// the test process. Either way it listens on one fixed port, so a worker
// pointed at it finds it again after a restart.
type privateKafka struct {
	t    *testing.T
	port int
	dir  string
	fake *kfake.Cluster
	up   bool
}

func (k *privateKafka) addr() string { return fmt.Sprintf("127.0.0.1:%d", k.port) }

func startPrivateKafka(t *testing.T) *privateKafka {
	t.Helper()
	k := &privateKafka{t: t, dir: t.TempDir()}
	for range 20 {
		// A real broker's controller listens on the next port.
		p := testbed.FreePort(t)
		if portFree(p + 1) {
			k.port = p
			break
		}
	}
	if k.port == 0 {
		t.Fatal("no two adjacent free ports")
	}
	k.start()
	t.Cleanup(func() {
		if k.up {
			k.stop()
		}
	})
	return k
}

func portFree(p int) bool {
	c, err := (&net.Dialer{Timeout: 200 * time.Millisecond}).Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return true
	}
	c.Close()
	return false
}

func (k *privateKafka) start() {
	k.t.Helper()
	if testbed.IsRealKafka() {
		out, err := exec.Command("../scripts/testbed.sh", "start-kafka", "--port", fmt.Sprint(k.port), "--dir", k.dir).CombinedOutput()
		if err != nil {
			k.t.Fatalf("start-kafka: %v\n%s", err, out)
		}
	} else {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(k.port), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
		if err != nil {
			k.t.Fatal(err)
		}
		k.fake = c
	}
	k.up = true
}

func (k *privateKafka) stop() {
	k.t.Helper()
	if testbed.IsRealKafka() {
		out, err := exec.Command("../scripts/testbed.sh", "stop-kafka", "--dir", k.dir).CombinedOutput()
		if err != nil {
			k.t.Fatalf("stop-kafka: %v\n%s", err, out)
		}
	} else {
		k.fake.Close()
		k.fake = nil
	}
	k.up = false
}

// health returns the status field of GET /health ("" if no answer).
func health(url string) (string, string) {
	resp, err := httpClient.Get(url + "/health")
	if err != nil {
		return "", err.Error()
	}
	defer resp.Body.Close()
	var b struct{ Status, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		return "", err.Error()
	}
	return b.Status, b.Message
}

func waitHealth(t *testing.T, url, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testbed.WaitFor(t, timeout, 100*time.Millisecond, func() (bool, string) {
		s, m := health(url)
		return s == want, fmt.Sprintf("health %q (%s), want %q", s, m, want)
	})
	return time.Since(start)
}

func postConnector(t *testing.T, url string, name string, config map[string]string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "config": config})
	resp, err := httpClient.Post(url+"/connectors", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s: status %d", name, resp.StatusCode)
	}
}

func workerProps(t *testing.T, mode, bootstrap, dir string, port int) string {
	t.Helper()
	props := []string{
		"bootstrap.servers=" + bootstrap,
		"key.converter=org.apache.kafka.connect.json.JsonConverter",
		"value.converter=org.apache.kafka.connect.json.JsonConverter",
		"offset.flush.interval.ms=1000",
		"task.shutdown.graceful.timeout.ms=5000",
		fmt.Sprintf("listeners=http://127.0.0.1:%d", port),
	}
	if mode == "standalone" {
		props = append(props, "offset.storage.file.filename="+filepath.Join(dir, "offsets"))
	} else {
		g := testbed.UniqueName(t, "brokerloss")
		props = append(props, "group.id="+g, "config.storage.topic="+g+"-config", "offset.storage.topic="+g+"-offsets",
			"status.storage.topic="+g+"-status", "config.storage.replication.factor=1",
			"offset.storage.replication.factor=1", "status.storage.replication.factor=1")
	}
	path := filepath.Join(dir, "worker.properties")
	writeFile(t, path, strings.Join(props, "\n")+"\n")
	return path
}

// A worker whose bootstrap.servers answer nothing refuses to start, naming
// the servers it tried, once default.api.timeout.ms passed.
func TestWorkerRefusesToStartWithoutCluster(t *testing.T) {
	for _, mode := range []string{"standalone", "distributed"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bootstrap := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
			path := workerProps(t, mode, bootstrap, dir, testbed.FreePort(t))
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, "default.api.timeout.ms=3000")
			f.Close()
			start := time.Now()
			p := startFerry(t, dir, mode, path)
			select {
			case <-p.done:
			case <-time.After(60 * time.Second):
				t.Fatal("the worker did not give up within 60 s")
			}
			took := time.Since(start)
			if p.cmd.ProcessState.Success() {
				t.Fatal("the worker exited 0")
			}
			want := "could not connect to the Kafka cluster at bootstrap.servers=" + bootstrap + " within 3s"
			if !strings.Contains(p.log.String(), want) {
				t.Fatalf("output lacks %q:\n%s", want, p.log.String())
			}
			t.Logf("%s refused to start after %v", mode, took)
		})
	}
}

// A worker whose broker goes away says so within seconds (a warning naming
// the brokers, GET /health unhealthy), is healthy again once the broker is
// back, and a SIGTERM while the broker is away ends it within
// task.shutdown.graceful.timeout.ms plus app.ShutdownMargin.
func TestBrokerLossHealthAndShutdown(t *testing.T) {
	for _, mode := range []string{"standalone", "distributed"} {
		t.Run(mode, func(t *testing.T) {
			k := startPrivateKafka(t)
			dir := t.TempDir()
			port := testbed.FreePort(t)
			url := fmt.Sprintf("http://127.0.0.1:%d", port)
			path := workerProps(t, mode, k.addr(), dir, port)
			p := startFerry(t, dir, mode, path)
			waitHealth(t, url, "healthy", 90*time.Second)

			// Work that reads and writes the broker: a sink consuming
			// and a source producing (and flushing its producer).
			in := filepath.Join(dir, "in.txt")
			var lines strings.Builder
			for i := range 1000 {
				fmt.Fprintf(&lines, "line %d\n", i)
			}
			writeFile(t, in, lines.String())
			topic := testbed.UniqueName(t, "brokerloss")
			postConnector(t, url, "src", map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": topic, "tasks.max": "1"})
			postConnector(t, url, "snk", map[string]string{"connector.class": "FileStreamSink", "file": filepath.Join(dir, "out.txt"), "topics": topic, "tasks.max": "1"})
			testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
				n := countLines(filepath.Join(dir, "out.txt"))
				return n == 1000, fmt.Sprintf("%d lines copied", n)
			})

			k.stop()
			lost := waitHealth(t, url, "unhealthy", 30*time.Second)
			if _, msg := health(url); !strings.Contains(msg, "bootstrap.servers="+k.addr()) {
				t.Fatalf("health message does not name the brokers: %s", msg)
			}
			if !strings.Contains(p.log.String(), "lost contact with the Kafka cluster") {
				t.Fatalf("no warning in the log:\n%s", p.log.String())
			}
			k.start()
			back := waitHealth(t, url, "healthy", 60*time.Second)

			k.stop()
			waitHealth(t, url, "unhealthy", 30*time.Second)
			start := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			bound := 5*time.Second + app.ShutdownMargin
			select {
			case <-p.done:
			case <-time.After(bound + 5*time.Second):
				t.Fatalf("%s still running %v after SIGTERM (bound %v)", mode, time.Since(start), bound)
			}
			t.Logf("%s: unhealthy %v after the broker stopped, healthy %v after it was back; exited %v after SIGTERM (bound %v)",
				mode, lost.Round(time.Millisecond), back.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), bound)
		})
	}
}
