package app

import (
	"log/slog"
	"net/http"

	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// workerMetrics creates the worker's own metrics registry, the one GET
// /metrics serves: the Go runtime and process collectors, and the metrics
// of every Kafka client built from wcfg (wcfg.ClientMetrics). Each worker
// has its own, so two workers in one process never share series.
func workerMetrics(wcfg *runtime.WorkerConfig, logger *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wcfg.ClientMetrics = kafkaclient.NewMetrics(reg)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A series that fails to gather is logged; the rest is served.
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
}
