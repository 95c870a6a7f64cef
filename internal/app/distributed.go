package app

import (
	"context"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry/internal/version"
	"github.com/ferryhq/ferry/logging"
	"github.com/ferryhq/ferry/plugins"
	"github.com/ferryhq/ferry/rest"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/distributed"
)

// RunDistributed wires and runs one worker of a distributed cluster until
// ctx ends; it then stops its work and leaves the group. ready, when set,
// is called once the REST server listens, with the worker's REST URL (the
// worker answers /health with 503 until it has completed its first
// assignment). It fails at once when the Kafka cluster does not answer
// within the worker's cluster check timeout, and its shutdown takes at most
// task.shutdown.graceful.timeout.ms plus ShutdownMargin.
func RunDistributed(ctx context.Context, workerProps map[string]string,
	logger *slog.Logger, levels *logging.Levels, ready func(url string)) error {
	wcfg, err := runtime.ParseWorkerConfig(workerProps, false)
	if err != nil {
		return err
	}
	if err := checkCluster(ctx, wcfg, logger); err != nil {
		return err
	}
	return runBounded(ctx, wcfg.ShutdownTimeout()+ShutdownMargin, logger, func(ctx context.Context) error {
		return runDistributed(ctx, wcfg, logger, levels, ready)
	})
}

func runDistributed(ctx context.Context, wcfg *runtime.WorkerConfig,
	logger *slog.Logger, levels *logging.Levels, ready func(url string)) error {
	reg, err := plugins.Registry()
	if err != nil {
		return err
	}
	h, err := distributed.New(distributed.Options{Config: wcfg, Registry: reg, Logger: logger,
		Version: distributed.ServerVersion{Version: version.Connect, Commit: version.Commit()}})
	if err != nil {
		return err
	}

	watch, err := newClusterWatch(wcfg, logger)
	if err != nil {
		return err
	}
	restOpts := []rest.Opt{rest.WithHerder(distributedWatched{h, watch}), rest.WithListeners(wcfg.List(runtime.WListeners)),
		rest.WithLogger(logger), rest.WithLevels(levels),
		rest.WithCORS(wcfg.String(runtime.WAllowOrigin), wcfg.String(runtime.WAllowMethods)),
		rest.WithTopicTracking(wcfg.Bool(runtime.WTopicTracking), wcfg.Bool(runtime.WTopicTrackingReset))}
	if wcfg.IsSet(runtime.WAdminListeners) {
		restOpts = append(restOpts, rest.WithAdminListeners(wcfg.List(runtime.WAdminListeners)))
	}
	srv, err := rest.NewServer(restOpts...)
	if err != nil {
		return fmt.Errorf("starting REST server: %w", err)
	}
	url, workerID := wcfg.AdvertisedURL(srv.Addrs()[0])
	h.SetIdentity(url, workerID)
	logger.Info("Ferry distributed worker starting", "rest", url, "worker_id", workerID,
		"group", wcfg.String(runtime.WGroupID), "version", version.Ferry)
	if ready != nil {
		ready(url)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return h.Run(gctx) })
	g.Go(func() error { return watch.Run(gctx) })
	return g.Wait()
}
