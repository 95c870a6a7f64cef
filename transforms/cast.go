package transforms

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

var castOutputTypes = []connect.Type{connect.Int8, connect.Int16, connect.Int32, connect.Int64, connect.Float32, connect.Float64, connect.Boolean, connect.String}

const castSupported = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]"

// parseCastSpec parses field:type pairs or a single whole-value type; the
// whole-value cast is stored under the empty key with whole=true.
func parseCastSpec(mappings []string) (casts map[string]connect.Type, whole connect.Type, err error) {
	casts = map[string]connect.Type{}
	parseType := func(s string) (connect.Type, error) {
		t := connect.Type(strings.ToLower(strings.TrimSpace(s)))
		switch t {
		case connect.Int8, connect.Int16, connect.Int32, connect.Int64, connect.Float32, connect.Float64,
			connect.Boolean, connect.String:
			return t, nil
		case connect.Bytes, connect.Array, connect.Map, connect.Struct_:
			return "", fmt.Errorf("Cast transformation does not support casting to %s; supported types are %s", strings.ToUpper(string(t)), castSupported)
		}
		return "", fmt.Errorf("Invalid type found in casting spec: %s", strings.TrimSpace(s))
	}
	for _, m := range mappings {
		parts := javaSplit(m, ":")
		switch len(parts) {
		case 1:
			if whole, err = parseType(parts[0]); err != nil {
				return nil, "", err
			}
		case 2:
			t, err := parseType(parts[1])
			if err != nil {
				return nil, "", err
			}
			casts[strings.TrimSpace(parts[0])] = t
		default:
			return nil, "", fmt.Errorf("Invalid rename mapping: %s", m)
		}
	}
	if whole != "" && len(mappings) > 1 {
		return nil, "", fmt.Errorf("Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec")
	}
	return casts, whole, nil
}

// CastConfigDef declares Cast's keys.
func CastConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "spec", Type: connect.TypeList, Default: connect.NoDefault, Importance: connect.High,
			Doc: "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string. Note that binary fields can only be cast to string.",
			Validator: connect.ValidatorFunc("list of colon-delimited pairs, e.g. <code>foo:bar,abc:xyz</code>", func(v any) error {
				l, _ := v.([]string)
				if len(l) == 0 {
					return fmt.Errorf("Must specify at least one field to cast.")
				}
				_, _, err := parseCastSpec(l)
				return err
			})})
	return defineReplaceNull(d)
}

// Cast is Cast$Key / Cast$Value: it casts top-level fields, or the whole
// key or value, to another primitive type.
type Cast struct {
	side
	noClose
	casts       map[string]connect.Type
	whole       connect.Type
	replaceNull bool
	cache       schemaCache
}

const castPurpose = "cast types"

// Configure implements connect.Transformation.
func (t *Cast) Configure(props map[string]string) error {
	c, err := parse(CastConfigDef(), props)
	if err != nil {
		return err
	}
	t.casts, t.whole, _ = parseCastSpec(c.List("spec"))
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	return nil
}

// Apply implements connect.Transformation.
func (t *Cast) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if value == nil {
		return rec, nil
	}
	if schema == nil {
		if t.whole != "" {
			v, err := castValue(nil, value, t.whole)
			if err != nil {
				return nil, err
			}
			return t.with(rec, nil, v), nil
		}
		m, err := requireMap(value, castPurpose)
		if err != nil {
			return nil, err
		}
		out := cloneMap(m)
		for f, typ := range t.casts {
			v, err := castValue(nil, m[f], typ)
			if err != nil {
				return nil, err
			}
			out[f] = v
		}
		return t.with(rec, nil, out), nil
	}
	ns, err := t.cache.getOrBuild(schema, t.buildSchema)
	if err != nil {
		return nil, err
	}
	if t.whole != "" {
		v, err := castValue(schema, value, t.whole)
		if err != nil {
			return nil, err
		}
		return t.with(rec, ns, v), nil
	}
	st, err := requireStruct(value, castPurpose)
	if err != nil {
		return nil, err
	}
	out := connect.NewStruct(ns)
	for i, f := range st.Schema().Fields {
		v := fieldValue(st, i, t.replaceNull)
		if typ, ok := t.casts[f.Name]; ok {
			if v, err = castValue(f.Schema, v, typ); err != nil {
				return nil, err
			}
		}
		if err := out.Put(f.Name, v); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	return t.with(rec, ns, out), nil
}

