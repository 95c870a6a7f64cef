package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ferryhq/ferry/internal/testbed"
)

func clusterWorkerConfig(t *testing.T, bootstrap string, extra map[string]string) *WorkerConfig {
	t.Helper()
	props := map[string]string{
		WBootstrapServers: bootstrap,
		WKeyConverter:     "org.apache.kafka.connect.json.JsonConverter",
		WValueConverter:   "org.apache.kafka.connect.json.JsonConverter",
		WOffsetFile:       t.TempDir() + "/offsets",
	}
	for k, v := range extra {
		props[k] = v
	}
	w, err := ParseWorkerConfig(props, true)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCheckClusterReachable(t *testing.T) {
	w := clusterWorkerConfig(t, testbed.Kafka(t), nil)
	if w.ClusterCheckTimeout() != DefaultClusterCheckTimeout {
		t.Fatalf("timeout %v", w.ClusterCheckTimeout())
	}
	if _, err := CheckCluster(t.Context(), w, nil); err != nil {
		t.Fatal(err)
	}
}

// Nothing listens: the check keeps trying for default.api.timeout.ms, then
// fails naming the servers it tried.
func TestCheckClusterNothingListening(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
	w := clusterWorkerConfig(t, addr, map[string]string{"default.api.timeout.ms": "1500"})
	start := time.Now()
	_, err := CheckCluster(t.Context(), w, nil)
	took := time.Since(start)
	if err == nil {
		t.Fatal("check passed with nothing listening")
	}
	if !strings.Contains(err.Error(), "bootstrap.servers="+addr) || !strings.Contains(err.Error(), "within 1.5s") {
		t.Fatalf("error does not name the servers and timeout: %v", err)
	}
	if took < time.Second {
		t.Fatalf("gave up after %v, before the timeout", took)
	}
	t.Logf("%v after %v", err, took)
}

// The watch notices a cluster that went away and one that came back.
func TestClusterWatchLossAndRecovery(t *testing.T) {
	port := testbed.FreePort(t)
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start()
	defer func() { c.Close() }()
	w := clusterWorkerConfig(t, fmt.Sprintf("127.0.0.1:%d", port), nil)
	watch := NewClusterWatch(w, nil, slog.New(slog.DiscardHandler), 200*time.Millisecond, time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- watch.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(500 * time.Millisecond)
	if p := watch.Problem(); p != "" {
		t.Fatalf("problem with the cluster up: %s", p)
	}
	c.Close()
	lost := time.Now()
	testbed.WaitFor(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		return watch.Problem() != "", "the watch did not notice the cluster is gone"
	})
	t.Logf("noticed the loss after %v: %s", time.Since(lost), watch.Problem())
	if p := watch.Problem(); !strings.Contains(p, fmt.Sprintf("bootstrap.servers=127.0.0.1:%d", port)) {
		t.Fatalf("problem does not name the brokers: %s", p)
	}
	c = start()
	back := time.Now()
	testbed.WaitFor(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		return watch.Problem() == "", "the watch did not notice the cluster is back: " + watch.Problem()
	})
	t.Logf("noticed the recovery after %v", time.Since(back))
}
