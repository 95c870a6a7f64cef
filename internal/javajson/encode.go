package javajson

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry/connect"
)

// encoder appends JSON to buf exactly as Jackson's compact writer does.
type encoder struct {
	buf            []byte
	decimalNumeric bool
	replaceNull    bool
}

var encoderPool = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 1024)} }}

func getEncoder(numeric, replaceNull bool) *encoder {
	e := encoderPool.Get().(*encoder)
	e.buf, e.decimalNumeric, e.replaceNull = e.buf[:0], numeric, replaceNull
	return e
}

func putEncoder(e *encoder) {
	if cap(e.buf) > 1<<20 {
		return // let unusually large buffers go
	}
	encoderPool.Put(e)
}

func typeName(t connect.Type) string {
	switch t {
	case connect.Float32:
		return "float"
	case connect.Float64:
		return "double"
	}
	return string(t)
}

// schema writes the schema JSON of s; field, when not empty, is appended
// last as the "field" member, as Apache does for struct field schemas.
func (e *encoder) schema(s *connect.Schema, field string) error {
	if s == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	e.buf = append(e.buf, `{"type":"`...)
	e.buf = append(e.buf, typeName(s.Type)...)
	e.buf = append(e.buf, '"')
	switch s.Type {
	case connect.Array:
		e.buf = append(e.buf, `,"items":`...)
		if err := e.schema(s.ValueSchema, ""); err != nil {
			return err
		}
	case connect.Map:
		e.buf = append(e.buf, `,"keys":`...)
		if err := e.schema(s.KeySchema, ""); err != nil {
			return err
		}
		e.buf = append(e.buf, `,"values":`...)
		if err := e.schema(s.ValueSchema, ""); err != nil {
			return err
		}
	case connect.Struct_:
		e.buf = append(e.buf, `,"fields":[`...)
		for i, f := range s.Fields {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if f.Schema == nil {
				return connect.NewDataError(fmt.Sprintf("field %s has no schema", f.Name), nil)
			}
			if err := e.schema(f.Schema, f.Name); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	}
	if s.Optional {
		e.buf = append(e.buf, `,"optional":true`...)
	} else {
		e.buf = append(e.buf, `,"optional":false`...)
	}
	if s.Name != "" {
		e.buf = append(e.buf, `,"name":`...)
		e.buf = appendString(e.buf, s.Name)
	}
	if s.Version != nil {
		e.buf = append(e.buf, `,"version":`...)
		e.buf = strconv.AppendInt(e.buf, int64(*s.Version), 10)
	}
	if s.Doc != "" {
		e.buf = append(e.buf, `,"doc":`...)
		e.buf = appendString(e.buf, s.Doc)
	}
	if s.Parameters != nil {
		// Apache keeps insertion order; a Go map has none, so sort.
		keys := make([]string, 0, len(s.Parameters))
		for k := range s.Parameters {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = append(e.buf, `,"parameters":{`...)
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, k)
			e.buf = append(e.buf, ':')
			e.buf = appendString(e.buf, s.Parameters[k])
		}
		e.buf = append(e.buf, '}')
	}
	if s.HasDefault && s.Default != nil {
		e.buf = append(e.buf, `,"default":`...)
		if err := e.value(s, s.Default); err != nil {
			return err
		}
	}
	if field != "" {
		e.buf = append(e.buf, `,"field":`...)
		e.buf = appendString(e.buf, field)
	}
	e.buf = append(e.buf, '}')
	return nil
}

func invalidType(s *connect.Schema, v any) error {
	name := "unknown schema"
	if s != nil {
		name = upper(s.Type)
	}
	return connect.NewDataError(fmt.Sprintf("Invalid type for %s: %T", name, v), nil)
}

