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
				strings.HasPrefix(rest, "connectors/"), strings.HasPrefix(rest, "converters"), strings.HasPrefix(rest, "transforms"):
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
