package connect

import (
	"bytes"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"
)

// Struct is a value of a struct schema: one slot per field, in field order.
type Struct struct {
	schema *Schema
	values []any
}

// NewStruct returns an empty Struct of the given struct schema.
func NewStruct(s *Schema) *Struct {
	if s == nil || s.Type != Struct_ {
		panic("connect: NewStruct needs a struct schema")
	}
	return &Struct{schema: s, values: make([]any, len(s.Fields))}
}

// Schema returns the struct's schema.
func (st *Struct) Schema() *Schema { return st.schema }

// Put sets a field by name, checking the value against the field's schema.
func (st *Struct) Put(name string, v any) error {
	f := st.schema.Field(name)
	if f == nil {
		return fmt.Errorf("%s is not a valid field name", name)
	}
	if err := Validate(f.Schema, v); err != nil {
		return fmt.Errorf("invalid value for field %s: %w", name, err)
	}
	st.values[f.Index] = v
	return nil
}

// MustPut is Put that panics on a schema mismatch; for values built in code.
func (st *Struct) MustPut(name string, v any) *Struct {
	if err := st.Put(name, v); err != nil {
		panic(err)
	}
	return st
}

// Get returns a field's value by name, falling back to the field's default.
func (st *Struct) Get(name string) any {
	f := st.schema.Field(name)
	if f == nil {
		return nil
	}
	return st.GetAt(f.Index)
}

// GetAt returns the value at a field index, falling back to the default.
func (st *Struct) GetAt(i int) any {
	v := st.values[i]
	if v == nil && st.schema.Fields[i].Schema.HasDefault {
		return st.schema.Fields[i].Schema.Default
	}
	return v
}

// Raw returns the value at a field index without applying the default.
func (st *Struct) Raw(i int) any { return st.values[i] }

// Validate checks that every required field without default is set.
func (st *Struct) Validate() error {
	for i, f := range st.schema.Fields {
		if err := Validate(f.Schema, st.values[i]); err != nil {
			return fmt.Errorf("invalid value for field %s: %w", f.Name, err)
		}
	}
	return nil
}

// String renders the struct like Apache's Struct.toString.
func (st *Struct) String() string {
	var b strings.Builder
	b.WriteString("Struct{")
	first := true
	for i, f := range st.schema.Fields {
		if st.values[i] == nil {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%s=%s", f.Name, FormatValue(st.values[i]))
	}
	b.WriteByte('}')
	return b.String()
}

// FormatValue renders a Connect value as Java's toString would, which is
// what StringConverter and the FileStream sink write.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case []byte:
		return fmt.Sprintf("[B@%x", reflect.ValueOf(x).Pointer()&0xffffff)
	case float32:
		return FormatJavaFloat(float64(x), 32)
	case float64:
		return FormatJavaFloat(x, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FormatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+"="+FormatValue(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case time.Time:
		return x.UTC().Format("Mon Jan 02 15:04:05 UTC 2006")
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// Validate checks that v is a legal value for schema s (nil schema: any
// schemaless value is accepted).
func Validate(s *Schema, v any) error {
	if s == nil {
		return nil
	}
	if v == nil {
		if s.Optional || s.HasDefault {
			return nil
		}
		return fmt.Errorf("invalid value: null used for required field: \"%s\", schema type: %s", s.Name, upper(s.Type))
	}
	switch s.Name {
	case DecimalName:
		if _, ok := v.(Decimal); ok {
			return nil
		}
		return mismatch(s, v)
	case DateName, TimeName, TimestampName:
		if _, ok := v.(time.Time); ok {
			return nil
		}
		return mismatch(s, v)
	}
	ok := false
	switch s.Type {
	case Int8:
		_, ok = v.(int8)
	case Int16:
		_, ok = v.(int16)
	case Int32:
		_, ok = v.(int32)
	case Int64:
		_, ok = v.(int64)
	case Float32:
		_, ok = v.(float32)
	case Float64:
		_, ok = v.(float64)
	case Boolean:
		_, ok = v.(bool)
	case String:
		_, ok = v.(string)
	case Bytes:
		_, ok = v.([]byte)
	case Array:
		arr, isArr := v.([]any)
		if !isArr {
			return mismatch(s, v)
		}
		for _, e := range arr {
			if err := Validate(s.ValueSchema, e); err != nil {
				return err
			}
		}
		return nil
	case Map:
		switch m := v.(type) {
		case map[string]any:
			for k, e := range m {
				if err := Validate(s.KeySchema, k); err != nil {
					return err
				}
				if err := Validate(s.ValueSchema, e); err != nil {
					return err
				}
			}
			return nil
		case []MapEntry:
			for _, e := range m {
				if err := Validate(s.KeySchema, e.Key); err != nil {
					return err
				}
				if err := Validate(s.ValueSchema, e.Value); err != nil {
					return err
				}
			}
			return nil
		}
	case Struct_:
		st, isSt := v.(*Struct)
		if !isSt {
			return mismatch(s, v)
		}
		if !st.schema.Equal(s) {
			return fmt.Errorf("struct schemas do not match")
		}
		return nil
	}
	if !ok {
		return mismatch(s, v)
	}
	return nil
}

func mismatch(s *Schema, v any) error {
	return fmt.Errorf("invalid Java object for schema %s with type %s: %T", s, upper(s.Type), v)
}

// ValuesEqual compares two Connect values deeply ([]byte by content, structs
// by schema and fields, decimals by value and scale).
func ValuesEqual(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case *Struct:
		y, ok := b.(*Struct)
		if !ok || x == nil || y == nil {
			return ok && x == y
		}
		if !x.schema.Equal(y.schema) {
			return false
		}
		for i := range x.values {
			if !ValuesEqual(x.values[i], y.values[i]) {
				return false
			}
		}
		return true
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.Scale == y.Scale && bigEq(x.Unscaled, y.Unscaled)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !ValuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, found := y[k]
			if !found || !ValuesEqual(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func bigEq(a, b *big.Int) bool {
	if a == nil {
		a = new(big.Int)
	}
	if b == nil {
		b = new(big.Int)
	}
	return a.Cmp(b) == 0
}
