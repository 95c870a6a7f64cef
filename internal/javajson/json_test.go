package javajson

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func TestEnvelopeErrors(t *testing.T) {
	c := newConverter(t, nil)
	for _, in := range []string{`{"payload":1}`, `{"schema":null}`, `[1]`, `{"schema":null,"payload":1,"x":2}`, `7`, ``} {
		_, err := c.ToConnectData("t", []byte(in))
		if err == nil || err.Error() != envelopeError || !isDataError(err) {
			t.Errorf("%q: got %v", in, err)
		}
	}
	if _, err := c.ToConnectData("t", []byte(`{"schema":`)); err == nil ||
		!strings.HasPrefix(err.Error(), "Converting byte[] to Kafka Connect data failed due to serialization error: ") {
		t.Errorf("bad JSON: got %v", err)
	}
}

func TestSchemaParseErrors(t *testing.T) {
	c := newConverter(t, nil)
	for in, want := range map[string]string{
		`{"schema":{},"payload":1}`:                                                                 "Schema must contain 'type' field",
		`{"schema":{"type":"nope"},"payload":1}`:                                                    "Unknown schema type: nope",
		`{"schema":{"type":"array"},"payload":[]}`:                                                  "Array schema did not specify the element type",
		`{"schema":{"type":"map","values":{"type":"int8"}},"payload":{}}`:                           "Map schema did not specify the key type",
		`{"schema":{"type":"struct"},"payload":{}}`:                                                 `Struct schema's "fields" argument is not an array.`,
		`{"schema":{"type":"struct","fields":[{"type":"int8"}]},"payload":{}}`:                      "Struct schema's field name not specified properly",
		`{"schema":{"type":"int8","parameters":{"a":1}},"payload":1}`:                               "Schema parameters must have string values.",
		`{"schema":{"type":"int32"},"payload":null}`:                                                "Invalid null value for required INT32 field",
		`{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"}]},"payload":{}}`:         "Invalid null value for required INT32 field",
		`{"schema":{"type":"map","keys":{"type":"string"},"values":{"type":"int8"}},"payload":[]}`:  "Maps with string fields should be encoded as JSON objects, but found ARRAY",
		`{"schema":{"type":"map","keys":{"type":"int8"},"values":{"type":"int8"}},"payload":[[1]]}`: "Found invalid map entry, expected length 2 but found :1",
		`{"schema":{"type":"struct","fields":[]},"payload":[]}`:                                     "Structs should be encoded as JSON objects, but found ARRAY",
	} {
		_, err := c.ToConnectData("t", []byte(in))
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", in, err, want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	c := newConverter(t, nil)
	other := connect.StructBuilder().Field("a", connect.Int32Schema).MustBuild()
	s := connect.StructBuilder().Field("b", connect.Int32Schema).MustBuild()
	for _, tc := range []struct {
		schema *connect.Schema
		value  any
		want   string
	}{
		{connect.Int32Schema, nil, "Conversion error: null value for field that is required and has no default value"},
		{connect.Int32Schema, int64(1), "Invalid type for INT32: int64"},
		{s, connect.NewStruct(other), "Mismatching schema."},
		{connect.DecimalSchema(2).MustBuild(), connect.NewDecimal(1, 3), "BigDecimal has mismatching scale value for given Decimal schema"},
		{nil, struct{}{}, "Java class struct {} does not have corresponding schema type."},
	} {
		_, err := c.FromConnectData("t", tc.schema, tc.value)
		if err == nil || err.Error() != tc.want || !isDataError(err) {
			t.Errorf("%v/%v: got %v want %s", tc.schema, tc.value, err, tc.want)
		}
	}
}

func TestSchemalessDecoding(t *testing.T) {
	c := newConverter(t, noEnv)
	sv, err := c.ToConnectData("t", []byte(` {"a":007,"b":1.50,"c":[true,null,"x\u00e9\ud83d\ude00"],"d":1e2,"e":99999999999999999999} trailing`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(7), "b": 1.5, "c": []any{true, nil, "xé😀"}, "d": 100.0, "e": int64(7766279631452241919)}
	if !connect.ValuesEqual(sv.Value, want) || sv.Schema != nil {
		t.Fatalf("got %#v", sv.Value)
	}
	for _, in := range []string{"", "null"} {
		sv, err := c.ToConnectData("t", []byte(in))
		if err != nil || sv.Value != nil || sv.Schema != nil {
			t.Fatalf("%q: %v %v", in, sv, err)
		}
	}
	if sv, err := c.ToConnectData("t", nil); err != nil || sv.Value != nil {
		t.Fatal(sv, err)
	}
}

func TestLenientLikeJackson(t *testing.T) {
	c := newConverter(t, nil)
	sv, err := c.ToConnectData("t", []byte(`{"schema":{"type":"int32","optional":false},"payload":3.9}`))
	if err != nil || sv.Value != int32(3) {
		t.Fatalf("got %v %v", sv.Value, err)
	}
	sv, err = c.ToConnectData("t", []byte(`{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":12.5}`))
	if err != nil || sv.Value.(connect.Decimal).String() != "12.5" {
		t.Fatalf("numeric decimal: %v %v", sv.Value, err)
	}
}

func TestSchemalessHelpers(t *testing.T) {
	b, err := MarshalSchemaless([]any{"conn", map[string]any{"filename": "/a", "n": 1}})
	if err != nil || string(b) != `["conn",{"filename":"/a","n":1}]` {
		t.Fatalf("%s %v", b, err)
	}
	v, err := UnmarshalSchemaless(b)
	if err != nil || !connect.ValuesEqual(v, []any{"conn", map[string]any{"filename": "/a", "n": int64(1)}}) {
		t.Fatalf("%#v %v", v, err)
	}
	if b, _ := MarshalSchemaless(nil); b != nil {
		t.Fatal("nil must marshal to nil")
	}
}

func TestHeaderConverter(t *testing.T) {
	h := &HeaderConverter{}
	if err := h.Configure(map[string]string{"schemas.enable": "false"}); err != nil {
		t.Fatal(err)
	}
	b, err := h.FromConnectHeader("t", "k", connect.StringSchema, "v")
	if err != nil || string(b) != `"v"` {
		t.Fatalf("%s %v", b, err)
	}
	if err := (&Converter{}).Configure(map[string]string{"decimal.format": "hex"}, false); err == nil {
		t.Fatal("bad decimal.format accepted")
	}
}

func benchStruct() (*connect.Schema, *connect.Struct) {
	s := connect.StructBuilder().Name("bench.Order").
		Field("id", connect.Int64Schema).
		Field("name", connect.OptionalStringSchema).
		Field("price", connect.Float64Schema).
		Field("qty", connect.Int32Schema).
		Field("active", connect.BooleanSchema).
		Field("tags", connect.ArrayOf(connect.StringSchema).Optional().MustBuild()).
		Field("note", connect.OptionalStringSchema).
		MustBuild()
	v := connect.NewStruct(s).MustPut("id", int64(1234567)).MustPut("name", "widget \"deluxe\"").
		MustPut("price", 19.99).MustPut("qty", int32(3)).MustPut("active", true).
		MustPut("tags", []any{"a", "bb", "ccc"})
	return s, v
}

func BenchmarkJSONEncodeStructWithSchema(b *testing.B) {
	c := newConverter(b, nil)
	s, v := benchStruct()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.FromConnectData("t", s, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONEncodeSchemaless(b *testing.B) {
	c := newConverter(b, noEnv)
	v := map[string]any{"id": int64(1234567), "name": "widget", "price": 19.99, "qty": int64(3), "active": true,
		"tags": []any{"a", "bb", "ccc"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.FromConnectData("t", nil, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONDecodeWithSchema(b *testing.B) {
	c := newConverter(b, nil)
	s, v := benchStruct()
	data, err := c.FromConnectData("t", s, v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ToConnectData("t", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONDecodeSchemaless(b *testing.B) {
	c := newConverter(b, noEnv)
	data := []byte(`{"id":1234567,"name":"widget","price":19.99,"qty":3,"active":true,"tags":["a","bb","ccc"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ToConnectData("t", data); err != nil {
			b.Fatal(err)
		}
	}
}
