package secrets

import "testing"

func TestIsKey(t *testing.T) {
	for k, want := range map[string]bool{
		"connection.password": true, "producer.override.ssl.key.password": true, "sasl.jaas.config": true,
		"consumer.sasl.jaas.config": true, "admin.override.ssl.keystore.key": true, "ssl.truststore.certificates": true,
		"value.converter.basic.auth.user.info": true, "aws.secret.access.key": true, "DB_PASSWORD": true,
		"sasl.oauthbearer.client.credentials.client.secret": true, "ssl.key.passphrase": true,
		"connection.user": false, "topics": false, "password.length": false, "aws.access.key.id": false, "tasks.max": false,
	} {
		if IsKey(k) != want {
			t.Errorf("IsKey(%q) = %v", k, !want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"jdbc:mysql://u:pw@h:3306/db":                          "jdbc:mysql://u:[hidden]@h:3306/db",
		"jdbc:postgresql://h/db?user=u&password=pw&ssl=true":   "jdbc:postgresql://h/db?user=u&password=[hidden]&ssl=true",
		"jdbc:sqlserver://h:1433;databaseName=d;password=pw;x": "jdbc:sqlserver://h:1433;databaseName=d;password=[hidden];x",
		"https://h/cb?token=abc&PWD=x":                         "https://h/cb?token=[hidden]&PWD=[hidden]",
		"error: dial jdbc:mysql://u:pw@h failed":               "error: dial jdbc:mysql://u:[hidden]@h failed",
		"jdbc:mysql://u:${file:/s:pw}@h/db":                    "jdbc:mysql://u:${file:/s:pw}@h/db",
		"jdbc:mysql://u@h/db":                                  "jdbc:mysql://u@h/db",
		"user@example.com":                                     "user@example.com",
		"a=b":                                                  "a=b",
	} {
		if got := RedactURLs(in); got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValueAndScrub(t *testing.T) {
	if Value("x.password", "${file:/a:b}", false) != "${file:/a:b}" || Value("x.password", "s", false) != "[hidden]" ||
		Value("keyfile", "k", true) != "[hidden]" || Value("topic", "t", false) != "t" {
		t.Error("Value")
	}
	cfg := map[string]string{"connection.password": "hunter22", "keyfile": "KEYDATA", "topic": "orders"}
	got := Scrub("login hunter22 failed, key KEYDATA, topic orders, url mysql://a:b@c", cfg, func(k string) bool { return k == "keyfile" })
	if want := "login [hidden] failed, key [hidden], topic orders, url mysql://a:[hidden]@c"; got != want {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
}
