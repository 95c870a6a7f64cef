// Package app wires Ferry's processes — a standalone worker, the dev
// worker with its embedded broker — from their parts. cmd/ferry parses
// flags and calls it; end-to-end tests call it in-process.
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
	"github.com/ferryhq/ferry/runtime/standalone"
	"github.com/ferryhq/ferry/storage/filestore"
)

// RunStandalone wires and runs a standalone worker until ctx ends. ready,
// when set, is called once the worker serves requests, with its REST URL.
// It fails at once when the Kafka cluster does not answer within the
// worker's cluster check timeout, and its shutdown takes at most
// ShutdownBound(task.shutdown.graceful.timeout.ms).
func RunStandalone(ctx context.Context, workerProps map[string]string, conns []map[string]string,
	logger *slog.Logger, levels *logging.Levels, ready func(url string)) error {
	wcfg, err := runtime.ParseWorkerConfig(workerProps, true)
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
		return runStandalone(ctx, wcfg, rs, conns, logger, ready)
	})
}

func runStandalone(ctx context.Context, wcfg *runtime.WorkerConfig, rs restSetup, conns []map[string]string,
	logger *slog.Logger, ready func(url string)) error {
	reg, err := plugins.Registry()
	if err != nil {
		return err
	}
	offsets := filestore.New(wcfg.String(runtime.WOffsetFile))
	if err := offsets.Start(ctx); err != nil {
		return fmt.Errorf("opening offsets file: %w", err)
	}
	defer offsets.Stop()

	h, err := standalone.New(standalone.Options{Config: wcfg, Registry: reg, Offsets: offsets, Logger: logger,
		Version: standalone.ServerVersion{Version: version.Connect, Commit: version.Commit()}})
	if err != nil {
		return err
	}
	defer h.Close()
	watch, err := newClusterWatch(wcfg, logger)
	if err != nil {
		return err
	}

	srv, err := rest.NewServer(append(rs.opts, rest.WithHerder(standaloneWatched{h, watch}))...)
	if err != nil {
		return fmt.Errorf("starting REST server: %w", err)
	}
	url, workerID := wcfg.AdvertisedURL(srv.Addrs())
	h.SetWorkerID(workerID)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return h.Run(gctx) })
	g.Go(func() error { return watch.Run(gctx) })
	g.Go(func() error {
		if err := h.Start(gctx, conns); err != nil {
			return fmt.Errorf("starting connectors: %w", err)
		}
		logger.Info("Ferry worker started", "rest", url, "worker_id", workerID, "version", version.Ferry)
		if ready != nil {
			ready(url)
		}
		return nil
	})
	return g.Wait()
}
