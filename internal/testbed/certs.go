package testbed

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// StorePassword protects every store Certs writes.
const StorePassword = "changeit"

// CertSet is a test CA with a server and a client certificate, written to
// a directory as PEM files and as PKCS12 and JKS key- and truststores.
type CertSet struct {
	Dir string
	// CA is the PEM file of the CA certificate (a PEM truststore).
	CA string
	// ServerPEM and ClientPEM hold the private key and the certificate of
	// each side (PEM keystores); ServerCert/ServerKey and
	// ClientCert/ClientKey hold them apart (for curl).
	ServerPEM, ServerCert, ServerKey string
	ClientPEM, ClientCert, ClientKey string
	// Server/ClientP12, TrustP12: PKCS12 stores; Server/ClientJKS,
	// TrustJKS: JKS stores. All use StorePassword.
	ServerP12, ClientP12, TrustP12 string
	ServerJKS, ClientJKS, TrustJKS string
}

// Certs creates a CertSet in a new temporary directory. The server
// certificate is valid for localhost and 127.0.0.1.
func Certs(t testing.TB) *CertSet {
	t.Helper()
	dir := t.TempDir()
	cs := &CertSet{Dir: dir}
	fail := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatalf("testbed: certificates: %v", err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fail(err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ferry Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	fail(err)
	ca, err := x509.ParseCertificate(caDER)
	fail(err)

	leaf := func(serial int64, cn string, usage []x509.ExtKeyUsage) (*ecdsa.PrivateKey, *x509.Certificate) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		fail(err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		fail(err)
		c, err := x509.ParseCertificate(der)
		fail(err)
		return key, c
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		fail(os.WriteFile(p, data, 0o600))
		return p
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	cs.CA = write("ca.pem", pemOf("CERTIFICATE", caDER))
	trustP12, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca}, StorePassword)
	fail(err)
	cs.TrustP12 = write("truststore.p12", trustP12)
	tks := keystore.New()
	fail(tks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(),
		Certificate: keystore.Certificate{Type: "X509", Content: caDER}}))
	cs.TrustJKS = write("truststore.jks", storeJKS(t, tks))

	for _, side := range []struct {
		name  string
		usage []x509.ExtKeyUsage
		pem   *string
		cert  *string
		key   *string
		p12   *string
		jks   *string
	}{
		// Workers present their server certificate when they forward
		// requests to each other, so it is good for both.
		{"server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, &cs.ServerPEM, &cs.ServerCert, &cs.ServerKey, &cs.ServerP12, &cs.ServerJKS},
		{"client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, &cs.ClientPEM, &cs.ClientCert, &cs.ClientKey, &cs.ClientP12, &cs.ClientJKS},
	} {
		key, c := leaf(int64(len(side.name)+1), "ferry-"+side.name, side.usage)
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		fail(err)
		keyPEM, certPEM := pemOf("PRIVATE KEY", pkcs8), append(pemOf("CERTIFICATE", c.Raw), pemOf("CERTIFICATE", caDER)...)
		*side.key = write(side.name+".key", keyPEM)
		*side.cert = write(side.name+".crt", certPEM)
		*side.pem = write(side.name+".pem", append(append([]byte{}, keyPEM...), certPEM...))
		p12, err := pkcs12.Modern.Encode(key, c, []*x509.Certificate{ca}, StorePassword)
		fail(err)
		*side.p12 = write(side.name+".p12", p12)
		ks := keystore.New()
		fail(ks.SetPrivateKeyEntry(side.name, keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: pkcs8,
			CertificateChain: []keystore.Certificate{{Type: "X509", Content: c.Raw}, {Type: "X509", Content: caDER}}},
			[]byte(StorePassword)))
		*side.jks = write(side.name+".jks", storeJKS(t, ks))
	}
	return cs
}

func storeJKS(t testing.TB, ks keystore.KeyStore) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(StorePassword)); err != nil {
		t.Fatalf("testbed: JKS store: %v", err)
	}
	return b.Bytes()
}
