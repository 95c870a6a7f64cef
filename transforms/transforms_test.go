package transforms

import (
	"math/big"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
)

const (
	cInsertFieldV = "org.apache.kafka.connect.transforms.InsertField$Value"
	cInsertFieldK = "org.apache.kafka.connect.transforms.InsertField$Key"
)

func TestPluginsRegister(t *testing.T) {
	reg := registry(t)
	for _, name := range []string{
		"org.apache.kafka.connect.transforms.Cast$Key", "org.apache.kafka.connect.transforms.Cast$Value",
		"org.apache.kafka.connect.transforms.DropHeaders", "org.apache.kafka.connect.transforms.ExtractField$Value",
		"org.apache.kafka.connect.transforms.Filter", "org.apache.kafka.connect.transforms.Flatten$Value",
		"org.apache.kafka.connect.transforms.HeaderFrom$Value", "org.apache.kafka.connect.transforms.HoistField$Value",
		cInsertFieldV, "org.apache.kafka.connect.transforms.InsertHeader", "org.apache.kafka.connect.transforms.MaskField$Value",
		"org.apache.kafka.connect.transforms.RegexRouter", "org.apache.kafka.connect.transforms.ReplaceField$Value",
		"org.apache.kafka.connect.transforms.SetSchemaMetadata$Value", "org.apache.kafka.connect.transforms.TimestampConverter$Value",
		"org.apache.kafka.connect.transforms.TimestampRouter", "org.apache.kafka.connect.transforms.ValueToKey",
		"RegexRouter", "InsertField$Value",
	} {
		p, ok := reg.Lookup(name, connect.KindTransformation)
		if !ok {
			t.Errorf("%s not registered", name)
			continue
		}
		if p.Config().Err() != nil {
			t.Errorf("%s: %v", name, p.Config().Err())
		}
		if _, ok := p.New().(connect.Transformation); !ok {
			t.Errorf("%s is not a Transformation", name)
		}
	}
	for _, name := range []string{"TopicNameMatches", "HasHeaderKey", "RecordIsTombstone",
		"org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"} {
		if _, ok := reg.Lookup(name, connect.KindPredicate); !ok {
			t.Errorf("predicate %s not registered", name)
		}
	}
	if n := len(Plugins()); n != 29 {
		t.Errorf("got %d plugins, want 29", n)
	}
}

func TestInsertFieldSchemaless(t *testing.T) {
	tr := newTransform(t, cInsertFieldV, map[string]string{
		"topic.field": "t", "partition.field": "p", "timestamp.field": "ts", "static.field": "s", "static.value": "v"})
	in := map[string]any{"a": int32(1)}
	rec := valueRec(nil, in)
	rec.Timestamp = time.UnixMilli(1234)
	out := apply(t, tr, rec)
	wantEqual(t, out.Value, map[string]any{"a": int32(1), "t": "orders", "p": int32(2), "ts": int64(1234), "s": "v"})
	if len(in) != 1 {
		t.Fatal("input map modified")
	}
	// No partition and no timestamp: those fields are skipped.
	rec = valueRec(nil, map[string]any{})
	rec.Partition = -1
	wantEqual(t, apply(t, tr, rec).Value, map[string]any{"t": "orders", "s": "v"})
	// Tombstones pass unchanged.
	tomb := valueRec(nil, nil)
	if apply(t, tr, tomb) != tomb {
		t.Fatal("tombstone not passed through")
	}
	wantContains(t, applyErr(t, tr, valueRec(nil, "x")), "Only Map objects supported in absence of schema for [field insertion], found: java.lang.String")
}

func TestInsertFieldWithSchema(t *testing.T) {
	tr := newTransform(t, cInsertFieldV, map[string]string{
		"topic.field": "t!", "partition.field": "p?", "timestamp.field": "ts", "static.field": "s", "static.value": "v"})
	rec := valueRec(personSchema, person("ann", int32(30), "123"))
	rec.Timestamp = time.UnixMilli(5000)
	out := apply(t, tr, rec)
	s := out.ValueSchema
	if got := fieldNames(s); got != "name:string,age:int32?,ssn:string,t:string,p:int32?,ts:int64?,s:string?" {
		t.Fatalf("fields %s", got)
	}
	if s.Name != "person" || *s.Version != 3 || s.Fields[5].Schema.Name != connect.TimestampName {
		t.Fatalf("schema basics %+v", s)
	}
	st := out.Value.(*connect.Struct)
	wantEqual(t, st.Get("t"), "orders")
	wantEqual(t, st.Get("p"), int32(2))
	wantEqual(t, st.Get("ts"), time.UnixMilli(5000))
	wantEqual(t, st.Get("name"), "ann")
	// The output schema is cached per input schema.
	out2 := apply(t, tr, rec)
	if out2.ValueSchema != s {
		t.Fatal("schema rebuilt for the same input schema")
	}
	// Key variant leaves the value alone.
	kt := newTransform(t, cInsertFieldK, map[string]string{"topic.field": "t"})
	krec := &connect.Record{Topic: "x", Key: map[string]any{}, Value: "v"}
	kout := apply(t, kt, krec)
	wantEqual(t, kout.Key, map[string]any{"t": "x"})
	wantEqual(t, kout.Value, "v")
}

