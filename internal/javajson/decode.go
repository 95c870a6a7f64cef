package javajson

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/ferryhq/ferry/connect"
)

// decoder converts parsed nodes to Connect values, following Apache's
// JsonConverter.convertToConnect, including its leniency: a JSON value of
// the wrong kind reads as Jackson's JsonNode accessors read it (0, false or
// null) rather than failing.
type decoder struct {
	p           *parser
	replaceNull bool
}

func dataErr(format string, args ...any) error {
	return connect.NewDataError(fmt.Sprintf(format, args...), nil)
}

func (d *decoder) kind(i int32) kind {
	if i < 0 {
		return kindMissing
	}
	return d.p.nodes[i].kind
}

// value converts node i (-1: absent) under schema s (nil: schemaless).
func (d *decoder) value(s *connect.Schema, i int32) (any, error) {
	k := d.kind(i)
	if s == nil {
		return d.schemaless(i, k)
	}
	if k == kindMissing || k == kindNull {
		if s.HasDefault && s.Default != nil && d.replaceNull {
			return s.Default, nil
		}
		if s.Optional {
			return nil, nil
		}
		return nil, dataErr("Invalid null value for required %s field", upper(s.Type))
	}
	if s.Name != "" {
		if v, done, err := d.logical(s, i, k); done {
			return v, err
		}
	}
	switch s.Type {
	case connect.Boolean:
		return k == kindBool && d.p.data[d.p.nodes[i].vs] == 't', nil
	case connect.Int8:
		return int8(d.long(i, k)), nil
	case connect.Int16:
		return int16(d.long(i, k)), nil
	case connect.Int32:
		return int32(d.long(i, k)), nil
	case connect.Int64:
		return d.long(i, k), nil
	case connect.Float32:
		if k != kindNumber {
			return float32(0), nil
		}
		f, _ := strconv.ParseFloat(string(d.p.raw(i)), 32)
		return float32(f), nil
	case connect.Float64:
		if k != kindNumber {
			return float64(0), nil
		}
		f, _ := strconv.ParseFloat(string(d.p.raw(i)), 64)
		return f, nil
	case connect.String:
		if k != kindString {
			return nil, validateNull(s)
		}
		return d.p.text(i), nil
	case connect.Bytes:
		if k != kindString {
			return nil, validateNull(s)
		}
		b, err := d.base64(i)
		if err != nil {
			return nil, connect.NewDataError("Invalid bytes field", err)
		}
		return b, nil
	case connect.Array:
		return d.array(s.ValueSchema, i, k)
	case connect.Map:
		return d.mapValue(s, i, k)
	case connect.Struct_:
		if k != kindObject {
			return nil, dataErr("Structs should be encoded as JSON objects, but found %s", k.nodeType())
		}
		st := connect.NewStruct(s)
		for _, f := range s.Fields {
			v, err := d.value(f.Schema, d.p.member(i, f.Name))
			if err != nil {
				return nil, err
			}
			if v == nil {
				if err := connect.Validate(f.Schema, nil); err != nil {
					return nil, connect.NewDataError("invalid value for field "+f.Name, err)
				}
				continue
			}
			if err := st.Put(f.Name, v); err != nil {
				return nil, connect.NewDataError("", err)
			}
		}
		return st, nil
	}
	return nil, dataErr("Unknown schema type: %s", upper(s.Type))
}

// validateNull reports the error Apache's Struct.put raises when a
// non-text node reads as null under a required schema; at top level Apache
// returns null, so only required schemas fail.
func validateNull(s *connect.Schema) error {
	if s.Optional {
		return nil
	}
	return dataErr("Invalid value: null used for required field: \"%s\", schema type: %s", s.Name, upper(s.Type))
}

