package transforms

import (
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
)

func TestCastWithSchema(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.Cast$Value"
	s := connect.StructBuilder().Name("n").
		Field("i", connect.Int32Schema).
		Field("f", connect.OptionalFloat64Schema).
		Field("b", connect.BooleanSchema).
		Field("s", connect.StringSchema).
		Field("raw", connect.BytesSchema).
		Field("ts", connect.TimestampSchema().MustBuild()).
		Field("keep", connect.StringSchema).
		MustBuild()
	v := connect.NewStruct(s).MustPut("i", int32(300)).MustPut("f", 3.9).MustPut("b", true).
		MustPut("s", "-12").MustPut("raw", []byte("hi")).MustPut("ts", time.UnixMilli(86400000+1)).MustPut("keep", "k")
	tr := newTransform(t, c, map[string]string{"spec": "i:int8,f:int32,b:int16,s:int64,raw:string,ts:int64"})
	out := apply(t, tr, valueRec(s, v))
	if got := fieldNames(out.ValueSchema); got != "i:int8,f:int32?,b:int16,s:int64,raw:string,ts:int64,keep:string" {
		t.Fatalf("fields %s", got)
	}
	if out.ValueSchema.Name != "n" {
		t.Fatal("schema name lost")
	}
	st := out.Value.(*connect.Struct)
	wantEqual(t, st.Get("i"), int8(44)) // 300 narrowed like Java's (byte)
	wantEqual(t, st.Get("f"), int32(3))
	wantEqual(t, st.Get("b"), int16(1))
	wantEqual(t, st.Get("s"), int64(-12))
	wantEqual(t, st.Get("raw"), "aGk=")
	wantEqual(t, st.Get("ts"), int64(86400001))

	str := newTransform(t, c, map[string]string{"spec": "ts:string,f:boolean"})
	st = apply(t, str, valueRec(s, v)).Value.(*connect.Struct)
	wantEqual(t, st.Get("ts"), "1970-01-02T00:00:00.001Z")
	wantEqual(t, st.Get("f"), true)

	bad := newTransform(t, c, map[string]string{"spec": "keep:int32"})
	wantContains(t, applyErr(t, bad, valueRec(s, v)), "Value (k) was out of range for requested data type")
	tomb := valueRec(s, nil)
	if apply(t, tr, tomb) != tomb {
		t.Fatal("tombstone changed")
	}
}

func TestCastWholeAndSchemaless(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.Cast$Key"
	tr := newTransform(t, c, map[string]string{"spec": "int32"})
	out := apply(t, tr, &connect.Record{KeySchema: connect.OptionalInt64Schema, Key: int64(1 << 33)})
	if out.KeySchema.Type != connect.Int32 || !out.KeySchema.Optional {
		t.Fatalf("schema %+v", out.KeySchema)
	}
	wantEqual(t, out.Key, int32(0))
	wantEqual(t, apply(t, tr, &connect.Record{Key: "17"}).Key, int32(17))
	wantEqual(t, apply(t, newTransform(t, c, map[string]string{"spec": "string"}), &connect.Record{Key: 1.0}).Key, "1.0")
	wantEqual(t, apply(t, newTransform(t, c, map[string]string{"spec": "boolean"}), &connect.Record{Key: "TRUE"}).Key, true)
	wantEqual(t, apply(t, newTransform(t, c, map[string]string{"spec": "float32"}), &connect.Record{KeySchema: connect.DecimalSchema(2).MustBuild(), Key: connect.NewDecimal(125, 2)}).Key, float32(1.25))
	// Schemaless decimals are not a Connect data API type, as in Apache.
	wantContains(t, applyErr(t, tr, &connect.Record{Key: connect.NewDecimal(1, 0)}), "not supported by Connect's data API")

	fm := newTransform(t, "org.apache.kafka.connect.transforms.Cast$Value", map[string]string{"spec": "a:float64,missing:int8"})
	got := apply(t, fm, valueRec(nil, map[string]any{"a": int8(2), "b": "x"})).Value
	wantEqual(t, got, map[string]any{"a": 2.0, "b": "x", "missing": nil})
	wantContains(t, applyErr(t, fm, valueRec(nil, map[string]any{"a": []any{}})), "Cast transformation does not support casting from ARRAY")

	wantContains(t, configureErr(t, c, map[string]string{"spec": "a:bytes"}), "Cast transformation does not support casting to BYTES")
	wantContains(t, configureErr(t, c, map[string]string{"spec": "a:wat"}), "Invalid type found in casting spec: wat")
	wantContains(t, configureErr(t, c, map[string]string{"spec": "int8,a:int16"}), "may only specify a single cast")
	wantContains(t, configureErr(t, c, map[string]string{"spec": ""}), "Must specify at least one field to cast.")
}

