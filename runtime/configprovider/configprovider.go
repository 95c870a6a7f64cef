// Package configprovider resolves the ${provider:path:key} placeholders of
// connector configs with the config providers a worker declares (spec
// §2.5), so secrets live in files or the environment instead of the config
// topic and the REST API.
//
// Configs are stored raw; a worker resolves them when it starts a connector
// or a task (Set.Resolve), and puts the placeholders back into the task
// configs a connector generates before they are stored (ReverseTransform).
package configprovider

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// Worker keys declaring providers (Apache's WorkerConfig).
const (
	KeyProviders = "config.providers"
	// Per provider: config.providers.<name>.class and
	// config.providers.<name>.param.<key>.
	keyPrefix   = "config.providers."
	classSuffix = ".class"
	paramInfix  = ".param."
)

// Apache's class names of the built-in providers.
const (
	FileClass      = "org.apache.kafka.common.config.provider.FileConfigProvider"
	DirectoryClass = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
	EnvVarClass    = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
)

// Provider supplies the values of keys at a path. Keys it does not know are
// left out of the result; the placeholders naming them stay unresolved.
type Provider interface {
	Get(path string, keys []string) (map[string]string, error)
}

// placeholder is Apache's ConfigTransformer pattern: ${provider:key} or
// ${provider:path:key}.
var placeholder = regexp.MustCompile(`\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}`)

// HasPlaceholder reports whether a config value contains a placeholder.
func HasPlaceholder(v string) bool { return placeholder.MatchString(v) }

// Set is the providers of one worker, by name. The zero or nil Set has no
// providers and resolves nothing. It is safe for concurrent use: the
// built-in providers keep no state between calls.
type Set struct {
	providers map[string]Provider
}

// FromWorker builds the providers declared by worker properties.
func FromWorker(props map[string]string) (*Set, error) {
	s := &Set{providers: map[string]Provider{}}
	for _, name := range splitList(props[KeyProviders]) {
		class := strings.TrimSpace(props[keyPrefix+name+classSuffix])
		if class == "" {
			return nil, fmt.Errorf("config provider %q: %s%s%s is required", name, keyPrefix, name, classSuffix)
		}
		params := connect.StripPrefix(props, keyPrefix+name+paramInfix)
		p, err := newProvider(class, params)
		if err != nil {
			return nil, fmt.Errorf("config provider %q: %w", name, err)
		}
		s.providers[name] = p
	}
	return s, nil
}

// Classes lists the provider classes this build knows.
func Classes() []string { return []string{DirectoryClass, EnvVarClass, FileClass} }

func newProvider(class string, params map[string]string) (Provider, error) {
	switch shortName(class) {
	case "FileConfigProvider":
		a, err := parseAllowedPaths(params[paramAllowedPaths])
		if err == nil {
			err = a.mustExist()
		}
		if err != nil {
			return nil, err
		}
		return fileProvider{allowed: a}, nil
	case "DirectoryConfigProvider":
		a, err := parseAllowedPaths(params[paramAllowedPaths])
		if err == nil {
			err = a.mustExist()
		}
		if err != nil {
			return nil, err
		}
		return dirProvider{allowed: a}, nil
	case "EnvVarConfigProvider":
		return newEnvProvider(params)
	}
	return nil, fmt.Errorf("class %s is not a known config provider (known: %s)", class, strings.Join(Classes(), ", "))
}

