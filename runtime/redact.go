package runtime

import (
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// clientSecretKeys are the PASSWORD-typed Kafka client properties
// (operations.md §4.1), which a worker or connector may set under any of
// the client prefixes.
var clientSecretKeys = map[string]bool{
	"sasl.jaas.config":                                  true,
	"ssl.keystore.key":                                  true,
	"ssl.keystore.certificate.chain":                    true,
	"ssl.truststore.certificates":                       true,
	"sasl.oauthbearer.client.credentials.client.secret": true,
	"sasl.oauthbearer.assertion.private.key.passphrase": true,
}

var clientPrefixes = []string{"producer.override.", "consumer.override.", "admin.override.", "producer.", "consumer.", "admin."}

// IsSecretKey reports whether a worker or connector key holds a secret
// whatever the plugin's definition says: a Kafka client PASSWORD property
// under any client prefix, or any key ending in ".password".
func IsSecretKey(k string) bool {
	if strings.HasSuffix(k, ".password") || k == "password" {
		return true
	}
	base := k
	for _, p := range clientPrefixes {
		if rest, ok := strings.CutPrefix(k, p); ok {
			base = rest
			break
		}
	}
	return clientSecretKeys[base]
}

// RedactProps returns a copy of props with every IsSecretKey value
// replaced by [hidden], for error messages and logs that show a config.
// Provider placeholders hold no secret and stay.
func RedactProps(props map[string]string) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		if IsSecretKey(k) && !strings.HasPrefix(strings.TrimSpace(v), "${") {
			v = connect.HiddenValue
		}
		out[k] = v
	}
	return out
}