func (d *decoder) base64(i int32) ([]byte, error) {
	raw := d.p.raw(i)
	if d.p.nodes[i].esc {
		raw = []byte(d.p.text(i))
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
	n, err := base64.StdEncoding.Decode(out, raw)
	return out[:n], err
}

// long reads a node as Jackson's longValue does: integral numbers keep
// their low 64 bits, fractions are truncated toward zero, anything else
// is 0.
func (d *decoder) long(i int32, k kind) int64 {
	if k != kindNumber {
		return 0
	}
	raw := d.p.raw(i)
	if !d.p.nodes[i].flt {
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return n
		}
		b, ok := new(big.Int).SetString(string(raw), 10)
		if !ok {
			return 0
		}
		return lowBits(b)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err == nil && math.Abs(f) < 9e18 {
		return int64(f)
	}
	bf, _, perr := big.ParseFloat(string(raw), 10, 4096, big.ToZero)
	if perr != nil || bf.IsInf() {
		return 0
	}
	b, _ := bf.Int(nil)
	return lowBits(b)
}

func lowBits(b *big.Int) int64 {
	m := new(big.Int).And(b, new(big.Int).SetUint64(math.MaxUint64))
	return int64(m.Uint64())
}

// isInt reports whether node i is an integral number that fits an int32,
// Jackson's isInt.
func (d *decoder) isInt(i int32, k kind) (int32, bool) {
	if k != kindNumber || d.p.nodes[i].flt {
		return 0, false
	}
	n, err := strconv.ParseInt(string(d.p.raw(i)), 10, 32)
	return int32(n), err == nil
}

func (d *decoder) logical(s *connect.Schema, i int32, k kind) (v any, done bool, err error) {
	switch s.Name {
	case connect.DecimalName:
		switch k {
		case kindNumber:
			dec, err := connect.ParseDecimal(string(d.p.raw(i)))
			if err != nil {
				return nil, true, connect.NewDataError("Invalid decimal number", err)
			}
			return dec, true, nil
		case kindString:
			scale, err := connect.DecimalScale(s)
			if err != nil {
				return nil, true, connect.NewDataError("Invalid bytes for Decimal field", err)
			}
			b, err := d.base64(i)
			if err != nil {
				return nil, true, connect.NewDataError("Invalid bytes for Decimal field", err)
			}
			return connect.DecimalFromBytes(b, scale), true, nil
		}
		return nil, true, dataErr("Invalid type for Decimal, underlying representation should be numeric or bytes but was %s", k.nodeType())
	case connect.DateName:
		n, ok := d.isInt(i, k)
		if !ok {
			return nil, true, dataErr("Invalid type for Date, underlying representation should be integer but was %s", k.nodeType())
		}
		return connect.DaysToDate(n), true, nil
	case connect.TimeName:
		n, ok := d.isInt(i, k)
		if !ok {
			return nil, true, dataErr("Invalid type for Time, underlying representation should be integer but was %s", k.nodeType())
		}
		if n < 0 || n >= 24*60*60*1000 {
			return nil, true, dataErr("Time values must use number of milliseconds greater than 0 and less than 86400000")
		}
		return connect.MillisToTime(n), true, nil
	case connect.TimestampName:
		if k != kindNumber || d.p.nodes[i].flt {
			return nil, true, dataErr("Invalid type for Timestamp, underlying representation should be integral but was %s", k.nodeType())
		}
		return timeFromMillis(d.long(i, k)), true, nil
	}
	return nil, false, nil
}

func (d *decoder) array(elem *connect.Schema, i int32, k kind) (any, error) {
	if k != kindArray {
		// Jackson iterates non-containers as empty.
		return []any{}, nil
	}
	n := d.p.nodes[i]
	out := make([]any, n.n)
	for j := range n.n {
		v, err := d.value(elem, n.first+j)
		if err != nil {
			return nil, err
		}
		out[j] = v
	}
	return out, nil
}

func (d *decoder) mapValue(s *connect.Schema, i int32, k kind) (any, error) {
	var keySchema, valueSchema *connect.Schema
	if s != nil {
		keySchema, valueSchema = s.KeySchema, s.ValueSchema
	}
	if s == nil || (keySchema != nil && keySchema.Type == connect.String) {
		if k != kindObject {
			return nil, dataErr("Maps with string fields should be encoded as JSON objects, but found %s", k.nodeType())
		}
		n := d.p.nodes[i]
		out := make(map[string]any, n.n)
		for j := n.first; j < n.first+n.n; j++ {
			v, err := d.value(valueSchema, j)
			if err != nil {
				return nil, err
			}
			out[d.p.key(j)] = v
		}
		return out, nil
	}
	if k != kindArray {
		return nil, dataErr("Maps with non-string fields should be encoded as JSON array of tuples, but found %s", k.nodeType())
	}
	n := d.p.nodes[i]
	out := make([]connect.MapEntry, 0, n.n)
	for j := n.first; j < n.first+n.n; j++ {
		e := d.p.nodes[j]
		if e.kind != kindArray {
			return nil, dataErr("Found invalid map entry instead of array tuple: %s", e.kind.nodeType())
		}
		if e.n != 2 {
			return nil, dataErr("Found invalid map entry, expected length 2 but found :%d", e.n)
		}
		key, err := d.value(keySchema, e.first)
		if err != nil {
			return nil, err
		}
		val, err := d.value(valueSchema, e.first+1)
		if err != nil {
			return nil, err
		}
		out = append(out, connect.MapEntry{Key: key, Value: val})
	}
	return out, nil
}

// schemaless converts a node with no schema: integral numbers become
// int64, other numbers float64, objects map[string]any, arrays []any.
func (d *decoder) schemaless(i int32, k kind) (any, error) {
	switch k {
	case kindMissing, kindNull:
		return nil, nil
	case kindBool:
		return d.p.data[d.p.nodes[i].vs] == 't', nil
	case kindNumber:
		if !d.p.nodes[i].flt {
			return d.long(i, k), nil
		}
		f, _ := strconv.ParseFloat(string(d.p.raw(i)), 64) // ±Inf on overflow, as BigDecimal.doubleValue
		return f, nil
	case kindString:
		return d.p.text(i), nil
	case kindArray:
		return d.array(nil, i, k)
	case kindObject:
		return d.mapValue(nil, i, k)
	}
	return nil, dataErr("Unknown schema type: null")
}

// schema parses a schema object (Apache's asConnectSchema).
func (d *decoder) schema(i int32) (*connect.Schema, error) {
	if d.kind(i) == kindNull {
		return nil, nil
	}
	if d.kind(i) != kindObject {
		return nil, dataErr("Schema must contain 'type' field")
	}
	p := d.p
	t := p.member(i, "type")
	if d.kind(t) != kindString {
		return nil, dataErr("Schema must contain 'type' field")
	}
	s := &connect.Schema{}
	switch typ := p.text(t); typ {
	case "boolean":
		s.Type = connect.Boolean
	case "int8", "int16", "int32", "int64", "bytes", "string":
		s.Type = connect.Type(typ)
	case "float":
		s.Type = connect.Float32
	case "double":
		s.Type = connect.Float64
	case "array":
		s.Type = connect.Array
		items := p.member(i, "items")
		if k := d.kind(items); k == kindMissing || k == kindNull {
			return nil, dataErr("Array schema did not specify the element type")
		}
		elem, err := d.schema(items)
		if err != nil {
			return nil, err
		}
		s.ValueSchema = elem
	case "map":
		s.Type = connect.Map
		keys := p.member(i, "keys")
		if keys < 0 {
			return nil, dataErr("Map schema did not specify the key type")
		}
		values := p.member(i, "values")
		if values < 0 {
			return nil, dataErr("Map schema did not specify the value type")
		}
		var err error
		if s.KeySchema, err = d.schema(keys); err != nil {
			return nil, err
		}
		if s.ValueSchema, err = d.schema(values); err != nil {
			return nil, err
		}
	case "struct":
		s.Type = connect.Struct_
		fields := p.member(i, "fields")
		if d.kind(fields) != kindArray {
			return nil, dataErr("Struct schema's \"fields\" argument is not an array.")
		}
		fn := p.nodes[fields]
		s.Fields = make([]connect.Field, 0, fn.n)
		for j := fn.first; j < fn.first+fn.n; j++ {
			name := int32(-1)
			if d.kind(j) == kindObject {
				name = p.member(j, "field")
			}
			if d.kind(name) != kindString {
				return nil, dataErr("Struct schema's field name not specified properly")
			}
			fs, err := d.schema(j)
			if err != nil {
				return nil, err
			}
			fname := p.text(name)
			if s.Field(fname) != nil {
				return nil, dataErr("Cannot create field because of field name duplication %s", fname)
			}
			s.Fields = append(s.Fields, connect.Field{Name: fname, Index: len(s.Fields), Schema: fs})
		}
	default:
		return nil, dataErr("Unknown schema type: %s", typ)
	}
	if o := p.member(i, "optional"); d.kind(o) == kindBool && p.data[p.nodes[o].vs] == 't' {
		s.Optional = true
	}
	if n := p.member(i, "name"); d.kind(n) == kindString {
		s.Name = p.text(n)
	}
	if v := p.member(i, "version"); d.kind(v) == kindNumber && !p.nodes[v].flt {
		ver := int32(d.long(v, kindNumber))
		s.Version = &ver
	}
	if doc := p.member(i, "doc"); d.kind(doc) == kindString {
		s.Doc = p.text(doc)
	}
	if params := p.member(i, "parameters"); d.kind(params) == kindObject {
		pn := p.nodes[params]
		s.Parameters = make(map[string]string, pn.n)
		for j := pn.first; j < pn.first+pn.n; j++ {
			if p.nodes[j].kind != kindString {
				return nil, dataErr("Schema parameters must have string values.")
			}
			s.Parameters[p.key(j)] = p.text(j)
		}
	}
	if def := p.member(i, "default"); def >= 0 {
		v, err := d.value(s, def)
		if err != nil {
			return nil, err
		}
		if v != nil {
			if err := connect.Validate(s, v); err != nil {
				return nil, connect.NewDataError("Invalid default value", err)
			}
			s.Default, s.HasDefault = v, true
		}
	}
	return s, nil
}
