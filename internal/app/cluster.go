package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/distributed"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/runtime/standalone"
)

// ShutdownMargin is what a worker's shutdown may take beyond
// task.shutdown.graceful.timeout.ms (stopping connectors, writing the last
// statuses, leaving the group, closing the stores) before the process
// exits with whatever is still running abandoned.
const ShutdownMargin = 10 * time.Second

// checkCluster fails the start of a worker whose Kafka cluster does not
// answer, as Apache's worker does, instead of showing connectors RUNNING
// that cannot move a record.
func checkCluster(ctx context.Context, wcfg *runtime.WorkerConfig, logger *slog.Logger) error {
	opts, err := clusterClientOpts(wcfg, logger, "connect-cluster-check")
	if err != nil {
		return err
	}
	logger.Info("connecting to the Kafka cluster", "bootstrap.servers", strings.Join(wcfg.Brokers(), ","),
		"timeout", wcfg.ClusterCheckTimeout())
	id, err := runtime.CheckCluster(ctx, wcfg, opts)
	if err != nil {
		return err
	}
	logger.Info("Kafka cluster reachable", "cluster_id", id)
	return nil
}

// kafkaOptser is a worker configuration that builds the options of the
// worker's own Kafka clients from its connection and security keys.
type kafkaOptser interface {
	KafkaOpts(logger *slog.Logger, clientID string) ([]kgo.Opt, error)
}

// clusterClientOpts are the client options of the cluster check and watch:
// the worker's own client settings where the configuration provides them,
// so a TLS or SASL cluster is reached the way the herder reaches it.
func clusterClientOpts(wcfg *runtime.WorkerConfig, logger *slog.Logger, clientID string) ([]kgo.Opt, error) {
	if k, ok := any(wcfg).(kafkaOptser); ok {
		return k.KafkaOpts(logger, clientID)
	}
	return []kgo.Opt{kgo.ClientID(clientID)}, nil
}

// newClusterWatch watches the worker's cluster with its client settings.
func newClusterWatch(wcfg *runtime.WorkerConfig, logger *slog.Logger) (*runtime.ClusterWatch, error) {
	opts, err := clusterClientOpts(wcfg, logger, "connect-cluster-watch")
	if err != nil {
		return nil, err
	}
	return runtime.NewClusterWatch(wcfg, opts, logger, 0, 0), nil
}

// runBounded runs fn until ctx ends, then gives its shutdown at most bound.
// A worker whose shutdown hangs (a broker that went away, a plugin ignoring
// its context) still exits; what did not stop is abandoned.
func runBounded(ctx context.Context, bound time.Duration, logger *slog.Logger, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Info("stopping the worker", "timeout", bound)
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		logger.Error("the worker did not stop in time; exiting with its remaining work abandoned", "timeout", bound)
		return fmt.Errorf("shutdown did not finish within %v", bound)
	}
}

// clusterHealth turns a lost cluster into an unhealthy GET /health.
func clusterHealth(w *runtime.ClusterWatch) error {
	if p := w.Problem(); p != "" {
		return &herder.Error{Code: http.StatusInternalServerError, Message: p}
	}
	return nil
}

// The herders with the cluster watch added to their health. Embedding the
// concrete herders keeps the optional interfaces the REST server looks for.
type standaloneWatched struct {
	*standalone.Herder
	watch *runtime.ClusterWatch
}

func (h standaloneWatched) Health(ctx context.Context) error {
	if err := h.Herder.Health(ctx); err != nil {
		return err
	}
	return clusterHealth(h.watch)
}

type distributedWatched struct {
	*distributed.Herder
	watch *runtime.ClusterWatch
}

func (h distributedWatched) Health(ctx context.Context) error {
	if err := h.Herder.Health(ctx); err != nil {
		return err
	}
	return clusterHealth(h.watch)
}
