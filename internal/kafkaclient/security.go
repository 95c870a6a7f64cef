package kafkaclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/sslconf"
)

// Security protocols (security.protocol, case-insensitive).
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

func isSecurityKey(k string) bool {
	return strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "security.")
}

// securityKeys are the security properties Ferry reads. The check, when
// set, reports a value Ferry cannot honour.
var securityKeys = map[string]func(v string) error{
	"security.protocol":                     nil,
	"security.providers":                    mustBeEmpty,
	"ssl.protocol":                          nil,
	"ssl.enabled.protocols":                 nil,
	"ssl.endpoint.identification.algorithm": nil,
	"ssl.keystore.type":                     nil,
	"ssl.truststore.type":                   nil,
	"ssl.keystore.location":                 nil,
	"ssl.truststore.location":               nil,
	"ssl.keystore.password":                 nil,
	"ssl.truststore.password":               nil,
	"ssl.key.password":                      nil,
	"ssl.keystore.key":                      nil,
	"ssl.keystore.certificate.chain":        nil,
	"ssl.truststore.certificates":           nil,
	"ssl.cipher.suites":                     nil,
	"ssl.keymanager.algorithm":              oneOf("SunX509", "NewSunX509", "PKIX"),
	"ssl.trustmanager.algorithm":            oneOf("PKIX", "SunX509", "SunPKIX"),
	// Go draws TLS randomness from the operating system's CSPRNG, which
	// any Java SecureRandom name asks for at least.
	"ssl.secure.random.implementation": nil,
	"ssl.provider":                     oneOf("", "SunJSSE"),
	// A server setting (the REST server's, at worker level): a client
	// presents its key store whenever one is configured.
	"ssl.client.auth":          nil,
	"ssl.engine.factory.class": oneOf("", "org.apache.kafka.common.security.ssl.DefaultSslEngineFactory"),

	"sasl.mechanism":                                    nil,
	"sasl.jaas.config":                                  nil,
	"sasl.login.callback.handler.class":                 oneOf("", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"),
	"sasl.client.callback.handler.class":                oneOf("", IAMCallbackHandler),
	"sasl.login.class":                                  mustBeEmpty,
	"sasl.kerberos.service.name":                        nil, // GSSAPI only, which is refused
	"sasl.kerberos.kinit.cmd":                           nil,
	"sasl.kerberos.ticket.renew.window.factor":          nil,
	"sasl.kerberos.ticket.renew.jitter":                 nil,
	"sasl.kerberos.min.time.before.relogin":             nil,
	"sasl.login.refresh.window.factor":                  nil, // tokens are renewed before they expire
	"sasl.login.refresh.window.jitter":                  nil,
	"sasl.login.refresh.min.period.seconds":             nil,
	"sasl.login.refresh.buffer.seconds":                 nil,
	"sasl.login.connect.timeout.ms":                     nil,
	"sasl.login.read.timeout.ms":                        nil,
	"sasl.login.retry.backoff.ms":                       nil,
	"sasl.login.retry.backoff.max.ms":                   nil,
	"sasl.oauthbearer.token.endpoint.url":               nil,
	"sasl.oauthbearer.client.credentials.client.id":     nil,
	"sasl.oauthbearer.client.credentials.client.secret": nil,
	"sasl.oauthbearer.scope":                            nil,
	"sasl.oauthbearer.scope.claim.name":                 nil,
	"sasl.oauthbearer.sub.claim.name":                   nil,
	"sasl.oauthbearer.header.urlencode":                 nil,
	"sasl.oauthbearer.jwt.retriever.class": oneOf("", "org.apache.kafka.common.security.oauthbearer.DefaultJwtRetriever",
		"org.apache.kafka.common.security.oauthbearer.ClientCredentialsJwtRetriever", "org.apache.kafka.common.security.oauthbearer.FileJwtRetriever"),
	// Token validation settings: a client does not validate its own token.
	"sasl.oauthbearer.jwt.validator.class":                nil,
	"sasl.oauthbearer.clock.skew.seconds":                 nil,
	"sasl.oauthbearer.expected.audience":                  nil,
	"sasl.oauthbearer.expected.issuer":                    nil,
	"sasl.oauthbearer.jwks.endpoint.url":                  nil,
	"sasl.oauthbearer.jwks.endpoint.refresh.ms":           nil,
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms":     nil,
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": nil,
}

func mustBeEmpty(v string) error {
	if v != "" {
		return errors.New("Ferry supports only the default (empty)")
	}
	return nil
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		for _, x := range vals {
			if strings.EqualFold(v, x) {
				return nil
			}
		}
		shown := slices.DeleteFunc(slices.Clone(vals), func(s string) bool { return s == "" })
		return fmt.Errorf("Ferry supports only %s", strings.Join(shown, ", "))
	}
}