func TestTimestampConverter(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.TimestampConverter$Value"
	ms := time.Date(2024, 3, 5, 13, 4, 5, 678e6, time.UTC)
	// unix → string, whole value, schemaless.
	tr := newTransform(t, c, map[string]string{"target.type": "string", "format": "yyyy-MM-dd'T'HH:mm:ss.SSS"})
	wantEqual(t, apply(t, tr, valueRec(nil, ms.UnixMilli())).Value, "2024-03-05T13:04:05.678")
	// string → Timestamp with schema, on a field.
	s := connect.StructBuilder().Field("when", connect.StringSchema).Field("x", connect.Int32Schema).MustBuild()
	tr = newTransform(t, c, map[string]string{"field": "when", "target.type": "Timestamp", "format": "yyyyMMdd HHmmss"})
	out := apply(t, tr, valueRec(s, connect.NewStruct(s).MustPut("when", "20240305 130405").MustPut("x", int32(1))))
	if out.ValueSchema.Fields[0].Schema.Name != connect.TimestampName || out.ValueSchema.Fields[0].Schema.Optional {
		t.Fatalf("schema %+v", out.ValueSchema.Fields[0].Schema)
	}
	wantEqual(t, out.Value.(*connect.Struct).Get("when"), time.Date(2024, 3, 5, 13, 4, 5, 0, time.UTC))
	wantContains(t, applyErr(t, tr, valueRec(s, connect.NewStruct(s).MustPut("when", "nope").MustPut("x", int32(1)))),
		"Could not parse timestamp: value (nope) does not match pattern (yyyyMMdd HHmmss)")
	// Timestamp → Date / Time / unix seconds.
	ts := connect.TimestampSchema().Optional().MustBuild()
	for target, want := range map[string]any{
		"Date": time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC),
		"Time": time.Date(1970, 1, 1, 13, 4, 5, 678e6, time.UTC),
		"unix": ms.Unix(),
	} {
		tr := newTransform(t, c, map[string]string{"target.type": target, "unix.precision": "seconds"})
		out := apply(t, tr, valueRec(ts, ms))
		wantEqual(t, out.Value, want)
		if !out.ValueSchema.Optional {
			t.Fatalf("%s: optionality lost", target)
		}
	}
	// unix micro input.
	tr = newTransform(t, c, map[string]string{"target.type": "Timestamp", "unix.precision": "microseconds"})
	wantEqual(t, apply(t, tr, valueRec(connect.Int64Schema, ms.UnixMicro())).Value, ms)
	tr = newTransform(t, c, map[string]string{"target.type": "unix", "unix.precision": "nanoseconds"})
	wantEqual(t, apply(t, tr, valueRec(nil, ms)).Value, ms.UnixNano())
	// Null passes through.
	wantEqual(t, apply(t, tr, valueRec(ts, nil)).Value, nil)
	wantContains(t, configureErr(t, c, map[string]string{"target.type": "string"}), "requires format option")
	wantContains(t, configureErr(t, c, map[string]string{"target.type": "date"}), "String must be one of")
	wantContains(t, configureErr(t, c, map[string]string{"target.type": "string", "format": "yyyy-bb"}), "SimpleDateFormat-compatible pattern")
}

