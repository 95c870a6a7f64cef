package filestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/storage"
)

func TestRewriteAndReload(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "connect.offsets")
	s := New(path)
	if err := s.Start(ctx); err != nil {
		t.Fatalf("start with missing file: %v", err)
	}
	k1, _ := storage.OffsetKey("local-file-source", map[string]any{"filename": "/tmp/in.txt"})
	k2, _ := storage.OffsetKey("other", map[string]any{"n": 1})
	bin := []byte{0xff, 0xfe}
	if err := s.Set(ctx, []storage.Entry{{Key: k1, Value: []byte(`{"position":2048}`)}, {Key: k2, Value: []byte(`{"position":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, []storage.Entry{{Key: k2}, {Key: bin, Value: bin}}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"key":"[\"local-file-source\",{\"filename\":\"/tmp/in.txt\"}]","value":"{\"position\":2048}"`) {
		t.Fatalf("unexpected file:\n%s", raw)
	}
	// No temp files are left behind.
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("directory has %d files", len(ents))
	}

	r := New(path)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := r.Get(ctx, [][]byte{k1, k2, bin})
	if len(got) != 2 || string(got[string(k1)]) != `{"position":2048}` || string(got[string(bin)]) != string(bin) {
		t.Fatalf("reloaded %q", got)
	}
	offs, _ := r.ConnectorOffsets(ctx, "local-file-source")
	if len(offs) != 1 || offs[0].Offset["position"] != int64(2048) {
		t.Fatalf("offsets %+v", offs)
	}
}

func TestCorruptFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"java":      "\xac\xed\x00\x05sr\x00\x11java.util.HashMap",
		"truncated": "{\"format\":\"ferry-offsets\",\"version\":1}\n{\"key\":\"[\\\"c\\\",{}]\",\"val",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o644)
		err := New(path).Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets")
	os.WriteFile(path, nil, 0o644)
	if err := New(path).Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSetFailsInMissingDir(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "missing", "offsets"))
	err := s.Set(context.Background(), []storage.Entry{{Key: []byte(`["c",{}]`), Value: []byte(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("got %v", err)
	}
}
