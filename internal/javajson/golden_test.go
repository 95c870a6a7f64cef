package javajson

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// goldenCase mirrors one emit call of testdata/gen/GenGolden.java.
type goldenCase struct {
	name   string
	config map[string]string
	schema *connect.Schema
	value  any
	// lossy: the decoded value legitimately differs from value (defaults
	// filled in, schemaless decoding), so only the re-encoded bytes are
	// compared.
	lossy bool
	// noReencode: decoding loses the struct field order (schemaless read of
	// a struct), so re-encoding cannot reproduce the bytes.
	noReencode bool
}

const day = 24 * 60 * 60 * 1000

func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

func dec(s string) connect.Decimal {
	d, err := connect.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func cfg(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var noEnv = cfg("schemas.enable", "false")

func goldenCases() []goldenCase {
	arr := func(s *connect.Schema) *connect.Schema { return connect.ArrayOf(s).MustBuild() }
	cs := []goldenCase{
		{name: "int8", schema: connect.Int8Schema, value: int8(-42)},
		{name: "int16", schema: connect.Int16Schema, value: int16(12345)},
		{name: "int32", schema: connect.Int32Schema, value: int32(123456789)},
		{name: "int64", schema: connect.Int64Schema, value: int64(-9007199254740993)},
		{name: "float32", schema: connect.Float32Schema, value: float32(1.5)},
		{name: "float64", schema: connect.Float64Schema, value: 0.1},
		{name: "boolean", schema: connect.BooleanSchema, value: true},
		{name: "string", schema: connect.StringSchema, value: "hello"},
		{name: "bytes", schema: connect.BytesSchema, value: []byte{0, 1, 2, 0xfe, 0xff}},
		{name: "bytes_empty", schema: connect.BytesSchema, value: []byte{}},
		{name: "doubles", config: noEnv, schema: arr(connect.Float64Schema), lossy: true, value: []any{
			1.0, 1.0e10, 1.0e-5, 0.1, 123456.789, 1.0e7, 9999999.0, 0.001, 0.0001, math.Copysign(0, -1), 0.0, 100.0,
			math.SmallestNonzeroFloat64, math.MaxFloat64, -2.5e-300, 1.2345678901234567e19, 4.35}},
		{name: "floats", config: noEnv, schema: arr(connect.Float32Schema), lossy: true, value: []any{
			float32(1.0), float32(0.1), float32(1.0e10), float32(math.MaxFloat32), float32(math.SmallestNonzeroFloat32),
			float32(3.14159), float32(-1.0e-4), float32(1.0e7), float32(16777216.0)}},
		{name: "double_nan", config: noEnv, schema: connect.Float64Schema, value: math.NaN(), lossy: true},
		{name: "double_inf", config: noEnv, schema: connect.Float64Schema, value: math.Inf(1), lossy: true},
		{name: "double_neginf", config: noEnv, schema: connect.Float64Schema, value: math.Inf(-1), lossy: true},
		{name: "string_unicode", schema: connect.StringSchema, value: "h\u00e9llo \u65e5\u672c \U0001F600 \u2028\u2029"},
		{name: "string_escapes", schema: connect.StringSchema,
			value: "q\"b\\s/l<g>a&c\x00\x01\b\t\n\x0b\f\r\x1f\x7f\u0080end"},
		{name: "optional_null", schema: connect.OptionalStringSchema, value: nil},
		{name: "optional_null_noenv", config: noEnv, schema: connect.OptionalStringSchema, value: nil},
		{name: "default_replaced", schema: connect.NewSchemaBuilder(connect.Int32).Optional().DefaultValue(int32(7)).MustBuild(), value: nil, lossy: true},
		{name: "default_kept_null", config: cfg("replace.null.with.default", "false"),
			schema: connect.NewSchemaBuilder(connect.Int32).Optional().DefaultValue(int32(7)).MustBuild(), value: nil},
		{name: "null_schemaless_envelope", schema: nil, value: nil},
	}

	meta := connect.StructBuilder().Name("com.example.Meta").Version(3).Doc(`a "doc"`).
		Parameter("a", "1").Parameter("b", "two").
		Field("s", connect.NewSchemaBuilder(connect.String).DefaultValue("dflt").Doc("field doc").MustBuild()).
		Field("l", connect.NewSchemaBuilder(connect.Int64).Optional().DefaultValue(int64(-5)).MustBuild()).
		Field("b", connect.NewSchemaBuilder(connect.Boolean).DefaultValue(false).MustBuild()).
		Field("d", connect.NewSchemaBuilder(connect.Float64).DefaultValue(1.5).MustBuild()).
		Field("y", connect.NewSchemaBuilder(connect.Bytes).Optional().DefaultValue([]byte{9, 8}).MustBuild()).
		Field("a", connect.ArrayOf(connect.Int32Schema).Optional().DefaultValue([]any{int32(1), int32(2)}).MustBuild()).
		Field("n", connect.NewSchemaBuilder(connect.String).Optional().Name("n.name").Version(1).MustBuild()).
		MustBuild()
	cs = append(cs,
		goldenCase{name: "schema_meta", schema: meta, value: connect.NewStruct(meta).MustPut("n", "set"), lossy: true},
		goldenCase{name: "schema_meta_noenv", config: noEnv, schema: meta, value: connect.NewStruct(meta), lossy: true, noReencode: true},
	)

	inner := connect.StructBuilder().Name("Inner").Field("x", connect.Int32Schema).Field("y", connect.OptionalStringSchema).MustBuild()
	outer := connect.StructBuilder().Name("Outer").
		Field("inner", inner).
		Field("list", arr(inner)).
		Field("strmap", connect.MapOf(connect.StringSchema, connect.Int32Schema).MustBuild()).
		Field("intmap", connect.MapOf(connect.Int32Schema, connect.StringSchema).MustBuild()).
		Field("optlist", connect.ArrayOf(connect.OptionalInt64Schema).Optional().MustBuild()).
		Field("nested", arr(arr(connect.StringSchema))).
		MustBuild()
	strmap := map[string]any{}
	for _, k := range []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "k1", "k10"} {
		strmap[k] = int32(len(k))
	}
	outerVal := connect.NewStruct(outer).
		MustPut("inner", connect.NewStruct(inner).MustPut("x", int32(1)).MustPut("y", "one")).
		MustPut("list", []any{connect.NewStruct(inner).MustPut("x", int32(2)), connect.NewStruct(inner).MustPut("x", int32(3)).MustPut("y", "three")}).
		MustPut("strmap", strmap).
		MustPut("intmap", []connect.MapEntry{{Key: int32(3), Value: "three"}, {Key: int32(-1), Value: "minus one"}, {Key: int32(1000), Value: "thousand"}}).
		MustPut("optlist", []any{int64(1), nil, int64(3)}).
		MustPut("nested", []any{[]any{"a", "b"}, []any{}})
	cs = append(cs,
		goldenCase{name: "nested", schema: outer, value: outerVal},
		goldenCase{name: "nested_noenv", config: noEnv, schema: outer, value: outerVal, lossy: true, noReencode: true},
	)

	numeric := cfg("decimal.format", "numeric")
	dec2 := connect.DecimalSchema(2).MustBuild()
	for _, d := range []struct{ name, v string }{
		{"pos", "12.34"}, {"neg", "-12.34"}, {"zero", "0.00"}, {"p128", "1.28"}, {"n128", "-1.28"}, {"n129", "-1.29"},
		{"big", "12345678901234567890.12"},
	} {
		cs = append(cs,
			goldenCase{name: "decimal_b64_" + d.name, schema: dec2, value: dec(d.v)},
			goldenCase{name: "decimal_num_" + d.name, config: numeric, schema: dec2, value: dec(d.v)})
	}
	numericUpper := cfg("decimal.format", "NUMERIC")
	negScale := connect.Decimal{Unscaled: big.NewInt(12), Scale: -2}
	decStruct := connect.StructBuilder().Field("price", connect.DecimalSchema(2).Optional().MustBuild()).MustBuild()
	temporal := connect.StructBuilder().Name("T").
		Field("d", connect.DateSchema().Optional().MustBuild()).
		Field("t", connect.TimeSchema().MustBuild()).
		Field("ts", connect.TimestampSchema().Optional().DefaultValue(ms(0)).MustBuild()).
		MustBuild()
	cs = append(cs,
		goldenCase{name: "decimal_b64_scale0", schema: connect.DecimalSchema(0).MustBuild(), value: dec("100")},
		goldenCase{name: "decimal_num_scale0", config: numericUpper, schema: connect.DecimalSchema(0).MustBuild(), value: dec("100")},
		goldenCase{name: "decimal_b64_negscale", schema: connect.DecimalSchema(-2).MustBuild(), value: negScale},
		goldenCase{name: "decimal_num_negscale", config: numericUpper, schema: connect.DecimalSchema(-2).MustBuild(), value: negScale},
		goldenCase{name: "decimal_num_tiny", config: numericUpper, schema: connect.DecimalSchema(9).MustBuild(), value: dec("0.000000001")},
		goldenCase{name: "decimal_in_struct", config: numericUpper, schema: decStruct, value: connect.NewStruct(decStruct).MustPut("price", dec("-0.05"))},
		goldenCase{name: "date", schema: connect.DateSchema().MustBuild(), value: ms(19797 * day)},
		goldenCase{name: "date_pre_epoch", schema: connect.DateSchema().MustBuild(), value: ms(-day)},
		goldenCase{name: "time", schema: connect.TimeSchema().MustBuild(), value: ms(45296789)},
		goldenCase{name: "timestamp", schema: connect.TimestampSchema().MustBuild(), value: ms(1700000000123)},
		goldenCase{name: "timestamp_pre_epoch", schema: connect.TimestampSchema().MustBuild(), value: ms(-1234)},
		goldenCase{name: "temporal_struct", schema: temporal, value: connect.NewStruct(temporal).MustPut("d", ms(day)).MustPut("t", ms(1)), lossy: true},
	)

	sl := map[string]any{
		"str": "v", "long": int64(42), "integer": int32(7), "dbl": 2.5, "bool": false, "nul": nil,
		"list": []any{int64(1), "two", 3.0, nil, true}, "map": map[string]any{"k": "v"}, "bytes": []byte{1, 2, 3},
	}
	part := map[string]any{"filename": "/tmp/in.txt", "shard": int32(3)}
	cs = append(cs,
		goldenCase{name: "schemaless_map", config: noEnv, value: sl, lossy: true},
		goldenCase{name: "schemaless_map_envelope", value: sl, lossy: true},
		goldenCase{name: "schemaless_nonstring_keys", config: noEnv, value: []connect.MapEntry{{Key: int32(1), Value: "a"}, {Key: int32(2), Value: "b"}}, lossy: true},
		goldenCase{name: "schemaless_string", config: noEnv, value: "plain"},
		goldenCase{name: "schemaless_long", config: noEnv, value: int64(math.MaxInt64)},
		goldenCase{name: "offset_key", config: noEnv, value: []any{"my-connector", part}, lossy: true},
	)
	return cs
}

func newConverter(t testing.TB, config map[string]string) *Converter {
	t.Helper()
	c := &Converter{}
	if err := c.Configure(config, false); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	seen := map[string]bool{}
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := newConverter(t, tc.config)
			got, err := c.FromConnectData("topic", tc.schema, tc.value)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, tc.name+".null")); err == nil {
				seen[tc.name+".null"] = true
				if got != nil {
					t.Fatalf("Apache returns null bytes, got %q", got)
				}
				return
			}
			seen[tc.name+".json"] = true
			want, err := os.ReadFile(filepath.Join(dir, tc.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("bytes differ\n got: %s\nwant: %s", got, want)
			}

			// Decode Apache's bytes and encode them again: same bytes.
			sv, err := c.ToConnectData("topic", want)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if sv.Schema == nil && sv.Value == nil {
				if !bytes.Equal(want, []byte("null")) {
					t.Fatalf("decoded to nothing from %s", want)
				}
				return
			}
			again, err := c.FromConnectData("topic", sv.Schema, sv.Value)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !bytes.Equal(again, want) && !tc.noReencode {
				t.Fatalf("re-encoded bytes differ\n got: %s\nwant: %s", again, want)
			}
			if c.schemasEnabled && tc.schema != nil && !sv.Schema.Equal(tc.schema) {
				t.Fatalf("schema did not round-trip:\n got %#v\nwant %#v", sv.Schema, tc.schema)
			}
			if !tc.lossy && !connect.ValuesEqual(sv.Value, tc.value) {
				t.Fatalf("value did not round-trip: got %#v want %#v", sv.Value, tc.value)
			}
		})
	}
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		if !seen[f.Name()] {
			t.Errorf("golden file %s has no Go case", f.Name())
		}
	}
}

