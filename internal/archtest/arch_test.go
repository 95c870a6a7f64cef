// Package archtest checks the dependency rules between Ferry's layers:
// plugins (connectors, converters, transforms) see only the public SDK,
// never the runtime, so the runtime can change without breaking them.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ferryhq/ferry/"

func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return strings.Fields(string(out))
}

func TestPluginsImportOnlyTheSDK(t *testing.T) {
	for _, layer := range []string{"./connect/...", "./connectors/...", "./converters/...", "./transforms/..."} {
		for _, d := range deps(t, layer) {
			rest, ok := strings.CutPrefix(d, module)
			if !ok {
				continue
			}
			switch {
			case rest == "connect", strings.HasPrefix(rest, "connect/"),
				strings.HasPrefix(rest, "connectors/"), strings.HasPrefix(rest, "converters"), strings.HasPrefix(rest, "transforms"),
				rest == "internal/javajson": // the JSON encoding the JsonConverter shares with the internal topics
			default:
				t.Errorf("%s depends on %s: plugins may import only the SDK and each other", layer, d)
			}
		}
	}
}

func TestRESTDoesNotImportTheWorker(t *testing.T) {
	for _, d := range deps(t, "./rest/...") {
		if d == module+"runtime" || strings.HasPrefix(d, module+"runtime/task") || strings.HasPrefix(d, module+"runtime/standalone") {
			t.Errorf("rest depends on %s: it should see only the herder contract", d)
		}
	}
}

// isPlugin reports whether a package (relative to the module) is a plugin.
func isPlugin(rel string) bool {
	for _, p := range []string{"connectors", "converters", "transforms", "plugins"} {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// The layers below the runtime keep their own concerns: storage persists
// state and never reaches up into the runtime or the REST API, and no
// infrastructure (storage, runtime, REST, shared internals) depends on a
// plugin, so plugins can be added, removed or left out of a build freely.
// Only the plugin registry (plugins/) and the programs that wire a worker
// together (cmd/, internal/app) see both sides.
func TestInfrastructureLayers(t *testing.T) {
	for _, d := range deps(t, "./storage/...") {
		rest, ok := strings.CutPrefix(d, module)
		if !ok {
			continue
		}
		if rest == "runtime" || strings.HasPrefix(rest, "runtime/") || rest == "rest" || strings.HasPrefix(rest, "rest/") {
			t.Errorf("storage depends on %s: storage must not import the runtime or the REST API", d)
		}
	}
	for _, layer := range []string{"./storage/...", "./runtime/...", "./rest/...", "./logging/...",
		"./internal/backoff", "./internal/javajson", "./internal/lifecycle", "./internal/props"} {
		for _, d := range deps(t, layer) {
			if rest, ok := strings.CutPrefix(d, module); ok && isPlugin(rest) {
				t.Errorf("%s depends on %s: infrastructure must not import a plugin", layer, d)
			}
		}
	}
}
