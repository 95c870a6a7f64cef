package kafkaclient

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sumByClient sums the samples of a counter family per client_id label.
func sumByClient(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[label(m, ClientLabel)] += m.GetCounter().GetValue()
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestMetricsPerClientAndUnregisteredOnClose(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "m"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	newProducer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ClientID("p"),
			kgo.DefaultProduceTopic("m"), m.Opt())
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	// Two open clients with the same id (a restarting task whose previous
	// client has not closed yet) must not collide.
	a, b := newProducer(), newProducer()
	for _, cl := range []*kgo.Client{a, a, b} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := sumByClient(t, reg, "kgo_produce_records_total")
	if got["p"] != 2 || got["p#2"] != 1 {
		t.Fatalf("produce records by client = %v, want p:2 p#2:1", got)
	}
	if got := sumByClient(t, reg, "kgo_write_bytes_total"); got["p"] == 0 {
		t.Fatalf("write bytes by client = %v, want p > 0", got)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ClientID("c"),
		kgo.ConsumeTopics("m"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), m.Opt())
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 3; {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		n += fs.NumRecords()
	}
	if got := sumByClient(t, reg, "kgo_fetch_records_total"); got["c"] != 3 {
		t.Fatalf("fetch records by client = %v, want c:3", got)
	}

	a.Close()
	got = sumByClient(t, reg, "kgo_produce_records_total")
	if _, ok := got["p"]; ok || got["p#2"] != 1 {
		t.Fatalf("after closing the first client: %v, want only p#2", got)
	}
	// The id is free again once its client closed.
	c := newProducer()
	if err := c.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := sumByClient(t, reg, "kgo_produce_records_total"); got["p"] != 1 {
		t.Fatalf("new client with a freed id: %v, want p:1", got)
	}
	b.Close()
	c.Close()
	consumer.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) > 0 {
			t.Errorf("series of %s left after every client closed", mf.GetName())
		}
	}
}

func TestNilMetricsReportsNothing(t *testing.T) {
	var m *Metrics
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), m.Opt())
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// A series that cannot be registered costs the client its metrics, never
// the worker.
func TestMetricsRegistrationConflictDoesNotPanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "kgo_connects_total",
		ConstLabels: prometheus.Labels{ClientLabel: "x"}}))
	m := NewMetrics(reg)
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.ClientID("x"), m.Opt())
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather after a conflicting client: %v", err)
	}
}
