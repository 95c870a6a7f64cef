package runtime

import (
	"regexp"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// secretSuffixes are the endings of key names that hold secrets whatever
// their prefix (producer.override., consumer., value.converter., ...):
// Apache's PASSWORD-typed client keys and the usual connector names.
var secretSuffixes = []string{
	"password", "passwd", "secret", "passphrase",
	"sasl.jaas.config",
	"ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.truststore.certificates",
	"secret.access.key", "basic.auth.user.info", "bearer.auth.token", "bearer.auth.client.secret",
}

// IsSecretKey reports whether a config key holds a secret by its name
// alone, under any prefix: *.password, sasl.jaas.config, the TLS key
// material keys, *.secret and the like.
func IsSecretKey(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

var (
	// user:password@ in a URL's authority: scheme://user:password@host.
	urlUserinfo = regexp.MustCompile(`(://[^/:@\s?#;]*:)([^@/\s]+)(@)`)
	// password=..., pwd=... in a query string or in JDBC's ;k=v
	// properties (SQL Server), up to the next separator.
	urlSecretParam = regexp.MustCompile(`(?i)([?&;:](?:password|pwd|passwd|sslpassword|secret|client_secret|token|access_token)=)([^&;\s]*)`)
)

// RedactURLCredentials replaces the credentials inside connection URLs a
// value holds (user:password@host, ?password=..., ;password=...) by
// [hidden]; the rest stays readable. Config provider placeholders are
// kept: they hold no secret.
func RedactURLCredentials(v string) string {
	if !strings.Contains(v, "=") && !strings.Contains(v, "@") {
		return v
	}
	keep := func(re *regexp.Regexp) func(string) string {
		return func(m string) string {
			sub := re.FindStringSubmatch(m)
			if strings.HasPrefix(sub[2], "${") || sub[2] == "" {
				return m
			}
			return sub[1] + connect.HiddenValue + strings.Join(sub[3:], "")
		}
	}
	v = urlUserinfo.ReplaceAllStringFunc(v, keep(urlUserinfo))
	return urlSecretParam.ReplaceAllStringFunc(v, keep(urlSecretParam))
}

// RedactValue is what a REST response shows for the value of key: [hidden]
// for a secret (password says whether the key is PASSWORD-typed), else
// the value with URL credentials hidden.
func RedactValue(key, value string, password bool) string {
	if password || IsSecretKey(key) {
		if strings.HasPrefix(strings.TrimSpace(value), "${") || value == "" {
			return value
		}
		return connect.HiddenValue
	}
	return RedactURLCredentials(value)
}

// RedactSecrets returns a copy of config with every secret-like value
// redacted by name and URL shape (see RedactValue), for messages that
// quote a whole config.
func RedactSecrets(config map[string]string) map[string]string {
	out := make(map[string]string, len(config))
	for k, v := range config {
		out[k] = RedactValue(k, v, false)
	}
	return out
}

// RedactProps returns a copy of props with every secret hidden as
// RedactSecrets does, for logging worker or client properties.
func RedactProps(props map[string]string) map[string]string { return RedactSecrets(props) }
