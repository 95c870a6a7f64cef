package kafkaclient

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Login modules of sasl.jaas.config.
const (
	PlainLoginModule       = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule       = "org.apache.kafka.common.security.scram.ScramLoginModule"
	OAuthBearerLoginModule = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
	IAMLoginModule         = "software.amazon.msk.auth.iam.IAMLoginModule"
	IAMCallbackHandler     = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
)

// disallowedModules is the default of Java's
// org.apache.kafka.disallowed.login.modules.
var disallowedModules = []string{"com.sun.security.auth.module.JndiLoginModule", "com.sun.security.auth.module.LdapLoginModule"}

func buildSASL(props map[string]string, tlsCfg *tls.Config) (sasl.Mechanism, error) {
	get := func(k string) string { return strings.TrimSpace(props[k]) }
	mech := strings.ToUpper(get("sasl.mechanism"))
	if mech == "" {
		mech = "GSSAPI"
	}
	switch mech {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "AWS_MSK_IAM":
	case "GSSAPI":
		return nil, &UnsupportedError{Key: "sasl.mechanism", Reason: "GSSAPI (Kerberos, the default when sasl.mechanism is unset) is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM"}
	default:
		return nil, &UnsupportedError{Key: "sasl.mechanism", Reason: fmt.Sprintf("mechanism %q is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM", get("sasl.mechanism"))}
	}
	jaas := get("sasl.jaas.config")
	if jaas == "" {
		return nil, &UnsupportedError{Key: "sasl.jaas.config", Reason: "it is required with SASL: Ferry reads no JAAS file (java.security.auth.login.config)"}
	}
	entries, err := ParseJAAS(jaas)
	if err != nil {
		return nil, fmt.Errorf("Invalid value [hidden] for configuration sasl.jaas.config: %w", err)
	}
	if len(entries) != 1 {
		return nil, fmt.Errorf("Invalid value [hidden] for configuration sasl.jaas.config: JAAS config property contains %d login modules, should be 1 module", len(entries))
	}
	e := entries[0]
	for _, d := range disallowedModules {
		if e.LoginModule == d {
			return nil, fmt.Errorf("Invalid value [hidden] for configuration sasl.jaas.config: %s is not allowed. Update System property 'org.apache.kafka.disallowed.login.modules' to allow %s", d, d)
		}
	}
	switch mech {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		// Both modules hand a user name and password to the mechanism.
		if e.LoginModule != PlainLoginModule && e.LoginModule != ScramLoginModule {
			return nil, &UnsupportedError{Key: "sasl.jaas.config", Reason: fmt.Sprintf("login module %s cannot be used with %s; use %s or %s", e.LoginModule, mech, PlainLoginModule, ScramLoginModule)}
		}
		user, pass := e.Options["username"], e.Options["password"]
		if user == "" || pass == "" {
			return nil, fmt.Errorf("Invalid value [hidden] for configuration sasl.jaas.config: %s with %s needs the username and password options", lastDot(e.LoginModule), mech)
		}
		switch mech {
		case "PLAIN":
			return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
		case "SCRAM-SHA-256":
			return scram.Auth{User: user, Pass: pass, IsToken: strings.EqualFold(e.Options["tokenauth"], "true")}.AsSha256Mechanism(), nil
		default:
			return scram.Auth{User: user, Pass: pass, IsToken: strings.EqualFold(e.Options["tokenauth"], "true")}.AsSha512Mechanism(), nil
		}
	}
	if mech == "AWS_MSK_IAM" {
		return mskIAM(e)
	}
	if e.LoginModule != OAuthBearerLoginModule {
		return nil, &UnsupportedError{Key: "sasl.jaas.config", Reason: fmt.Sprintf("login module %s cannot be used with OAUTHBEARER; use %s", e.LoginModule, OAuthBearerLoginModule)}
	}
	return oauthMechanism(props, e, tlsCfg)
}

func lastDot(s string) string { return s[strings.LastIndex(s, ".")+1:] }

