package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSASLSSLPropsCoverEveryClient(t *testing.T) {
	p := saslSSLProps("127.0.0.1:9095", "/certs/ca.pem")
	if p["bootstrap.servers"] != "127.0.0.1:9095" {
		t.Fatalf("bootstrap.servers = %q", p["bootstrap.servers"])
	}
	for _, prefix := range []string{"", "producer.", "consumer."} {
		if got := p[prefix+"security.protocol"]; got != "SASL_SSL" {
			t.Errorf("%ssecurity.protocol = %q", prefix, got)
		}
		if got := p[prefix+"sasl.mechanism"]; got != "SCRAM-SHA-512" {
			t.Errorf("%ssasl.mechanism = %q", prefix, got)
		}
		if got := p[prefix+"ssl.truststore.location"]; got != "/certs/ca.pem" {
			t.Errorf("%sssl.truststore.location = %q", prefix, got)
		}
		jaas := p[prefix+"sasl.jaas.config"]
		if !strings.HasPrefix(jaas, "org.apache.kafka.common.security.scram.ScramLoginModule required ") ||
			!strings.Contains(jaas, `username="admin" password="admin-secret";`) {
			t.Errorf("%ssasl.jaas.config = %q", prefix, jaas)
		}
	}
}

func TestSASLSSLPropsSurviveThePropertiesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.properties")
	if err := writeProps(path, saslSSLProps("127.0.0.1:9095", "/certs/ca.pem")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `producer.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";` + "\n"
	if !strings.Contains(string(b), want) {
		t.Fatalf("worker.properties lacks %q:\n%s", want, b)
	}
}

func TestSecureWorkloadsWithoutSecureBrokerAreNA(t *testing.T) {
	e := &env{opts: options{kafkaSecure: "127.0.0.1:1"}} // no SASL_SSL listener, no certs
	if _, err := saslSSLTarget(e); !errors.Is(err, errNoSecureBroker) {
		t.Fatalf("saslSSLTarget: %v, want errNoSecureBroker", err)
	}
	if _, err := secureProducer(true)(t.Context(), e); !errors.Is(err, errNoSecureBroker) {
		t.Fatalf("secureProducer: %v, want errNoSecureBroker", err)
	}
	r := fileSourceVia("file-source-sasl-ssl", "string", saslSSLTarget)(t.Context(), e, system{name: "ferry"})
	if r.Status != statusNA {
		t.Fatalf("status %q, want %q (%s)", r.Status, statusNA, r.Note)
	}
}

func TestSecureWorkloadsAreListed(t *testing.T) {
	got, err := selectWorkloads("limit-producer-securebroker,limit-producer-sasl-ssl,file-source-plain-securebroker,file-source-sasl-ssl")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range got {
		if (w.run == nil) == (w.limit == nil) {
			t.Errorf("%s: exactly one of run and limit must be set", w.name)
		}
	}
}

func TestSASLSSLRowIsCheckedAgainstItsOwnLimit(t *testing.T) {
	r := &report{Workloads: []workloadResult{
		{Name: "limit-producer", Kind: "limit", Limit: &limitResult{RecordsPerSec: 1_000_000}},
		{Name: "limit-producer-sasl-ssl", Kind: "limit", Limit: &limitResult{RecordsPerSec: 400_000}},
		{Name: "file-source-sasl-ssl", Title: "SASL_SSL row", Kind: "throughput",
			Apache: &result{Status: statusOK, RecordsPerSec: 100_000}, Ferry: &result{Status: statusOK, RecordsPerSec: 300_000}},
	}}
	r.evaluateTargets()
	for _, tg := range r.Targets {
		if strings.Contains(tg.Goal, "raw producer rate") {
			if !strings.Contains(tg.Goal, "SASL_SSL row") || tg.Actual != "75%" || tg.Met == nil || !*tg.Met {
				t.Fatalf("target %+v, want the SASL_SSL row at 75%% of its own limit", tg)
			}
			return
		}
	}
	t.Fatalf("no raw producer target in %+v", r.Targets)
}

func TestNALimitRowSaysNA(t *testing.T) {
	w := workloadResult{Name: "limit-producer-sasl-ssl", Title: "limit", Kind: "limit",
		Limit: &limitResult{Note: "n/a: " + errNoSecureBroker.Error()}}
	if got := w.cells()[1]; got != statusNA {
		t.Fatalf("rate cell %q, want %q", got, statusNA)
	}
	r := &report{Workloads: []workloadResult{w}}
	if n := r.notes(); len(n) != 1 || !strings.Contains(n[0], "needs the secured broker") {
		t.Fatalf("notes %q", n)
	}
}
