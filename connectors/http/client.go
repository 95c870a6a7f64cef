package httpsink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// maxWait caps one wait between retries, whatever Retry-After says, so a
// misbehaving server cannot park a task for hours.
const maxWait = 5 * time.Minute

// maxResponse bounds how much of a response body is kept (for error
// messages and the result reporter topic).
const maxResponse = 1 << 20

// response is the final answer to one request.
type response struct {
	status     int
	reason     string
	body       []byte
	url        string
	retryAfter time.Duration
}

func (r *response) ok() bool { return r.status < 400 }

// unavailableError means the server could not be reached or said it cannot
// take requests now: the records are fine and must be sent again later.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// unavailable reports whether a status means "try again later" rather than
// "this request is wrong".
func unavailable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// sender sends requests with the configured headers, authorization and
// retry policy.
type sender struct {
	s      *settings
	client *http.Client
	tokens *tokenSource
	log    *slog.Logger
	basic  string
}

func newHTTPClient(s *settings) (*http.Client, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: s.connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: s.connectTimeout,
		ForceAttemptHTTP2:   true,
	}
	if s.proxy != "" {
		pu, err := url.Parse(s.proxy)
		if err != nil {
			return nil, err
		}
		tr.Proxy = http.ProxyURL(pu)
	}
	if s.trustAll || s.caFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.trustAll {
			tc.InsecureSkipVerify = true // the user asked for it (http.ssl.trust.all.certs)
		} else {
			pem, err := os.ReadFile(s.caFile)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", HTTPSSLTruststore, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificate in %s (Java key stores are not supported)", HTTPSSLTruststore, s.caFile)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	return &http.Client{
		Transport: tr,
		Timeout:   s.reqTimeout,
		// Like Java's HttpClient default: a redirect is an answer, not a detour.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

func newSender(s *settings, log *slog.Logger) (*sender, error) {
	c, err := newHTTPClient(s)
	if err != nil {
		return nil, err
	}
	sn := &sender{s: s, client: c, log: log}
	switch s.authType {
	case "oauth2":
		sn.tokens = &tokenSource{cfg: s.oauth, client: c}
	case "basic":
		sn.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.user+":"+s.password))
	}
	return sn, nil
}

func (sn *sender) close() { sn.client.CloseIdleConnections() }

// wait is the pause before retry number attempt (0-based), at least what
// the server asked for.
func (sn *sender) wait(attempt int, retryAfter time.Duration) time.Duration {
	d := sn.s.backoff
	if sn.s.exponential && d > 0 {
		for i := 0; i < attempt && d < maxWait; i++ {
			d *= 2
		}
		d = min(d, maxWait)
		d = d/2 + rand.N(d/2+1)
	}
	return min(max(d, retryAfter), maxWait)
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, maxWait)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxWait)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// send sends one request, retrying per the settings. It returns the final
// response (successful or not), or an *unavailableError when the server
// could not be reached, or ctx's error.
func (sn *sender) send(ctx context.Context, method, target string, body []byte, contentType string) (*response, error) {
	renewed := false
	var lastErr error
	for attempt := 0; ; attempt++ {
		auth := ""
		switch {
		case sn.tokens != nil:
			a, err := sn.tokens.authorization(ctx)
			if err != nil {
				if connect.IsRetriable(err) {
					err = &unavailableError{err}
				}
				return nil, err
			}
			auth = a
		case sn.basic != "":
			auth = sn.basic
		case sn.s.authType == "static":
			auth = sn.s.staticAuth
		}
		resp, err := sn.do(ctx, method, target, body, contentType, auth)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = err
			if attempt >= sn.s.maxRetries {
				return nil, &unavailableError{fmt.Errorf("Sending failed and no retries remain: %w", lastErr)}
			}
			d := sn.wait(attempt, 0)
			sn.log.Info("HTTP request failed; retrying", "url", target, "retries_left", sn.s.maxRetries-attempt, "backoff", d, "err", err)
			if err := sleepCtx(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		if sn.tokens != nil && !renewed && sn.s.oauth.renewOn[resp.status] {
			// The token may have expired early or been revoked: fetch a new
			// one and send again, once per request.
			renewed = true
			sn.tokens.invalidate(auth)
			attempt--
			continue
		}
		if resp.ok() || !sn.s.retryStatus(resp.status) || attempt >= sn.s.maxRetries {
			return resp, nil
		}
		d := sn.wait(attempt, resp.retryAfter)
		sn.log.Warn("HTTP request refused; retrying", "url", target, "status", resp.status,
			"retries_left", sn.s.maxRetries-attempt, "backoff", d, "body", truncate(string(resp.body), 200))
		if err := sleepCtx(ctx, d); err != nil {
			return nil, err
		}
	}
}

func (sn *sender) do(ctx context.Context, method, target string, body []byte, contentType, auth string) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range sn.s.headers {
		req.Header.Set(h.name, h.value)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := sn.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	return &response{status: resp.StatusCode, reason: reason, body: data, url: target,
		retryAfter: retryAfter(resp.Header, time.Now())}, nil
}