// oauthMechanism fetches tokens from sasl.oauthbearer.token.endpoint.url
// (client credentials over HTTP(S), or a file:// token), or, without an
// endpoint, makes Apache's unsecured test tokens from the JAAS options.
func oauthMechanism(props map[string]string, e JAASEntry, tlsCfg *tls.Config) (sasl.Mechanism, error) {
	get := func(k string) string { return strings.TrimSpace(props[k]) }
	ext := map[string]string{}
	for k, v := range e.Options {
		if name, ok := strings.CutPrefix(k, "extension_"); ok {
			ext[name] = v
		}
	}
	endpoint := get("sasl.oauthbearer.token.endpoint.url")
	if endpoint == "" {
		if strings.EqualFold(get("sasl.login.callback.handler.class"), "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler") {
			return nil, &UnsupportedError{Key: "sasl.oauthbearer.token.endpoint.url", Reason: "OAuthBearerLoginCallbackHandler needs a token endpoint"}
		}
		tok, err := unsecuredToken(e.Options, get("sasl.oauthbearer.scope.claim.name"))
		if err != nil {
			return nil, fmt.Errorf("Invalid value [hidden] for configuration sasl.jaas.config: %w", err)
		}
		for k, v := range e.Options {
			if name, ok := strings.CutPrefix(k, "unsecuredLoginExtension_"); ok {
				ext[name] = v
			}
		}
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			return oauth.Auth{Token: tok(), Extensions: ext}, nil
		}), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("Invalid value %s for configuration sasl.oauthbearer.token.endpoint.url: %w", endpoint, err)
	}
	switch u.Scheme {
	case "file":
		path := u.Path
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("reading the OAuth token file: %w", err)
			}
			return oauth.Auth{Token: strings.TrimSpace(string(b)), Extensions: ext}, nil
		}), nil
	case "http", "https":
	default:
		return nil, &UnsupportedError{Key: "sasl.oauthbearer.token.endpoint.url", Reason: fmt.Sprintf("scheme %q: Ferry supports http, https and file", u.Scheme)}
	}
	// The 4.1 keys win over the deprecated JAAS options.
	id := firstNonEmpty(get("sasl.oauthbearer.client.credentials.client.id"), e.Options["clientId"])
	secret := firstNonEmpty(get("sasl.oauthbearer.client.credentials.client.secret"), e.Options["clientSecret"])
	scope := firstNonEmpty(get("sasl.oauthbearer.scope"), e.Options["scope"])
	if id == "" || secret == "" {
		return nil, fmt.Errorf("OAUTHBEARER with a token endpoint needs sasl.oauthbearer.client.credentials.client.id and .client.secret (or the clientId and clientSecret JAAS options)")
	}
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: endpoint, AuthStyle: oauth2.AuthStyleInHeader}
	if scope != "" {
		cc.Scopes = strings.Fields(strings.ReplaceAll(scope, ",", " "))
	}
	hc, err := tokenHTTPClient(props, tlsCfg)
	if err != nil {
		return nil, err
	}
	ts := cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
	return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		t, err := ts.Token()
		if err != nil {
			return oauth.Auth{}, fmt.Errorf("fetching an OAuth token from %s: %w", endpoint, err)
		}
		return oauth.Auth{Token: t.AccessToken, Extensions: ext}, nil
	}), nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// tokenHTTPClient talks to the token endpoint with the client's trust
// settings and sasl.login.connect/read.timeout.ms (Java defaults 10 s).
func tokenHTTPClient(props map[string]string, tlsCfg *tls.Config) (*http.Client, error) {
	timeout := func(k string) (time.Duration, error) {
		v := strings.TrimSpace(props[k])
		if v == "" {
			return 10 * time.Second, nil
		}
		d, err := millis(v)
		if err != nil {
			return 0, fmt.Errorf("Invalid value %s for configuration %s: %w", v, k, err)
		}
		return d, nil
	}
	connect, err := timeout("sasl.login.connect.timeout.ms")
	if err != nil {
		return nil, err
	}
	read, err := timeout("sasl.login.read.timeout.ms")
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: connect}).DialContext, ResponseHeaderTimeout: read, TLSHandshakeTimeout: connect}
	if tlsCfg != nil {
		c := tlsCfg.Clone()
		c.Certificates = nil
		tr.TLSClientConfig = c
	}
	return &http.Client{Transport: tr, Timeout: connect + read}, nil
}

