// Package sslconf turns Apache Kafka's ssl.* settings (keystores and
// truststores in JKS, PKCS12 or PEM, passwords, protocols, cipher suites,
// ssl.client.auth, ssl.endpoint.identification.algorithm) into Go TLS
// configurations. The REST server uses it for its https listeners and for
// the requests one worker sends another.
package sslconf

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
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
)

// unsupported are keys Apache's REST server never reads either (§3.2):
// setting them is an error rather than a silent no-op.
var unsupported = []string{"ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.truststore.certificates"}

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
func Server(props map[string]string) (*tls.Config, error) {
	c, err := base(props)
	if err != nil {
		return nil, err
	}
	if len(c.Certificates) == 0 {
		return nil, fmt.Errorf("https listener: %s is required", KeystoreLocation)
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
		c.ClientCAs = c.RootCAs
		if c.ClientCAs == nil {
			// The JVM would use its default trust store; Go has no such
			// store for client certificates, so use the system roots.
			pool, err := x509.SystemCertPool()
			if err != nil {
				return nil, fmt.Errorf("%s=%s needs %s: %w", ClientAuth, props[ClientAuth], TruststoreLocation, err)
			}
			c.ClientCAs = pool
		}
	}
	c.RootCAs = nil
	return c, nil
}

// Client builds the TLS configuration of a client (a worker forwarding a
// request to another): the truststore verifies the server, the keystore,
// when set, is presented for mutual TLS.
func Client(props map[string]string) (*tls.Config, error) {
	c, err := base(props)
	if err != nil {
		return nil, err
	}
	switch alg := strings.ToLower(strings.TrimSpace(valueOr(props, EndpointIdent, "https"))); alg {
	case "https":
	case "":
		// Apache: an empty algorithm turns off host name verification
		// but still checks the chain against the truststore.
		c.InsecureSkipVerify = true
		roots := c.RootCAs
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	default:
		return nil, fmt.Errorf("invalid value %q for %s: must be https or empty", props[EndpointIdent], EndpointIdent)
	}
	return c, nil
}

func valueOr(props map[string]string, k, def string) string {
	if v, ok := props[k]; ok {
		return v
	}
	return def
}

