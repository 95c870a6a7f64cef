package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/ferryhq/ferry/internal/sslconf"
	"github.com/ferryhq/ferry/logging"
	"github.com/ferryhq/ferry/rest"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/configprovider"
)

// restSetup is what the REST server and the worker-to-worker client take
// from the worker config.
type restSetup struct {
	opts      []rest.Opt
	clientTLS *tls.Config // nil unless some listener is https
	auth      bool        // a REST authentication extension is on
}

// restOptions builds the REST server's options (all but the herder) from the worker config:
// listeners and their TLS settings ("listeners.https.ssl.*", else
// "ssl.*"), admin listeners ("admin.listeners.https.ssl.*", else "ssl.*"),
// CORS, response headers and REST extensions. A setting that cannot be
// honoured is an error, so the worker does not start.
func restOptions(wcfg *runtime.WorkerConfig, logger *slog.Logger, levels *logging.Levels) (restSetup, error) {
	var out restSetup
	out.opts = []rest.Opt{rest.WithListeners(wcfg.List(runtime.WListeners)),
		rest.WithLogger(logger), rest.WithLevels(levels),
		rest.WithCORS(wcfg.String(runtime.WAllowOrigin), wcfg.String(runtime.WAllowMethods)),
		rest.WithTopicTracking(wcfg.Bool(runtime.WTopicTracking), wcfg.Bool(runtime.WTopicTrackingReset))}
	// Store passwords may be config provider placeholders, as in Apache
	// (e.g. ${file:/etc/connect/secrets.properties:keystore.password}).
	providers, err := configprovider.FromWorker(wcfg.Raw)
	if err != nil {
		return out, err
	}
	sslFor := func(prefix string) (map[string]string, error) {
		ssl, err := providers.Resolve(sslconf.Select(wcfg.Raw, prefix))
		if err != nil {
			return nil, fmt.Errorf("resolving the REST TLS settings: %w", err)
		}
		return ssl, nil
	}
	if hasHTTPS(wcfg.List(runtime.WListeners)) || strings.EqualFold(wcfg.String(runtime.WAdvertisedListener), "https") {
		ssl, err := sslFor("listeners.https.")
		if err != nil {
			return out, err
		}
		srv, err := sslconf.Server(ssl)
		if err != nil {
			return out, fmt.Errorf("REST https listeners: %w", err)
		}
		cli, err := sslconf.Client(ssl)
		if err != nil {
			return out, fmt.Errorf("REST https client: %w", err)
		}
		out.clientTLS = cli
		out.opts = append(out.opts, rest.WithTLS(srv), rest.WithClientTLS(cli))
	}
	if wcfg.IsSet(runtime.WAdminListeners) {
		admin := wcfg.List(runtime.WAdminListeners)
		out.opts = append(out.opts, rest.WithAdminListeners(admin))
		if hasHTTPS(admin) {
			ssl, err := sslFor("admin.listeners.https.")
			if err != nil {
				return out, err
			}
			srv, err := sslconf.Server(ssl)
			if err != nil {
				return out, fmt.Errorf("REST https admin listeners: %w", err)
			}
			out.opts = append(out.opts, rest.WithAdminTLS(srv))
		}
	}
	rules, err := rest.ParseHeaderConfig(wcfg.String(runtime.WResponseHeaders))
	if err != nil {
		return out, err
	}
	if len(rules) > 0 {
		out.opts = append(out.opts, rest.WithResponseHeaders(rules))
	}
	for _, class := range wcfg.List(runtime.WRestExtensions) {
		switch strings.TrimSpace(class) {
		case "":
		case rest.BasicAuthExtension:
			path := wcfg.String(runtime.WLoginConfig)
			if path == "" {
				path = rest.LoginConfigFromJavaOpts(os.Getenv("KAFKA_OPTS"))
			}
			auth, err := rest.NewBasicAuth(path)
			if err != nil {
				return out, err
			}
			if auth.Open() {
				logger.Warn("The basic authentication credentials file is empty: every REST request is admitted, as in Apache", "jaas", path)
			}
			logger.Info("REST basic authentication enabled", "jaas", path)
			out.opts = append(out.opts, rest.WithAuthenticator(auth))
			out.auth = true
		default:
			return out, fmt.Errorf("%s: unknown REST extension class %s (Ferry supports %s)",
				runtime.WRestExtensions, class, rest.BasicAuthExtension)
		}
	}
	return out, nil
}

func hasHTTPS(listeners []string) bool {
	for _, l := range listeners {
		if u, err := url.Parse(strings.TrimSpace(l)); err == nil && strings.EqualFold(u.Scheme, "https") {
			return true
		}
	}
	return false
}
