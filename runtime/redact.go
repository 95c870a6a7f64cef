package runtime

import "github.com/ferryhq/ferry/internal/secrets"

// IsSecretKey reports whether a config key holds a secret by its name
// alone, under any prefix (see secrets.IsKey).
func IsSecretKey(name string) bool { return secrets.IsKey(name) }

// RedactURLCredentials hides the credentials inside connection URLs (see
// secrets.RedactURLs).
func RedactURLCredentials(v string) string { return secrets.RedactURLs(v) }

// RedactValue is what a REST response shows for the value of key (see
// secrets.Value).
func RedactValue(key, value string, password bool) string { return secrets.Value(key, value, password) }

// RedactSecrets returns a copy of config with every secret-like value
// redacted, for messages that quote a whole config.
func RedactSecrets(config map[string]string) map[string]string { return secrets.Config(config) }

// RedactProps returns a copy of props with every secret hidden as
// RedactSecrets does, for logging worker or client properties.
func RedactProps(props map[string]string) map[string]string { return secrets.Config(props) }
