// Package rest serves Apache Kafka Connect's REST API on top of a
// herder.Herder: the same paths, status codes, JSON bodies and error
// bodies as Apache's worker, so existing clients and tooling work as is.
// It also serves https (with client certificates), Apache's basic
// authentication extension, CORS and configured response headers, and
// answers every malformed request in the JSON error shape.
package rest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ferryhq/ferry/logging"
)

// loggerName is the logger the server logs as; it matches Apache's so the
// same /admin/loggers namespaces apply.
const loggerName = "org.apache.kafka.connect.runtime.rest.RestServer"

// Connection limits: clients that never finish their headers or trickle a
// body cannot hold connections forever, idle keep-alive connections close
// after Jetty's default idle timeout, and request lines plus headers are
// bounded (Jetty allows 8 KiB; Ferry is more lenient with long names).
const (
	readHeaderTimeout = 30 * time.Second
	readTimeout       = 2 * time.Minute
	idleTimeout       = 30 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Server is the REST server of a worker. Create it with NewServer, then
// call Run once (or Close if it will never run).
type Server struct {
	cfg    cfg
	log    *slog.Logger
	levels *logging.Levels

	handler      http.Handler
	adminHandler http.Handler // nil when admin shares the regular listeners or is off

	listeners      []net.Listener
	adminListeners []net.Listener

	client *http.Client // forwards requests to other workers

	mu      sync.Mutex
	started bool
	closed  bool
}

// NewServer validates the options and binds the listeners, so that port
// conflicts surface here and Addrs is known before Run.
func NewServer(opts ...Opt) (*Server, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: c, levels: c.levels}
	if s.levels == nil {
		s.levels = logging.NewLevels(logging.LevelInfo)
	}
	base := c.logger
	if base == nil {
		base = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.levels != nil {
		s.log = c.levels.Logger(base, loggerName)
	} else {
		s.log = base.With(logging.LoggerKey, loggerName)
	}

	main := http.NewServeMux()
	s.routes(main)
	switch {
	case !c.adminSet:
		s.adminRoutes(main)
	case len(c.adminListeners) > 0:
		admin := http.NewServeMux()
		s.adminRoutes(admin)
		s.adminHandler = s.wrap(admin, false)
	}
	s.handler = s.wrap(main, true)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = c.clientTLS
	s.client = &http.Client{
		Transport: tr,
		Timeout:   forwardTimeout,
		// Forwarded requests never follow redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	var err error
	if s.listeners, err = listen(c.listeners, c.tls); err != nil {
		return nil, err
	}
	if c.adminSet {
		if s.adminListeners, err = listen(c.adminListeners, c.adminTLS); err != nil {
			closeAll(s.listeners)
			return nil, err
		}
	}
	return s, nil
}

// listen binds each listener; https ones serve TLS with tc. Every
// connection is wrapped so that net/http's own plain-text errors go out
// as JSON (see jsonErrorListener); the wrapper sits above TLS so it sees
// the clear text.
func listen(listeners []string, tc *tls.Config) ([]net.Listener, error) {
	var out []net.Listener
	for _, l := range listeners {
		scheme, addr, err := listenAddr(l)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("rest: listen on %s: %w", l, err)
		}
		if scheme == "https" {
			tc := tc.Clone()
			tc.NextProtos = []string{"http/1.1"}
			ln = tls.NewListener(ln, tc)
		}
		out = append(out, jsonErrorListener{ln})
	}
	return out, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}

func addrs(ls []net.Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Addr().String()
	}
	return out
}

// Addrs returns the bound host:port of each regular listener, in the
// order they were configured.
func (s *Server) Addrs() []string { return addrs(s.listeners) }

// AdminAddrs returns the bound host:port of each admin listener (empty
// unless WithAdminListeners was given a list).
func (s *Server) AdminAddrs() []string { return addrs(s.adminListeners) }

// Handler returns the handler of the regular listeners, for tests with
// net/http/httptest. It includes /admin unless WithAdminListeners was used.
func (s *Server) Handler() http.Handler { return s.handler }

// AdminHandler returns the handler of the admin listeners, or nil when
// the admin endpoints are served by Handler or disabled.
func (s *Server) AdminHandler() http.Handler { return s.adminHandler }

// Run serves until ctx is done, then stops accepting connections and waits
// up to the shutdown timeout for in-flight requests. It returns nil after
// a shutdown caused by ctx, or the error that stopped a listener.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return errors.New("rest: server already run or closed")
	}
	s.started = true
	s.mu.Unlock()

	var servers []*http.Server
	errc := make(chan error, len(s.listeners)+len(s.adminListeners))
	var wg sync.WaitGroup
	serve := func(h http.Handler, ls []net.Listener) {
		for _, ln := range ls {
			// Request contexts do not derive from ctx: in-flight requests
			// get to finish during the graceful shutdown.
			srv := &http.Server{
				Handler:           h,
				ReadHeaderTimeout: readHeaderTimeout,
				ReadTimeout:       readTimeout,
				IdleTimeout:       idleTimeout,
				MaxHeaderBytes:    maxHeaderBytes,
				ConnContext:       connContext,
				ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
			}
			servers = append(servers, srv)
			wg.Go(func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					errc <- fmt.Errorf("rest: serve %s: %w", ln.Addr(), err)
				}
			})
		}
	}
	serve(s.handler, s.listeners)
	serve(s.adminHandler, s.adminListeners)
	s.log.Info("REST server listening", "addrs", s.Addrs(), "admin_addrs", s.AdminAddrs())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}
	wg.Wait()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.log.Info("REST server stopped")
	return runErr
}

// Close releases the listeners of a server that was never run. It is a
// no-op once Run has been called.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return nil
	}
	s.closed = true
	closeAll(s.listeners)
	closeAll(s.adminListeners)
	return nil
}
