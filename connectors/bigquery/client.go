package bigquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	bq "cloud.google.com/go/bigquery"
	"golang.org/x/oauth2/google"
	bqapi "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// clients bundles the high-level client (tables, jobs) and the raw REST
// service (insertAll, which the high-level client retries without bound).
type clients struct {
	bq      *bq.Client
	api     *bqapi.Service
	project string // where tables live
}

// restEndpoint normalises a bigQueryEndpoint value: the Go client uses an
// endpoint with a scheme verbatim as the base of every path, so it must end
// in /bigquery/v2/.
func restEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%s must be a URL such as http://127.0.0.1:9050, got %q", Endpoint, raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/bigquery/v2/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

// clientOptions turns the credential and endpoint keys into options for
// the REST clients, and names the project the clients bill to.
func clientOptions(ctx context.Context, s *settings) ([]option.ClientOption, string, error) {
	if s.endpoint == "" {
		return credentialOptions(ctx, s)
	}
	ep, err := restEndpoint(s.endpoint)
	if err != nil {
		return nil, "", err
	}
	if isPlainHTTP(s.endpoint) {
		return []option.ClientOption{option.WithEndpoint(ep), option.WithoutAuthentication()}, s.project, nil
	}
	opts, billing, err := credentialOptions(ctx, s)
	if err != nil {
		return nil, "", err
	}
	return append(opts, option.WithEndpoint(ep)), billing, nil
}

// credentialOptions reads the credentials named by keySource and keyfile.
func credentialOptions(ctx context.Context, s *settings) ([]option.ClientOption, string, error) {
	billing := s.project
	switch s.keySource {
	case keySourceAppDefault:
		creds, err := google.FindDefaultCredentials(ctx, bq.Scope)
		if err != nil {
			return nil, "", fmt.Errorf("%s=%s: %w", KeySource, keySourceAppDefault, err)
		}
		if s.useCredsProject && creds.ProjectID != "" {
			billing = creds.ProjectID
		}
		return []option.ClientOption{option.WithCredentials(creds)}, billing, nil
	}
	raw := []byte(s.keyfile)
	if s.keySource == keySourceFile {
		b, err := os.ReadFile(s.keyfile)
		if err != nil {
			return nil, "", fmt.Errorf("%s: cannot read the key file: %w", Keyfile, err)
		}
		raw = b
	}
	var key struct {
		Type      string `json:"type"`
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal(raw, &key); err != nil || key.Type == "" {
		return nil, "", fmt.Errorf("%s: not a Google credentials JSON document", Keyfile)
	}
	creds, err := google.CredentialsFromJSON(ctx, raw, bq.Scope)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", Keyfile, err)
	}
	if s.useCredsProject && key.ProjectID != "" {
		billing = key.ProjectID
	}
	return []option.ClientOption{option.WithCredentials(creds)}, billing, nil
}

func newClients(ctx context.Context, s *settings) (*clients, error) {
	opts, billing, err := clientOptions(ctx, s)
	if err != nil {
		return nil, err
	}
	c, err := bq.NewClient(ctx, billing, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigquery client: %w", err)
	}
	api, err := bqapi.NewService(ctx, opts...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bigquery client: %w", err)
	}
	return &clients{bq: c, api: api, project: s.project}, nil
}

func (c *clients) close() { c.bq.Close() }

// apiCode returns the HTTP status of a Google API error, or 0.
func apiCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func apiReason(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		for _, e := range ge.Errors {
			if e.Reason != "" {
				return e.Reason
			}
		}
	}
	return ""
}

func isNotFound(err error) bool { return apiCode(err) == 404 }

// isAuthFailure tells refused credentials or permissions (401, or 403 that
// is not a rate or quota limit): waiting does not fix them, a changed key
// or grant does.
func isAuthFailure(err error) bool {
	switch apiCode(err) {
	case 401:
		return true
	case 403:
		r := apiReason(err)
		return r != "rateLimitExceeded" && r != "quotaExceeded"
	}
	return false
}

// isRetriable tells backend, quota, rate-limit and I/O errors (worth
// another try) from permission, schema and request errors (not).
func isRetriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	code := apiCode(err)
	switch {
	case code >= 500 || code == 429:
		return true
	case code == 403:
		switch apiReason(err) {
		case "rateLimitExceeded", "quotaExceeded":
			return true
		}
		return false
	case code != 0:
		return false
	}
	// Not an API error: the request did not complete (network, timeout).
	return true
}

// isUnavailable tells the failures that say BigQuery could not be reached
// or could not serve the request just now: no response (refused or reset
// connection, timeout), HTTP 5xx or 429, a rate or quota limit, and the
// Storage API's gRPC Unavailable, DeadlineExceeded, ResourceExhausted,
// Aborted and Internal. They say nothing about the rows, so a write is
// tried again for as long as they last.
func isUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if code := apiCode(err); code != 0 {
		return isRetriable(err)
	}
	var ge interface{ GRPCStatus() *status.Status }
	if errors.As(err, &ge) {
		switch ge.GRPCStatus().Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// outageBackoff is the wait before the n-th redelivery (n ≥ 1) of a batch
// that met an unavailable BigQuery: bigQueryRetryWait (at least 100 ms)
// doubling up to 10 s, or bigQueryRetryWait when that is longer, so that a
// long outage costs a request every few seconds and its end is noticed
// within 10 s.
func outageBackoff(base time.Duration, n int) time.Duration {
	base = max(base, 100*time.Millisecond)
	ceiling := max(base, 10*time.Second)
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// isTooLarge reports the errors after which the Java connector halves the
// batch: the request body or row count is over BigQuery's limit.
func isTooLarge(err error) bool {
	if apiCode(err) == 413 {
		return true
	}
	msg := err.Error()
	return apiCode(err) == 400 && (strings.Contains(msg, "Request payload size exceeds the limit") ||
		strings.Contains(msg, "too many rows present in the request"))
}

// runQuery runs one query job (DML or DDL) and waits for it.
func (c *clients) runQuery(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	job, err := c.bq.Query(sql).Run(ctx)
	if err != nil {
		return err
	}
	st, err := job.Wait(ctx)
	if err != nil {
		return err
	}
	return st.Err()
}
