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

// freeze stops the real broker's process without closing its sockets
// (SIGSTOP): connections stay open and requests go unanswered, as behind a
// network partition. The cleanup thaws it before stopping it.
func (k *privateKafka) freeze() {
	k.t.Helper()
	b, err := os.ReadFile(filepath.Join(k.dir, "kafka.pid"))
	if err != nil {
		k.t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		k.t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		k.t.Fatal(err)
	}
	k.t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
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

// brokerUser is a worker (as a process) with a pipeline that reads and
// writes the private broker.
type brokerUser struct {
	mode string
	p    *process
	url  string
}

func startBrokerUser(t *testing.T, k *privateKafka, mode string) *brokerUser {
	t.Helper()
	dir := t.TempDir()
	port := testbed.FreePort(t)
	u := &brokerUser{mode: mode, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	u.p = startFerry(t, dir, mode, workerProps(t, mode, k.addr(), dir, port))
	waitHealth(t, u.url, "healthy", 90*time.Second)

	// A sink consuming and a source producing (and flushing its producer).
	in := filepath.Join(dir, "in.txt")
	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	writeFile(t, in, lines.String())
	topic := testbed.UniqueName(t, "brokerloss")
	postConnector(t, u.url, "src", map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": topic, "tasks.max": "1"})
	postConnector(t, u.url, "snk", map[string]string{"connector.class": "FileStreamSink", "file": filepath.Join(dir, "out.txt"), "topics": topic, "tasks.max": "1"})
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		n := countLines(filepath.Join(dir, "out.txt"))
		return n == 1000, fmt.Sprintf("%s: %d lines copied", mode, n)
	})
	return u
}

// startBrokerUsers starts a standalone and a distributed worker on k.
func startBrokerUsers(t *testing.T, k *privateKafka) []*brokerUser {
	return []*brokerUser{startBrokerUser(t, k, "standalone"), startBrokerUser(t, k, "distributed")}
}

// waitLost waits until every worker's health is unhealthy, naming the
// broker, and its log has the warning; it returns the time since start.
func waitLost(t *testing.T, k *privateKafka, users []*brokerUser, start time.Time) time.Duration {
	t.Helper()
	for _, u := range users {
		waitHealth(t, u.url, "unhealthy", 30*time.Second)
		if _, msg := health(u.url); !strings.Contains(msg, "bootstrap.servers="+k.addr()) {
			t.Fatalf("%s: health message does not name the brokers: %s", u.mode, msg)
		}
		if !strings.Contains(u.p.log.String(), "lost contact with the Kafka cluster") {
			t.Fatalf("%s: no warning in the log:\n%s", u.mode, u.p.log.String())
		}
	}
	return time.Since(start)
}

// terminateWithin sends SIGTERM and fails unless the process exits within
// the shutdown bound (with 5 s for a loaded machine); it returns the time
// it took.
func terminateWithin(t *testing.T, p *process, mode string) (time.Duration, time.Duration) {
	t.Helper()
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
	return time.Since(start), bound
}

// Workers whose broker goes away say so within seconds (a warning naming
// the brokers, GET /health unhealthy), are healthy again once the broker is
// back, and a SIGTERM while the broker is away ends them within
// task.shutdown.graceful.timeout.ms plus app.ShutdownMargin. A standalone
// and a distributed worker share the broker.
func TestBrokerLossHealthAndShutdown(t *testing.T) {
	k := startPrivateKafka(t)
	users := startBrokerUsers(t, k)
	start := time.Now()
	k.stop()
	lost := waitLost(t, k, users, start)
	start = time.Now()
	k.start()
	for _, u := range users {
		waitHealth(t, u.url, "healthy", 60*time.Second)
	}
	back := time.Since(start)
	k.stop()
	waitLost(t, k, users, time.Now())
	for _, u := range users {
		took, bound := terminateWithin(t, u.p, u.mode)
		t.Logf("%s: exited %v after SIGTERM (bound %v)", u.mode, took.Round(time.Millisecond), bound)
	}
	t.Logf("both unhealthy %v after stopping the broker began, healthy %v after starting it began", lost.Round(time.Millisecond), back.Round(time.Millisecond))
}

// The same with a broker that hangs instead of refusing connections
// (SIGSTOP; a real broker only): requests in flight get no answer, and
// neither the health check nor the shutdown may wait for one.
func TestHungBrokerHealthAndShutdown(t *testing.T) {
	if !testbed.IsRealKafka() {
		t.Skip("needs a real broker process to freeze (FERRY_TEST_KAFKA)")
	}
	k := startPrivateKafka(t)
	users := startBrokerUsers(t, k)
	start := time.Now()
	k.freeze()
	lost := waitLost(t, k, users, start)
	t.Logf("both unhealthy %v after the broker hung", lost.Round(time.Millisecond))
	for _, u := range users {
		took, bound := terminateWithin(t, u.p, u.mode)
		t.Logf("%s: exited %v after SIGTERM (bound %v)", u.mode, took.Round(time.Millisecond), bound)
		if strings.Contains(u.p.log.String(), "did not stop in time; exiting") {
			t.Errorf("%s: the shutdown needed the process-wide bound:\n%s", u.mode, u.p.log.String())
		}
	}
}
