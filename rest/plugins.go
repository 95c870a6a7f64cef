package rest

import (
	"net/http"

	"github.com/ferryhq/ferry/runtime/herder"
)

func (s *Server) listPlugins(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	plugins, err := s.cfg.herder.Plugins(ctx, queryBool(r, "connectorsOnly", true))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, nonNil(plugins), nil
}

func (s *Server) pluginConfig(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	keys, err := s.cfg.herder.PluginConfig(ctx, r.PathValue("p"))
	if err != nil {
		return 0, nil, err
	}
	keys = nonNil(keys)
	for i := range keys {
		normKey(&keys[i])
	}
	return http.StatusOK, keys, nil
}

// validateConfig answers PUT /connector-plugins/{p}/config/validate. The
// body must name its connector class; the path only has to agree with it.
func (s *Server) validateConfig(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	plugin := r.PathValue("p")
	var raw map[string]any
	if err := decodeBody(r, &raw); err != nil {
		return 0, nil, err
	}
	vals, err := configValues(raw)
	if err != nil {
		return 0, nil, err
	}
	config := make(map[string]string, len(vals))
	for k, v := range vals {
		if v == nil {
			return 0, nil, herder.BadRequest("%s (key %s)", nullValueError, k)
		}
		config[k] = *v
	}
	class, ok := config["connector.class"]
	if !ok {
		return 0, nil, requireConnectorClass(config)
	}
	if !hasSuffix(normalizedPluginName(class), normalizedPluginName(plugin)) {
		return 0, nil, herder.BadRequest("Included connector type %s does not match request type %s", class, plugin)
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	infos, err := s.cfg.herder.ValidateConfig(ctx, config)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, normInfos(infos), nil
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
