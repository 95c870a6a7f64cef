package storage

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestOffsetKeyGolden(t *testing.T) {
	cases := []struct {
		name      string
		connector string
		partition map[string]any
		want      string
	}{
		{"file source", "local-file-source", map[string]any{"filename": "/tmp/in.txt"}, `["local-file-source",{"filename":"/tmp/in.txt"}]`},
		{"mirror maker order", "mm2", map[string]any{"topic": "test", "partition": 0, "cluster": "A"}, `["mm2",{"cluster":"A","partition":0,"topic":"test"}]`},
		{"hash order differs from sorted", "c", map[string]any{"a": 1, "p": 2}, `["c",{"p":2,"a":1}]`},
		{"floats", "c", map[string]any{"f": 1.0}, `["c",{"f":1.0}]`},
		{"big float", "c", map[string]any{"f": 1e10}, `["c",{"f":1.0E10}]`},
		{"float32", "c", map[string]any{"f": float32(0.1)}, `["c",{"f":0.1}]`},
		{"null and bool", "c", map[string]any{"n": nil}, `["c",{"n":null}]`},
		{"ints", "c", map[string]any{"i": int64(-9223372036854775808)}, `["c",{"i":-9223372036854775808}]`},
		{"bytes", "c", map[string]any{"b": []byte{0xff, 0x00, 0x01}}, `["c",{"b":"/wAB"}]`},
		{"escapes", "c/<&>", map[string]any{"s": "a\"b\\c\n\t\r\b\f\x01\x7fé/<>&"}, "[\"c/<&>\",{\"s\":\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\x7fé/<>&\"}]"},
		{"control upper hex", "c", map[string]any{"s": "\x1f"}, `["c",{"s":"\u001F"}]`},
		{"empty partition", "c", map[string]any{}, `["c",{}]`},
		{"nil partition", "c", nil, `["c",null]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := OffsetKey(c.connector, c.partition)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestOffsetValue(t *testing.T) {
	got, err := OffsetValue(map[string]any{"position": int64(2048)})
	if err != nil || string(got) != `{"position":2048}` {
		t.Fatalf("got %s, %v", got, err)
	}
	got, err = OffsetValue(nil)
	if err != nil || got != nil {
		t.Fatalf("nil offset: got %q, %v", got, err)
	}
	got, _ = OffsetValue(map[string]any{"nan": math.NaN()})
	if string(got) != `{"nan":"NaN"}` {
		t.Fatalf("NaN: got %s", got)
	}
	type pos int64
	got, _ = OffsetValue(map[string]any{"p": pos(7)})
	if string(got) != `{"p":7}` {
		t.Fatalf("named int: got %s", got)
	}
}

func TestNonPrimitiveRejected(t *testing.T) {
	_, err := OffsetKey("c", map[string]any{"nested": map[string]any{"a": 1}})
	if err == nil || err.Error() != "Offsets may only contain primitive types as values, but field nested contains MAP" {
		t.Fatalf("got %v", err)
	}
	_, err = OffsetValue(map[string]any{"list": []any{1}})
	if err == nil || !strings.Contains(err.Error(), "field list contains ARRAY") {
		t.Fatalf("got %v", err)
	}
}

func TestParseRoundTrip(t *testing.T) {
	key, _ := OffsetKey("conn", map[string]any{"s": "x", "i": 5, "f": 2.5, "b": true, "n": nil})
	name, part, ok := ParseOffsetKey(key)
	if !ok || name != "conn" {
		t.Fatalf("parse %s: %v %q", key, ok, name)
	}
	want := map[string]any{"s": "x", "i": int64(5), "f": 2.5, "b": true, "n": nil}
	if !reflect.DeepEqual(part, want) {
		t.Fatalf("got %#v", part)
	}
	for _, bad := range []string{`{}`, `["c"]`, `["c",1]`, `[1,{}]`, `["c",{}] x`, `nope`, `["c",null]`} {
		if _, _, ok := ParseOffsetKey([]byte(bad)); ok {
			t.Errorf("%s parsed", bad)
		}
	}
	v, err := ParseOffsetValue([]byte(`{"position":1.0E10,"n":3}`))
	if err != nil || v["position"] != 1e10 || v["n"] != int64(3) {
		t.Fatalf("got %#v %v", v, err)
	}
	if v, err := ParseOffsetValue(nil); v != nil || err != nil {
		t.Fatalf("tombstone: %v %v", v, err)
	}
	if _, err := ParseOffsetValue([]byte(`[1]`)); err == nil {
		t.Fatal("array value accepted")
	}
}

func TestCanonicalKey(t *testing.T) {
	a := CanonicalKey([]byte(`["c",{"a":1,"p":2}]`))
	b := CanonicalKey([]byte(`["c",{"p":2,"a":1}]`))
	if a != b {
		t.Fatalf("%q != %q", a, b)
	}
	if CanonicalKey([]byte(`["d",{"p":2,"a":1}]`)) == a {
		t.Fatal("connector ignored")
	}
	if CanonicalKey([]byte(`garbage`)) == CanonicalKey([]byte(`other`)) {
		t.Fatal("unparsed keys collide")
	}
}

func BenchmarkOffsetKey(b *testing.B) {
	part := map[string]any{"filename": "/tmp/in.txt"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OffsetKey("local-file-source", part); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOffsetKeyMulti(b *testing.B) {
	part := map[string]any{"cluster": "A", "partition": 3, "topic": "orders"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OffsetKey("mm2", part); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendCanonical(b *testing.B) {
	part := map[string]any{"cluster": "A", "partition": 3, "topic": "orders"}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendCanonical(buf[:0], part); err != nil {
			b.Fatal(err)
		}
	}
}