func TestDateFormat(t *testing.T) {
	tm := time.Date(2024, 1, 7, 15, 4, 5, 9e6, time.UTC)
	for pattern, want := range map[string]string{
		"yyyyMMdd":                      "20240107",
		"yy-M-d H:m:s.S":                "24-1-7 15:4:5.9",
		"EEE, d MMM yyyy hh:mm a z":     "Sun, 7 Jan 2024 03:04 PM UTC",
		"EEEE MMMM dd 'at' HH'h' ''X''": "Sunday January 07 at 15h 'Z'",
		"D Z":                           "7 +0000",
	} {
		df, err := compileDateFormat(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := df.Format(tm); got != want {
			t.Errorf("%s: got %q want %q", pattern, got, want)
		}
	}
	df, _ := compileDateFormat("yyyyMMddHHmmss")
	got, err := df.Parse("20240107150405")
	if err != nil || !got.Equal(tm.Truncate(time.Second)) {
		t.Fatalf("parse: %v %v", got, err)
	}
	df, _ = compileDateFormat("dd MMM yyyy hh:mm a XXX")
	got, err = df.Parse("07 jan 2024 03:04 PM +01:00")
	if err != nil || !got.Equal(time.Date(2024, 1, 7, 14, 4, 0, 0, time.UTC)) {
		t.Fatalf("parse: %v %v", got, err)
	}
	if _, err := compileDateFormat("'abc"); err == nil {
		t.Fatal("unterminated quote accepted")
	}
}

func TestRegexRouter(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.RegexRouter"
	tr := newTransform(t, c, map[string]string{"regex": "(.*)-raw", "replacement": "$1-clean"})
	rec := valueRec(nil, "v")
	rec.Topic = "orders-raw"
	out := apply(t, tr, rec)
	if out.Topic != "orders-clean" || rec.Topic != "orders-raw" || out.Value != "v" {
		t.Fatalf("topic %s", out.Topic)
	}
	rec.Topic = "orders-raw-x" // must match the whole topic
	if apply(t, tr, rec).Topic != "orders-raw-x" {
		t.Fatal("partial match rerouted")
	}
	// $1x is group 1 followed by x (Java), and \$ is a literal dollar.
	tr = newTransform(t, c, map[string]string{"regex": "(a)(b)", "replacement": `$2$1x\$${b}`})
	_ = tr
	tr = newTransform(t, c, map[string]string{"regex": "(a)(?P<b>b)", "replacement": `$2$1x\$${b}`})
	rec.Topic = "ab"
	if got := apply(t, tr, rec).Topic; got != "bax$b" {
		t.Fatalf("got %s", got)
	}
	tr = newTransform(t, c, map[string]string{"regex": "a", "replacement": "$3"})
	rec.Topic = "a"
	wantContains(t, applyErr(t, tr, rec), "No group 3")
	wantContains(t, configureErr(t, c, map[string]string{"regex": "(", "replacement": "x"}), "Invalid value ( for configuration regex: Invalid regex")
}

func TestTimestampRouter(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.TimestampRouter"
	tr := newTransform(t, c, map[string]string{})
	rec := valueRec(nil, "v")
	rec.Timestamp = time.Date(2017, 2, 3, 23, 0, 0, 0, time.UTC)
	if got := apply(t, tr, rec).Topic; got != "orders-20170203" {
		t.Fatalf("got %s", got)
	}
	tr = newTransform(t, c, map[string]string{"topic.format": "x_${timestamp}_${topic}", "timestamp.format": "yyyy-MM"})
	if got := apply(t, tr, rec).Topic; got != "x_2017-02_orders" {
		t.Fatalf("got %s", got)
	}
	wantContains(t, applyErr(t, tr, valueRec(nil, "v")), "Timestamp missing on record")
}

func TestFlatten(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.Flatten$Value"
	tr := newTransform(t, c, map[string]string{"delimiter": "_"})
	got := apply(t, tr, valueRec(nil, map[string]any{"a": map[string]any{"b": int64(1), "c": map[string]any{"d": "x"}}, "e": []any{1}, "n": nil})).Value
	wantEqual(t, got, map[string]any{"a_b": int64(1), "a_c_d": "x", "e": []any{1}, "n": nil})

	leaf := connect.StructBuilder().Optional().Field("x", connect.Int32Schema).Field("y", connect.StringSchema).MustBuild()
	mid := connect.StructBuilder().Field("leaf", leaf).Field("z", connect.BooleanSchema).MustBuild()
	top := connect.StructBuilder().Name("top").Field("mid", mid).Field("arr", connect.ArrayOf(connect.Int32Schema).MustBuild()).MustBuild()
	v := connect.NewStruct(top).
		MustPut("mid", connect.NewStruct(mid).MustPut("leaf", connect.NewStruct(leaf).MustPut("x", int32(1)).MustPut("y", "s")).MustPut("z", true)).
		MustPut("arr", []any{int32(4)})
	out := apply(t, tr, valueRec(top, v))
	if got := fieldNames(out.ValueSchema); got != "mid_leaf_x:int32?,mid_leaf_y:string?,mid_z:boolean,arr:array" {
		t.Fatalf("fields %s", got)
	}
	st := out.Value.(*connect.Struct)
	wantEqual(t, st.Get("mid_leaf_x"), int32(1))
	wantEqual(t, st.Get("mid_z"), true)
	wantEqual(t, st.Get("arr"), []any{int32(4)})
	// A null optional struct leaves its flattened fields null.
	v2 := connect.NewStruct(top).MustPut("mid", connect.NewStruct(mid).MustPut("z", false)).MustPut("arr", []any{})
	wantEqual(t, apply(t, tr, valueRec(top, v2)).Value.(*connect.Struct).Get("mid_leaf_x"), nil)

	withMap := connect.StructBuilder().Field("m", connect.MapOf(connect.StringSchema, connect.StringSchema).MustBuild()).MustBuild()
	wantContains(t, applyErr(t, tr, valueRec(withMap, connect.NewStruct(withMap).MustPut("m", map[string]any{}))),
		"Flatten transformation does not support MAP for record with schemas (for field m).")
}

func TestFilterAndHeaders(t *testing.T) {
	if out := apply(t, newTransform(t, "Filter", nil), valueRec(nil, "v")); out != nil {
		t.Fatal("Filter kept a record")
	}
	rec := valueRec(nil, "v")
	rec.Headers = connect.Headers{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}}
	out := apply(t, newTransform(t, "DropHeaders", map[string]string{"headers": "a"}), rec)
	if len(out.Headers) != 1 || out.Headers[0].Key != "b" || len(rec.Headers) != 3 {
		t.Fatalf("headers %+v", out.Headers)
	}
	out = apply(t, newTransform(t, "InsertHeader", map[string]string{"header": "a", "value.literal": "42"}), rec)
	if len(out.Headers) != 4 || out.Headers[3].Value != int8(42) || out.Headers[3].Schema.Type != connect.Int8 || len(rec.Headers) != 3 {
		t.Fatalf("headers %+v", out.Headers)
	}
	wantContains(t, configureErr(t, "InsertHeader", map[string]string{"header": "a"}), `Missing required configuration "value.literal"`)
}

