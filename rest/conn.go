package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// net/http answers requests it cannot parse (a request-target with a bad
// percent-escape, oversized headers, a missing Host) itself, in plain
// text, before any handler runs, with one write of a fixed shape. The
// listener wrapper below recognises that write and answers in Apache's
// JSON error shape instead, so that no answer of the server leaves that
// shape. Handler responses never match: they always carry a Date header.
var (
	plainErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
	dateHeader        = []byte("\r\nDate: ")
)

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

type jsonErrorConn struct{ net.Conn }

// tlsConnKey is the context key under which connContext keeps the TLS
// connection of a request: net/http cannot see it through the wrapper,
// so withTLS puts its state back on the request (r.TLS).
type tlsConnKey struct{}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if jc, ok := c.(*jsonErrorConn); ok {
		if tc, ok := jc.Conn.(*tls.Conn); ok {
			return context.WithValue(ctx, tlsConnKey{}, tc)
		}
	}
	return ctx
}

// withTLS sets r.TLS for requests that came over a wrapped TLS connection.
func withTLS(r *http.Request) {
	if r.TLS != nil {
		return
	}
	if tc, ok := r.Context().Value(tlsConnKey{}).(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.TLS = &st
	}
}

func (c *jsonErrorConn) Write(b []byte) (int, error) {
	if out, ok := rewritePlainError(b); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// rewritePlainError turns net/http's own plain-text error answer into a
// JSON one; ok is false for anything else.
func rewritePlainError(b []byte) ([]byte, bool) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) || len(b) < 12 || bytes.Contains(b, dateHeader) {
		return nil, false
	}
	i := bytes.Index(b, plainErrorHeaders)
	if i < 0 {
		return nil, false
	}
	code, err := strconv.Atoi(string(b[9:12]))
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	msg := jaxrsMessage(code)
	// The body is "400 Bad Request" or "400 Bad Request: detail".
	if _, detail, ok := strings.Cut(string(b[i+len(plainErrorHeaders):]), ": "); ok && detail != "" {
		msg += ": " + detail
	}
	body, _ := json.Marshal(errorBody{ErrorCode: code, Message: msg})
	var out bytes.Buffer
	out.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	out.WriteString("Content-Type: application/json\r\n")
	out.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	out.WriteString("Connection: close\r\n\r\n")
	out.Write(body)
	return out.Bytes(), true
}
