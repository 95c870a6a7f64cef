// Package sslconf turns Apache Kafka's ssl.* settings (key and trust
// stores in JKS, PKCS12 or PEM, files or inline PEM text, passwords,
// encrypted PKCS#8 keys, protocols, cipher suites, ssl.client.auth,
// ssl.endpoint.identification.algorithm) into Go TLS configurations. It is
// the one place that does so: the Kafka clients, the REST server's https
// listeners and the requests one worker sends another all use it.
package sslconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"strings"
)

// Keys Ferry reads (Apache's SslConfigs names, without any prefix).
const (
	KeystoreType       = "ssl.keystore.type"
	KeystoreLocation   = "ssl.keystore.location"
	KeystorePassword   = "ssl.keystore.password"
	KeyPassword        = "ssl.key.password"
	TruststoreType     = "ssl.truststore.type"
	TruststoreLocation = "ssl.truststore.location"
	TruststorePassword = "ssl.truststore.password"
	Protocol           = "ssl.protocol"
	EnabledProtocols   = "ssl.enabled.protocols"
	CipherSuites       = "ssl.cipher.suites"
	ClientAuth         = "ssl.client.auth"
	EndpointIdent      = "ssl.endpoint.identification.algorithm"
	// Inline PEM text, read by Kafka clients but not by Apache's REST
	// server.
	KeystoreKey            = "ssl.keystore.key"
	KeystoreChain          = "ssl.keystore.certificate.chain"
	TruststoreCertificates = "ssl.truststore.certificates"
)

// SettingError is an ssl.* value Ferry cannot honour. Reason is a whole
// message and names the key.
type SettingError struct {
	Key, Reason string
}

func (e *SettingError) Error() string { return e.Reason }

