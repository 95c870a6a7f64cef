package storage

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/connect"
	jsonconv "github.com/ferryhq/ferry/internal/javajson"
)

// OffsetKey serialises ["<connector>",{partition}] byte for byte as Apache's
// JsonConverter (schemas.enable=false) does, with the partition's keys in
// java.util.HashMap order so that keys written for the same partition by a
// Java worker are found by exact byte comparison.
func OffsetKey(connector string, partition map[string]any) ([]byte, error) {
	buf := make([]byte, 0, 32+len(connector)+24*len(partition))
	buf = append(buf, '[')
	buf = appendString(buf, connector)
	buf = append(buf, ',')
	var err error
	buf, err = appendMap(buf, partition, connect.JavaHashMapOrder(partition))
	if err != nil {
		return nil, err
	}
	return append(buf, ']'), nil
}

// OffsetValue serialises a source offset map as Apache's JsonConverter does
// (keys in java.util.HashMap order). A nil map serialises to nil, the
// tombstone that deletes the partition's offset.
func OffsetValue(offset map[string]any) ([]byte, error) {
	if offset == nil {
		return nil, nil
	}
	buf := make([]byte, 0, 16+24*len(offset))
	return appendMap(buf, offset, connect.JavaHashMapOrder(offset))
}

// AppendCanonical appends the compact JSON of m with its keys sorted: one
// encoding per semantically equal map, whatever order its writer used. It
// fails like OffsetKey on non-primitive values. It does not allocate for
// maps of up to eight keys when dst has room.
func AppendCanonical(dst []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	var arr [8]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return appendMap(dst, m, keys)
}

func appendMap(buf []byte, m map[string]any, keys []string) ([]byte, error) {
	if m == nil {
		return append(buf, "null"...), nil
	}
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, k)
		buf = append(buf, ':')
		var err error
		buf, err = appendPrimitive(buf, k, m[k])
		if err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

// appendPrimitive writes one offset value the way Jackson writes the node
// Apache's JsonConverter builds for it.
func appendPrimitive(buf []byte, field string, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return appendString(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case float64:
		return appendFloat(buf, x, 64), nil
	case float32:
		return appendFloat(buf, float64(x), 32), nil
	case []byte:
		// Jackson writes binary nodes as standard base64 with padding.
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, x)
		return append(buf, '"'), nil
	}
	// Named types over primitive kinds (type Pos int64) are primitives too.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return appendString(buf, rv.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(buf, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(buf, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(buf, rv.Uint(), 10), nil
	case reflect.Float32:
		return appendFloat(buf, rv.Float(), 32), nil
	case reflect.Float64:
		return appendFloat(buf, rv.Float(), 64), nil
	}
	return nil, fmt.Errorf("Offsets may only contain primitive types as values, but field %s contains %s", field, typeName(v))
}

// typeName names a rejected value the way Apache's message does (the
// Connect schema type) where there is one.
func typeName(v any) string {
	switch v.(type) {
	case *connect.Struct, connect.Struct:
		return "STRUCT"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map:
		return "MAP"
	case reflect.Slice, reflect.Array:
		return "ARRAY"
	}
	return fmt.Sprintf("%T", v)
}

// The offsets topic holds JsonConverter bytes: write strings and floats
// with the converter's own byte-exact appenders.
func appendFloat(buf []byte, f float64, bits int) []byte {
	return jsonconv.AppendJavaFloat(buf, f, bits)
}

func appendString(buf []byte, s string) []byte { return jsonconv.AppendString(buf, s) }

// ParseOffsetKey parses an offsets-topic key. ok is false for keys that are
// not a two-element array [string, object]; such keys are ignored by
// readers. Integral numbers become int64, other numbers float64.
func ParseOffsetKey(key []byte) (connector string, partition map[string]any, ok bool) {
	v, err := parseJSON(key)
	if err != nil {
		return "", nil, false
	}
	arr, isArr := v.([]any)
	if !isArr || len(arr) != 2 {
		return "", nil, false
	}
	name, isStr := arr[0].(string)
	part, isMap := arr[1].(map[string]any)
	if !isStr || !isMap {
		return "", nil, false
	}
	return name, part, true
}

// ParseOffsetValue parses an offsets-topic value. A nil value (tombstone)
// gives a nil map. Integral numbers become int64, other numbers float64.
func ParseOffsetValue(v []byte) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	parsed, err := parseJSON(v)
	if err != nil {
		return nil, fmt.Errorf("parse offset value: %w", err)
	}
	if parsed == nil {
		return nil, nil
	}
	m, ok := parsed.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse offset value: expected a JSON object, got %s", bytes.TrimSpace(v))
	}
	return m, nil
}

func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	return fixNumbers(v), nil
}

func fixNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = fixNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
	}
	return v
}

// CanonicalKey returns a form of an offsets-topic key under which all keys
// naming the same connector and an equal partition coincide, whatever map
// key order their writer used. Keys that do not parse map to themselves
// (prefixed so they cannot collide with parsed ones).
func CanonicalKey(key []byte) string {
	connector, partition, ok := ParseOffsetKey(key)
	if !ok {
		return "\x00" + string(key)
	}
	buf := make([]byte, 0, len(key)+1)
	buf = appendString(buf, connector)
	buf = append(buf, ',')
	buf, err := AppendCanonical(buf, partition)
	if err != nil {
		// Nested values are stored by Java workers that skipped
		// validation; fall back to exact bytes.
		return "\x00" + string(key)
	}
	return string(buf)
}