func (t *Cast) buildSchema(in *connect.Schema) (*connect.Schema, error) {
	var b *connect.SchemaBuilder
	if t.whole != "" {
		b = copySchemaBasics(in, t.whole)
	} else {
		b = copySchemaBasics(in, connect.Struct_)
		for _, f := range in.Fields {
			typ, ok := t.casts[f.Name]
			if !ok {
				b.Field(f.Name, f.Schema)
				continue
			}
			fb := connect.NewSchemaBuilder(typ)
			if f.Schema.Optional {
				fb.Optional()
			}
			if f.Schema.HasDefault && f.Schema.Default != nil {
				d, err := castValue(f.Schema, f.Schema.Default, typ)
				if err != nil {
					return nil, err
				}
				fb.DefaultValue(d)
			}
			fs, err := fb.Build()
			if err != nil {
				return nil, connect.NewDataError("", err)
			}
			b.Field(f.Name, fs)
		}
	}
	if in.Optional {
		b.Optional()
	}
	if in.HasDefault && in.Default != nil && t.whole != "" {
		d, err := castValue(in, in.Default, t.whole)
		if err != nil {
			return nil, err
		}
		b.DefaultValue(d)
	}
	s, err := b.Build()
	if err != nil {
		return nil, connect.NewDataError("", err)
	}
	return s, nil
}

func inferType(v any) (connect.Type, bool) {
	switch v.(type) {
	case int8:
		return connect.Int8, true
	case int16:
		return connect.Int16, true
	case int32:
		return connect.Int32, true
	case int64:
		return connect.Int64, true
	case float32:
		return connect.Float32, true
	case float64:
		return connect.Float64, true
	case bool:
		return connect.Boolean, true
	case string:
		return connect.String, true
	case []byte:
		return connect.Bytes, true
	case []any:
		return connect.Array, true
	case map[string]any, []connect.MapEntry:
		return connect.Map, true
	case *connect.Struct:
		return connect.Struct_, true
	}
	return "", false
}

// castValue converts one value, following Java's conversions: numeric
// narrowing wraps, strings parse strictly, booleans are 1/0.
func castValue(schema *connect.Schema, v any, target connect.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	var in connect.Type
	if schema != nil {
		in = schema.Type
	} else {
		var ok bool
		if in, ok = inferType(v); !ok {
			return nil, dataError("Cast transformation was passed a value of type class %s which is not supported by Connect's data API", javaClassName(v))
		}
	}
	switch in {
	case connect.Int8, connect.Int16, connect.Int32, connect.Int64, connect.Float32, connect.Float64,
		connect.Boolean, connect.String, connect.Bytes:
	default:
		return nil, dataError("Cast transformation does not support casting from %s; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]", strings.ToUpper(string(in)))
	}
	// Logical values become their encoded numbers, except for strings.
	if schema != nil && schema.Name != "" && target != connect.String {
		if tm, ok := v.(time.Time); ok {
			switch schema.Name {
			case connect.DateName:
				d, err := connect.DateToDays(tm)
				if err != nil {
					return nil, connect.NewDataError("", err)
				}
				v = d
			case connect.TimeName:
				ms, err := connect.TimeToMillis(tm)
				if err != nil {
					return nil, connect.NewDataError("", err)
				}
				v = ms
			case connect.TimestampName:
				v = tm.UnixMilli()
			}
		}
	}
	if target == connect.String {
		return castToString(v), nil
	}
	if s, ok := v.(string); ok {
		return parseJavaNumber(s, target)
	}
	switch x := v.(type) {
	case bool:
		n := int64(0)
		if x {
			n = 1
		}
		return fromInt(n, target), nil
	case int8:
		return fromInt(int64(x), target), nil
	case int16:
		return fromInt(int64(x), target), nil
	case int32:
		return fromInt(int64(x), target), nil
	case int64:
		return fromInt(x, target), nil
	case float32:
		return fromFloat(float64(x), target), nil
	case float64:
		return fromFloat(x, target), nil
	case connect.Decimal:
		if target == connect.Float32 || target == connect.Float64 || target == connect.Boolean {
			return fromFloat(x.Float64(), target), nil
		}
		return fromInt(decimalToInt64(x), target), nil
	}
	return nil, dataError("Unexpected type in Cast transformation: class %s", javaClassName(v))
}

