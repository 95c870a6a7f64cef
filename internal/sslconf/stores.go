package sslconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Store types accepted by ssl.keystore.type and ssl.truststore.type.
const (
	StoreJKS    = "JKS"
	StorePKCS12 = "PKCS12"
	StorePEM    = "PEM"
)

// jksMagic starts every JKS file; Java's JKS and PKCS12 key stores each
// read the other format too, so the type names a preference, not a rule.
var jksMagic = []byte{0xFE, 0xED, 0xFE, 0xED}

// storeSpec is where a trust or key store comes from.
type storeSpec struct {
	typ      string // JKS, PKCS12 or PEM (upper case)
	location string // file, or "" for inline PEM
	password string // store password (not for PEM)
	keyPass  string // ssl.key.password (key stores only)
	// inline PEM: ssl.truststore.certificates, or
	// ssl.keystore.certificate.chain and ssl.keystore.key.
	certs, key string
}

// loadTrustStore returns the CA pool of a trust store.
func loadTrustStore(s storeSpec) (*x509.CertPool, error) {
	var certs []*x509.Certificate
	switch {
	case s.certs != "":
		if s.typ != StorePEM {
			return nil, fmt.Errorf("ssl.truststore.certificates requires ssl.truststore.type=PEM, not %s", s.typ)
		}
		var err error
		if certs, err = pemCerts([]byte(s.certs)); err != nil {
			return nil, fmt.Errorf("ssl.truststore.certificates: %w", err)
		}
	case s.location != "":
		data, err := os.ReadFile(s.location)
		if err != nil {
			return nil, fmt.Errorf("reading trust store %s=%s: %w", TruststoreLocation, s.location, err)
		}
		certs, err = trustStoreCerts(s, data)
		if err != nil {
			return nil, fmt.Errorf("loading %s trust store %s=%s: %w", s.typ, TruststoreLocation, s.location, err)
		}
	default:
		return nil, nil
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("the trust store %s=%s holds no certificate", TruststoreLocation, s.location)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

func trustStoreCerts(s storeSpec, data []byte) ([]*x509.Certificate, error) {
	switch s.typ {
	case StorePEM:
		if s.password != "" {
			return nil, errors.New("ssl.truststore.password is not supported for PEM trust stores")
		}
		return pemCerts(data)
	case StoreJKS, StorePKCS12:
		if bytes.HasPrefix(data, jksMagic) {
			return jksTrusted(data, s.password)
		}
		certs, err := pkcs12.DecodeTrustStore(data, s.password)
		if err == nil {
			return certs, nil
		}
		// A PKCS12 file with a key entry also serves as a trust store:
		// Java trusts the certificates of its key entries too.
		_, leaf, chain, err2 := pkcs12.DecodeChain(data, s.password)
		if err2 != nil {
			return nil, err
		}
		return append([]*x509.Certificate{leaf}, chain...), nil
	}
	return nil, fmt.Errorf("unsupported store type %s", s.typ)
}

func jksTrusted(data []byte, password string) ([]*x509.Certificate, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		return nil, wrongPassword(err)
	}
	var out []*x509.Certificate
	for _, alias := range ks.Aliases() {
		var der [][]byte
		if ks.IsTrustedCertificateEntry(alias) {
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, err
			}
			der = append(der, e.Certificate.Content)
		} else if chain, err := ks.GetPrivateKeyEntryCertificateChain(alias); err == nil && len(chain) > 0 {
			der = append(der, chain[0].Content)
		}
		for _, d := range der {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return nil, fmt.Errorf("entry %s: %w", alias, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func wrongPassword(err error) error {
	if strings.Contains(err.Error(), "invalid digest") {
		return fmt.Errorf("store password was incorrect (%w)", err)
	}
	return err
}

// loadKeyStore returns the client certificate of a key store, or nil when
// none is configured.
func loadKeyStore(s storeSpec) (*tls.Certificate, error) {
	switch {
	case s.key != "" || s.certs != "":
		if s.typ != StorePEM {
			return nil, fmt.Errorf("ssl.keystore.key and ssl.keystore.certificate.chain require ssl.keystore.type=PEM, not %s", s.typ)
		}
		if s.key == "" || s.certs == "" {
			return nil, errors.New("ssl.keystore.key and ssl.keystore.certificate.chain must be set together")
		}
		return pemKeyPair([]byte(s.certs), []byte(s.key), s.keyPass)
	case s.location != "":
		data, err := os.ReadFile(s.location)
		if err != nil {
			return nil, fmt.Errorf("reading key store %s=%s: %w", KeystoreLocation, s.location, err)
		}
		c, err := keyStoreCert(s, data)
		if err != nil {
			return nil, fmt.Errorf("loading %s key store %s=%s: %w", s.typ, KeystoreLocation, s.location, err)
		}
		return c, nil
	}
	return nil, nil
}

func keyStoreCert(s storeSpec, data []byte) (*tls.Certificate, error) {
	switch s.typ {
	case StorePEM:
		if s.password != "" {
			return nil, errors.New("ssl.keystore.password is not supported for PEM key stores")
		}
		return pemKeyPair(data, data, s.keyPass)
	case StoreJKS, StorePKCS12:
		if bytes.HasPrefix(data, jksMagic) {
			return jksKeyPair(data, s.password, s.keyPass)
		}
		key, leaf, chain, err := pkcs12.DecodeChain(data, s.password)
		if err != nil && s.keyPass != "" && s.keyPass != s.password {
			key, leaf, chain, err = pkcs12.DecodeChain(data, s.keyPass)
		}
		if err != nil {
			return nil, err
		}
		return assemble(key, append([]*x509.Certificate{leaf}, chain...))
	}
	return nil, fmt.Errorf("unsupported store type %s", s.typ)
}

func jksKeyPair(data []byte, password, keyPass string) (*tls.Certificate, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		return nil, wrongPassword(err)
	}
	if keyPass == "" {
		keyPass = password
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPass))
		if err != nil {
			return nil, fmt.Errorf("key entry %s (check ssl.key.password): %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("key entry %s: %w", alias, err)
		}
		var certs []*x509.Certificate
		for _, c := range e.CertificateChain {
			xc, err := x509.ParseCertificate(c.Content)
			if err != nil {
				return nil, fmt.Errorf("key entry %s: %w", alias, err)
			}
			certs = append(certs, xc)
		}
		return assemble(key, certs)
	}
	return nil, errors.New("the key store holds no private key entry")
}

// assemble orders certs so that the one matching key comes first, as TLS
// wants the leaf first; the rest keep their order.
func assemble(key any, certs []*x509.Certificate) (*tls.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	leaf := -1
	for i, c := range certs {
		if samePublicKey(c.PublicKey, signer.Public()) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, errors.New("no certificate matches the private key")
	}
	out := &tls.Certificate{PrivateKey: key, Leaf: certs[leaf]}
	out.Certificate = append(out.Certificate, certs[leaf].Raw)
	for i, c := range certs {
		if i != leaf {
			out.Certificate = append(out.Certificate, c.Raw)
		}
	}
	return out, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

func pemCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// pemKeyPair reads a PKCS#8 private key (PEM "PRIVATE KEY", or "ENCRYPTED
// PRIVATE KEY" decrypted with keyPass) from keyPEM and the chain from
// certPEM; the two may be the same text.
func pemKeyPair(certPEM, keyPEM []byte, keyPass string) (*tls.Certificate, error) {
	certs, err := pemCerts(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate chain: %w", err)
	}
	var key any
	rest := keyPEM
	for key == nil {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no PEM private key found")
		}
		switch b.Type {
		case "PRIVATE KEY":
			if keyPass != "" {
				return nil, errors.New("ssl.key.password is set but the PEM private key is not encrypted")
			}
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			if keyPass == "" {
				return nil, errors.New("the PEM private key is encrypted: set ssl.key.password")
			}
			key, err = decryptPKCS8(b.Bytes, []byte(keyPass))
		case "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return nil, fmt.Errorf("PEM private key of type %q: Kafka requires PKCS#8 (\"PRIVATE KEY\"); convert it with openssl pkcs8 -topk8", b.Type)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("private key: %w", err)
		}
	}
	return assemble(key, certs)
}
