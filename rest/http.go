package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/runtime/herder"
)

// handlerFunc is the shape of every endpoint: it returns the status and
// the value to encode as JSON (nil for no body), or an error for mapError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (int, any, error)

// errorBody is Apache's ErrorMessage entity.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// messageBody is Apache's Message entity.
type messageBody struct {
	Message string `json:"message"`
}

// handle adapts a handlerFunc to http.Handler.
func (s *Server) handle(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := bufferBody(r)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeJSON(w, http.StatusRequestEntityTooLarge, s.tooLarge())
				return
			}
			s.writeError(w, r, herder.BadRequest("Cannot read request body: %v", err))
			return
		}
		status, v, err := f(w, r)
		if fe, ok := asForward(err); ok {
			s.forward(w, r, body, fe)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, status, v)
	})
}

// mapError turns an error into the status and message Apache answers with.
func mapError(err error) (int, string) {
	var he *herder.Error
	switch {
	case errors.As(err, &he):
		code, msg := he.Code, he.Message
		if code < 400 || code > 599 {
			code = http.StatusInternalServerError // a herder bug must not panic WriteHeader
		}
		if msg == "" && he.Err != nil {
			msg = he.Err.Error()
		}
		return code, msg
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusInternalServerError, "Request timed out"
	default:
		return http.StatusInternalServerError, err.Error()
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := mapError(err)
	if code >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	if code == http.StatusConflict && rebalanceConflict(msg) {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	writeJSON(w, code, errorBody{ErrorCode: code, Message: msg})
}

// writeJSON writes v compactly, without Go's HTML escaping (Jackson does
// not escape <, > or &, and plugin documentation contains HTML).
func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(errorBody{ErrorCode: status, Message: err.Error()})
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Patterns of the worker-to-worker endpoints: they carry KIP-507
// signatures and are exempt from REST authentication, as in Apache.
const (
	patternTaskConfigs = "POST /connectors/{c}/tasks"
	patternFence       = "PUT /connectors/{c}/fence"
)

// wrap adds what every request gets: a JSON 400 for non-canonical paths
// (Go's mux would redirect them), JSON 404/405 bodies for paths the mux
// does not route, the body limit, a debug access log line (never the body
// nor the credentials) and, on the regular listeners only (as Apache),
// CORS, the configured response headers and authentication.
func (s *Server) wrap(mux *http.ServeMux, regular bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		withTLS(r)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.log.Debug("request", "method", r.Method, "uri", r.URL.RequestURI(), "status", sw.status, "duration", time.Since(start))
		}()
		if regular && len(s.cfg.headers) > 0 {
			applyHeaders(sw.Header(), s.cfg.headers, start)
		}
		if msg := badPath(r); msg != "" {
			writeJSON(sw, http.StatusBadRequest, errorBody{ErrorCode: http.StatusBadRequest, Message: msg})
			return
		}
		if regular && s.cors(sw, r) {
			return
		}
		h, pattern := mux.Handler(r)
		if pattern == "" {
			// The mux would answer 404, 405 or a redirect in plain text;
			// learn which and answer like JAX-RS, never with a redirect.
			rec := &recorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			code := rec.status
			if code < 400 || code > 599 {
				code = http.StatusNotFound
			}
			if allow := rec.header.Get("Allow"); allow != "" && code == http.StatusMethodNotAllowed {
				sw.Header().Set("Allow", allow)
			}
			writeJSON(sw, code, errorBody{ErrorCode: code, Message: jaxrsMessage(code)})
			return
		}
		if regular && s.cfg.auth != nil && pattern != patternTaskConfigs && pattern != patternFence &&
			!s.cfg.auth.Authenticate(r) {
			s.log.Debug("request failed authentication", "method", r.Method, "uri", r.URL.RequestURI())
			sw.Header().Set("Content-Type", "text/plain")
			sw.Header().Set("Content-Length", strconv.Itoa(len(Unauthorized)))
			sw.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(sw, Unauthorized)
			return
		}
		if r.ContentLength > s.cfg.maxBody {
			// Close rather than let net/http wait to drain a body
			// that is never going to be read.
			sw.Header().Set("Connection", "close")
			writeJSON(sw, http.StatusRequestEntityTooLarge, s.tooLarge())
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.maxBody)
		mux.ServeHTTP(sw, r)
	})
}

