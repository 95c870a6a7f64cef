package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The secured broker (scripts/testbed.sh start-kafka-secure) has SCRAM-SHA-512
// credentials for this super user; its PLAINTEXT listener lets ANONYMOUS do anything,
// so the harness creates and watches topics there.
const (
	scramUser     = "admin"
	scramPassword = "admin-secret"
)

var errNoSecureBroker = errors.New("needs the secured broker: -kafka-secure, -kafka-sasl-ssl and -kafka-certs (scripts/bench.sh starts one)")

// secureBroker returns the client of the secured broker's PLAINTEXT listener, made once.
func (e *env) secureBroker() (*broker, error) {
	e.secureOnce.Do(func() {
		if e.opts.kafkaSecure == "" || e.opts.kafkaSASLSSL == "" || e.opts.kafkaCerts == "" {
			e.secureErr = errNoSecureBroker
			return
		}
		e.secure, e.secureErr = newBroker(e.opts.kafkaSecure)
	})
	return e.secure, e.secureErr
}

// plainTarget is the secured broker's PLAINTEXT listener: the baseline of the SASL_SSL
// row, the same broker with the same TLS and SASL set-up loaded.
func plainTarget(e *env) (*kafkaTarget, error) {
	b, err := e.secureBroker()
	if err != nil {
		return nil, err
	}
	return &kafkaTarget{b: b, props: map[string]string{"bootstrap.servers": b.addr}}, nil
}

// saslSSLTarget is the secured broker's SASL_SSL listener.
func saslSSLTarget(e *env) (*kafkaTarget, error) {
	b, err := e.secureBroker()
	if err != nil {
		return nil, err
	}
	return &kafkaTarget{b: b, props: saslSSLProps(e.opts.kafkaSASLSSL, caFile(e.opts.kafkaCerts))}, nil
}

func caFile(certs string) string { return filepath.Join(certs, "ca.pem") }

// saslSSLProps are the worker properties for SASL_SSL with SCRAM-SHA-512 and a PEM
// truststore. The top-level keys serve the worker's own clients and the admin client;
// a source task's producer takes only producer.* keys (and a sink's consumer
// consumer.*), as in Apache's worker, so those are repeated under both prefixes.
func saslSSLProps(addr, ca string) map[string]string {
	sec := map[string]string{
		"security.protocol": "SASL_SSL",
		"sasl.mechanism":    "SCRAM-SHA-512",
		"sasl.jaas.config": fmt.Sprintf(`org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";`,
			scramUser, scramPassword),
		"ssl.truststore.type":     "PEM",
		"ssl.truststore.location": ca,
	}
	props := map[string]string{"bootstrap.servers": addr}
	for k, v := range sec {
		props[k] = v
		props["producer."+k] = v
		props["consumer."+k] = v
	}
	return props
}

// saslSSLOpts are the franz-go options for the same listener and credentials.
func saslSSLOpts(ca string) ([]kgo.Opt, error) {
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("reading the CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", ca)
	}
	return []kgo.Opt{
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: scramUser, Pass: scramPassword}.AsSha512Mechanism()),
	}, nil
}

// secureProducer is the raw producer rate on the secured broker, over SASL_SSL or its
// PLAINTEXT listener: the limit of the two FileStream source rows on that broker.
func secureProducer(overSASLSSL bool) func(context.Context, *env) (*limitResult, error) {
	return func(ctx context.Context, e *env) (*limitResult, error) {
		b, err := e.secureBroker()
		if err != nil {
			return nil, err
		}
		name, addr, note := "limit-plain-securebroker", b.addr, "PLAINTEXT"
		var extra []kgo.Opt
		if overSASLSSL {
			name, addr, note = "limit-sasl-ssl", e.opts.kafkaSASLSSL, "SASL_SSL, SCRAM-SHA-512"
			if extra, err = saslSSLOpts(caFile(e.opts.kafkaCerts)); err != nil {
				return nil, err
			}
		}
		topic := e.topicName(name, "shared")
		e.forgetTopic(topic)
		if err := b.createTopic(ctx, topic); err != nil {
			return nil, err
		}
		defer b.deleteTopics(context.WithoutCancel(ctx), topic)
		took, err := produceAll(ctx, addr, topic, e.opts.records, func(i int) []byte { return []byte(line(i)) }, extra...)
		if err != nil {
			return nil, err
		}
		return &limitResult{Records: e.opts.records, Seconds: took.Seconds(),
			RecordsPerSec: float64(e.opts.records-1) / took.Seconds(),
			Note:          "kgo, acks=all, idempotent, no compression, " + note + "; 100-byte values, null keys, one partition"}, nil
	}
}
