package transforms

import (
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

const fieldSyntaxDoc = "Defines the version of the syntax to access fields. If set to `V1`, then the field paths are limited to access the elements at the root level of the struct or map. If set to `V2`, the syntax will support accessing nested elements. To access nested elements, dotted notation is used. If dots are already included in the field name, then backtick pairs can be used to wrap field names containing dots. E.g. to access the subfield `baz` from a field named \"foo.bar\" in a struct/map the following format can be used to access its elements: \"`foo.bar`.baz\"."

// ExtractFieldConfigDef declares ExtractField's keys.
func ExtractFieldConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "field.syntax.version", Type: connect.TypeString, Default: "V1",
			Validator: connect.OneOfIgnoreCase("V1", "V2"), Importance: connect.High, Doc: fieldSyntaxDoc}).
		Define(connect.ConfigKey{Name: "field", Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.Medium,
			Doc: "Field name to extract."})
	return defineReplaceNull(d)
}

// fieldPath is a SingleFieldPath: one top-level name (V1) or a dotted
// path where backticks quote names containing dots (V2).
type fieldPath []string

func parseFieldPath(path string, v2 bool) (fieldPath, error) {
	if !v2 {
		return fieldPath{path}, nil
	}
	var steps fieldPath
	incomplete := func(at int) error {
		return fmt.Errorf("Incomplete backtick pair in path: [%s], consider adding a backslash before backtick at position %d to escape it", path, at)
	}
	i := 0
	for i < len(path) {
		if path[i] != '`' {
			end := strings.IndexByte(path[i:], '.')
			if end < 0 {
				steps = append(steps, path[i:])
				i = len(path)
				break
			}
			steps = append(steps, path[i:i+end])
			i += end + 1
			continue
		}
		open := i
		i++
		start := i
		var b strings.Builder
		for {
			rel := strings.IndexByte(path[i:], '`')
			if rel < 0 {
				return nil, incomplete(open)
			}
			i += rel
			escaped := path[i-1] == '\\'
			if i >= len(path)-1 {
				if escaped {
					return nil, incomplete(open)
				}
				b.WriteString(path[start:i])
				steps = append(steps, b.String())
				i++
				break
			}
			if path[i+1] != '.' {
				i++
				continue
			}
			if escaped {
				b.WriteString(path[start : i-1])
				b.WriteByte('`')
				i++
				start = i
				continue
			}
			b.WriteString(path[start:i])
			steps = append(steps, b.String())
			i += 2
			break
		}
	}
	if path != "" && path[len(path)-1] == '.' {
		steps = append(steps, "")
	}
	return steps, nil
}

func (p fieldPath) fieldFrom(s *connect.Schema) *connect.Field {
	for i, name := range p {
		if s == nil || s.Type != connect.Struct_ {
			return nil
		}
		f := s.Field(name)
		if f == nil || i == len(p)-1 {
			return f
		}
		s = f.Schema
	}
	return nil
}

func (p fieldPath) valueFromMap(m map[string]any) any {
	var cur any = m
	for _, name := range p {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[name]
	}
	return cur
}

func (p fieldPath) valueFromStruct(st *connect.Struct, replaceNull bool) any {
	var cur any = st
	for _, name := range p {
		s, ok := cur.(*connect.Struct)
		if !ok || s == nil {
			return nil
		}
		f := s.Schema().Field(name)
		if f == nil {
			return nil
		}
		cur = fieldValue(s, f.Index, replaceNull)
	}
	return cur
}

// ExtractField is ExtractField$Key / ExtractField$Value: it replaces the
// key or value with one of its (possibly nested) fields.
type ExtractField struct {
	side
	noClose
	original    string
	path        fieldPath
	replaceNull bool
}

const extractPurpose = "field extraction"

// Configure implements connect.Transformation.
func (t *ExtractField) Configure(props map[string]string) error {
	c, err := parse(ExtractFieldConfigDef(), props)
	if err != nil {
		return err
	}
	t.original = c.String("field")
	t.path, err = parseFieldPath(t.original, strings.EqualFold(c.String("field.syntax.version"), "V2"))
	if err != nil {
		return &connect.ConfigError{Name: "field", Value: t.original, HasVal: true, Message: err.Error()}
	}
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	return nil
}

// Apply implements connect.Transformation.
func (t *ExtractField) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if schema == nil {
		if value == nil {
			return t.with(rec, nil, nil), nil
		}
		m, err := requireMap(value, extractPurpose)
		if err != nil {
			return nil, err
		}
		return t.with(rec, nil, t.path.valueFromMap(m)), nil
	}
	var st *connect.Struct
	if value != nil {
		var err error
		if st, err = requireStruct(value, extractPurpose); err != nil {
			return nil, err
		}
	}
	f := t.path.fieldFrom(schema)
	if f == nil {
		return nil, connect.NewDataError("Unknown field: "+t.original, nil)
	}
	if st == nil {
		return t.with(rec, f.Schema, nil), nil
	}
	return t.with(rec, f.Schema, t.path.valueFromStruct(st, t.replaceNull)), nil
}
