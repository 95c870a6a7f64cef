package kafkaclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// secureBroker returns the listeners of scripts/testbed.sh
// start-kafka-secure, or skips the test.
func secureBroker(t *testing.T) (ssl, saslSSL, saslPlain, certs string) {
	t.Helper()
	ssl, saslSSL, saslPlain, certs = os.Getenv("FERRY_TEST_KAFKA_SSL"), os.Getenv("FERRY_TEST_KAFKA_SASL_SSL"),
		os.Getenv("FERRY_TEST_KAFKA_SASL_PLAINTEXT"), os.Getenv("FERRY_TEST_KAFKA_CERTS")
	if ssl == "" || saslSSL == "" || saslPlain == "" || certs == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run the secured broker tests: FERRY_TEST_KAFKA_SSL etc. are not set (scripts/test.sh starts the broker)")
		}
		t.Skip("no secured broker (scripts/testbed.sh start-kafka-secure)")
	}
	return
}

func uniqueTopic(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "kafkaclient-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + hex.EncodeToString(b[:])
}

// roundTrip produces one record with a client built from props and reads
// it back; it returns the first error and how long it took.
func roundTrip(t *testing.T, props map[string]string) (time.Duration, error) {
	t.Helper()
	b, err := Build(Producer, props)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	topic := uniqueTopic(t)
	opts := append([]kgo.Opt{kgo.SeedBrokers(Brokers(props)...), kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics(topic),
		kgo.RecordDeliveryTimeout(4 * time.Second)}, b.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
		return time.Since(start), err
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return time.Since(start), err
		}
		if fs.NumRecords() > 0 {
			return time.Since(start), nil
		}
	}
}

func TestSecuredListeners(t *testing.T) {
	ssl, saslSSL, saslPlain, certs := secureBroker(t)
	pem := func(n string) string { return filepath.Join(certs, n) }
	scram := `org.apache.kafka.common.security.scram.ScramLoginModule required username="connect" password="connect-secret";`
	plain := `org.apache.kafka.common.security.plain.PlainLoginModule required username="connect" password="connect-secret";`
	ok := map[string]map[string]string{
		"mTLS-PEM": {"bootstrap.servers": ssl, "security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": pem("ca.pem"),
			"ssl.keystore.type": "PEM", "ssl.keystore.location": pem("client.pem")},
		"mTLS-PKCS12": {"bootstrap.servers": ssl, "security.protocol": "SSL", "ssl.truststore.type": "PKCS12", "ssl.truststore.location": pem("truststore.p12"),
			"ssl.truststore.password": "changeit", "ssl.keystore.type": "PKCS12", "ssl.keystore.location": pem("client.p12"), "ssl.keystore.password": "changeit"},
		"mTLS-JKS": {"bootstrap.servers": ssl, "security.protocol": "SSL", "ssl.truststore.location": pem("truststore.jks"), "ssl.truststore.password": "changeit",
			"ssl.keystore.location": pem("client.jks"), "ssl.keystore.password": "changeit", "ssl.key.password": "changeit"},
		"SCRAM-SHA-512": {"bootstrap.servers": saslSSL, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": scram,
			"ssl.truststore.type": "PEM", "ssl.truststore.location": pem("ca.pem")},
		"PLAIN": {"bootstrap.servers": saslPlain, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": plain},
	}
	for name, props := range ok {
		t.Run(name, func(t *testing.T) {
			d, err := roundTrip(t, props)
			if err != nil {
				t.Fatalf("after %v: %v", d, err)
			}
			t.Logf("round trip in %v", d)
		})
	}
	bad := map[string]struct {
		props map[string]string
		want  string
	}{
		"wrong-password": {map[string]string{"bootstrap.servers": saslSSL, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
			"sasl.jaas.config": strings.Replace(scram, "connect-secret", "nope", 1), "ssl.truststore.type": "PEM", "ssl.truststore.location": pem("ca.pem")}, "SASL_AUTHENTICATION_FAILED"},
		"wrong-plain-password": {map[string]string{"bootstrap.servers": saslPlain, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": strings.Replace(plain, "connect-secret", "nope", 1)}, "SASL_AUTHENTICATION_FAILED"},
		"wrong-CA": {map[string]string{"bootstrap.servers": saslSSL, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": scram,
			"ssl.truststore.type": "PEM", "ssl.truststore.location": pem("other-ca.pem")}, "certificate signed by unknown authority"},
		"no-client-cert": {map[string]string{"bootstrap.servers": ssl, "security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": pem("ca.pem")}, ""},
		"missing-ACL": {map[string]string{"bootstrap.servers": saslPlain, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": strings.NewReplacer("connect-secret", "noacl-secret", `"connect"`, `"noacl"`).Replace(plain)}, "TOPIC_AUTHORIZATION_FAILED"},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			d, err := roundTrip(t, c.props)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("after %v: got %v, want %q", d, err, c.want)
			}
			t.Logf("failed after %v: %v", d, err)
		})
	}
}

func TestProbeReportsMisconfiguration(t *testing.T) {
	ssl, saslSSL, saslPlain, certs := secureBroker(t)
	pem := func(n string) string { return filepath.Join(certs, n) }
	scram := `org.apache.kafka.common.security.scram.ScramLoginModule required username="connect" password="nope";`
	cases := map[string]struct {
		props map[string]string
		want  string
	}{
		"wrong-password": {map[string]string{"bootstrap.servers": saslSSL, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
			"sasl.jaas.config": scram, "ssl.truststore.type": "PEM", "ssl.truststore.location": pem("ca.pem")}, "SASL authentication failed"},
		"wrong-CA": {map[string]string{"bootstrap.servers": saslSSL, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": scram,
			"ssl.truststore.type": "PEM", "ssl.truststore.location": pem("other-ca.pem")}, "TLS certificate was not accepted"},
		"no-client-cert":    {map[string]string{"bootstrap.servers": ssl, "security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": pem("ca.pem")}, "rejected the TLS handshake"},
		"plaintext-on-SASL": {map[string]string{"bootstrap.servers": saslPlain}, ""},
		"good": {map[string]string{"bootstrap.servers": ssl, "security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": pem("ca.pem"),
			"ssl.keystore.type": "PEM", "ssl.keystore.location": pem("client.pem")}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := Build(Producer, c.props)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(Brokers(c.props)...)}, b.Opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			start := time.Now()
			err = Probe(context.Background(), cl)
			t.Logf("%v: %v", time.Since(start), err)
			if c.want == "" {
				if name == "good" && err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
