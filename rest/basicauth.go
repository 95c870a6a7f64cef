package rest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"unicode"

	"github.com/ferryhq/ferry/internal/props"
)

// Names of Apache's basic authentication REST extension, so that existing
// worker configs and JAAS files work unchanged.
const (
	BasicAuthExtension  = "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
	PropertyFileModule  = "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule"
	BasicAuthJAASEntry  = "KafkaConnect"
	LoginConfigProperty = "java.security.auth.login.config"
	// Unauthorized is the plain-text body Apache's extension answers 401
	// with (not the usual JSON error; no WWW-Authenticate header).
	Unauthorized = "User cannot access the resource."
)

// Authenticator decides whether a request on the regular listeners may
// proceed. Worker-to-worker endpoints are never passed to it: they carry
// signatures instead (KIP-507).
type Authenticator interface {
	Authenticate(r *http.Request) bool
}

// BasicAuth checks HTTP basic credentials against a credentials file, as
// Apache's PropertyFileLoginModule does.
type BasicAuth struct {
	// users maps a user to the SHA-256 of its password, so that checks
	// compare fixed-length values in constant time.
	users map[string][sha256.Size]byte
}

// NewBasicAuth reads the JAAS file at jaasPath, finds its KafkaConnect
// entry with the PropertyFileLoginModule and loads the credentials file
// its file= option names (read once, as Apache caches it for the life of
// the worker). A missing or unusable configuration is an error: the
// worker refuses to start rather than serve with authentication off.
func NewBasicAuth(jaasPath string) (*BasicAuth, error) {
	if jaasPath == "" {
		return nil, fmt.Errorf("%s needs a JAAS file: set the worker property %s or -D%s=PATH in KAFKA_OPTS",
			BasicAuthExtension, LoginConfigProperty, LoginConfigProperty)
	}
	data, err := os.ReadFile(jaasPath)
	if err != nil {
		return nil, fmt.Errorf("reading JAAS file for %s: %w", BasicAuthExtension, err)
	}
	entries, err := ParseJAAS(string(data))
	if err != nil {
		return nil, fmt.Errorf("JAAS file %s: %w", jaasPath, err)
	}
	mods, ok := entries[BasicAuthJAASEntry]
	if !ok {
		return nil, fmt.Errorf("JAAS file %s has no %s entry", jaasPath, BasicAuthJAASEntry)
	}
	if len(mods) != 1 || mods[0].Class != PropertyFileModule {
		return nil, fmt.Errorf("JAAS file %s: the %s entry must hold exactly one %s (other login modules are not supported)",
			jaasPath, BasicAuthJAASEntry, PropertyFileModule)
	}
	file := mods[0].Options["file"]
	if file == "" {
		return nil, fmt.Errorf("JAAS file %s: %s needs a file= option", jaasPath, PropertyFileModule)
	}
	creds, err := props.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("credentials file of %s: %w", BasicAuthExtension, err)
	}
	b := &BasicAuth{users: make(map[string][sha256.Size]byte, len(creds))}
	for u, p := range creds {
		b.users[u] = sha256.Sum256([]byte(p))
	}
	return b, nil
}

// Open reports whether the credentials file is empty: Apache then admits
// every request.
func (b *BasicAuth) Open() bool { return len(b.users) == 0 }

// Authenticate implements Authenticator.
func (b *BasicAuth) Authenticate(r *http.Request) bool {
	user, pass, ok := parseBasic(r.Header.Get("Authorization"))
	if len(b.users) == 0 {
		return true
	}
	if !ok {
		return false
	}
	want, known := b.users[user]
	got := sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1 && known
}

// parseBasic splits an Authorization header as Apache's callback handler
// does: scheme "basic" in any case, base64 of user:password, non-empty user.
func parseBasic(h string) (user, pass string, ok bool) {
	scheme, cred, found := strings.Cut(h, " ")
	if !found || scheme == "" || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", false
	}
	user, pass, found = strings.Cut(string(raw), ":")
	if !found || user == "" {
		return "", "", false
	}
	return user, pass, true
}

// LoginConfigFromJavaOpts extracts -Djava.security.auth.login.config=PATH
// from a JVM options string such as KAFKA_OPTS (the last one wins, as in
// Java; "==PATH" is accepted as well).
func LoginConfigFromJavaOpts(opts string) string {
	var path string
	for _, f := range splitArgs(opts) {
		if v, ok := strings.CutPrefix(f, "-D"+LoginConfigProperty+"="); ok {
			path = strings.TrimPrefix(v, "=")
		}
	}
	return path
}

// splitArgs splits a shell-like option string on spaces, honouring
// single and double quotes.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, c := range s {
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, in = c, true
		case quote == 0 && unicode.IsSpace(c):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// LoginModule is one login module line of a JAAS entry.
type LoginModule struct {
	Class   string
	Flag    string
	Options map[string]string
}

// ParseJAAS parses a JAAS configuration file: entries of the form
// Name { class flag key="value" ...; ... }; with // and /* */ comments.
func ParseJAAS(s string) (map[string][]LoginModule, error) {
	toks, err := jaasTokens(s)
	if err != nil {
		return nil, err
	}
	out := map[string][]LoginModule{}
	i := 0
	next := func() (string, error) {
		if i >= len(toks) {
			return "", errors.New("unexpected end of file")
		}
		i++
		return toks[i-1], nil
	}
	for i < len(toks) {
		name, _ := next()
		if t, err := next(); err != nil || t != "{" {
			return nil, fmt.Errorf("expected { after %q", name)
		}
		var mods []LoginModule
		for {
			t, err := next()
			if err != nil {
				return nil, err
			}
			if t == "}" {
				break
			}
			flag, err := next()
			if err != nil {
				return nil, err
			}
			switch strings.ToLower(flag) {
			case "required", "requisite", "sufficient", "optional":
			default:
				return nil, fmt.Errorf("login module %s: invalid control flag %q", t, flag)
			}
			m := LoginModule{Class: t, Flag: strings.ToLower(flag), Options: map[string]string{}}
			for {
				k, err := next()
				if err != nil {
					return nil, err
				}
				if k == ";" {
					break
				}
				if eq, err := next(); err != nil || eq != "=" {
					return nil, fmt.Errorf("login module %s: expected = after option %q", m.Class, k)
				}
				v, err := next()
				if err != nil {
					return nil, err
				}
				m.Options[k] = strings.Trim(v, `"`)
			}
			mods = append(mods, m)
		}
		if t, err := next(); err != nil || t != ";" {
			return nil, fmt.Errorf("expected ; after the %s entry", name)
		}
		out[name] = append(out[name], mods...)
	}
	return out, nil
}

func jaasTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case strings.HasPrefix(s[i:], "//") || c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, errors.New("unterminated comment")
			}
			i += end + 4
		case c == '{' || c == '}' || c == ';' || c == '=':
			toks = append(toks, string(c))
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quoted value")
			}
			toks = append(toks, s[i:i+end+2])
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};=\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}
