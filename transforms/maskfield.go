package transforms

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// MaskFieldConfigDef declares MaskField's keys.
func MaskFieldConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "fields", Type: connect.TypeList, Default: connect.NoDefault, Validator: nonEmptyList(),
			Importance: connect.High, Doc: "Names of fields to mask."}).
		Define(connect.ConfigKey{Name: "replacement", Type: connect.TypeString, Default: nil, Validator: connect.NonEmptyString(),
			Importance: connect.Low, Doc: "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only)."})
	return defineReplaceNull(d)
}

// MaskField is MaskField$Key / MaskField$Value: it replaces fields with
// their type's empty value or a configured replacement.
type MaskField struct {
	side
	noClose
	fields         map[string]bool
	replacement    string
	hasReplacement bool
	replaceNull    bool
}

const maskPurpose = "mask fields"

// Configure implements connect.Transformation.
func (t *MaskField) Configure(props map[string]string) error {
	c, err := parse(MaskFieldConfigDef(), props)
	if err != nil {
		return err
	}
	t.fields = map[string]bool{}
	for _, f := range c.List("fields") {
		t.fields[f] = true
	}
	t.replacement, t.hasReplacement = c.String("replacement"), c.IsSet("replacement")
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	return nil
}

// Apply implements connect.Transformation.
func (t *MaskField) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if value == nil {
		return rec, nil
	}
	if schema == nil {
		m, err := requireMap(value, maskPurpose)
		if err != nil {
			return nil, err
		}
		out := cloneMap(m)
		for f := range t.fields {
			v, err := t.mask(m[f])
			if err != nil {
				return nil, err
			}
			out[f] = v
		}
		return t.with(rec, nil, out), nil
	}
	st, err := requireStruct(value, maskPurpose)
	if err != nil {
		return nil, err
	}
	out := connect.NewStruct(st.Schema())
	for i, f := range st.Schema().Fields {
		v := fieldValue(st, i, t.replaceNull)
		if t.fields[f.Name] {
			if v, err = t.mask(v); err != nil {
				return nil, err
			}
		}
		if err := out.Put(f.Name, v); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	return t.with(rec, st.Schema(), out), nil
}

func (t *MaskField) mask(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t.hasReplacement {
		return maskWith(v, t.replacement)
	}
	switch v.(type) {
	case bool:
		return false, nil
	case int8:
		return int8(0), nil
	case int16:
		return int16(0), nil
	case int32:
		return int32(0), nil
	case int64:
		return int64(0), nil
	case float32:
		return float32(0), nil
	case float64:
		return float64(0), nil
	case *big.Int:
		return new(big.Int), nil
	case connect.Decimal:
		return connect.NewDecimal(0, 0), nil
	case time.Time:
		return time.UnixMilli(0).UTC(), nil
	case string:
		return "", nil
	case []any:
		return []any{}, nil
	case map[string]any:
		return map[string]any{}, nil
	}
	return nil, dataError("Cannot mask value of type: class %s", javaClassName(v))
}

func maskWith(v any, r string) (any, error) {
	numErr := func() error {
		return dataError("Unable to convert %s (class java.lang.String) to number", r)
	}
	// Numbers go through Values.convertTo*, which also accepts a
	// fractional literal for an integer type by truncating it.
	asInt := func(bits int) (int64, error) {
		s := strings.TrimSpace(r)
		if n, err := strconv.ParseInt(s, 10, bits); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return int64(f), nil
		}
		return 0, numErr()
	}
	switch v.(type) {
	case int8:
		n, err := asInt(8)
		return int8(n), err
	case int16:
		n, err := asInt(16)
		return int16(n), err
	case int32:
		n, err := asInt(32)
		return int32(n), err
	case int64:
		n, err := asInt(64)
		return n, err
	case float32:
		f, err := strconv.ParseFloat(strings.TrimSpace(r), 32)
		if err != nil {
			return nil, numErr()
		}
		return float32(f), nil
	case float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil {
			return nil, numErr()
		}
		return f, nil
	case string:
		return r, nil
	case connect.Decimal:
		d, err := connect.ParseDecimal(r)
		if err != nil {
			return nil, numErr()
		}
		return d, nil
	case *big.Int:
		n, ok := new(big.Int).SetString(r, 10)
		if !ok {
			return nil, numErr()
		}
		return n, nil
	}
	return nil, dataError("Cannot mask value of type class %s with custom replacement.", javaClassName(v))
}
