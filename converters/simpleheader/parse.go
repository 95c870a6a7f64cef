package simpleheader

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

var errNotValue = errors.New("not a value")

// ParseString infers a Connect schema and value from text, after Apache's
// Values.parseString: null, booleans, integers in the smallest fitting type
// (int8..int64), fractional numbers as float32 when they fit (else float64,
// else Decimal), ISO-8601 dates, times and timestamps, [arrays] and {maps}
// of such values with quoted strings inside. Anything else is the string
// itself. Unlike Apache, a container followed by more text is a string.
func ParseString(s string) connect.SchemaAndValue {
	if s == "" {
		return connect.SchemaAndValue{Schema: connect.StringSchema, Value: s}
	}
	t := strings.TrimSpace(s)
	switch t {
	case "null":
		return connect.SchemaAndValue{}
	case "true":
		return connect.SchemaAndValue{Schema: connect.BooleanSchema, Value: true}
	case "false":
		return connect.SchemaAndValue{Schema: connect.BooleanSchema, Value: false}
	}
	if t != "" && (t[0] == '[' || t[0] == '{') {
		p := &textParser{s: t}
		if sv, err := p.value(); err == nil && p.atEnd() && sv.Schema != nil {
			return sv
		}
	}
	if t != "" {
		if sv, ok := parseScalar(t); ok {
			return sv
		}
	}
	return connect.SchemaAndValue{Schema: connect.StringSchema, Value: s}
}

// parseScalar parses a temporal or numeric literal.
func parseScalar(t string) (connect.SchemaAndValue, bool) {
	c := t[0]
	if c >= '0' && c <= '9' {
		if sv, ok := parseTemporal(t); ok {
			return sv, true
		}
	}
	if (c >= '0' && c <= '9') || c == '+' || c == '-' {
		return parseNumber(t)
	}
	return connect.SchemaAndValue{}, false
}

var (
	dateSchema      = connect.DateSchema().MustBuild()
	timeSchema      = connect.TimeSchema().MustBuild()
	timestampSchema = connect.TimestampSchema().MustBuild()
)

func parseTemporal(t string) (connect.SchemaAndValue, bool) {
	t = strings.ReplaceAll(t, `\:`, ":")
	var layout string
	var schema *connect.Schema
	switch len(t) {
	case len(dateLayout):
		layout, schema = dateLayout, dateSchema
	case len(timeLayout):
		layout, schema = timeLayout, timeSchema
	case len(timestampLayout):
		layout, schema = timestampLayout, timestampSchema
	default:
		return connect.SchemaAndValue{}, false
	}
	v, err := time.Parse(layout, t)
	if err != nil {
		return connect.SchemaAndValue{}, false
	}
	if schema == timeSchema {
		v = time.UnixMilli(int64(v.Hour()*3600000 + v.Minute()*60000 + v.Second()*1000 + v.Nanosecond()/1e6)).UTC()
	}
	return connect.SchemaAndValue{Schema: schema, Value: v.UTC()}, true
}

var bigLong = new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil)

