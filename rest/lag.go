package rest

import (
	"net/http"

	"github.com/ferryhq/ferry/runtime/herder"
)

// connectorLag serves GET /connectors/{c}/lag, a Ferry extension used by
// `ferry lag`: the consumer lag of a sink connector per partition.
func (s *Server) connectorLag(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	lr, ok := s.cfg.herder.(herder.LagReporter)
	if !ok {
		return 0, nil, herder.NotFound("HTTP 404 Not Found")
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	lag, err := lr.ConnectorLag(ctx, r.PathValue("c"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, lag, nil
}