func TestInsertFieldOffset(t *testing.T) {
	tr := newTransform(t, cInsertFieldV, map[string]string{"offset.field": "o"})
	wantContains(t, applyErr(t, tr, valueRec(nil, map[string]any{})), "Only SinkRecord supported for [field insertion]")
	sr := &connect.SinkRecord{Record: *valueRec(nil, map[string]any{}), KafkaOffset: 42}
	out, err := tr.(connect.SinkTransformation).ApplySink(sr)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, out.Value, map[string]any{"o": int64(42)})
}

func TestInsertFieldConfigErrors(t *testing.T) {
	wantContains(t, configureErr(t, cInsertFieldV, map[string]string{}), "No field insertion configured")
	wantContains(t, configureErr(t, cInsertFieldV, map[string]string{"static.field": "s"}), "No value specified for static field: s")
}

func TestReplaceField(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.ReplaceField$Value"
	tr := newTransform(t, c, map[string]string{"exclude": "ssn", "renames": "name:full_name,age:years"})
	out := apply(t, tr, valueRec(personSchema, person("ann", int32(3), "x")))
	if got := fieldNames(out.ValueSchema); got != "full_name:string,years:int32?" {
		t.Fatalf("fields %s", got)
	}
	wantEqual(t, out.Value.(*connect.Struct).Get("full_name"), "ann")
	wantEqual(t, out.Value.(*connect.Struct).Get("years"), int32(3))

	out = apply(t, tr, valueRec(nil, map[string]any{"name": "a", "ssn": "s", "z": 1}))
	wantEqual(t, out.Value, map[string]any{"full_name": "a", "z": 1})

	inc := newTransform(t, c, map[string]string{"include": "name,ssn", "exclude": "ssn"})
	out = apply(t, inc, valueRec(personSchema, person("b", nil, "y")))
	if got := fieldNames(out.ValueSchema); got != "name:string" {
		t.Fatalf("fields %s", got)
	}
	tomb := valueRec(personSchema, nil)
	if apply(t, inc, tomb) != tomb {
		t.Fatal("tombstone changed")
	}
	wantContains(t, configureErr(t, c, map[string]string{"renames": "a:b,c"}),
		"Invalid value [a:b, c] for configuration renames: Invalid rename mapping: c")
}

func TestReplaceNullWithDefault(t *testing.T) {
	s := connect.StructBuilder().Field("a", connect.NewSchemaBuilder(connect.Int32).Optional().DefaultValue(int32(7)).MustBuild()).MustBuild()
	st := connect.NewStruct(s)
	const c = "org.apache.kafka.connect.transforms.ReplaceField$Value"
	on := newTransform(t, c, map[string]string{})
	wantEqual(t, apply(t, on, valueRec(s, st)).Value.(*connect.Struct).Raw(0), int32(7))
	off := newTransform(t, c, map[string]string{"replace.null.with.default": "false"})
	wantEqual(t, apply(t, off, valueRec(s, st)).Value.(*connect.Struct).Raw(0), nil)
}

func TestMaskField(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.MaskField$Value"
	tr := newTransform(t, c, map[string]string{"fields": "ssn,age"})
	out := apply(t, tr, valueRec(personSchema, person("ann", int32(30), "123")))
	st := out.Value.(*connect.Struct)
	wantEqual(t, st.Get("ssn"), "")
	wantEqual(t, st.Get("age"), int32(0))
	wantEqual(t, st.Get("name"), "ann")
	if out.ValueSchema != personSchema {
		t.Fatal("schema changed")
	}
	// Null fields stay null.
	wantEqual(t, apply(t, tr, valueRec(personSchema, person("ann", nil, "1"))).Value.(*connect.Struct).Get("age"), nil)

	all := newTransform(t, c, map[string]string{"fields": "b,i8,i64,f,d,dec,big,tm,l,m,missing"})
	in := map[string]any{"b": true, "i8": int8(5), "i64": int64(5), "f": float32(1.5), "d": 2.5,
		"dec": connect.NewDecimal(123, 2), "big": big.NewInt(9), "tm": time.Now(), "l": []any{1}, "m": map[string]any{"a": 1}}
	got := apply(t, all, valueRec(nil, in)).Value.(map[string]any)
	want := map[string]any{"b": false, "i8": int8(0), "i64": int64(0), "f": float32(0), "d": 0.0,
		"dec": connect.NewDecimal(0, 0), "big": new(big.Int), "tm": time.UnixMilli(0), "l": []any{}, "m": map[string]any{}, "missing": nil}
	for k, v := range want {
		if k == "big" {
			if got[k].(*big.Int).Sign() != 0 {
				t.Fatal("big not zero")
			}
			continue
		}
		wantEqual(t, got[k], v)
	}
	wantContains(t, applyErr(t, newTransform(t, c, map[string]string{"fields": "x"}), valueRec(nil, map[string]any{"x": []byte{1}})),
		"Cannot mask value of type")

	repl := newTransform(t, c, map[string]string{"fields": "s,n,f", "replacement": "42"})
	got = apply(t, repl, valueRec(nil, map[string]any{"s": "secret", "n": int64(7), "f": 1.0})).Value.(map[string]any)
	wantEqual(t, got["s"], "42")
	wantEqual(t, got["n"], int64(42))
	wantEqual(t, got["f"], 42.0)
	wantContains(t, applyErr(t, repl, valueRec(nil, map[string]any{"s": true})), "with custom replacement")
	bad := newTransform(t, c, map[string]string{"fields": "n", "replacement": "abc"})
	wantContains(t, applyErr(t, bad, valueRec(nil, map[string]any{"n": int32(1)})), "Unable to convert abc")
	wantContains(t, configureErr(t, c, map[string]string{"fields": ""}), "Invalid value [] for configuration fields: Empty list")
	wantContains(t, configureErr(t, c, map[string]string{"fields": "a", "replacement": ""}), "String must be non-empty")
}

