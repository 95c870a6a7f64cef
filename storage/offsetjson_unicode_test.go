package storage

import "testing"

// Apache's JsonConverter escapes characters outside the BMP as surrogate
// pairs; offset keys must match those bytes.
func TestOffsetKeyNonBMP(t *testing.T) {
	got, err := OffsetKey("c", map[string]any{"filename": "/tmp/😀é.txt"})
	if err != nil {
		t.Fatal(err)
	}
	want := `["c",{"filename":"/tmp/\uD83D\uDE00é.txt"}]`
	if string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
