package sslconf_test

import (
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/sslconf"
	"github.com/ferryhq/ferry/internal/testbed"
)

// Every store type loads, and a server and a client built from them
// complete a mutual TLS handshake.
func TestStoresHandshake(t *testing.T) {
	cs := testbed.Certs(t)
	pw := testbed.StorePassword
	for _, tc := range []struct {
		typ                       string
		server, client, truststor string
	}{
		{"PEM", cs.ServerPEM, cs.ClientPEM, cs.CA},
		{"PKCS12", cs.ServerP12, cs.ClientP12, cs.TrustP12},
		{"JKS", cs.ServerJKS, cs.ClientJKS, cs.TrustJKS},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			common := map[string]string{"ssl.truststore.type": tc.typ, "ssl.truststore.location": tc.truststor,
				"ssl.keystore.type": tc.typ}
			if tc.typ != "PEM" {
				common["ssl.truststore.password"] = pw
				common["ssl.keystore.password"] = pw
			}
			with := func(k, v string) map[string]string {
				m := map[string]string{k: v}
				for a, b := range common {
					m[a] = b
				}
				return m
			}
			sp := with("ssl.keystore.location", tc.server)
			sp["ssl.client.auth"] = "required"
			srv, err := sslconf.Server(sp)
			if err != nil {
				t.Fatal(err)
			}
			cli, err := sslconf.Client(with("ssl.keystore.location", tc.client))
			if err != nil {
				t.Fatal(err)
			}
			if err := handshake(t, srv, cli); err != nil {
				t.Fatalf("mutual TLS: %v", err)
			}
			anon, err := sslconf.Client(common)
			if err != nil {
				t.Fatal(err)
			}
			if err := handshake(t, srv, anon); err == nil {
				t.Fatal("a client without a certificate was accepted by ssl.client.auth=required")
			}
		})
	}
}

func handshake(t *testing.T, srv, cli *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.(*tls.Conn).Handshake()
		_, _ = c.Write([]byte("ok"))
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err != nil {
		return err
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if string(b) != "ok" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func TestErrors(t *testing.T) {
	cs := testbed.Certs(t)
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "ssl.keystore.location is required"},
		{map[string]string{"ssl.keystore.location": cs.ServerP12, "ssl.keystore.type": "PKCS12", "ssl.keystore.password": "wrong"}, "keystore"},
		{map[string]string{"ssl.keystore.location": cs.ServerJKS, "ssl.keystore.password": "wrong"}, "keystore"},
		{map[string]string{"ssl.keystore.location": cs.ServerPEM, "ssl.keystore.type": "PEM", "ssl.client.auth": "maybe"}, "ssl.client.auth"},
		{map[string]string{"ssl.keystore.location": cs.ServerPEM, "ssl.keystore.type": "BCFKS"}, "unsupported ssl.keystore.type"},
		{map[string]string{"ssl.keystore.location": cs.ServerPEM, "ssl.keystore.type": "PEM", "ssl.enabled.protocols": "TLSv1.1"}, "unsupported protocol"},
		{map[string]string{"ssl.keystore.key": "-----BEGIN", "ssl.keystore.location": cs.ServerPEM, "ssl.keystore.type": "PEM"}, "not supported"},
	} {
		if _, err := sslconf.Server(tc.props); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Server(%v) = %v, want an error with %q", tc.props, err, tc.want)
		}
	}
}

func TestSelectAllOrNothing(t *testing.T) {
	props := map[string]string{"ssl.keystore.location": "/top", "listeners.https.ssl.truststore.location": "/l"}
	got := sslconf.Select(props, "listeners.https.")
	if len(got) != 1 || got["ssl.truststore.location"] != "/l" {
		t.Errorf("prefixed keys present: %v", got)
	}
	got = sslconf.Select(props, "admin.listeners.https.")
	if len(got) != 1 || got["ssl.keystore.location"] != "/top" {
		t.Errorf("no prefixed keys: %v", got)
	}
}

// A client may offer the older protocols a broker still needs (Kafka's
// clients accept them); the REST server offers none older than TLSv1.2.
func TestProtocols(t *testing.T) {
	cli, err := sslconf.Client(map[string]string{"ssl.enabled.protocols": "TLSv1.2,TLSv1.1", "ssl.protocol": "TLSv1.2"})
	if err != nil || cli.MinVersion != tls.VersionTLS11 || cli.MaxVersion != tls.VersionTLS12 {
		t.Fatalf("client: %v %v", cli, err)
	}
	cli, err = sslconf.Client(map[string]string{"ssl.enabled.protocols": "TLSv1.3", "ssl.protocol": "TLSv1.2"})
	var se *sslconf.SettingError
	if !errors.As(err, &se) || se.Key != "ssl.enabled.protocols" {
		t.Fatalf("TLSv1.3 capped by ssl.protocol=TLSv1.2: %v %v", cli, err)
	}
	cs := testbed.Certs(t)
	srv, err := sslconf.Server(map[string]string{"ssl.keystore.location": cs.ServerPEM, "ssl.keystore.type": "PEM",
		"ssl.enabled.protocols": "", "ssl.protocol": "TLSv1.2"})
	if err != nil || srv.MinVersion != tls.VersionTLS12 || srv.MaxVersion != tls.VersionTLS13 {
		t.Fatalf("server: %v", err)
	}
}
