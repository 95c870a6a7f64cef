package kafkaclient

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`

func TestBuildSecurityErrors(t *testing.T) {
	cases := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"security.protocol": "SASL_SSL"}, "GSSAPI"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}, "sasl.jaas.config"},
		{map[string]string{"security.protocol": "sasl_plaintext", "sasl.mechanism": "AWS_MSK_IAM", "sasl.jaas.config": plainJAAS}, "AWS_MSK_IAM"},
		{map[string]string{"security.protocol": "TLS"}, "security.protocol"},
		{map[string]string{"security.protocol": "SSL", "ssl.provider": "BC"}, "ssl.provider"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "BCFKS"}, "ssl.truststore.type"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.location": "/nonexistent/ts.jks"}, "/nonexistent/ts.jks"},
		{map[string]string{"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "ldaps"}, "ssl.endpoint.identification.algorithm"},
		{map[string]string{"security.protocol": "SSL", "ssl.enabled.protocols": "SSLv3"}, "SSLv3"},
		{map[string]string{"security.protocol": "SSL", "ssl.cipher.suites": "TLS_NO_SUCH_SUITE"}, "TLS_NO_SUCH_SUITE"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.locaton": "/x"}, "ssl.truststore.locaton"}, // a typo is never ignored
		{map[string]string{"security.protocl": "SSL"}, "security.protocl"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": plainJAAS, "sasl.login.class": "com.example.Login"}, "sasl.login.class"},
		{map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.jaas.config": `a required; b required;`}, "contains 2 login modules"},
		{map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="u"`}, "semi-colon"},
		{map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.jaas.config": `com.sun.security.auth.module.JndiLoginModule required;`}, "not allowed"},
		{map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`}, "cannot be used with SCRAM-SHA-512"},
		{map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER", "sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`,
			"sasl.oauthbearer.token.endpoint.url": "https://idp.example/token"}, "client.id"},
	}
	for _, c := range cases {
		for _, kind := range []Kind{Worker, Producer} {
			_, err := Build(kind, c.props)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v %v: got %v, want %q", kind, c.props, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), `password="p"`) {
				t.Errorf("error leaks the JAAS config: %v", err)
			}
		}
	}
}

