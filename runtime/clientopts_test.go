package runtime_test

import (
	"os"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/plugins"
	"github.com/ferryhq/ferry/runtime"
)

func TestWorkerRefusesUnhonourableSecurity(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"bootstrap.servers": "localhost:9092", "key.converter": "org.apache.kafka.connect.json.JsonConverter",
			"value.converter": "org.apache.kafka.connect.json.JsonConverter", "offset.storage.file.filename": "/tmp/x"}
	}
	for k, v := range map[string]string{"security.protocol": "SASL_SSL", "producer.sasl.login.class": "x.Y", "consumer.ssl.engine.factory.class": "x.Y",
		"connector.client.config.override.policy": "Allowlist"} {
		props := base()
		props[k] = v
		props["producer.security.protocol"] = "SASL_SSL"
		props["consumer.security.protocol"] = "SSL"
		props["producer.sasl.mechanism"] = "PLAIN"
		props["producer.sasl.jaas.config"] = `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`
		if _, err := runtime.ParseWorkerConfig(props, true); err == nil || !strings.Contains(err.Error(), "invalid worker configuration") {
			t.Errorf("%s=%s: got %v", k, v, err)
		}
	}
	props := base()
	props["producer.batch.size"] = "100"
	w, err := runtime.ParseWorkerConfig(props, true)
	if err != nil || len(w.ClientWarnings) != 1 {
		t.Fatalf("got %v %v", w, err)
	}
}

func TestValidateClientOverrides(t *testing.T) {
	reg, err := plugins.Registry()
	if err != nil {
		t.Fatal(err)
	}
	worker := map[string]string{"bootstrap.servers": "localhost:9092", "key.converter": "org.apache.kafka.connect.json.JsonConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "offset.storage.file.filename": "/tmp/x",
		"connector.client.config.override.policy": "Principal"}
	w, err := runtime.ParseWorkerConfig(worker, true)
	if err != nil {
		t.Fatal(err)
	}
	conn := map[string]string{"name": "c", "connector.class": "FileStreamSource", "topic": "t", "file": "/tmp/f",
		"producer.override.linger.ms": "5", "producer.override.security.protocol": "SASL_SSL", "producer.override.sasl.mechanism": "GSSAPI",
		"producer.override.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="top-secret";`}
	infos, _, err := runtime.ValidateConnectorConfig(reg, conn, runtime.WithWorker(w, nil))
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{}
	for _, c := range infos.Configs {
		if c.Value != nil && len(c.Value.Errors) > 0 {
			errs[c.Value.Name] = strings.Join(c.Value.Errors, " | ")
		}
		if c.Value != nil && c.Value.Value != nil && strings.Contains(*c.Value.Value, "top-secret") {
			t.Errorf("%s shows the secret", c.Value.Name)
		}
	}
	if !strings.Contains(errs["producer.override.linger.ms"], "The 'Principal' policy does not allow 'linger.ms'") {
		t.Errorf("policy: %v", errs)
	}
	if !strings.Contains(errs["producer.override.sasl.mechanism"], "GSSAPI") {
		t.Errorf("security: %v", errs)
	}
	if infos.ErrorCount != 2 {
		t.Errorf("error count %d: %v", infos.ErrorCount, errs)
	}
}

func TestRedactClientSecrets(t *testing.T) {
	reg, err := plugins.Registry()
	if err != nil {
		t.Fatal(err)
	}
	conn := map[string]string{"connector.class": "FileStreamSource", "file": "/f",
		"producer.override.sasl.jaas.config": "x", "consumer.override.ssl.keystore.password": "x", "admin.override.ssl.key.password": "x",
		"producer.override.ssl.keystore.key": "x", "producer.override.ssl.truststore.location": "/ts", "some.plugin.password": "x",
		"producer.override.sasl.oauthbearer.client.credentials.client.secret": "x", "admin.override.sasl.jaas.config": "${file:/s:jaas}"}
	got := runtime.RedactConfig(reg, conn)
	for k, v := range got {
		switch k {
		case "connector.class", "file", "producer.override.ssl.truststore.location", "admin.override.sasl.jaas.config":
			if v != conn[k] {
				t.Errorf("%s redacted", k)
			}
		default:
			if v != connect.HiddenValue {
				t.Errorf("%s = %q, not hidden", k, v)
			}
		}
	}
}

func TestWorkerSecretsFromConfigProvider(t *testing.T) {
	secrets := t.TempDir() + "/kafka.properties"
	if err := os.WriteFile(secrets, []byte(`jaas=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	props := map[string]string{"bootstrap.servers": "localhost:9092", "key.converter": "org.apache.kafka.connect.json.JsonConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "offset.storage.file.filename": "/tmp/x",
		"config.providers": "file", "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
		"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": "${file:" + secrets + ":jaas}",
		"producer.security.protocol": "SASL_PLAINTEXT", "producer.sasl.mechanism": "PLAIN", "producer.sasl.jaas.config": "${file:" + secrets + ":jaas}"}
	w, err := runtime.ParseWorkerConfig(props, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Raw["producer.sasl.jaas.config"], `username="u"`) {
		t.Fatalf("not resolved: %q", w.Raw["producer.sasl.jaas.config"])
	}
	if _, err := w.KafkaOpts(nil, "x"); err != nil {
		t.Fatal(err)
	}

	// A connector override given as a placeholder is checked when its task
	// starts, where it is resolved; validate only applies the policy.
	reg, err := plugins.Registry()
	if err != nil {
		t.Fatal(err)
	}
	conn := map[string]string{"name": "c", "connector.class": "FileStreamSource", "topic": "t", "file": "/tmp/f",
		"producer.override.sasl.jaas.config": "${file:" + secrets + ":jaas}"}
	infos, _, err := runtime.ValidateConnectorConfig(reg, conn, runtime.WithWorker(w, nil))
	if err != nil || infos.ErrorCount != 0 {
		t.Fatalf("validate: %v %+v", err, infos)
	}
}

func TestNoConnectorTypeMessageHidesSecrets(t *testing.T) {
	reg, err := plugins.Registry()
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = runtime.ValidateConnectorConfig(reg, map[string]string{"name": "c", "producer.override.sasl.jaas.config": "x required password=\"pw\";", "db.password": "pw"})
	if err == nil || strings.Contains(err.Error(), "pw") || !strings.Contains(err.Error(), "contains no connector type") {
		t.Fatalf("got %v", err)
	}
}