// shortName accepts Apache's full class name or the simple name.
func shortName(class string) string {
	class = strings.TrimSpace(class)
	for _, c := range Classes() {
		if class == c {
			return c[strings.LastIndexByte(c, '.')+1:]
		}
	}
	return class
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Empty reports whether no provider is declared (configs pass unchanged).
func (s *Set) Empty() bool { return s == nil || len(s.providers) == 0 }

// ref is one placeholder occurrence.
type ref struct{ provider, path, key string }

// Resolve returns config with every placeholder whose provider knows the
// value replaced by it; placeholders naming an unknown provider, path or
// key stay as they are (as in Apache). A provider failing (an unreadable
// file) is an error. config itself is not changed.
func (s *Set) Resolve(config map[string]string) (map[string]string, error) {
	if s.Empty() {
		return config, nil
	}
	// Ask each provider once per path for all the keys used at that path.
	wanted := map[ref]bool{}
	for _, v := range config {
		for _, m := range placeholder.FindAllStringSubmatch(v, -1) {
			if _, ok := s.providers[m[1]]; ok {
				wanted[ref{provider: m[1], path: m[3], key: m[4]}] = true
			}
		}
	}
	if len(wanted) == 0 {
		return config, nil
	}
	type at struct{ provider, path string }
	keys := map[at][]string{}
	for r := range wanted {
		a := at{r.provider, r.path}
		keys[a] = append(keys[a], r.key)
	}
	values := map[ref]string{}
	var errs []error
	for a, ks := range keys {
		slices.Sort(ks)
		got, err := s.providers[a.provider].Get(a.path, ks)
		if err != nil {
			errs = append(errs, fmt.Errorf("config provider %s: %w", a.provider, err))
			continue
		}
		for k, v := range got {
			values[ref{a.provider, a.path, k}] = v
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := maps.Clone(config)
	for k, v := range config {
		if !strings.Contains(v, "${") {
			continue
		}
		out[k] = placeholder.ReplaceAllStringFunc(v, func(match string) string {
			m := placeholder.FindStringSubmatch(match)
			if val, ok := values[ref{m[1], m[3], m[4]}]; ok {
				return val
			}
			return match
		})
	}
	return out, nil
}

// ReverseTransform puts placeholders back into task configs generated from
// a resolved connector config: every key whose raw connector value holds a
// placeholder gets that raw value back, so resolved secrets never reach the
// config topic. The task configs are changed in place and returned.
func ReverseTransform(rawConnector map[string]string, taskConfigs []map[string]string) []map[string]string {
	for k, raw := range rawConnector {
		if !HasPlaceholder(raw) {
			continue
		}
		for _, tc := range taskConfigs {
			if _, ok := tc[k]; ok {
				tc[k] = raw
			}
		}
	}
	return taskConfigs
}

// DocDef describes the provider keys of worker properties, for the
// configuration reference. <name> stands for each name in config.providers.
func DocDef() *connect.ConfigDef {
	d := connect.NewConfigDef()
	d.Define(connect.ConfigKey{Name: KeyProviders, Type: connect.TypeList, Default: []string{}, Importance: connect.Low,
		Doc: "Names of the config providers whose ${name:path:key} and ${name:key} placeholders are resolved in connector configs when connectors and tasks start; stored configs and the REST API keep the placeholders."})
	d.Define(connect.ConfigKey{Name: keyPrefix + "<name>" + classSuffix, Type: connect.TypeClass, Default: connect.NoDefault, Importance: connect.Low,
		Doc: "Class of provider <name>: " + FileClass + " (a properties file: ${name:/path/file.properties:key}), " + DirectoryClass + " (one file per key: ${name:/path/dir:file}) or " + EnvVarClass + " (environment variables: ${name:VAR}). The simple class name is accepted too."})
	d.Define(connect.ConfigKey{Name: keyPrefix + "<name>" + paramInfix + paramAllowedPaths, Type: connect.TypeList, Default: nil, Importance: connect.Low,
		Doc: "File and directory providers: absolute paths the provider may read below; unset allows every path. A placeholder naming a path outside them stays unresolved."})
	d.Define(connect.ConfigKey{Name: keyPrefix + "<name>" + paramInfix + paramAllowlist, Type: connect.TypeString, Default: ".*", Importance: connect.Low,
		Doc: "Environment variable provider: regular expression the whole variable name must match."})
	return d
}