func TestBuildSecurityOK(t *testing.T) {
	cases := []map[string]string{
		{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": plainJAAS},
		{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": strings.Replace(plainJAAS, "plain.Plain", "scram.Scram", 1)},
		{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-256", "sasl.jaas.config": plainJAAS, "ssl.endpoint.identification.algorithm": ""},
		{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
			"sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";`},
		{"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER", "sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`,
			"sasl.login.callback.handler.class":                 "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
			"sasl.oauthbearer.token.endpoint.url":               "https://idp.example/token",
			"sasl.oauthbearer.client.credentials.client.id":     "ferry",
			"sasl.oauthbearer.client.credentials.client.secret": "s"},
		{"security.protocol": "SSL", "ssl.protocol": "TLSv1.2", "ssl.keymanager.algorithm": "SunX509", "ssl.trustmanager.algorithm": "PKIX",
			"ssl.secure.random.implementation": "SHA1PRNG", "ssl.cipher.suites": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256"},
		// GSSAPI keys are harmless when another mechanism is used.
		{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": plainJAAS, "sasl.kerberos.service.name": "kafka"},
	}
	for _, props := range cases {
		b, err := Build(Producer, props)
		if err != nil {
			t.Errorf("%v: %v", props, err)
			continue
		}
		if !b.Secure {
			t.Errorf("%v: not secure", props)
		}
	}
}

func TestUnusedSecurityFamiliesAreIgnored(t *testing.T) {
	// ssl.* keys of a PLAINTEXT worker may be the REST server's; sasl.* keys
	// of an SSL client are not used: neither can weaken the connection.
	for _, props := range []map[string]string{
		{"ssl.provider": "BC", "ssl.engine.factory.class": "x.Y", "ssl.keystore.type": "BCFKS"},
		{"security.protocol": "SSL", "sasl.login.class": "x.Y", "sasl.mechanism": "GSSAPI"},
	} {
		if _, err := Build(Worker, props); err != nil {
			t.Errorf("%v: %v", props, err)
		}
	}
}

func TestBuildWarnings(t *testing.T) {
	b, err := Build(Producer, map[string]string{"linger.ms": "5", "batch.size": "10", "no.such.key": "x",
		"key.serializer": "org.apache.kafka.common.serialization.ByteArraySerializer", "ssl.truststore.location": "/x.jks"})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(b.Warnings, "\n")
	for _, want := range []string{"'batch.size' is not supported", "'no.such.key' was supplied but isn't a known producer config", "does not use TLS"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "linger.ms") || strings.Contains(got, "serializer") {
		t.Errorf("implemented keys reported: %q", got)
	}
	// Worker clients see every worker key: only security keys are judged.
	b, err = Build(Worker, map[string]string{"group.id": "g", "key.converter": "x", "batch.size": "1", "ssl.client.auth": "required"})
	if err != nil || len(b.Warnings) != 0 {
		t.Fatalf("worker keys: %v %v", b, err)
	}
	if _, err := Build(Consumer, map[string]string{"auto.offset.reset": "sometimes"}); err == nil {
		t.Fatal("invalid auto.offset.reset accepted")
	}
}

func TestProps(t *testing.T) {
	worker := map[string]string{"bootstrap.servers": "b:9092", "security.protocol": "SASL_SSL", "group.id": "g",
		"producer.security.protocol": "SSL", "producer.linger.ms": "5", "consumer.fetch.min.bytes": "7", "admin.request.timeout.ms": "9"}
	conn := map[string]string{"producer.override.linger.ms": "10", "consumer.override.max.poll.records": "3", "admin.override.client.id": "a"}
	check := func(kind Kind, want map[string]string) {
		t.Helper()
		if got := Props(kind, worker, conn); !maps.Equal(got, want) {
			t.Errorf("%v: got %v, want %v", kind, got, want)
		}
	}
	// Top-level security keys are not inherited by producers and consumers.
	check(Producer, map[string]string{"bootstrap.servers": "b:9092", "security.protocol": "SSL", "linger.ms": "10"})
	check(Consumer, map[string]string{"bootstrap.servers": "b:9092", "fetch.min.bytes": "7", "max.poll.records": "3"})
	check(Admin, map[string]string{"bootstrap.servers": "b:9092", "security.protocol": "SASL_SSL", "group.id": "g", "request.timeout.ms": "9", "client.id": "a"})
	check(Worker, map[string]string{"bootstrap.servers": "b:9092", "security.protocol": "SASL_SSL", "group.id": "g"})
}

func TestCheckWorker(t *testing.T) {
	_, err := CheckWorker(map[string]string{"bootstrap.servers": "b", "consumer.security.protocol": "SASL_SSL", "consumer.sasl.mechanism": "GSSAPI"})
	if err == nil || !strings.Contains(err.Error(), "consumer") || !strings.Contains(err.Error(), "GSSAPI") {
		t.Fatalf("got %v", err)
	}
	w, err := CheckWorker(map[string]string{"bootstrap.servers": "b", "group.id": "g", "producer.batch.size": "1", "admin.bogus": "1"})
	if err != nil || len(w) != 2 {
		t.Fatalf("got %q %v", w, err)
	}
	w, err = CheckWorker(map[string]string{"bootstrap.servers": "b", "security.protocol": "SSL", "consumer.security.protocol": "SSL"})
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "producer.security.protocol is not") {
		t.Fatalf("got %q %v", w, err)
	}
}

func TestPolicy(t *testing.T) {
	for in, want := range map[string]Policy{"All": PolicyAll, "None": PolicyNone, "Principal": PolicyPrincipal,
		"org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy": PolicyPrincipal,
		"NoneConnectorClientConfigOverridePolicy":                                                PolicyNone} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := ParsePolicy("Allowlist"); err == nil {
		t.Error("unknown policy accepted")
	}
	conn := map[string]string{"producer.override.sasl.jaas.config": "x", "producer.override.linger.ms": "1",
		"consumer.override.security.protocol": "SSL", "admin.override.sasl.mechanism": "PLAIN", "name": "c"}
	if v := PolicyAll.Violations(conn, ProducerOverridePrefix, ConsumerOverridePrefix, AdminOverridePrefix); len(v) != 0 {
		t.Errorf("All: %v", v)
	}
	v := PolicyPrincipal.Violations(conn, ProducerOverridePrefix, ConsumerOverridePrefix, AdminOverridePrefix)
	if len(v) != 1 || v["producer.override.linger.ms"] != "The 'Principal' policy does not allow 'linger.ms' to be overridden in the connector configuration." {
		t.Errorf("Principal: %v", v)
	}
	if v := PolicyNone.Violations(conn, ProducerOverridePrefix, AdminOverridePrefix); len(v) != 3 {
		t.Errorf("None: %v", v)
	}
	if err := PolicyNone.Check(conn, ConsumerOverridePrefix); err == nil || !strings.Contains(err.Error(), "Client Config Overrides not allowed") {
		t.Errorf("Check: %v", err)
	}
	if got := OverridePrefixes(false, true); len(got) != 3 {
		t.Errorf("sink with DLQ: %v", got)
	}
}

func TestUnsupportedErrorIsTyped(t *testing.T) {
	_, err := Build(Consumer, map[string]string{"security.protocol": "SSL", "ssl.engine.factory.class": "com.example.F"})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Key != "ssl.engine.factory.class" {
		t.Fatalf("got %v", err)
	}
	// Values the TLS settings cannot honour are typed too, by key.
	for k, v := range map[string]string{"ssl.enabled.protocols": "SSLv3", "ssl.truststore.type": "BCFKS",
		"ssl.cipher.suites": "TLS_NO_SUCH_SUITE", "ssl.endpoint.identification.algorithm": "ldaps"} {
		_, err := Build(Consumer, map[string]string{"security.protocol": "SSL", k: v})
		if !errors.As(err, &ue) || ue.Key != k {
			t.Errorf("%s=%s: got %v", k, v, err)
		}
	}
}

func TestDefCoversImplementedKeys(t *testing.T) {
	for _, kind := range []Kind{Producer, Consumer, Admin} {
		d := Def(kind)
		if err := d.Err(); err != nil {
			t.Fatal(err)
		}
		for name, p := range clientProps {
			if p.apply != nil && p.kinds.has(kind) {
				if _, ok := d.Key(name); !ok {
					t.Errorf("%v: %s is implemented but not documented", kind, name)
				}
			}
		}
		for name := range securityKeys {
			if _, ok := d.Key(name); !ok && !strings.HasPrefix(name, "sasl.kerberos.") && !strings.HasPrefix(name, "sasl.login.refresh.") &&
				!strings.HasPrefix(name, "sasl.login.retry.") && !strings.Contains(name, "oauthbearer.j") && !strings.Contains(name, "expected.") &&
				!strings.Contains(name, "claim.name") && !strings.Contains(name, "clock.skew") && !strings.Contains(name, "urlencode") &&
				name != "security.providers" && name != "sasl.client.callback.handler.class" && name != "sasl.login.class" {
				t.Errorf("security key %s is not documented", name)
			}
		}
	}
}