func TestValueToKey(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.ValueToKey"
	tr := newTransform(t, c, map[string]string{"fields": "ssn,name"})
	out := apply(t, tr, valueRec(personSchema, person("ann", nil, "1")))
	if got := fieldNames(out.KeySchema); got != "ssn:string,name:string" {
		t.Fatalf("key fields %s", got)
	}
	wantEqual(t, out.Key.(*connect.Struct).Get("ssn"), "1")
	wantEqual(t, out.Value.(*connect.Struct).Get("name"), "ann")

	out = apply(t, tr, valueRec(nil, map[string]any{"name": "x"}))
	wantEqual(t, out.Key, map[string]any{"name": "x", "ssn": nil})
	if out.KeySchema != nil {
		t.Fatal("key schema set")
	}
	miss := newTransform(t, c, map[string]string{"fields": "nope"})
	wantContains(t, applyErr(t, miss, valueRec(personSchema, person("a", nil, "b"))), "Field does not exist: nope")
}

func TestHoistField(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.HoistField$Key"
	tr := newTransform(t, c, map[string]string{"field": "id"})
	rec := &connect.Record{KeySchema: connect.Int64Schema, Key: int64(5)}
	out := apply(t, tr, rec)
	if got := fieldNames(out.KeySchema); got != "id:int64" {
		t.Fatalf("fields %s", got)
	}
	wantEqual(t, out.Key.(*connect.Struct).Get("id"), int64(5))
	out = apply(t, tr, &connect.Record{Key: "k"})
	wantEqual(t, out.Key, map[string]any{"id": "k"})
	out = apply(t, tr, &connect.Record{})
	wantEqual(t, out.Key, map[string]any{"id": nil})
}

func TestExtractField(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.ExtractField$Value"
	tr := newTransform(t, c, map[string]string{"field": "name"})
	out := apply(t, tr, valueRec(personSchema, person("ann", nil, "1")))
	if out.ValueSchema != connect.StringSchema || out.Value != "ann" {
		t.Fatalf("got %v %v", out.ValueSchema, out.Value)
	}
	wantEqual(t, apply(t, tr, valueRec(nil, map[string]any{"name": "b"})).Value, "b")
	wantEqual(t, apply(t, tr, valueRec(nil, map[string]any{})).Value, nil)
	out = apply(t, tr, valueRec(personSchema, nil))
	if out.Value != nil || out.ValueSchema != connect.StringSchema {
		t.Fatal("null struct should give null with the field schema")
	}
	wantContains(t, applyErr(t, newTransform(t, c, map[string]string{"field": "x"}), valueRec(personSchema, person("a", nil, "b"))), "Unknown field: x")

	inner := connect.StructBuilder().Field("c.d", connect.Int32Schema).MustBuild()
	outer := connect.StructBuilder().Field("a", inner).MustBuild()
	v := connect.NewStruct(outer).MustPut("a", connect.NewStruct(inner).MustPut("c.d", int32(9)))
	v2 := newTransform(t, c, map[string]string{"field": "a.`c.d`", "field.syntax.version": "v2"})
	out = apply(t, v2, valueRec(outer, v))
	wantEqual(t, out.Value, int32(9))
	wantEqual(t, apply(t, v2, valueRec(nil, map[string]any{"a": map[string]any{"c.d": 1}})).Value, 1)
	// V1 treats the dotted name as one field.
	v1 := newTransform(t, c, map[string]string{"field": "a.b"})
	wantEqual(t, apply(t, v1, valueRec(nil, map[string]any{"a.b": 3})).Value, 3)
}

func TestFieldPathV2(t *testing.T) {
	for in, want := range map[string][]string{
		"a.b":        {"a", "b"},
		"`a.b`.c":    {"a.b", "c"},
		"a.":         {"a", ""},
		"`a\\`.b`.c": {"a`.b", "c"},
		"`a.b`":      {"a.b"},
		"x`y.z":      {"x`y", "z"},
	} {
		got, err := parseFieldPath(in, true)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %q want %q", in, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got %q want %q", in, got, want)
			}
		}
	}
	if _, err := parseFieldPath("`a.b", true); err == nil {
		t.Fatal("unterminated backtick accepted")
	}
}
