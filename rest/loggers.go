package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/ferryhq/ferry/logging"
	"github.com/ferryhq/ferry/runtime/herder"
)

// ClusterLoggers is implemented by herders that can spread a logger level
// to every worker of the cluster (PUT /admin/loggers/{name}?scope=cluster).
// With a herder that does not implement it the level is applied locally,
// as a standalone worker does.
type ClusterLoggers interface {
	SetClusterLoggerLevel(ctx context.Context, namespace string, level logging.Level) error
}

// loggerLevelBody is Apache's LoggerLevel entity; last_modified is epoch
// milliseconds or null.
type loggerLevelBody struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

func levelBody(l logging.LoggerLevel) loggerLevelBody {
	b := loggerLevelBody{Level: l.Level.String()}
	if !l.LastModified.IsZero() {
		ms := l.LastModified.UnixMilli()
		b.LastModified = &ms
	}
	return b
}

func (s *Server) listLoggers(_ http.ResponseWriter, _ *http.Request) (int, any, error) {
	all := s.levels.All()
	out := make(map[string]loggerLevelBody, len(all))
	for name, l := range all {
		out[name] = levelBody(l) // encoding/json sorts map keys
	}
	return http.StatusOK, out, nil
}

func (s *Server) getLogger(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	l, ok := s.levels.Get(name)
	if !ok {
		return 0, nil, herder.NotFound("Logger %s not found.", name)
	}
	return http.StatusOK, levelBody(l), nil
}

func (s *Server) setLogger(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	var body map[string]any
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	var desired string
	switch v := body["level"].(type) {
	case nil:
		return 0, nil, herder.BadRequest("Desired 'level' parameter was not specified in request.")
	case string:
		desired = v
	case json.Number:
		desired = v.String()
	case bool:
		desired = map[bool]string{true: "true", false: "false"}[v]
	default:
		return 0, nil, herder.BadRequest("Malformed JSON in request body: 'level' must be a string")
	}
	level, err := logging.ParseLevel(desired)
	if err != nil {
		return 0, nil, herder.NotFound("invalid log level '%s'.", desired)
	}
	if strings.EqualFold(r.URL.Query().Get("scope"), "cluster") {
		if cl, ok := s.cfg.herder.(ClusterLoggers); ok {
			ctx, cancel := s.ctx(r)
			defer cancel()
			if err := cl.SetClusterLoggerLevel(ctx, name, level); err != nil {
				return 0, nil, err
			}
		} else {
			s.levels.SetLevel(name, level)
		}
		s.log.Info("set logger level cluster-wide", "namespace", name, "level", level.String())
		return http.StatusNoContent, nil, nil
	}
	names := s.levels.SetLevel(name, level)
	s.log.Info("set logger level", "namespace", name, "level", level.String())
	return http.StatusOK, names, nil
}