// unsecuredToken makes the unsigned JWTs of Apache's
// OAuthBearerUnsecuredLoginCallbackHandler, for test set-ups.
func unsecuredToken(opts map[string]string, scopeClaim string) (func() string, error) {
	principalClaim := firstNonEmpty(opts["unsecuredLoginPrincipalClaimName"], "sub")
	if scopeClaim == "" {
		scopeClaim = firstNonEmpty(opts["unsecuredLoginScopeClaimName"], "scope")
	}
	lifetime := 3600
	if v := opts["unsecuredLoginLifetimeSeconds"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("unsecuredLoginLifetimeSeconds=%q is not a positive number", v)
		}
		lifetime = n
	}
	claims := map[string]any{}
	for k, v := range opts {
		switch {
		case strings.HasPrefix(k, "unsecuredLoginStringClaim_"):
			claims[strings.TrimPrefix(k, "unsecuredLoginStringClaim_")] = v
		case strings.HasPrefix(k, "unsecuredLoginNumberClaim_"):
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("%s=%q is not a number", k, v)
			}
			claims[strings.TrimPrefix(k, "unsecuredLoginNumberClaim_")] = n
		case strings.HasPrefix(k, "unsecuredLoginListClaim_"):
			// The first character is the list's separator.
			var l []string
			if len(v) > 1 {
				l = strings.Split(v[1:], v[:1])
			}
			claims[strings.TrimPrefix(k, "unsecuredLoginListClaim_")] = l
		}
	}
	if s, _ := claims[principalClaim].(string); s == "" {
		return nil, fmt.Errorf("unsecured OAUTHBEARER tokens need unsecuredLoginStringClaim_%s", principalClaim)
	}
	_ = scopeClaim
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
	return func() string {
		now := time.Now()
		c := map[string]any{"iat": now.Unix(), "exp": now.Add(time.Duration(lifetime) * time.Second).Unix()}
		for k, v := range claims {
			c[k] = v
		}
		b, err := json.Marshal(c)
		if err != nil {
			panic(errors.New("unreachable: claims are strings, numbers and lists"))
		}
		return header + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}, nil
}

// mskIAM signs in to Amazon MSK with the AWS credentials of the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// read at each authentication. The Java module's other credential sources
// (profiles, assumed roles, instance metadata) are refused, not ignored.
func mskIAM(e JAASEntry) (sasl.Mechanism, error) {
	if e.LoginModule != IAMLoginModule {
		return nil, &UnsupportedError{Key: "sasl.jaas.config", Reason: fmt.Sprintf("login module %s cannot be used with AWS_MSK_IAM; use %s", e.LoginModule, IAMLoginModule)}
	}
	for k := range e.Options {
		if k != "awsDebugCreds" {
			return nil, &UnsupportedError{Key: "sasl.jaas.config", Reason: fmt.Sprintf("IAMLoginModule option %s: Ferry takes AWS credentials from the environment only", k)}
		}
	}
	creds := func() (aws.Auth, error) {
		a := aws.Auth{AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
		if a.AccessKey == "" || a.SecretKey == "" {
			return a, errors.New("AWS_MSK_IAM needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
		}
		return a, nil
	}
	if _, err := creds(); err != nil {
		return nil, &UnsupportedError{Key: "sasl.mechanism", Reason: err.Error()}
	}
	return aws.ManagedStreamingIAM(func(context.Context) (aws.Auth, error) { return creds() }), nil
}
