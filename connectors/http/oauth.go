package httpsink

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// oauthSettings configures the client-credentials token request.
type oauthSettings struct {
	tokenURL, clientID, clientSecret, scope string
	headerMode                              bool // Basic header instead of form fields
	grantTypeProp, grantType                string
	idProp, secretProp                      string
	tokenProp                               string
	// useTokenType builds the Authorization header from the response's
	// token_type (Aiven); otherwise it is always Bearer.
	useTokenType bool
	extraHeaders []header
	renewOn      map[int]bool
}

// tokenSource fetches an access token and keeps it until it expires (the
// response's expires_in, less a margin) or the server refuses it.
type tokenSource struct {
	cfg    oauthSettings
	client *http.Client

	mu      sync.Mutex
	header  string
	expires time.Time // zero: no known expiry
}

// expiryMargin renews a token a little before the server would refuse it.
const expiryMargin = 10 * time.Second

// authorization returns the Authorization header value, fetching a token
// when there is none or it expired.
func (ts *tokenSource) authorization(ctx context.Context) (string, error) {
	ts.mu.Lock()
	h, exp := ts.header, ts.expires
	ts.mu.Unlock()
	if h != "" && (exp.IsZero() || time.Now().Before(exp)) {
		return h, nil
	}
	return ts.fetch(ctx)
}

// invalidate drops the cached token if it is still the given one.
func (ts *tokenSource) invalidate(h string) {
	ts.mu.Lock()
	if ts.header == h {
		ts.header = ""
	}
	ts.mu.Unlock()
}

// form builds the token request body with the fields in the Java
// connector's order: grant type, scope, then the client credentials.
func (ts *tokenSource) form() string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	add(ts.cfg.grantTypeProp, ts.cfg.grantType)
	if ts.cfg.scope != "" {
		add("scope", ts.cfg.scope)
	}
	if !ts.cfg.headerMode {
		add(ts.cfg.idProp, ts.cfg.clientID)
		add(ts.cfg.secretProp, ts.cfg.clientSecret)
	}
	return b.String()
}

func (ts *tokenSource) fetch(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.cfg.tokenURL, strings.NewReader(ts.form()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, h := range ts.cfg.extraHeaders {
		req.Header.Set(h.name, h.value)
	}
	if ts.cfg.headerMode {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ts.cfg.clientID+":"+ts.cfg.clientSecret)))
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", connect.Retriable(fmt.Errorf("could not fetch an OAuth2 access token from %s: %w", ts.cfg.tokenURL, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", connect.Retriable(fmt.Errorf("could not read the OAuth2 token response: %w", err))
	}
	if resp.StatusCode >= 400 {
		err := fmt.Errorf("the OAuth2 token endpoint %s answered %s: %s", ts.cfg.tokenURL, resp.Status, truncate(string(body), 500))
		if unavailable(resp.StatusCode) {
			return "", connect.Retriable(err)
		}
		return "", err
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		return "", fmt.Errorf("the OAuth2 token response is not a JSON object: %w", err)
	}
	tok, ok := fields[ts.cfg.tokenProp].(string)
	if !ok || tok == "" {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		return "", errors.New("Couldn't find access token property " + ts.cfg.tokenProp + " in response properties: [" + strings.Join(keys, ", ") + "]")
	}
	typ := "Bearer"
	if tt, ok := fields["token_type"].(string); ok && tt != "" && ts.cfg.useTokenType {
		typ = tt
	}
	h := typ + " " + tok
	var exp time.Time
	if secs, ok := fields["expires_in"].(float64); ok && secs > 0 {
		life := time.Duration(secs * float64(time.Second))
		exp = time.Now().Add(max(life-expiryMargin, life/2))
	}
	ts.mu.Lock()
	ts.header, ts.expires = h, exp
	ts.mu.Unlock()
	return h, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
