package main

import (
	"bytes"
	"os"
	"testing"
)

// TestConfigReferenceUpToDate keeps docs/config-reference.md in step with
// the config definitions it is generated from.
func TestConfigReferenceUpToDate(t *testing.T) {
	var buf bytes.Buffer
	if err := writeConfigDocs(&buf); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../docs/config-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("docs/config-reference.md is stale: run `go run ./cmd/ferry docs > docs/config-reference.md`")
	}
}