// parseNumber follows Values.parseAsNumber.
func parseNumber(t string) (connect.SchemaAndValue, bool) {
	if strings.ContainsAny(t, " \t_") || strings.HasPrefix(t, "+-") || strings.HasPrefix(t, "-+") {
		return connect.SchemaAndValue{}, false
	}
	d, err := connect.ParseDecimal(t)
	if err != nil {
		return connect.SchemaAndValue{}, false
	}
	// Whole numbers between 1 and 1e19 in magnitude (or zero) become the
	// smallest integer type that holds them.
	abs := new(big.Int).Abs(d.Unscaled)
	r := new(big.Rat).SetFrac(abs, big.NewInt(1))
	if d.Scale > 0 {
		r.SetFrac(abs, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil))
	} else if d.Scale < 0 && -d.Scale < 40 {
		r.SetInt(new(big.Int).Mul(abs, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil)))
	}
	isZero := abs.Sign() == 0
	if isZero || (r.Cmp(new(big.Rat).SetInt(bigLong)) <= 0 && r.Cmp(big.NewRat(1, 1)) >= 0) {
		if r.IsInt() {
			n := new(big.Int).Set(r.Num())
			if d.Unscaled.Sign() < 0 {
				n.Neg(n)
			}
			if n.IsInt64() {
				x := n.Int64()
				switch {
				case x >= math.MinInt8 && x <= math.MaxInt8:
					return connect.SchemaAndValue{Schema: connect.Int8Schema, Value: int8(x)}, true
				case x >= math.MinInt16 && x <= math.MaxInt16:
					return connect.SchemaAndValue{Schema: connect.Int16Schema, Value: int16(x)}, true
				case x >= math.MinInt32 && x <= math.MaxInt32:
					return connect.SchemaAndValue{Schema: connect.Int32Schema, Value: int32(x)}, true
				}
				return connect.SchemaAndValue{Schema: connect.Int64Schema, Value: x}, true
			}
		}
	}
	f := d.Float64()
	if d.Scale != 0 {
		if f32 := float32(f); !math.IsInf(float64(f32), 0) {
			return connect.SchemaAndValue{Schema: connect.Float32Schema, Value: f32}, true
		}
		if !math.IsInf(f, 0) {
			return connect.SchemaAndValue{Schema: connect.Float64Schema, Value: f}, true
		}
	}
	return connect.SchemaAndValue{Schema: connect.DecimalSchema(d.Scale).MustBuild(), Value: d}, true
}

// textParser reads the embedded values inside arrays and maps.
type textParser struct {
	s   string
	pos int
}

func (p *textParser) skip() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *textParser) atEnd() bool { p.skip(); return p.pos >= len(p.s) }

func (p *textParser) value() (connect.SchemaAndValue, error) {
	p.skip()
	if p.pos >= len(p.s) {
		return connect.SchemaAndValue{}, errNotValue
	}
	switch p.s[p.pos] {
	case '"':
		return p.quoted()
	case '[':
		return p.array()
	case '{':
		return p.object()
	}
	start := p.pos
	for p.pos < len(p.s) && !strings.ContainsRune(",:]}", rune(p.s[p.pos])) {
		if p.s[p.pos] == '\\' {
			p.pos++
		}
		p.pos++
	}
	// Times contain colons; take them when the token so far is a prefix of one.
	for p.pos < len(p.s) && p.s[p.pos] == ':' && start < p.pos && p.s[start] >= '0' && p.s[start] <= '9' && p.pos-start < len(timestampLayout) {
		p.pos++
		for p.pos < len(p.s) && !strings.ContainsRune(",:]}", rune(p.s[p.pos])) {
			p.pos++
		}
	}
	tok := strings.TrimSpace(p.s[start:p.pos])
	switch tok {
	case "null":
		return connect.SchemaAndValue{}, nil
	case "true":
		return connect.SchemaAndValue{Schema: connect.BooleanSchema, Value: true}, nil
	case "false":
		return connect.SchemaAndValue{Schema: connect.BooleanSchema, Value: false}, nil
	case "":
		return connect.SchemaAndValue{}, errNotValue
	}
	if sv, ok := parseScalar(tok); ok {
		return sv, nil
	}
	return connect.SchemaAndValue{}, errNotValue
}

func (p *textParser) quoted() (connect.SchemaAndValue, error) {
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '\\':
			if p.pos+1 < len(p.s) {
				p.pos++
				b.WriteByte(p.s[p.pos])
			}
		case '"':
			p.pos++
			str := b.String()
			if sv, ok := parseTemporal(str); ok {
				return sv, nil
			}
			return connect.SchemaAndValue{Schema: connect.StringSchema, Value: str}, nil
		default:
			b.WriteByte(c)
		}
		p.pos++
	}
	return connect.SchemaAndValue{}, errNotValue
}