func TestHeaderFrom(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.HeaderFrom$Value"
	mv := newTransform(t, c, map[string]string{"fields": "ssn,age", "headers": "h_ssn,h_age", "operation": "move"})
	out := apply(t, mv, valueRec(personSchema, person("ann", int32(3), "123")))
	if got := fieldNames(out.ValueSchema); got != "name:string" {
		t.Fatalf("fields %s", got)
	}
	if out.ValueSchema.Name != "person" || len(out.Headers) != 2 || out.Headers[0].Value != "123" || out.Headers[1].Schema != connect.OptionalInt32Schema {
		t.Fatalf("headers %+v", out.Headers)
	}
	cp := newTransform(t, c, map[string]string{"fields": "a", "headers": "h", "operation": "copy"})
	out = apply(t, cp, valueRec(nil, map[string]any{"a": 1, "b": 2}))
	wantEqual(t, out.Value, map[string]any{"a": 1, "b": 2})
	if out.Headers[0].Key != "h" || out.Headers[0].Value != 1 {
		t.Fatalf("headers %+v", out.Headers)
	}
	out = apply(t, mv, valueRec(nil, map[string]any{"ssn": 1, "b": 2}))
	wantEqual(t, out.Value, map[string]any{"b": 2})
	wantContains(t, configureErr(t, c, map[string]string{"fields": "a,b", "headers": "h", "operation": "move"}),
		"'fields' config must have the same number of elements as 'headers' config.")
	wantContains(t, configureErr(t, c, map[string]string{"fields": "a", "headers": "h", "operation": "cut"}), "String must be one of: move, copy")
}

