package sslconf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

type testPKI struct {
	dir                  string
	caCert, leaf, client *x509.Certificate
	caKey, leafKey       *ecdsa.PrivateKey
	clientKey            *rsa.PrivateKey
}

func newCert(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPKI makes a CA, a server certificate for localhost/127.0.0.1 and a
// client certificate.
func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	var err error
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.leafKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if p.clientKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	p.caCert = newCert(t, ca, ca, &p.caKey.PublicKey, p.caKey)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	p.leaf = newCert(t, leaf, p.caCert, &p.leafKey.PublicKey, p.caKey)
	client := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "client"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	p.client = newCert(t, client, p.caCert, &p.clientKey.PublicKey, p.caKey)
	return p
}

func (p *testPKI) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func (p *testPKI) clientKeyPEM(t *testing.T) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

// server runs a TLS server that requires a client certificate signed by
// the CA and reports the client's CN.
func (p *testPKI) server(t *testing.T) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{p.leaf.Raw}, PrivateKey: p.leafKey}},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil {
				_, _ = tc.Write([]byte(tc.ConnectionState().PeerCertificates[0].Subject.CommonName))
			}
			tc.Close()
		}
	}()
	return ln.Addr().String()
}

// dial dials addr with the TLS config built from props, as franz-go
// does (ServerName = the dialed host), and returns the CN the server saw.
func dial(t *testing.T, props map[string]string, host, addr string) (string, error) {
	t.Helper()
	cfg, err := Client(props)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	_, port, _ := net.SplitHostPort(addr)
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", port), cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(conn)
	return buf.String(), nil
}

func TestStoresPEM(t *testing.T) {
	p := newPKI(t)
	addr := p.server(t)
	ca := pemOf("CERTIFICATE", p.caCert.Raw)
	chain := append(pemOf("CERTIFICATE", p.client.Raw), ca...)
	keyFile := p.write(t, "client.pem", append(p.clientKeyPEM(t), chain...))
	caFile := p.write(t, "ca.pem", ca)

	files := map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": caFile,
		"ssl.keystore.type": "PEM", "ssl.keystore.location": keyFile}
	if cn, err := dial(t, files, "localhost", addr); err != nil || cn != "client" {
		t.Fatalf("PEM files: %q %v", cn, err)
	}
	inline := map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca),
		"ssl.keystore.type": "PEM", "ssl.keystore.key": string(p.clientKeyPEM(t)), "ssl.keystore.certificate.chain": string(chain)}
	if cn, err := dial(t, inline, "localhost", addr); err != nil || cn != "client" {
		t.Fatalf("inline PEM: %q %v", cn, err)
	}
}

func TestStoresEncryptedPEMKey(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	p := newPKI(t)
	addr := p.server(t)
	plain := p.write(t, "plain.key", p.clientKeyPEM(t))
	enc := filepath.Join(p.dir, "enc.key")
	out, err := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes256", "-in", plain, "-out", enc, "-passout", "pass:key-secret").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	encPEM, _ := os.ReadFile(enc)
	ca := pemOf("CERTIFICATE", p.caCert.Raw)
	props := map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca),
		"ssl.keystore.type": "PEM", "ssl.keystore.key": string(encPEM), "ssl.keystore.certificate.chain": string(pemOf("CERTIFICATE", p.client.Raw)),
		"ssl.key.password": "key-secret"}
	if cn, err := dial(t, props, "localhost", addr); err != nil || cn != "client" {
		t.Fatalf("encrypted key: %q %v", cn, err)
	}
	props["ssl.key.password"] = "wrong"
	if _, err := Client(props); err == nil || !strings.Contains(err.Error(), "wrong ssl.key.password") {
		t.Fatalf("wrong key password: %v", err)
	}
}