func (p *textParser) array() (connect.SchemaAndValue, error) {
	p.pos++
	var out []any
	var schemas []*connect.Schema
	for {
		p.skip()
		if p.pos < len(p.s) && p.s[p.pos] == ']' && len(out) == 0 {
			p.pos++
			break
		}
		sv, err := p.value()
		if err != nil {
			return sv, err
		}
		out = append(out, sv.Value)
		schemas = append(schemas, sv.Schema)
		p.skip()
		if p.pos >= len(p.s) {
			return connect.SchemaAndValue{}, errNotValue
		}
		if p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.s[p.pos] == ']' {
			p.pos++
			break
		}
		return connect.SchemaAndValue{}, errNotValue
	}
	if out == nil {
		out = []any{}
	}
	elem := common(schemas, out)
	return connect.SchemaAndValue{Schema: &connect.Schema{Type: connect.Array, ValueSchema: elem}, Value: out}, nil
}

func (p *textParser) object() (connect.SchemaAndValue, error) {
	p.pos++
	var keys, vals []any
	var ks, vs []*connect.Schema
	for {
		p.skip()
		if p.pos < len(p.s) && p.s[p.pos] == '}' && len(keys) == 0 {
			p.pos++
			break
		}
		k, err := p.value()
		if err != nil || k.Value == nil {
			return connect.SchemaAndValue{}, errNotValue
		}
		p.skip()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return connect.SchemaAndValue{}, errNotValue
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return v, err
		}
		keys, vals = append(keys, k.Value), append(vals, v.Value)
		ks, vs = append(ks, k.Schema), append(vs, v.Schema)
		p.skip()
		if p.pos >= len(p.s) {
			return connect.SchemaAndValue{}, errNotValue
		}
		if p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.s[p.pos] == '}' {
			p.pos++
			break
		}
		return connect.SchemaAndValue{}, errNotValue
	}
	keySchema := common(ks, keys)
	valueSchema := common(vs, vals)
	schema := &connect.Schema{Type: connect.Map, KeySchema: keySchema, ValueSchema: valueSchema}
	if keySchema != nil && keySchema.Type == connect.String {
		m := make(map[string]any, len(keys))
		for i, k := range keys {
			m[k.(string)] = vals[i]
		}
		return connect.SchemaAndValue{Schema: schema, Value: m}, nil
	}
	entries := make([]connect.MapEntry, len(keys))
	for i := range keys {
		entries[i] = connect.MapEntry{Key: keys[i], Value: vals[i]}
	}
	return connect.SchemaAndValue{Schema: schema, Value: entries}, nil
}

var numRank = map[connect.Type]int{connect.Int8: 1, connect.Int16: 2, connect.Int32: 3, connect.Int64: 4, connect.Float32: 5, connect.Float64: 6}

// common returns the schema shared by all non-null values, widening plain
// numeric types (and converting vals in place), or nil when they differ.
func common(schemas []*connect.Schema, vals []any) *connect.Schema {
	var best *connect.Schema
	for _, s := range schemas {
		switch {
		case s == nil:
		case best == nil:
			best = s
		case best.Equal(s):
		case s.Name == "" && best.Name == "" && numRank[s.Type] > 0 && numRank[best.Type] > 0:
			if numRank[s.Type] > numRank[best.Type] {
				best = s
			}
		default:
			return nil
		}
	}
	if best == nil || numRank[best.Type] == 0 || best.Name != "" {
		return optional(best)
	}
	for i, v := range vals {
		if v != nil {
			vals[i] = widen(v, best.Type)
		}
	}
	return optional(best)
}

func optional(s *connect.Schema) *connect.Schema {
	if s == nil {
		return nil
	}
	c := *s
	c.Optional = true
	return &c
}

func widen(v any, t connect.Type) any {
	var i int64
	var f float64
	isFloat := false
	switch x := v.(type) {
	case int8:
		i = int64(x)
	case int16:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	case float32:
		f, isFloat = float64(x), true
	case float64:
		f, isFloat = x, true
	default:
		return v
	}
	if !isFloat {
		f = float64(i)
	}
	switch t {
	case connect.Int16:
		return int16(i)
	case connect.Int32:
		return int32(i)
	case connect.Int64:
		return i
	case connect.Float32:
		return float32(f)
	case connect.Float64:
		return f
	}
	return v
}
