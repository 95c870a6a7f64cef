package props

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `# comment
! another
name=local-file-source
connector.class = FileStreamSource
tasks.max: 1
file   test.txt
multi=a,\
      b
escaped=tab\there \u0041
key\=with\:sep=v
empty=
`
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name": "local-file-source", "connector.class": "FileStreamSource", "tasks.max": "1",
		"file": "test.txt", "multi": "a,b", "escaped": "tab\there A", "key=with:sep": "v", "empty": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestReadConnectorFileJSON(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	os.WriteFile(p, []byte(`{"name":"a","config":{"connector.class":"FileStreamSink","tasks.max":2}}`), 0o644)
	got, err := ReadConnectorFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got["name"] != "a" || got["tasks.max"] != "2" {
		t.Fatalf("got %v", got)
	}
	os.WriteFile(p, []byte(`{"name":"a","config":{"tasks.max":{"x":1}}}`), 0o644)
	if _, err := ReadConnectorFile(p); err == nil || !strings.Contains(err.Error(), "tasks.max") {
		t.Fatalf("want error naming the key, got %v", err)
	}
}