func (s *Server) tooLarge() errorBody {
	return errorBody{ErrorCode: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Request body is larger than the limit of %d bytes", s.cfg.maxBody)}
}

// badPath reports why a request path is not one the server routes:
// Go's mux would answer those with a redirect to a cleaned path, which
// would also let "/a/../connectors/x/tasks" look like another endpoint.
// Dot segments and empty segments (other than a trailing slash) are
// refused, in the raw and in the decoded path.
func badPath(r *http.Request) string {
	if !strings.HasPrefix(r.URL.Path, "/") {
		return "Invalid request URI: the path must start with /"
	}
	for _, p := range []string{r.URL.Path, r.URL.EscapedPath()} {
		segs := strings.Split(p[1:], "/")
		for i, seg := range segs {
			switch {
			case seg == "." || seg == "..":
				return "Invalid request URI: the path must not contain . or .. segments"
			case seg == "" && i != len(segs)-1:
				return "Invalid request URI: the path must not contain empty segments"
			}
		}
	}
	return ""
}

// jaxrsMessage is the message JAX-RS gives its own HTTP errors.
func jaxrsMessage(status int) string {
	return fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
}

func jaxrsError(status int) error {
	return &herder.Error{Code: status, Message: jaxrsMessage(status)}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recorder captures what the mux's fallback handler answers.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}

// cors applies the CORS headers and answers preflight requests; it
// reports whether the request has been answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.corsOrigin == "" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || !originAllowed(s.cfg.corsOrigin, origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	methods := s.cfg.corsMethods
	if methods == "" {
		methods = "GET,POST,HEAD"
	}
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", "X-Requested-With,Content-Type,Accept,Origin")
	h.Set("Access-Control-Max-Age", "1800")
	w.WriteHeader(http.StatusOK)
	return true
}

func originAllowed(allowed, origin string) bool {
	for _, a := range strings.Split(allowed, ",") {
		a = strings.TrimSpace(a)
		if a == "*" || a == origin {
			return true
		}
		// Jetty allows "*" wildcards inside an origin, e.g. http://*.example.com.
		if i := strings.IndexByte(a, '*'); i >= 0 && strings.HasPrefix(origin, a[:i]) &&
			strings.HasSuffix(origin[i:], a[i+1:]) {
			return true
		}
	}
	return false
}

// decodeBody reads a JSON request body into v. A body sent with a non-JSON
// Content-Type is a 415 (as in JAX-RS); no Content-Type at all is taken as
// JSON. Malformed JSON and wrong JSON types are 400s.
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return jaxrsError(http.StatusUnsupportedMediaType)
		}
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &herder.Error{Code: http.StatusRequestEntityTooLarge, Message: jaxrsMessage(http.StatusRequestEntityTooLarge)}
		}
		return herder.BadRequest("Failed to read request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return herder.BadRequest("Malformed JSON in request body: the body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return herder.BadRequest("Malformed JSON in request body: %s", jsonErrorText(err))
	}
	if dec.More() {
		return herder.BadRequest("Malformed JSON in request body: unexpected data after the JSON value")
	}
	return nil
}

func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			where = "the body"
		}
		return fmt.Sprintf("cannot use a JSON %s for %s (expected a JSON %s)", te.Value, where, jsonTypeName(te.Type))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON input"
	}
	return err.Error()
}

// jsonTypeName names the JSON type a Go type decodes from.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Interface:
		return "value"
	default:
		return "number"
	}
}

// queryBool parses a boolean query parameter as JAX-RS does for Boolean
// (Boolean.valueOf: "true" in any case is true, anything else false).
func queryBool(r *http.Request, key string, def bool) bool {
	q := r.URL.Query()
	if !q.Has(key) {
		return def
	}
	return strings.EqualFold(q.Get(key), "true")
}
