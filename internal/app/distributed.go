package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

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
// ShutdownBound(task.shutdown.graceful.timeout.ms).
func RunDistributed(ctx context.Context, workerProps map[string]string,
	logger *slog.Logger, levels *logging.Levels, ready func(url string)) error {
	wcfg, err := runtime.ParseWorkerConfig(workerProps, false)
	if err != nil {
		return err
	}
	// Settings are checked before the cluster is: a bad REST setting is
	// reported at once, not after the cluster check's timeout.
	rs, err := restOptions(wcfg, logger, levels)
	if err != nil {
		return err
	}
	rs.opts = append(rs.opts, rest.WithMetrics(workerMetrics(wcfg, logger)))
	if err := checkCluster(ctx, wcfg, logger); err != nil {
		return err
	}
	return runBounded(ctx, ShutdownBound(wcfg.ShutdownTimeout()), logger, func(ctx context.Context) error {
		return runDistributed(ctx, wcfg, rs, logger, ready)
	})
}

func runDistributed(ctx context.Context, wcfg *runtime.WorkerConfig, rs restSetup,
	logger *slog.Logger, ready func(url string)) error {
	reg, err := plugins.Registry()
	if err != nil {
		return err
	}
	if rs.auth && !strings.EqualFold(wcfg.String(runtime.WConnectProtocol), "sessioned") {
		// As in Apache, the worker-to-worker endpoints skip REST
		// authentication and rely on signatures, which only the
		// sessioned protocol has.
		logger.Warn("REST authentication is on but connect.protocol is not sessioned: POST /connectors/{c}/tasks and PUT /connectors/{c}/fence are not signed and so not protected",
			"connect.protocol", wcfg.String(runtime.WConnectProtocol))
	}
	h, err := distributed.New(distributed.Options{Config: wcfg, Registry: reg, Logger: logger,
		Version:   distributed.ServerVersion{Version: version.Connect, Commit: version.Commit()},
		ClientTLS: rs.clientTLS})
	if err != nil {
		return err
	}
	watch, err := newClusterWatch(wcfg, logger)
	if err != nil {
		return err
	}
	srv, err := rest.NewServer(append(rs.opts, rest.WithHerder(distributedWatched{h, watch}))...)
	if err != nil {
		return fmt.Errorf("starting REST server: %w", err)
	}
	url, workerID := wcfg.AdvertisedURL(srv.Addrs())
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