type security struct {
	opts     []kgo.Opt
	warnings []string
	secure   bool
}

// UnsupportedError is a security property Ferry cannot honour.
type UnsupportedError struct {
	Key, Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("The security configuration '%s' cannot be honoured: %s. Ferry refuses to connect rather than connect with weaker security than configured", e.Key, e.Reason)
}

func buildSecurity(kind Kind, props map[string]string) (*security, error) {
	get := func(k string) string { return strings.TrimSpace(props[k]) }
	var errs []error
	s := &security{}
	protocol := strings.ToUpper(get("security.protocol"))
	if protocol == "" {
		protocol = Plaintext
	}
	var useTLS, useSASL bool
	switch protocol {
	case Plaintext:
	case SSL:
		useTLS = true
	case SASLPlaintext:
		useSASL = true
	case SASLSSL:
		useTLS, useSASL = true, true
	default:
		errs = append(errs, fmt.Errorf("Invalid value %s for configuration security.protocol: String must be one of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", get("security.protocol")))
	}
	// Every key of a security family the client uses must be one Ferry
	// honours: ssl.* with TLS, sasl.* with SASL, security.* always. Keys of
	// a family the protocol does not use change nothing (as in Apache); at
	// worker level ssl.* may be the REST server's.
	for _, k := range slices.Sorted(maps.Keys(props)) {
		switch {
		case strings.HasPrefix(k, "ssl.") && !useTLS, strings.HasPrefix(k, "sasl.") && !useSASL, !isSecurityKey(k):
			continue
		}
		check, known := securityKeys[k]
		switch {
		case !known:
			errs = append(errs, &UnsupportedError{Key: k, Reason: "it is not a Kafka client configuration Ferry implements"})
		case check != nil:
			if err := check(get(k)); err != nil {
				errs = append(errs, &UnsupportedError{Key: k, Reason: fmt.Sprintf("value %q: %v", get(k), err)})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if useTLS {
		var err error
		if tlsCfg, err = buildTLS(props); err != nil {
			return nil, err
		}
		s.opts = append(s.opts, kgo.DialTLSConfig(tlsCfg))
		s.secure = true
	} else if kind == Producer || kind == Consumer {
		// At worker level ssl.* may configure the REST server's HTTPS.
		for _, k := range []string{"ssl.truststore.location", "ssl.keystore.location", "ssl.truststore.certificates", "ssl.keystore.key"} {
			if get(k) != "" {
				s.warnings = append(s.warnings, fmt.Sprintf("The %s configuration '%s' is set but security.protocol=%s does not use TLS: the connection is not encrypted.", kind, k, protocol))
				break
			}
		}
	}
	if useSASL {
		mech, err := buildSASL(props, tlsCfg)
		if err != nil {
			return nil, err
		}
		s.opts = append(s.opts, kgo.SASL(mech))
		s.secure = true
	} else if get("sasl.jaas.config") != "" && (kind == Producer || kind == Consumer) {
		s.warnings = append(s.warnings, fmt.Sprintf("The %s configuration 'sasl.jaas.config' is set but security.protocol=%s does not use SASL.", kind, protocol))
	}
	return s, nil
}

// buildTLS builds the client's TLS configuration; an ssl.* value Ferry
// cannot honour is an UnsupportedError, so it is reported against its key.
func buildTLS(props map[string]string) (*tls.Config, error) {
	cfg, err := sslconf.Client(props)
	var se *sslconf.SettingError
	if errors.As(err, &se) {
		return nil, &UnsupportedError{Key: se.Key, Reason: se.Reason}
	}
	return cfg, err
}