func upper(t connect.Type) string {
	b := []byte(t)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// value writes v under schema s (nil: infer from the Go type).
func (e *encoder) value(s *connect.Schema, v any) error {
	if v == nil {
		switch {
		case s == nil:
		case s.HasDefault && s.Default != nil && e.replaceNull:
			return e.value(s, s.Default)
		case !s.Optional:
			return connect.NewDataError("Conversion error: null value for field that is required and has no default value", nil)
		}
		e.buf = append(e.buf, "null"...)
		return nil
	}
	if s == nil {
		return e.schemaless(v)
	}
	if s.Name != "" {
		if done, err := e.logical(s, v); done {
			return err
		}
	}
	switch s.Type {
	case connect.Int8:
		x, ok := v.(int8)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case connect.Int16:
		x, ok := v.(int16)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case connect.Int32:
		x, ok := v.(int32)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case connect.Int64:
		x, ok := v.(int64)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case connect.Float32:
		x, ok := v.(float32)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = appendJavaFloat(e.buf, float64(x), 32)
	case connect.Float64:
		x, ok := v.(float64)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = appendJavaFloat(e.buf, x, 64)
	case connect.Boolean:
		x, ok := v.(bool)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = strconv.AppendBool(e.buf, x)
	case connect.String:
		x, ok := v.(string)
		if !ok {
			return invalidType(s, v)
		}
		e.buf = appendString(e.buf, x)
	case connect.Bytes:
		x, ok := v.([]byte)
		if !ok {
			return connect.NewDataError(fmt.Sprintf("Invalid type for bytes type: %T", v), nil)
		}
		e.bytes(x)
	case connect.Array:
		x, ok := v.([]any)
		if !ok {
			return invalidType(s, v)
		}
		return e.array(s.ValueSchema, x)
	case connect.Map:
		return e.mapValue(s, v)
	case connect.Struct_:
		st, ok := v.(*connect.Struct)
		if !ok {
			return invalidType(s, v)
		}
		if st.Schema() != s && !st.Schema().Equal(s) {
			return connect.NewDataError("Mismatching schema.", nil)
		}
		e.buf = append(e.buf, '{')
		for i, f := range s.Fields {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, f.Name)
			e.buf = append(e.buf, ':')
			if err := e.value(f.Schema, st.Raw(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return connect.NewDataError(fmt.Sprintf("Couldn't convert %v to JSON.", v), nil)
	}
	return nil
}

// logical handles the logical types; done is false for other schema names.
func (e *encoder) logical(s *connect.Schema, v any) (done bool, err error) {
	switch s.Name {
	case connect.DecimalName:
		d, ok := v.(connect.Decimal)
		if !ok {
			return true, connect.NewDataError(fmt.Sprintf("Invalid type for Decimal, expected BigDecimal but was %T", v), nil)
		}
		if e.decimalNumeric {
			e.buf = append(e.buf, d.String()...)
			return true, nil
		}
		scale, err := connect.DecimalScale(s)
		if err != nil {
			return true, connect.NewDataError(err.Error(), nil)
		}
		if d.Scale != scale {
			return true, connect.NewDataError("BigDecimal has mismatching scale value for given Decimal schema", nil)
		}
		e.bytes(connect.DecimalToBytes(d))
		return true, nil
	case connect.DateName:
		t, ok := v.(time.Time)
		if !ok {
			return true, connect.NewDataError(fmt.Sprintf("Invalid type for Date, expected Date but was %T", v), nil)
		}
		days, err := connect.DateToDays(t)
		if err != nil {
			return true, connect.NewDataError(err.Error(), nil)
		}
		e.buf = strconv.AppendInt(e.buf, int64(days), 10)
		return true, nil
	case connect.TimeName:
		t, ok := v.(time.Time)
		if !ok {
			return true, connect.NewDataError(fmt.Sprintf("Invalid type for Time, expected Date but was %T", v), nil)
		}
		ms, err := connect.TimeToMillis(t)
		if err != nil {
			return true, connect.NewDataError(err.Error(), nil)
		}
		e.buf = strconv.AppendInt(e.buf, int64(ms), 10)
		return true, nil
	case connect.TimestampName:
		t, ok := v.(time.Time)
		if !ok {
			return true, connect.NewDataError(fmt.Sprintf("Invalid type for Timestamp, expected Date but was %T", v), nil)
		}
		e.buf = strconv.AppendInt(e.buf, t.UnixMilli(), 10)
		return true, nil
	}
	return false, nil
}

func (e *encoder) bytes(b []byte) {
	e.buf = append(e.buf, '"')
	e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
	e.buf = append(e.buf, '"')
}

func (e *encoder) array(elem *connect.Schema, x []any) error {
	e.buf = append(e.buf, '[')
	for i, el := range x {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(elem, el); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// mapValue writes a map: a JSON object when keys are strings, else an
// array of [key, value] pairs.
func (e *encoder) mapValue(s *connect.Schema, v any) error {
	var keySchema, valueSchema *connect.Schema
	objectMode := true
	if s != nil {
		keySchema, valueSchema = s.KeySchema, s.ValueSchema
		objectMode = keySchema != nil && keySchema.Type == connect.String
	}
	switch m := v.(type) {
	case map[string]any:
		keys := connect.JavaHashMapOrder(m)
		if objectMode {
			e.buf = append(e.buf, '{')
			for i, k := range keys {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				e.buf = appendString(e.buf, k)
				e.buf = append(e.buf, ':')
				if err := e.value(valueSchema, m[k]); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, '}')
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.pair(keySchema, valueSchema, k, m[k]); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	case map[string]string:
		am := make(map[string]any, len(m))
		for k, x := range m {
			am[k] = x
		}
		return e.mapValue(s, am)
	case []connect.MapEntry:
		if s == nil {
			for _, en := range m {
				if _, ok := en.Key.(string); !ok {
					objectMode = false
					break
				}
			}
		}
		if objectMode {
			e.buf = append(e.buf, '{')
			for i, en := range m {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				k, ok := en.Key.(string)
				if !ok {
					return invalidType(keySchema, en.Key)
				}
				e.buf = appendString(e.buf, k)
				e.buf = append(e.buf, ':')
				if err := e.value(valueSchema, en.Value); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, '}')
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, en := range m {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.pair(keySchema, valueSchema, en.Key, en.Value); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}
	return invalidType(s, v)
}

func (e *encoder) pair(ks, vs *connect.Schema, k, v any) error {
	e.buf = append(e.buf, '[')
	if err := e.value(ks, k); err != nil {
		return err
	}
	e.buf = append(e.buf, ',')
	if err := e.value(vs, v); err != nil {
		return err
	}
	e.buf = append(e.buf, ']')
	return nil
}

// schemaless writes a value without a schema, choosing the JSON form from
// the Go type as Apache does from the Java class.
func (e *encoder) schemaless(v any) error {
	switch x := v.(type) {
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case float32:
		e.buf = appendJavaFloat(e.buf, float64(x), 32)
	case float64:
		e.buf = appendJavaFloat(e.buf, x, 64)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case string:
		e.buf = appendString(e.buf, x)
	case []byte:
		e.bytes(x)
	case []any:
		return e.array(nil, x)
	case []string:
		e.buf = append(e.buf, '[')
		for i, s := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, s)
		}
		e.buf = append(e.buf, ']')
	case map[string]any, map[string]string, []connect.MapEntry:
		return e.mapValue(nil, v)
	case *connect.Struct:
		return connect.NewDataError("Mismatching schema.", nil)
	default:
		return connect.NewDataError(fmt.Sprintf("Java class %T does not have corresponding schema type.", v), nil)
	}
	return nil
}

const hexUpper = "0123456789ABCDEF"

// appendString writes s as a JSON string the way Jackson's UTF-8 generator
// does: '"', '\\' and control characters escaped (\b \t \n \f \r short,
// others \u00XX), characters outside the BMP written as escaped surrogate
// pairs, everything else raw UTF-8. Invalid UTF-8 becomes U+FFFD, which is
// what a Java String decoded from such bytes would hold.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"':
				buf = append(buf, '\\', '"')
			case '\\':
				buf = append(buf, '\\', '\\')
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\r':
				buf = append(buf, '\\', 'r')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, "\uFFFD"...)
		case r >= 0x10000:
			buf = append(buf, s[start:i]...)
			r -= 0x10000
			buf = appendU(buf, 0xD800+(r>>10))
			buf = appendU(buf, 0xDC00+(r&0x3FF))
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

func appendU(buf []byte, r rune) []byte {
	return append(buf, '\\', 'u', hexUpper[r>>12&0xf], hexUpper[r>>8&0xf], hexUpper[r>>4&0xf], hexUpper[r&0xf])
}

// appendJavaFloat appends f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) renders it, without allocating. Jackson writes
// the non-finite values as strings.
func appendJavaFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(buf, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(buf, `"-Infinity"`...)
	case f == 0:
		if math.Signbit(f) {
			return append(buf, "-0.0"...)
		}
		return append(buf, "0.0"...)
	}
	if f < 0 {
		buf = append(buf, '-')
		f = -f
	}
	// Shortest round-trip digits in d.ddde±x form, on the stack.
	var scratch [32]byte
	sci := strconv.AppendFloat(scratch[:0], f, 'e', -1, bits)
	ePos := len(sci) - 1
	for sci[ePos] != 'e' {
		ePos--
	}
	exp := 0
	neg := sci[ePos+1] == '-'
	for _, c := range sci[ePos+2:] {
		exp = exp*10 + int(c-'0')
	}
	if neg {
		exp = -exp
	}
	var dig [24]byte
	digits := dig[:0]
	digits = append(digits, sci[0])
	if ePos > 1 {
		digits = append(digits, sci[2:ePos]...)
	} else {
		// Java never prints fewer than two significant digits: when one
		// digit suffices it takes the two-digit decimal nearest to f
		// (4.9E-324, not 5.0E-324), which only differs for subnormals.
		two := strconv.AppendFloat(scratch[:0], f, 'e', 1, bits)
		if back, err := strconv.ParseFloat(string(two), bits); err == nil && back == f {
			digits = append(digits[:0], two[0], two[2])
			if two[2] == '0' {
				digits = digits[:1]
			}
			exp = 0
			neg := two[4] == '-'
			for _, c := range two[5:] {
				exp = exp*10 + int(c-'0')
			}
			if neg {
				exp = -exp
			}
		}
	}
	if f >= 1e-3 && f < 1e7 {
		if exp >= 0 {
			intLen := exp + 1
			if len(digits) <= intLen {
				buf = append(buf, digits...)
				for range intLen - len(digits) {
					buf = append(buf, '0')
				}
				return append(buf, '.', '0')
			}
			buf = append(buf, digits[:intLen]...)
			buf = append(buf, '.')
			return append(buf, digits[intLen:]...)
		}
		buf = append(buf, '0', '.')
		for range -exp - 1 {
			buf = append(buf, '0')
		}
		return append(buf, digits...)
	}
	buf = append(buf, digits[0], '.')
	if len(digits) > 1 {
		buf = append(buf, digits[1:]...)
	} else {
		buf = append(buf, '0')
	}
	buf = append(buf, 'E')
	return strconv.AppendInt(buf, int64(exp), 10)
}

// AppendString appends s as a JSON string exactly as Apache's JsonConverter
// (Jackson) writes it. Other byte-exact writers, such as the offsets-topic
// key encoder, use it so that both agree on every character.
func AppendString(buf []byte, s string) []byte { return appendString(buf, s) }

// AppendJavaFloat appends f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) renders it, with non-finite values quoted as
// Jackson writes them.
func AppendJavaFloat(buf []byte, f float64, bits int) []byte { return appendJavaFloat(buf, f, bits) }
