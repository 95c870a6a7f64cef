package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// client speaks the cluster's REST API over plain HTTP/JSON.
type client struct {
	s    *settings
	http *http.Client
	next atomic.Uint64 // round robin over the URLs
}

func newClient(s *settings) (*client, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: s.connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: max(10, 2*s.inFlight),
		IdleConnTimeout:     s.idle,
		DisableCompression:  !s.compression,
		ForceAttemptHTTP2:   false,
	}
	if s.connectTimeout == 0 {
		tr.DialContext = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	if s.tls != nil {
		cfg, err := tlsConfig(s.tls)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	hc := &http.Client{Transport: tr}
	if s.readTimeout > 0 {
		// A bulk request of a few MiB needs more than a ping; the read
		// timeout bounds the wait for each response, not the upload.
		tr.ResponseHeaderTimeout = s.readTimeout
	}
	return &client{s: s, http: hc}, nil
}

func tlsConfig(t *tlsSettings) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.minTLS13 {
		cfg.MinVersion = tls.VersionTLS13
	}
	if t.truststore != "" {
		pem, err := os.ReadFile(t.truststore)
		if err != nil {
			return nil, fmt.Errorf("reading the trust store: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no PEM certificate in %s", t.truststore)
		}
		cfg.RootCAs = pool
	}
	if t.keystore != "" {
		cert, err := tls.LoadX509KeyPair(t.keystore, t.keystore)
		if err != nil {
			return nil, fmt.Errorf("reading the key store (a PEM file with certificate chain and key): %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	switch {
	case t.trustAll:
		cfg.InsecureSkipVerify = true
	case !t.verifyHost:
		// Verify the chain but not the host name, as Java does with an
		// empty ssl.endpoint.identification.algorithm.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// transientError is a failure that waiting may heal: no connection, a
// timeout, HTTP 429 or 5xx.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func isTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// apiError is an error answer of the cluster.
type apiError struct {
	Status int
	Type   string
	Reason string
}

func (e *apiError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d: %s: %s", e.Status, e.Type, e.Reason)
}

// do sends one request and returns the body of a 2xx answer. Other answers
// are *apiError values, wrapped as transient for 429 and 5xx.
func (c *client) do(ctx context.Context, method, path, ctype string, body []byte) ([]byte, error) {
	u := c.s.urls[int(c.next.Add(1)-1)%len(c.s.urls)] + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.s.user != "" {
		req.SetBasicAuth(c.s.user, c.s.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transientError{fmt.Errorf("%s %s: %w", method, u, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &transientError{fmt.Errorf("%s %s: reading the response: %w", method, u, err)}
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	ae := &apiError{Status: resp.StatusCode}
	var eb struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &eb) == nil && len(eb.Error) > 0 {
		var det struct{ Type, Reason string }
		if json.Unmarshal(eb.Error, &det) == nil && det.Type != "" {
			ae.Type, ae.Reason = det.Type, det.Reason
		} else {
			ae.Reason = string(eb.Error)
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, &transientError{fmt.Errorf("%s %s: %w", method, u, ae)}
	}
	return nil, fmt.Errorf("%s %s: %w", method, u, ae)
}

// itemResult is one item of a bulk response.
type itemResult struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// bulkPath asks only for what the connector reads of the answer.
const bulkPath = "/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"

// bulk sends one bulk body and returns one result per action.
func (c *client) bulk(ctx context.Context, body []byte, n int) ([]itemResult, error) {
	data, err := c.do(ctx, http.MethodPost, bulkPath, "application/x-ndjson", body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Errors bool                    `json:"errors"`
		Items  []map[string]itemResult `json:"items"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading the bulk response: %w", err)
	}
	if len(r.Items) != n {
		return nil, fmt.Errorf("the bulk response has %d items for %d actions", len(r.Items), n)
	}
	out := make([]itemResult, n)
	for i, it := range r.Items {
		for _, v := range it {
			out[i] = v
		}
	}
	return out, nil
}

func isType(err error, typ string) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Type == typ
}

// ensureIndex creates an index that does not exist yet and, unless
// mapping is nil, puts the mapping when the index has none.
func (c *client) ensureIndex(ctx context.Context, name string, mapping map[string]any) error {
	_, err := c.do(ctx, http.MethodHead, "/"+name, "", nil)
	var ae *apiError
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		if _, err := c.do(ctx, http.MethodPut, "/"+name, "", nil); err != nil && !isType(err, "resource_already_exists_exception") {
			return fmt.Errorf("creating index %s: %w", name, err)
		}
	default:
		return fmt.Errorf("checking index %s: %w", name, err)
	}
	if mapping == nil {
		return nil
	}
	data, err := c.do(ctx, http.MethodGet, "/"+name+"/_mapping", "", nil)
	if err != nil {
		return fmt.Errorf("reading the mapping of %s: %w", name, err)
	}
	var got map[string]struct {
		Mappings struct {
			Properties map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		return fmt.Errorf("reading the mapping of %s: %w", name, err)
	}
	for _, m := range got {
		if len(m.Mappings.Properties) > 0 {
			return nil
		}
	}
	body, _ := json.Marshal(mapping)
	if _, err := c.do(ctx, http.MethodPut, "/"+name+"/_mapping", "application/json", body); err != nil {
		return fmt.Errorf("putting the mapping of %s: %w", name, err)
	}
	return nil
}

// ensureDataStream creates a data stream. Where no index template matches
// its name (OpenSearch ships none for logs-*-*), a template for exactly
// that name is created first.
func (c *client) ensureDataStream(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodPut, "/_data_stream/"+name, "", nil)
	if err == nil || isType(err, "resource_already_exists_exception") {
		return nil
	}
	var ae *apiError
	if !errors.As(err, &ae) || !strings.Contains(ae.Reason, "no matching index template") {
		return fmt.Errorf("creating data stream %s: %w", name, err)
	}
	tmpl, _ := json.Marshal(map[string]any{"index_patterns": []string{name}, "data_stream": map[string]any{}, "priority": 200})
	if _, err := c.do(ctx, http.MethodPut, "/_index_template/"+name, "application/json", tmpl); err != nil {
		return fmt.Errorf("creating an index template for data stream %s: %w", name, err)
	}
	if _, err := c.do(ctx, http.MethodPut, "/_data_stream/"+name, "", nil); err != nil && !isType(err, "resource_already_exists_exception") {
		return fmt.Errorf("creating data stream %s: %w", name, err)
	}
	return nil
}
