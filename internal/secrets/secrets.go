// Package secrets recognises secret-like config values — keys named like
// passwords under any prefix, credentials inside connection URLs — and
// redacts them for REST responses, error messages and logs.
package secrets

import (
	"regexp"
	"strings"
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

// IsKey reports whether a config key holds a secret by its name
// alone, under any prefix: *.password, sasl.jaas.config, the TLS key
// material keys, *.secret and the like.
func IsKey(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// Hidden replaces a secret; it is connect.HiddenValue (Apache's
// Password.HIDDEN), repeated so this package depends on nothing.
const Hidden = "[hidden]"

var (
	// user:password@ in a URL's authority: scheme://user:password@host.
	urlUserinfo = regexp.MustCompile(`(://[^/:@\s?#;]*:)([^@/\s]+)(@)`)
	// password=..., pwd=... in a query string or in JDBC's ;k=v
	// properties (SQL Server), up to the next separator.
	urlSecretParam = regexp.MustCompile(`(?i)([?&;:](?:password|pwd|passwd|sslpassword|secret|client_secret|token|access_token)=)([^&;\s]*)`)
)

// RedactURLs replaces the credentials inside connection URLs a
// value holds (user:password@host, ?password=..., ;password=...) by
// [hidden]; the rest stays readable. Config provider placeholders are
// kept: they hold no secret.
func RedactURLs(v string) string {
	if !strings.Contains(v, "=") && !strings.Contains(v, "@") {
		return v
	}
	keep := func(re *regexp.Regexp) func(string) string {
		return func(m string) string {
			sub := re.FindStringSubmatch(m)
			if strings.HasPrefix(sub[2], "${") || sub[2] == "" {
				return m
			}
			return sub[1] + Hidden + strings.Join(sub[3:], "")
		}
	}
	v = urlUserinfo.ReplaceAllStringFunc(v, keep(urlUserinfo))
	return urlSecretParam.ReplaceAllStringFunc(v, keep(urlSecretParam))
}

// Value is what a REST response shows for the value of key: [hidden]
// for a secret (password says whether the key is PASSWORD-typed), else
// the value with URL credentials hidden.
func Value(key, value string, password bool) string {
	if password || IsKey(key) {
		if strings.HasPrefix(strings.TrimSpace(value), "${") || value == "" {
			return value
		}
		return Hidden
	}
	return RedactURLs(value)
}

// Config returns a copy of config with every secret-like value redacted
// by name and URL shape (see Value), for messages that quote a whole
// config.
func Config(config map[string]string) map[string]string {
	out := make(map[string]string, len(config))
	for k, v := range config {
		out[k] = Value(k, v, false)
	}
	return out
}

// minScrubLen keeps Scrub from replacing short values ("1", "true") that
// are secrets by name only by accident of their key.
const minScrubLen = 4

// Scrub hides, in a message (an error, a trace), every secret value of
// config (by key name, or PASSWORD-typed as password says) and every
// credential inside a URL.
func Scrub(msg string, config map[string]string, password func(key string) bool) string {
	for k, v := range config {
		if len(v) < minScrubLen || !strings.Contains(msg, v) {
			continue
		}
		isPw := password != nil && password(k)
		if r := Value(k, v, isPw); r != v {
			if isPw || IsKey(k) {
				msg = strings.ReplaceAll(msg, v, r)
			}
		}
	}
	return RedactURLs(msg)
}
