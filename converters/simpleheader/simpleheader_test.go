package simpleheader

import (
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
)

func TestRoundTrip(t *testing.T) {
	var c Converter
	for _, tc := range []struct {
		schema *connect.Schema
		value  any
		text   string
		want   any
	}{
		{connect.StringSchema, "hello world", "hello world", "hello world"},
		{connect.StringSchema, "a, b: [c]", "a, b: [c]", "a, b: [c]"},
		{connect.StringSchema, "[not closed", "[not closed", "[not closed"},
		{connect.BooleanSchema, true, "true", true},
		{connect.Int8Schema, int8(12), "12", int8(12)},
		{connect.Int16Schema, int16(300), "300", int16(300)},
		{connect.Int32Schema, int32(70000), "70000", int32(70000)},
		{connect.Int64Schema, int64(1) << 40, "1099511627776", int64(1) << 40},
		{connect.Float32Schema, float32(1.5), "1.5", float32(1.5)},
		{nil, []any{int32(1), int32(2)}, "[1,2]", []any{int8(1), int8(2)}},
		{nil, []any{"a", "b\"c"}, `["a","b\"c"]`, []any{"a", "b\"c"}},
		{nil, map[string]any{"k": int64(1)}, `{"k":1}`, map[string]any{"k": int8(1)}},
		{connect.DateSchema().MustBuild(), time.UnixMilli(19797 * 86400000).UTC(), "2024-03-15", time.UnixMilli(19797 * 86400000).UTC()},
	} {
		b, err := c.FromConnectHeader("t", "h", tc.schema, tc.value)
		if err != nil || string(b) != tc.text {
			t.Fatalf("%v: %q %v", tc.value, b, err)
		}
		sv, err := c.ToConnectHeader("t", "h", b)
		if err != nil || !connect.ValuesEqual(sv.Value, tc.want) {
			t.Fatalf("%q: got %#v (%v) want %#v", b, sv.Value, err, tc.want)
		}
	}
	if sv := ParseString("null"); sv.Value != nil || sv.Schema != nil {
		t.Fatal(sv)
	}
	if sv := ParseString(""); sv.Schema != connect.StringSchema || sv.Value != "" {
		t.Fatal(sv)
	}
	if b, _ := c.FromConnectHeader("t", "h", nil, nil); b != nil {
		t.Fatal("nil must give nil bytes")
	}
}
