package str

import (
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func TestStringConverter(t *testing.T) {
	var c Converter
	if err := c.Configure(map[string]string{"converter.encoding": "utf-8"}, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Configure(map[string]string{"converter.encoding": "ISO-8859-1"}, false); err == nil {
		t.Fatal("non-UTF-8 encoding accepted")
	}
	for in, want := range map[any]string{"héllo": "héllo", int32(5): "5", 1.0: "1.0", true: "true"} {
		b, err := c.FromConnectData("t", nil, in)
		if err != nil || string(b) != want {
			t.Errorf("%v: %q %v", in, b, err)
		}
	}
	if b, _ := c.FromConnectData("t", connect.StringSchema, nil); b != nil {
		t.Fatal("nil value must give nil bytes")
	}
	sv, _ := c.ToConnectData("t", []byte("x"))
	if sv.Schema != connect.OptionalStringSchema || sv.Value != "x" {
		t.Fatal(sv)
	}
	sv, _ = c.ToConnectData("t", nil)
	if sv.Schema != connect.OptionalStringSchema || sv.Value != nil {
		t.Fatal(sv)
	}
	var h HeaderConverter
	if err := h.Configure(nil); err != nil {
		t.Fatal(err)
	}
}