func TestSetSchemaMetadata(t *testing.T) {
	const c = "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value"
	tr := newTransform(t, c, map[string]string{"schema.name": "renamed", "schema.version": "7"})
	out := apply(t, tr, valueRec(personSchema, person("a", nil, "b")))
	if out.ValueSchema.Name != "renamed" || *out.ValueSchema.Version != 7 || personSchema.Name != "person" {
		t.Fatalf("schema %+v", out.ValueSchema)
	}
	if out.Value.(*connect.Struct).Schema() != out.ValueSchema {
		t.Fatal("struct not rebound to the new schema")
	}
	if err := out.Value.(*connect.Struct).Validate(); err != nil {
		t.Fatal(err)
	}
	nameOnly := newTransform(t, c, map[string]string{"schema.name": "n"})
	out = apply(t, nameOnly, valueRec(connect.Int32Schema, int32(1)))
	if out.ValueSchema.Name != "n" || out.ValueSchema.Version != nil || out.Value != int32(1) {
		t.Fatalf("schema %+v", out.ValueSchema)
	}
	tomb := valueRec(nil, nil)
	if apply(t, tr, tomb) != tomb {
		t.Fatal("schemaless tombstone changed")
	}
	wantContains(t, applyErr(t, tr, valueRec(nil, "x")), "Schema required for [updating schema metadata]")
	wantContains(t, configureErr(t, c, map[string]string{}), "Neither schema name nor version configured")
}

func TestPredicates(t *testing.T) {
	reg := registry(t)
	mk := func(name string, props map[string]string) connect.Predicate {
		p, _ := reg.Lookup(name, connect.KindPredicate)
		pr := p.New().(connect.Predicate)
		if err := pr.Configure(props); err != nil {
			t.Fatal(err)
		}
		return pr
	}
	test := func(p connect.Predicate, rec *connect.Record) bool {
		ok, err := p.Test(rec)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	tn := mk("TopicNameMatches", map[string]string{"pattern": "ord.*"})
	if !test(tn, valueRec(nil, 1)) || test(tn, &connect.Record{Topic: "xorders"}) {
		t.Fatal("TopicNameMatches must match the whole topic")
	}
	hh := mk("HasHeaderKey", map[string]string{"name": "h"})
	if test(hh, valueRec(nil, 1)) || !test(hh, &connect.Record{Headers: connect.Headers{{Key: "h"}}}) {
		t.Fatal("HasHeaderKey")
	}
	rt := mk("RecordIsTombstone", nil)
	if test(rt, valueRec(nil, 1)) || !test(rt, valueRec(connect.OptionalStringSchema, nil)) {
		t.Fatal("RecordIsTombstone")
	}
	wantContains(t, configureErr(t, "TopicNameMatches", map[string]string{"pattern": "("}), "Invalid regex")
	wantContains(t, configureErr(t, "TopicNameMatches", map[string]string{"pattern": ""}), "String must be non-empty")
	wantContains(t, configureErr(t, "HasHeaderKey", map[string]string{"name": ""}), "String must be non-empty")
}