func unsupportedf(key, format string, args ...any) error {
	return &SettingError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// Select returns the ssl.* settings for a listener family, "all or
// nothing" as Apache's SSLUtils: when any key starts with prefix (e.g.
// "listeners.https."), only those keys count, prefix stripped; otherwise
// the top-level ssl.* keys do.
func Select(props map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	if len(out) > 0 {
		return out
	}
	for k, v := range props {
		if strings.HasPrefix(k, "ssl.") {
			out[k] = v
		}
	}
	return out
}

// Server builds the TLS configuration of an https listener: the keystore
// is required; ssl.client.auth none/requested/required decides whether
// client certificates are asked for and checked against the truststore.
// As Apache's REST server, it reads store files only, and it offers no
// protocol older than TLSv1.2.
func Server(props map[string]string) (*tls.Config, error) {
	for _, k := range []string{KeystoreKey, KeystoreChain, TruststoreCertificates} {
		if strings.TrimSpace(props[k]) != "" {
			return nil, fmt.Errorf("%s is not supported for the REST server: use %s with a store file", k, KeystoreLocation)
		}
	}
	if v, ok := props[EnabledProtocols]; ok && strings.TrimSpace(v) == "" {
		// Jetty takes an empty protocol list as its default one.
		props = maps.Clone(props)
		delete(props, EnabledProtocols)
	}
	c, pool, err := base(props)
	if err != nil {
		return nil, err
	}
	if len(c.Certificates) == 0 {
		return nil, fmt.Errorf("https listener: %s is required", KeystoreLocation)
	}
	if c.MinVersion < tls.VersionTLS12 {
		return nil, unsupportedf(EnabledProtocols, "unsupported protocol in %s=%s: the REST server supports TLSv1.2 and TLSv1.3", EnabledProtocols, props[EnabledProtocols])
	}
	switch mode := strings.ToLower(strings.TrimSpace(props[ClientAuth])); mode {
	case "", "none":
		c.ClientAuth = tls.NoClientCert
	case "requested":
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		c.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("invalid value %q for %s: must be none, requested or required", props[ClientAuth], ClientAuth)
	}
	if c.ClientAuth != tls.NoClientCert {
		c.ClientCAs = pool
		if c.ClientCAs == nil {
			// The JVM would use its default trust store; Go has no such
			// store for client certificates, so use the system roots.
			sys, err := x509.SystemCertPool()
			if err != nil {
				return nil, fmt.Errorf("%s=%s needs %s: %w", ClientAuth, props[ClientAuth], TruststoreLocation, err)
			}
			c.ClientCAs = sys
		}
	}
	return c, nil
}

// Client builds the TLS configuration of a client (a Kafka client, or a
// worker forwarding a request to another): the truststore verifies the
// server (no truststore: the system's roots, as Java's default one), the
// keystore, when set, is presented for mutual TLS. ssl.protocol caps the
// version, as in Kafka: TLSv1.2 never negotiates TLSv1.3. The server's
// host name is checked unless ssl.endpoint.identification.algorithm is
// empty; the caller (or franz-go's dialer) sets ServerName.
func Client(props map[string]string) (*tls.Config, error) {
	c, pool, err := base(props)
	if err != nil {
		return nil, err
	}
	if p := strings.TrimSpace(props[Protocol]); p != "" && !strings.EqualFold(p, "TLS") {
		c.MaxVersion = min(c.MaxVersion, versions[strings.ToUpper(p)])
		if c.MinVersion > c.MaxVersion {
			return nil, unsupportedf(EnabledProtocols, "none of %s=%s is allowed by %s=%s", EnabledProtocols, props[EnabledProtocols], Protocol, p)
		}
	}
	c.RootCAs = pool
	alg, set := props[EndpointIdent]
	switch alg = strings.TrimSpace(alg); {
	case !set, strings.EqualFold(alg, "https"):
	case alg == "":
		// Apache: an empty algorithm turns off host name verification
		// but still checks the chain against the truststore.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	default:
		return nil, unsupportedf(EndpointIdent, "unsupported %s %q: Ferry supports https or empty", EndpointIdent, alg)
	}
	return c, nil
}

// base loads the stores and the protocol and cipher settings both sides
// share; the trust pool is returned for the caller to place.
func base(props map[string]string) (*tls.Config, *x509.CertPool, error) {
	get := func(k string) string { return strings.TrimSpace(props[k]) }
	c := &tls.Config{}
	var err error
	if c.MinVersion, c.MaxVersion, err = enabledProtocols(props); err != nil {
		return nil, nil, err
	}
	if c.CipherSuites, err = cipherSuites(get(CipherSuites)); err != nil {
		return nil, nil, err
	}
	tt, err := storeType(props, TruststoreType)
	if err != nil {
		return nil, nil, err
	}
	pool, err := loadTrustStore(storeSpec{typ: tt, location: get(TruststoreLocation),
		password: get(TruststorePassword), certs: get(TruststoreCertificates)})
	if err != nil {
		return nil, nil, err
	}
	kt, err := storeType(props, KeystoreType)
	if err != nil {
		return nil, nil, err
	}
	cert, err := loadKeyStore(storeSpec{typ: kt, location: get(KeystoreLocation), password: get(KeystorePassword),
		keyPass: get(KeyPassword), certs: get(KeystoreChain), key: get(KeystoreKey)})
	if err != nil {
		return nil, nil, err
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c, pool, nil
}

func storeType(props map[string]string, k string) (string, error) {
	switch t := strings.ToUpper(strings.TrimSpace(props[k])); t {
	case "":
		return StoreJKS, nil
	case StoreJKS, StorePKCS12, StorePEM:
		return t, nil
	}
	return "", unsupportedf(k, "unsupported %s %q: Ferry supports JKS, PKCS12 and PEM", k, strings.TrimSpace(props[k]))
}

var versions = map[string]uint16{
	"TLSV1": tls.VersionTLS10, "TLSV1.1": tls.VersionTLS11, "TLSV1.2": tls.VersionTLS12, "TLSV1.3": tls.VersionTLS13,
}

// enabledProtocols reads ssl.enabled.protocols (default TLSv1.2,TLSv1.3)
// and checks ssl.protocol, which names the JVM's SSLContext.
func enabledProtocols(props map[string]string) (lo, hi uint16, err error) {
	if p := strings.TrimSpace(props[Protocol]); p != "" && !strings.EqualFold(p, "TLS") {
		if _, ok := versions[strings.ToUpper(p)]; !ok {
			return 0, 0, unsupportedf(Protocol, "unsupported %s %q: Ferry supports TLS, TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3", Protocol, p)
		}
	}
	list := "TLSv1.2,TLSv1.3"
	if v, set := props[EnabledProtocols]; set {
		list = strings.TrimSpace(v)
	}
	for p := range strings.SplitSeq(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, ok := versions[strings.ToUpper(p)]
		if !ok {
			return 0, 0, unsupportedf(EnabledProtocols, "unsupported protocol %q in %s: Ferry supports TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3", p, EnabledProtocols)
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	if lo == 0 {
		return 0, 0, unsupportedf(EnabledProtocols, "%s enables no protocol", EnabledProtocols)
	}
	return lo, hi, nil
}

// cipherSuites reads ssl.cipher.suites, given in IANA (= JVM) names. Go
// does not let TLS 1.3 suites be chosen; they are accepted and all are
// offered.
func cipherSuites(list string) ([]uint16, error) {
	if list == "" {
		return nil, nil
	}
	byName := map[string]uint16{}
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[c.Name] = c.ID
	}
	var ids []uint16
	for n := range strings.SplitSeq(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case strings.HasPrefix(n, "TLS_AES_") || strings.HasPrefix(n, "TLS_CHACHA20_"):
		default:
			id, ok := byName[n]
			if !ok {
				return nil, unsupportedf(CipherSuites, "unsupported cipher suite %q in %s: not available", n, CipherSuites)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}
