package configprovider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/internal/props"
)

// Provider parameters (config.providers.<name>.param.<key>).
const (
	paramAllowedPaths = "allowed.paths"
	paramAllowlist    = "allowlist.pattern"
)

// allowedPaths restricts the files a provider may read; nil allows all.
type allowedPaths []string

func parseAllowedPaths(v string) (allowedPaths, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out allowedPaths
	for _, p := range splitList(v) {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%s: path %s is not absolute", paramAllowedPaths, p)
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}

// mustExist is Apache's start-up check: every allowed path must exist.
func (a allowedPaths) mustExist() error {
	for _, p := range a {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: path %s does not exist", paramAllowedPaths, p)
		}
	}
	return nil
}

// check returns the cleaned path, or false when it lies outside every
// allowed path (compared by whole path elements, after removing . and ..).
func (a allowedPaths) check(path string) (string, bool) {
	clean := filepath.Clean(path)
	if a == nil {
		return clean, true
	}
	for _, root := range a {
		rel, err := filepath.Rel(root, clean)
		if err == nil && filepath.IsAbs(clean) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return clean, true
		}
	}
	return "", false
}

// fileProvider reads keys from a Java properties file: ${file:/path:key}.
type fileProvider struct{ allowed allowedPaths }

func (p fileProvider) Get(path string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	clean, ok := p.allowed.check(path)
	if !ok {
		// As in Apache, a path outside allowed.paths yields nothing: the
		// placeholder stays unresolved.
		return out, nil
	}
	all, err := props.ReadFile(clean)
	if err != nil {
		return nil, fmt.Errorf("could not read properties from file %s: %w", path, err)
	}
	return pick(all, keys), nil
}

// dirProvider reads one value per file of a directory, named by the file:
// ${dir:/path:file}.
type dirProvider struct{ allowed allowedPaths }

func (p dirProvider) Get(path string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	clean, ok := p.allowed.check(path)
	if !ok {
		return out, nil
	}
	if fi, err := os.Stat(clean); err != nil || !fi.IsDir() {
		return out, nil
	}
	for _, k := range keys {
		if k == "" || strings.ContainsRune(k, filepath.Separator) || k == "." || k == ".." {
			continue // only files directly in the directory
		}
		f := filepath.Join(clean, k)
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("could not read file %s: %w", f, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// envProvider reads environment variables whose names match
// allowlist.pattern (all when unset): ${env:NAME}.
type envProvider struct{ allow *regexp.Regexp }

func newEnvProvider(params map[string]string) (Provider, error) {
	pattern := ".*"
	if v, ok := params[paramAllowlist]; ok {
		pattern = v
	}
	// Java's Matcher.matches: the whole name must match.
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paramAllowlist, err)
	}
	return envProvider{allow: re}, nil
}

func (p envProvider) Get(path string, keys []string) (map[string]string, error) {
	if path != "" {
		return nil, fmt.Errorf("path is not supported for EnvVarConfigProvider, invalid value '%s'", path)
	}
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := os.LookupEnv(k); ok && p.allow.MatchString(k) {
			out[k] = v
		}
	}
	return out, nil
}

func pick(all map[string]string, keys []string) map[string]string {
	out := map[string]string{}
	for k, v := range all {
		if slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}