func TestStoresPKCS12AndJKS(t *testing.T) {
	p := newPKI(t)
	addr := p.server(t)
	ks, err := pkcs12.Modern.Encode(p.clientKey, p.client, []*x509.Certificate{p.caCert}, "store-secret")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{p.caCert}, "trust-secret")
	if err != nil {
		t.Fatal(err)
	}
	p12 := map[string]string{"ssl.truststore.type": "PKCS12", "ssl.truststore.location": p.write(t, "trust.p12", ts), "ssl.truststore.password": "trust-secret",
		"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p.write(t, "key.p12", ks), "ssl.keystore.password": "store-secret"}
	if cn, err := dial(t, p12, "localhost", addr); err != nil || cn != "client" {
		t.Fatalf("PKCS12: %q %v", cn, err)
	}

	jks := keystore.New()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(p.clientKey)
	if err := jks.SetPrivateKeyEntry("client", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: keyDER,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: p.client.Raw}, {Type: "X509", Content: p.caCert.Raw}}}, []byte("key-secret")); err != nil {
		t.Fatal(err)
	}
	var kb bytes.Buffer
	if err := jks.Store(&kb, []byte("store-secret")); err != nil {
		t.Fatal(err)
	}
	tjks := keystore.New()
	if err := tjks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: p.caCert.Raw}}); err != nil {
		t.Fatal(err)
	}
	var tb bytes.Buffer
	if err := tjks.Store(&tb, []byte("trust-secret")); err != nil {
		t.Fatal(err)
	}
	jksProps := map[string]string{"ssl.truststore.location": p.write(t, "trust.jks", tb.Bytes()), "ssl.truststore.password": "trust-secret",
		"ssl.keystore.location": p.write(t, "key.jks", kb.Bytes()), "ssl.keystore.password": "store-secret", "ssl.key.password": "key-secret"}
	if cn, err := dial(t, jksProps, "localhost", addr); err != nil || cn != "client" {
		t.Fatalf("JKS: %q %v", cn, err)
	}
	// Java's JKS and PKCS12 key stores read each other's format.
	mixed := map[string]string{"ssl.truststore.type": "PKCS12", "ssl.truststore.location": jksProps["ssl.truststore.location"], "ssl.truststore.password": "trust-secret"}
	if _, err := Client(mixed); err != nil {
		t.Fatalf("JKS file as PKCS12: %v", err)
	}

	wrong := map[string]string{"ssl.truststore.location": jksProps["ssl.truststore.location"], "ssl.truststore.password": "nope"}
	if _, err := Client(wrong); err == nil || !strings.Contains(err.Error(), "password was incorrect") {
		t.Fatalf("wrong JKS password: %v", err)
	}
	wrong = map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12["ssl.keystore.location"], "ssl.keystore.password": "nope"}
	if _, err := Client(wrong); err == nil {
		t.Fatal("wrong PKCS12 password accepted")
	}
}

// TestStoresKeytool reads stores made by the JDK's keytool, the way the
// test bed and most deployments make them.
func TestStoresKeytool(t *testing.T) {
	if _, err := exec.LookPath("keytool"); err != nil {
		t.Skip("keytool not installed")
	}
	p := newPKI(t)
	addr := p.server(t)
	caFile := p.write(t, "ca.pem", pemOf("CERTIFICATE", p.caCert.Raw))
	for _, typ := range []string{"PKCS12", "JKS"} {
		store := filepath.Join(p.dir, "trust."+strings.ToLower(typ))
		out, err := exec.Command("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", caFile, "-storetype", typ, "-keystore", store, "-storepass", "changeit").CombinedOutput()
		if err != nil {
			t.Fatalf("keytool: %v %s", err, out)
		}
		props := map[string]string{"ssl.truststore.type": typ, "ssl.truststore.location": store, "ssl.truststore.password": "changeit",
			"ssl.keystore.type": "PEM", "ssl.keystore.key": string(p.clientKeyPEM(t)), "ssl.keystore.certificate.chain": string(pemOf("CERTIFICATE", p.client.Raw))}
		if cn, err := dial(t, props, "localhost", addr); err != nil || cn != "client" {
			t.Fatalf("keytool %s trust store: %q %v", typ, cn, err)
		}
	}
}

func TestEndpointIdentification(t *testing.T) {
	p := newPKI(t)
	addr := p.server(t)
	base := map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(pemOf("CERTIFICATE", p.caCert.Raw)),
		"ssl.keystore.type": "PEM", "ssl.keystore.key": string(p.clientKeyPEM(t)), "ssl.keystore.certificate.chain": string(pemOf("CERTIFICATE", p.client.Raw))}
	// The certificate is for localhost: another name fails by default...
	if _, err := dial(t, base, "broker.example", addr); err == nil {
		t.Fatal("host name not checked with the default https")
	}
	// ...and passes with the check off, the chain still verified.
	base["ssl.endpoint.identification.algorithm"] = ""
	if cn, err := dial(t, base, "broker.example", addr); err != nil || cn != "client" {
		t.Fatalf("empty algorithm: %q %v", cn, err)
	}
	other := newPKI(t)
	base["ssl.truststore.certificates"] = string(pemOf("CERTIFICATE", other.caCert.Raw))
	if _, err := dial(t, base, "localhost", addr); err == nil {
		t.Fatal("untrusted chain accepted with the host name check off")
	}
}