// base loads the stores and the protocol settings shared by both sides.
func base(props map[string]string) (*tls.Config, error) {
	for _, k := range unsupported {
		if strings.TrimSpace(props[k]) != "" {
			return nil, fmt.Errorf("%s is not supported for the REST server: use %s with a store file", k, KeystoreLocation)
		}
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if loc := strings.TrimSpace(props[KeystoreLocation]); loc != "" {
		cert, err := LoadKeyStore(valueOr(props, KeystoreType, "JKS"), loc, props[KeystorePassword], props[KeyPassword])
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if loc := strings.TrimSpace(props[TruststoreLocation]); loc != "" {
		pool, err := LoadTrustStore(valueOr(props, TruststoreType, "JKS"), loc, props[TruststorePassword])
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if err := protocols(c, props); err != nil {
		return nil, err
	}
	if err := ciphers(c, props[CipherSuites]); err != nil {
		return nil, err
	}
	return c, nil
}

var versions = map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

// protocols applies ssl.enabled.protocols (default TLSv1.2,TLSv1.3);
// ssl.protocol only names the JVM's SSLContext and is checked for sense.
func protocols(c *tls.Config, props map[string]string) error {
	if p := strings.TrimSpace(props[Protocol]); p != "" && p != "TLS" {
		if _, ok := versions[p]; !ok {
			return fmt.Errorf("unsupported %s %q: Ferry supports TLS, TLSv1.2 and TLSv1.3", Protocol, p)
		}
	}
	list := strings.TrimSpace(props[EnabledProtocols])
	if list == "" {
		return nil
	}
	var lo, hi uint16
	for p := range strings.SplitSeq(list, ",") {
		v, ok := versions[strings.TrimSpace(p)]
		if !ok {
			return fmt.Errorf("unsupported protocol %q in %s: Ferry supports TLSv1.2 and TLSv1.3", strings.TrimSpace(p), EnabledProtocols)
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	c.MinVersion, c.MaxVersion = lo, hi
	return nil
}

// ciphers applies ssl.cipher.suites, given in IANA (= JVM) names. Go does
// not let TLS 1.3 suites be chosen; they are accepted and left to Go.
func ciphers(c *tls.Config, list string) error {
	if strings.TrimSpace(list) == "" {
		return nil
	}
	byName := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		byName[s.Name] = s.ID
	}
	tls13 := map[string]bool{}
	for _, id := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
		tls13[tls.CipherSuiteName(id)] = true
	}
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		if id, ok := byName[s]; ok {
			c.CipherSuites = append(c.CipherSuites, id)
		} else if !tls13[s] {
			return fmt.Errorf("unsupported cipher suite %q in %s", s, CipherSuites)
		}
	}
	return nil
}

// LoadKeyStore reads the private key and certificate chain of a keystore.
// JKS and PKCS12 stores must hold exactly one private key entry; a PEM
// store holds an unencrypted private key and its certificate chain.
func LoadKeyStore(typ, path, storePass, keyPass string) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading keystore: %w", err)
	}
	wrap := func(err error) error { return fmt.Errorf("keystore %s (%s): %w", path, typ, err) }
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "PEM":
		if keyPass != "" && bytes.Contains(data, []byte("ENCRYPTED")) {
			return tls.Certificate{}, wrap(errors.New("encrypted PEM private keys are not supported; store the key unencrypted or use a PKCS12 or JKS keystore"))
		}
		cert, err := tls.X509KeyPair(data, data)
		if err != nil {
			return tls.Certificate{}, wrap(err)
		}
		return cert, nil
	case "PKCS12":
		key, leaf, chain, err := pkcs12.DecodeChain(data, storePass)
		if err != nil {
			return tls.Certificate{}, wrap(err)
		}
		out := tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, c := range chain {
			out.Certificate = append(out.Certificate, c.Raw)
		}
		return out, nil
	case "JKS":
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(storePass)); err != nil {
			return tls.Certificate{}, wrap(err)
		}
		var aliases []string
		for _, a := range ks.Aliases() {
			if ks.IsPrivateKeyEntry(a) {
				aliases = append(aliases, a)
			}
		}
		if len(aliases) != 1 {
			return tls.Certificate{}, wrap(fmt.Errorf("want exactly one private key entry, found %d", len(aliases)))
		}
		kp := keyPass
		if kp == "" {
			kp = storePass // keytool's default: the key password is the store password
		}
		e, err := ks.GetPrivateKeyEntry(aliases[0], []byte(kp))
		if err != nil {
			return tls.Certificate{}, wrap(err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return tls.Certificate{}, wrap(err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok || len(e.CertificateChain) == 0 {
			return tls.Certificate{}, wrap(errors.New("private key entry has no usable key or certificate"))
		}
		out := tls.Certificate{PrivateKey: signer}
		for _, c := range e.CertificateChain {
			out.Certificate = append(out.Certificate, c.Content)
		}
		return out, nil
	default:
		return tls.Certificate{}, fmt.Errorf("unsupported %s %q: use JKS, PKCS12 or PEM", KeystoreType, typ)
	}
}

// LoadTrustStore reads the certificates of a truststore.
func LoadTrustStore(typ, path, storePass string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading truststore: %w", err)
	}
	wrap := func(err error) error { return fmt.Errorf("truststore %s (%s): %w", path, typ, err) }
	var certs []*x509.Certificate
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "PEM":
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, wrap(err)
			}
			certs = append(certs, c)
		}
	case "PKCS12":
		certs, err = pkcs12.DecodeTrustStore(data, storePass)
		if err != nil {
			return nil, wrap(err)
		}
	case "JKS":
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(storePass)); err != nil {
			return nil, wrap(err)
		}
		aliases := ks.Aliases()
		slices.Sort(aliases)
		for _, a := range aliases {
			var raw [][]byte
			switch {
			case ks.IsTrustedCertificateEntry(a):
				e, err := ks.GetTrustedCertificateEntry(a)
				if err != nil {
					return nil, wrap(err)
				}
				raw = append(raw, e.Certificate.Content)
			case ks.IsPrivateKeyEntry(a):
				// Java trusts the chain of a key entry in a truststore too.
				chain, err := ks.GetPrivateKeyEntryCertificateChain(a)
				if err != nil {
					return nil, wrap(err)
				}
				for _, c := range chain {
					raw = append(raw, c.Content)
				}
			}
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return nil, wrap(err)
				}
				certs = append(certs, c)
			}
		}
	default:
		return nil, fmt.Errorf("unsupported %s %q: use JKS, PKCS12 or PEM", TruststoreType, typ)
	}
	if len(certs) == 0 {
		return nil, wrap(errors.New("no certificates found"))
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
