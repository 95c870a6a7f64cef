package configprovider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolveBuiltins(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets.properties")
	write(t, secrets, "user=alice\npassword = s3cr\\\n  et\n# comment\n")
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(keys, "token"), "tok\n")
	t.Setenv("FERRY_CP_ALLOWED", "yes")
	t.Setenv("OTHER_CP_VAR", "no")

	s, err := FromWorker(map[string]string{
		"config.providers":                             "file, dir,env",
		"config.providers.file.class":                  FileClass,
		"config.providers.file.param.allowed.paths":    dir,
		"config.providers.dir.class":                   "DirectoryConfigProvider",
		"config.providers.env.class":                   EnvVarClass,
		"config.providers.env.param.allowlist.pattern": "FERRY_CP_.*",
	})
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]string{
		"connection.url": "jdbc:x://${file:" + secrets + ":user}:${file:" + secrets + ":password}@host",
		"token":          "${dir:" + keys + ":token}",
		"env":            "${env:FERRY_CP_ALLOWED}",
		"blocked":        "${env:OTHER_CP_VAR}",
		"missing":        "${file:" + secrets + ":nope}",
		"unknown":        "${vault:a:b}",
		"outside":        "${file:" + dir + "/../x.properties:user}",
		"plain":          "no placeholder",
	}
	got, err := s.Resolve(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"connection.url": "jdbc:x://alice:s3cret@host",
		"token":          "tok\n",
		"env":            "yes",
		"blocked":        raw["blocked"],
		"missing":        raw["missing"],
		"unknown":        raw["unknown"],
		"outside":        raw["outside"],
		"plain":          "no placeholder",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if !strings.Contains(raw["connection.url"], "${file:") {
		t.Error("Resolve changed its input")
	}
}

// The directory provider honours allowed.paths as the file provider does:
// a directory outside them, or reached through "..", yields nothing.
func TestDirectoryAllowedPaths(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	other := filepath.Join(root, "other")
	for _, d := range []string{allowed, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "pw"), "secret-"+filepath.Base(d))
	}
	s, err := FromWorker(map[string]string{"config.providers": "dir",
		"config.providers.dir.class":               DirectoryClass,
		"config.providers.dir.param.allowed.paths": allowed})
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]string{
		"in":       "${dir:" + allowed + ":pw}",
		"out":      "${dir:" + other + ":pw}",
		"dotdot":   "${dir:" + allowed + "/../other:pw}",
		"escape":   "${dir:" + allowed + ":../other/pw}",
		"relative": "${dir:allowed:pw}",
	}
	got, err := s.Resolve(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got["in"] != "secret-allowed" {
		t.Errorf("in = %q", got["in"])
	}
	for _, k := range []string{"out", "dotdot", "escape", "relative"} {
		if got[k] != raw[k] {
			t.Errorf("%s resolved to %q outside allowed.paths", k, got[k])
		}
	}
	if _, err := FromWorker(map[string]string{"config.providers": "dir", "config.providers.dir.class": DirectoryClass,
		"config.providers.dir.param.allowed.paths": filepath.Join(root, "missing")}); err == nil {
		t.Error("a non-existing allowed path was accepted")
	}
}

func TestResolveErrors(t *testing.T) {
	s, err := FromWorker(map[string]string{"config.providers": "file,env",
		"config.providers.file.class": FileClass, "config.providers.env.class": EnvVarClass})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(map[string]string{"a": "${file:/no/such/file.properties:k}"}); err == nil {
		t.Error("an unreadable file resolved")
	}
	if _, err := s.Resolve(map[string]string{"a": "${env:some/path:HOME}"}); err == nil {
		t.Error("an env placeholder with a path resolved")
	}
	for _, props := range []map[string]string{
		{"config.providers": "x"},
		{"config.providers": "x", "config.providers.x.class": "com.example.Vault"},
		{"config.providers": "x", "config.providers.x.class": FileClass, "config.providers.x.param.allowed.paths": "relative/dir"},
		{"config.providers": "x", "config.providers.x.class": EnvVarClass, "config.providers.x.param.allowlist.pattern": "("},
	} {
		if _, err := FromWorker(props); err == nil {
			t.Errorf("FromWorker(%v) accepted", props)
		}
	}
	var none *Set
	in := map[string]string{"a": "${file:/x:y}"}
	if out, err := none.Resolve(in); err != nil || out["a"] != in["a"] {
		t.Errorf("no providers: %v %v", out, err)
	}
}

func TestPlaceholderSyntax(t *testing.T) {
	for _, tc := range []struct {
		in                  string
		provider, path, key string
	}{
		{"${env:HOME}", "env", "", "HOME"},
		{"${file:/etc/a.properties:user}", "file", "/etc/a.properties", "user"},
		{"${file:/a:b:c}", "file", "/a", "b:c"},
	} {
		m := placeholder.FindStringSubmatch(tc.in)
		if m == nil || m[1] != tc.provider || m[3] != tc.path || m[4] != tc.key {
			t.Errorf("%s parsed as %q", tc.in, m)
		}
	}
	if HasPlaceholder("${nocolon}") || HasPlaceholder("plain") || !HasPlaceholder("x${a:b}y") {
		t.Error("HasPlaceholder")
	}
}

func TestReverseTransform(t *testing.T) {
	raw := map[string]string{"file": "${file:/s.properties:out}", "topics": "t", "password": "${env:PW}"}
	tasks := []map[string]string{
		{"file": "/tmp/out.txt", "topics": "t", "task.class": "x"},
		{"file": "/tmp/out.txt"},
	}
	got := ReverseTransform(raw, tasks)
	for i, tc := range got {
		if tc["file"] != raw["file"] {
			t.Errorf("task %d file = %q", i, tc["file"])
		}
		if _, ok := tc["password"]; ok {
			t.Errorf("task %d gained a key its connector did not give it", i)
		}
	}
	if got[0]["topics"] != "t" || got[0]["task.class"] != "x" {
		t.Errorf("other keys changed: %v", got[0])
	}
}

func TestAllowedPaths(t *testing.T) {
	a, err := parseAllowedPaths("/etc/connect, /run/secrets/")
	if err != nil {
		t.Fatal(err)
	}
	for path, ok := range map[string]bool{
		"/etc/connect/a.properties":        true,
		"/run/secrets/x":                   true,
		"/etc/connect/../passwd":           false,
		"/etc/connector/a.properties":      false,
		"relative/etc/connect/a":           false,
		"/etc/connect/sub/../b.properties": true,
	} {
		if _, got := a.check(path); got != ok {
			t.Errorf("check(%s) = %v, want %v", path, got, ok)
		}
	}
}
