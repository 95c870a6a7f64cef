package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferryhq/ferry/internal/backoff"
	"github.com/ferryhq/ferry/internal/kafkaclient"
)

// DefaultClusterCheckTimeout bounds the start-up check of the Kafka cluster
// when the worker properties do not set default.api.timeout.ms (Apache's
// admin client waits 60 s there; a worker pointed at nothing should say so
// sooner).
const DefaultClusterCheckTimeout = 30 * time.Second

// Defaults of the cluster watch: how often it asks the cluster for its
// metadata, and how long one attempt may take before the cluster counts as
// unreachable.
const (
	DefaultClusterWatchInterval = 2 * time.Second
	DefaultClusterWatchTimeout  = 3 * time.Second
)

// ClusterCheckTimeout is how long the worker waits at start for the Kafka
// cluster: default.api.timeout.ms when set, else DefaultClusterCheckTimeout.
func (w *WorkerConfig) ClusterCheckTimeout() time.Duration {
	if n, err := strconv.ParseInt(strings.TrimSpace(w.Raw["default.api.timeout.ms"]), 10, 64); err == nil && n > 0 {
		return time.Duration(n) * time.Millisecond
	}
	return DefaultClusterCheckTimeout
}

// CheckCluster connects to bootstrap.servers with the client options opts
// (the worker's connection and security settings) and reads the cluster's
// metadata, as Apache's worker looks up the cluster id before it starts.
// It returns the cluster id, or an error naming the servers tried once
// ClusterCheckTimeout passed without an answer.
func CheckCluster(ctx context.Context, w *WorkerConfig, opts []kgo.Opt) (string, error) {
	timeout := w.ClusterCheckTimeout()
	cl, err := kgo.NewClient(append(slices.Clip(opts), kgo.SeedBrokers(w.Brokers()...))...)
	if err != nil {
		return "", fmt.Errorf("creating a Kafka client for bootstrap.servers=%s: %w", strings.Join(w.Brokers(), ","), err)
	}
	defer cl.Close()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A refused connection fails an attempt at once; a broker that is
	// still starting gets the whole timeout, as Apache's admin client
	// retries until its own.
	var last error
	for {
		id, err := describeCluster(ctx, cl)
		if err == nil {
			return id, nil
		}
		// Refused credentials or an untrusted certificate do not heal by
		// waiting for the timeout: say so at once.
		if fatal := kafkaclient.Fatal(err); fatal != nil {
			return "", fmt.Errorf("cannot connect to the Kafka cluster at bootstrap.servers=%s: %w", strings.Join(w.Brokers(), ","), fatal)
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		if !backoff.Sleep(ctx, clusterCheckBackoff) {
			if parent.Err() != nil {
				return "", fmt.Errorf("stopped while connecting to the Kafka cluster at bootstrap.servers=%s: %w",
					strings.Join(w.Brokers(), ","), parent.Err())
			}
			return "", clusterError(w.Brokers(), timeout, last)
		}
	}
}

// clusterCheckBackoff spaces the start-up attempts to reach the cluster.
const clusterCheckBackoff = 500 * time.Millisecond

// describeCluster asks a broker for the cluster's metadata (no topics),
// bypassing the client's metadata cache, which would answer for a cluster
// that is gone. kgo waits for the answer of a request it has written until
// its own deadline whatever ctx says; the wait here ends with ctx, and the
// request left behind ends at that deadline or when the client closes.
func describeCluster(ctx context.Context, cl *kgo.Client) (string, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	type result struct {
		resp *kmsg.MetadataResponse
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := req.RequestWith(ctx, cl)
		ch <- result{resp, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-ch:
		if r.err != nil {
			return "", r.err
		}
		if r.resp.ClusterID == nil {
			return "", nil
		}
		return *r.resp.ClusterID, nil
	}
}

func clusterError(brokers []string, timeout time.Duration, err error) error {
	return fmt.Errorf("could not connect to the Kafka cluster at bootstrap.servers=%s within %v: %w; "+
		"check the worker's bootstrap.servers and security settings",
		strings.Join(brokers, ","), timeout, err)
}

// ClusterWatch notices when the Kafka cluster the worker uses stops
// answering, and when it is back: it logs a warning naming the brokers on
// the first failed check and reports the failure through Problem until a
// check succeeds again. Health checks consult it.
type ClusterWatch struct {
	brokers  []string
	opts     []kgo.Opt
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	err   error
	since time.Time
}

// NewClusterWatch prepares a watch of the worker's cluster, reached with
// the client options opts; nothing runs until Run. Zero durations take the
// defaults.
func NewClusterWatch(w *WorkerConfig, opts []kgo.Opt, logger *slog.Logger, interval, timeout time.Duration) *ClusterWatch {
	if interval <= 0 {
		interval = DefaultClusterWatchInterval
	}
	if timeout <= 0 {
		timeout = DefaultClusterWatchTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ClusterWatch{brokers: w.Brokers(), opts: append(slices.Clip(opts), kgo.SeedBrokers(w.Brokers()...)),
		interval: interval, timeout: timeout, log: logger}
}

// Problem is empty while the cluster answers, else a sentence saying since
// when and why it does not.
func (c *ClusterWatch) Problem() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return ""
	}
	return fmt.Sprintf("The Kafka cluster at bootstrap.servers=%s has been unreachable since %s: %v.",
		strings.Join(c.brokers, ","), c.since.UTC().Format(time.RFC3339), c.err)
}

// Run checks the cluster every interval until ctx ends.
func (c *ClusterWatch) Run(ctx context.Context) error {
	cl, err := kgo.NewClient(c.opts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka cluster watch client: %w", err)
	}
	defer cl.Close()
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.check(ctx, cl)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *ClusterWatch) check(ctx context.Context, cl *kgo.Client) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	_, err := describeCluster(rctx, cl)
	cancel()
	if ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	brokers := strings.Join(c.brokers, ",")
	switch {
	case err != nil && c.err == nil:
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v", c.timeout)
		}
		c.err = err
		c.since = time.Now()
		c.log.Warn("lost contact with the Kafka cluster; tasks cannot read or write until it is back",
			"bootstrap.servers", brokers, "error", err)
	case err == nil && c.err != nil:
		c.log.Info("the Kafka cluster is reachable again", "bootstrap.servers", brokers,
			"unreachable_for", time.Since(c.since).Round(time.Millisecond))
		c.err = nil
	}
}
