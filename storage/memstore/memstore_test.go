package memstore

import (
	"context"
	"reflect"
	"testing"

	"github.com/ferryhq/ferry/storage"
)

func TestSemanticLookup(t *testing.T) {
	ctx := context.Background()
	s := New()
	// A Java worker wrote the partition with its keys in insertion order.
	javaKey := []byte(`["c",{"a":1,"p":2}]`)
	if err := s.Set(ctx, []storage.Entry{{Key: javaKey, Value: []byte(`{"pos":10}`)}}); err != nil {
		t.Fatal(err)
	}
	goKey, _ := storage.OffsetKey("c", map[string]any{"a": 1, "p": 2})
	if string(goKey) == string(javaKey) {
		t.Fatal("test needs keys that differ byte-wise")
	}
	got, err := s.Get(ctx, [][]byte{goKey, []byte(`["c",{"a":9}]`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[string(goKey)]) != `{"pos":10}` {
		t.Fatalf("got %q", got)
	}

	// Writing the Go form supersedes the Java form.
	s.Set(ctx, []storage.Entry{{Key: goKey, Value: []byte(`{"pos":11}`)}})
	got, _ = s.Get(ctx, [][]byte{javaKey})
	if string(got[string(javaKey)]) != `{"pos":11}` {
		t.Fatalf("got %q", got)
	}
	if n := len(s.Entries()); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}

	offs, err := s.ConnectorOffsets(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"pos": int64(11)}
	if len(offs) != 1 || !reflect.DeepEqual(offs[0].Offset, want) || offs[0].Partition["p"] != int64(2) {
		t.Fatalf("got %+v", offs)
	}

	// A tombstone in either form deletes the partition.
	s.Set(ctx, []storage.Entry{{Key: javaKey}})
	got, _ = s.Get(ctx, [][]byte{goKey})
	if len(got) != 0 || len(s.Entries()) != 0 {
		t.Fatalf("after tombstone: %q", got)
	}
}

func TestConnectorOffsetsFilters(t *testing.T) {
	ctx := context.Background()
	s := New()
	s.Set(ctx, []storage.Entry{
		{Key: []byte(`["a",{"f":"x"}]`), Value: []byte(`{"pos":1}`)},
		{Key: []byte(`["b",{"f":"x"}]`), Value: []byte(`{"pos":2}`)},
		{Key: []byte(`["a",{"f":"y"}]`), Value: []byte(`null`)},
		{Key: []byte(`not json`), Value: []byte(`{}`)},
	})
	offs, err := s.ConnectorOffsets(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != 1 || offs[0].Partition["f"] != "x" {
		t.Fatalf("got %+v", offs)
	}
}