func TestJavaFloatMatchesConnect(t *testing.T) {
	vals := []float64{1, 0.1, 1e7, 9999999.999, 1e-3, 0.00099999, 123e300, 5e-324, 1.0 / 3, 2e22, 1e21, 1e23, 100, 12345.678}
	for i := range 2000 {
		vals = append(vals, math.Float64frombits(uint64(i)*0x9E3779B97F4A7C15))
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		for _, bits := range []int{32, 64} {
			f := v
			if bits == 32 {
				f = float64(float32(v))
				if math.IsInf(f, 0) {
					continue
				}
			}
			if len(strconv.FormatFloat(f, 'e', -1, bits)) <= 6 {
				continue // one significant digit: see TestJavaFloatTwoDigits
			}
			got := string(appendJavaFloat(nil, f, bits))
			want := connect.FormatJavaFloat(f, bits)
			if got != want {
				t.Fatalf("%v/%d: got %s want %s", f, bits, got, want)
			}
		}
	}
}

func TestJavaFloatTwoDigits(t *testing.T) {
	for _, c := range []struct {
		f    float64
		bits int
		want string
	}{
		{5e-324, 64, "4.9E-324"}, {1e-323, 64, "9.9E-324"}, {1.401298464324817e-45, 32, "1.4E-45"},
		{1, 64, "1.0"}, {0.001, 64, "0.001"}, {100, 64, "100.0"}, {1e10, 64, "1.0E10"}, {1e23, 64, "1.0E23"},
		{2e-3, 64, "0.002"}, {3e-7, 32, "3.0E-7"}, {-4e20, 64, "-4.0E20"},
	} {
		if got := string(appendJavaFloat(nil, c.f, c.bits)); got != c.want {
			t.Errorf("%v/%d: got %s want %s", c.f, c.bits, got, c.want)
		}
	}
}

var errDataType *connect.DataError

func isDataError(err error) bool { return errors.As(err, &errDataType) }