// decimalToInt64 is BigDecimal.longValue: truncation, then the low 64 bits.
func decimalToInt64(d connect.Decimal) int64 {
	u := new(big.Int).Set(d.Unscaled)
	if d.Scale > 0 {
		u.Quo(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil))
	} else if d.Scale < 0 {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil))
	}
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
	return int64(new(big.Int).And(u, mask).Uint64())
}

func fromInt(n int64, target connect.Type) any {
	switch target {
	case connect.Int8:
		return int8(n)
	case connect.Int16:
		return int16(n)
	case connect.Int32:
		return int32(n)
	case connect.Int64:
		return n
	case connect.Float32:
		return float32(n)
	case connect.Float64:
		return float64(n)
	case connect.Boolean:
		return n != 0
	}
	return nil
}

// javaF2L is Java's (long) cast of a double: NaN → 0, saturating.
func javaF2L(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// javaF2I is Java's (int) cast of a double, saturating at int32.
func javaF2I(f float64) int32 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int32(f)
}

func fromFloat(f float64, target connect.Type) any {
	switch target {
	case connect.Int8:
		return int8(javaF2I(f)) // Number.byteValue is (byte)(int)
	case connect.Int16:
		return int16(javaF2I(f))
	case connect.Int32:
		return javaF2I(f)
	case connect.Int64:
		return javaF2L(f)
	case connect.Float32:
		return float32(f)
	case connect.Float64:
		return f
	case connect.Boolean:
		return javaF2L(f) != 0
	}
	return nil
}

func parseJavaNumber(s string, target connect.Type) (any, error) {
	outOfRange := func() error {
		return dataError("Value (%s) was out of range for requested data type", s)
	}
	intBits := map[connect.Type]int{connect.Int8: 8, connect.Int16: 16, connect.Int32: 32, connect.Int64: 64}
	if bits, ok := intBits[target]; ok {
		// Java's parseInt accepts a leading + or -, no spaces.
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil || strings.HasPrefix(s, "+-") {
			return nil, outOfRange()
		}
		return fromInt(n, target), nil
	}
	switch target {
	case connect.Float32, connect.Float64:
		bits := 64
		if target == connect.Float32 {
			bits = 32
		}
		t := strings.TrimSpace(s) // Double.parseDouble trims
		t = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(t, "d"), "D"), "f"), "F")
		f, err := strconv.ParseFloat(t, bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return nil, outOfRange()
			}
		}
		if target == connect.Float32 {
			return float32(f), nil
		}
		return f, nil
	case connect.Boolean:
		return strings.EqualFold(s, "true"), nil
	}
	return nil, dataError("%s is not supported in the Cast transformation.", strings.ToUpper(string(target)))
}

// castToString renders v as Java's toString would, with dates in ISO
// form and bytes in base64.
func castToString(v any) string {
	switch x := v.(type) {
	case time.Time:
		return isoDateString(x)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case *connect.Struct:
		return x.String()
	}
	return connect.FormatValue(v)
}

// isoDateString is Values.dateFormatFor: a date, a time or a timestamp
// pattern depending on which parts of the instant are set, in UTC.
func isoDateString(t time.Time) string {
	t = t.UTC()
	ms := t.UnixMilli()
	switch {
	case ms%(24*3600*1000) == 0:
		return t.Format("2006-01-02")
	case ms >= 0 && ms < 24*3600*1000:
		return t.Format("15:04:05.000Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}
