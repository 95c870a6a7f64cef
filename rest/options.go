package rest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferryhq/ferry/logging"
	"github.com/ferryhq/ferry/runtime/herder"
)

// Defaults of the options.
const (
	DefaultListener        = "http://:8083"
	DefaultRequestTimeout  = 90 * time.Second
	DefaultHealthTimeout   = 10 * time.Second
	DefaultShutdownTimeout = 60 * time.Second
	// DefaultMaxBodyBytes bounds request bodies: a larger one is answered
	// 413. Connector and task configs are far smaller; the bound keeps a
	// client from making the worker buffer arbitrary amounts of memory.
	DefaultMaxBodyBytes = 32 << 20
)

// Opt configures a Server; options are checked by NewServer.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	herder          herder.Herder
	listeners       []string
	adminListeners  []string
	adminSet        bool
	logger          *slog.Logger
	levels          *logging.Levels
	requestTimeout  time.Duration
	healthTimeout   time.Duration
	shutdownTimeout time.Duration
	corsOrigin      string
	corsMethods     string
	topicTracking   bool
	topicReset      bool
	tls             *tls.Config // https listeners
	adminTLS        *tls.Config // https admin listeners
	clientTLS       *tls.Config // requests forwarded to other workers
	auth            Authenticator
	headers         []HeaderRule
	maxBody         int64
	metrics         http.Handler
}

func defaultCfg() cfg {
	return cfg{
		listeners:       []string{DefaultListener},
		requestTimeout:  DefaultRequestTimeout,
		healthTimeout:   DefaultHealthTimeout,
		shutdownTimeout: DefaultShutdownTimeout,
		topicTracking:   true,
		topicReset:      true,
		maxBody:         DefaultMaxBodyBytes,
	}
}

// WithHerder sets the herder that serves every connector request. Required.
func WithHerder(h herder.Herder) Opt { return opt(func(c *cfg) { c.herder = h }) }

// WithListeners sets the addresses to serve on, in the form of the worker
// config "listeners": "http://:8083", "http://127.0.0.1:8083",
// "https://[::1]:8443". An empty host means all interfaces; port 0 picks a
// free port (see Server.Addrs). https listeners need WithTLS. Default
// DefaultListener.
func WithListeners(listeners []string) Opt {
	return opt(func(c *cfg) { c.listeners = listeners })
}

// WithAdminListeners serves the /admin endpoints on these listeners
// instead of the regular ones ("admin.listeners"). An empty list disables
// the admin endpoints; not using this option serves them on the regular
// listeners.
func WithAdminListeners(listeners []string) Opt {
	return opt(func(c *cfg) { c.adminListeners, c.adminSet = listeners, true })
}

// WithTLS sets the TLS configuration of the https listeners (from
// "listeners.https.ssl.*" or "ssl.*"), and WithAdminTLS that of https
// admin listeners ("admin.listeners.https.ssl.*" or "ssl.*").
func WithTLS(c *tls.Config) Opt { return opt(func(o *cfg) { o.tls = c }) }

// WithAdminTLS: see WithTLS.
func WithAdminTLS(c *tls.Config) Opt { return opt(func(o *cfg) { o.adminTLS = c }) }

// WithClientTLS sets the TLS configuration of the requests this worker
// forwards to another over https (truststore, and keystore for mTLS).
func WithClientTLS(c *tls.Config) Opt { return opt(func(o *cfg) { o.clientTLS = c }) }

// WithAuthenticator guards every endpoint of the regular listeners except
// the signed worker-to-worker ones; a refused request is answered 401 with
// Apache's plain-text body. Admin listeners are not guarded, as in Apache.
func WithAuthenticator(a Authenticator) Opt { return opt(func(o *cfg) { o.auth = a }) }

// WithResponseHeaders applies "response.http.headers.config" rules (see
// ParseHeaderConfig) to every response of the regular listeners.
func WithResponseHeaders(rules []HeaderRule) Opt {
	return opt(func(o *cfg) { o.headers = rules })
}

// WithMaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes);
// larger bodies are answered 413.
func WithMaxBodyBytes(n int64) Opt { return opt(func(o *cfg) { o.maxBody = n }) }

// WithMetrics serves h as GET /metrics on the regular listeners, behind
// the same authentication, headers and error bodies as every endpoint.
// Without it /metrics is not routed.
func WithMetrics(h http.Handler) Opt { return opt(func(o *cfg) { o.metrics = h }) }

// WithLogger sets the logger (default: discard). Request bodies are never
// logged, as they may hold secrets.
func WithLogger(l *slog.Logger) Opt { return opt(func(c *cfg) { c.logger = l }) }

// WithLevels sets the logger registry that /admin/loggers reads and
// changes. Default: a registry of its own with the root logger at INFO,
// which then affects nothing but its own answers.
func WithLevels(l *logging.Levels) Opt { return opt(func(c *cfg) { c.levels = l }) }

// WithRequestTimeout bounds each herder call of a request; a call that
// runs out of time answers 500 "Request timed out". Default 90 s.
func WithRequestTimeout(d time.Duration) Opt {
	return opt(func(c *cfg) { c.requestTimeout = d })
}

// WithHealthTimeout bounds the herder health check of GET /health.
// Default 10 s.
func WithHealthTimeout(d time.Duration) Opt {
	return opt(func(c *cfg) { c.healthTimeout = d })
}

// WithShutdownTimeout bounds how long Run waits for in-flight requests
// once its context is done. Default 60 s.
func WithShutdownTimeout(d time.Duration) Opt {
	return opt(func(c *cfg) { c.shutdownTimeout = d })
}

// WithCORS enables cross-origin requests as "access.control.allow.origin"
// and "access.control.allow.methods" do: origins is a comma-separated list
// ("*" allows any), methods a comma-separated list (empty means GET, POST,
// HEAD). An empty origins leaves CORS off (the default).
func WithCORS(origins, methods string) Opt {
	return opt(func(c *cfg) { c.corsOrigin, c.corsMethods = origins, methods })
}

// WithTopicTracking mirrors "topic.tracking.enable" and
// "topic.tracking.allow.reset": when disabled, the topics endpoints answer
// 403. Both default to true.
func WithTopicTracking(enable, allowReset bool) Opt {
	return opt(func(c *cfg) { c.topicTracking, c.topicReset = enable, allowReset })
}

func (c *cfg) validate() error {
	if c.herder == nil {
		return errors.New("rest: WithHerder is required")
	}
	if len(c.listeners) == 0 {
		return errors.New("rest: no listeners configured")
	}
	check := func(ls []string, tc *tls.Config, keys string) error {
		for _, l := range ls {
			scheme, _, err := listenAddr(l)
			if err != nil {
				return err
			}
			if scheme == "https" && tc == nil {
				return fmt.Errorf("rest: listener %q is https but no TLS settings are given (%s)", l, keys)
			}
		}
		return nil
	}
	if err := check(c.listeners, c.tls, "listeners.https.ssl.* or ssl.*"); err != nil {
		return err
	}
	if err := check(c.adminListeners, c.adminTLS, "admin.listeners.https.ssl.* or ssl.*"); err != nil {
		return err
	}
	if c.maxBody <= 0 {
		return errors.New("rest: the body limit must be positive")
	}
	if c.requestTimeout <= 0 || c.healthTimeout <= 0 || c.shutdownTimeout < 0 {
		return errors.New("rest: timeouts must be positive")
	}
	return nil
}

// listenAddr turns a listener URI into its scheme (http or https) and the
// host:port to listen on.
func listenAddr(listener string) (scheme, addr string, err error) {
	u, err := url.Parse(strings.TrimSpace(listener))
	if err != nil {
		return "", "", fmt.Errorf("rest: invalid listener %q: %w", listener, err)
	}
	scheme = strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "", fmt.Errorf("rest: listener %q: scheme must be http or https", listener)
	}
	if u.Port() == "" {
		return "", "", fmt.Errorf("rest: listener %q has no port", listener)
	}
	return scheme, net.JoinHostPort(u.Hostname(), u.Port()), nil
}
