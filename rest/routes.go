package rest

import (
	"context"
	"net/http"
)

// routes registers every non-admin endpoint on mux. Go's mux matches
// segments before unescaping them, so names holding %2F stay one segment.
func (s *Server) routes(mux *http.ServeMux) {
	h := func(pattern string, f handlerFunc) { mux.Handle(pattern, s.handle(f)) }

	h("GET /{$}", s.serverInfo)
	h("GET /health", s.health)

	for _, p := range []string{"/connectors", "/connectors/{$}"} {
		h("GET "+p, s.listConnectors)
		h("POST "+p, s.createConnector)
	}
	h("GET /connectors/{c}", s.getConnector)
	h("DELETE /connectors/{c}", s.deleteConnector)
	h("GET /connectors/{c}/config", s.getConnectorConfig)
	h("PUT /connectors/{c}/config", s.putConnectorConfig)
	h("PATCH /connectors/{c}/config", s.patchConnectorConfig)
	h("GET /connectors/{c}/status", s.connectorStatus)
	h("GET /connectors/{c}/tasks", s.taskConfigs)
	h("POST /connectors/{c}/tasks", s.putTaskConfigs)
	h("GET /connectors/{c}/tasks-config", s.tasksConfig)
	h("GET /connectors/{c}/tasks/{t}/status", s.taskStatus)
	h("POST /connectors/{c}/tasks/{t}/restart", s.restartTask)
	h("POST /connectors/{c}/restart", s.restartConnector)
	h("PUT /connectors/{c}/pause", s.pauseConnector)
	h("PUT /connectors/{c}/resume", s.resumeConnector)
	h("PUT /connectors/{c}/stop", s.stopConnector)
	h("PUT /connectors/{c}/fence", s.fenceZombies)
	h("GET /connectors/{c}/topics", s.connectorTopics)
	h("PUT /connectors/{c}/topics/reset", s.resetConnectorTopics)
	h("GET /connectors/{c}/offsets", s.getOffsets)
	h("PATCH /connectors/{c}/offsets", s.alterOffsets)
	h("DELETE /connectors/{c}/offsets", s.resetOffsets)
	h("GET /connectors/{c}/lag", s.connectorLag)

	for _, p := range []string{"/connector-plugins", "/connector-plugins/{$}"} {
		h("GET "+p, s.listPlugins)
	}
	h("GET /connector-plugins/{p}/config", s.pluginConfig)
	h("PUT /connector-plugins/{p}/config/validate", s.validateConfig)

	if s.cfg.metrics != nil {
		mux.Handle("GET /metrics", s.cfg.metrics)
	}
}

// adminRoutes registers the /admin endpoints on mux.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	h := func(pattern string, f handlerFunc) { mux.Handle(pattern, s.handle(f)) }
	for _, p := range []string{"/admin/loggers", "/admin/loggers/{$}"} {
		h("GET "+p, s.listLoggers)
	}
	h("GET /admin/loggers/{name}", s.getLogger)
	h("PUT /admin/loggers/{name}", s.setLogger)
}

// ctx bounds a herder call made for r by the request timeout.
func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.requestTimeout)
}
