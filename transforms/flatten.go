package transforms

import (
	"github.com/ferryhq/ferry/connect"
)

// FlattenConfigDef declares Flatten's keys.
func FlattenConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "delimiter", Type: connect.TypeString, Default: ".", Importance: connect.Medium,
			Doc: "Delimiter to insert between field names from the input record when generating field names for the output record"})
}

// Flatten is Flatten$Key / Flatten$Value: nested structs or maps become
// one level whose names join the path with the delimiter.
type Flatten struct {
	side
	noClose
	delimiter string
	cache     schemaCache
}

const flattenPurpose = "flattening"

// Configure implements connect.Transformation.
func (t *Flatten) Configure(props map[string]string) error {
	c, err := parse(FlattenConfigDef(), props)
	if err != nil {
		return err
	}
	t.delimiter = c.String("delimiter")
	return nil
}

func (t *Flatten) name(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + t.delimiter + field
}

// Apply implements connect.Transformation.
func (t *Flatten) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if value == nil {
		return rec, nil
	}
	if schema == nil {
		m, err := requireMap(value, flattenPurpose)
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		if err := t.flattenMap(m, "", out); err != nil {
			return nil, err
		}
		return t.with(rec, nil, out), nil
	}
	st, err := requireStruct(value, flattenPurpose)
	if err != nil {
		return nil, err
	}
	ns, err := t.cache.getOrBuild(schema, func(in *connect.Schema) (*connect.Schema, error) {
		b := copySchemaBasics(in, connect.Struct_)
		def, _ := in.Default.(*connect.Struct)
		if err := t.buildSchema(in, "", b, in.Optional, def); err != nil {
			return nil, err
		}
		s, err := b.Build()
		if err != nil {
			return nil, connect.NewDataError("", err)
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	out := connect.NewStruct(ns)
	if err := t.flattenStruct(st, "", out); err != nil {
		return nil, err
	}
	return t.with(rec, ns, out), nil
}

func (t *Flatten) flattenMap(m map[string]any, prefix string, out map[string]any) error {
	for k, v := range m {
		name := t.name(prefix, k)
		if v == nil {
			out[name] = nil
			continue
		}
		typ, ok := inferType(v)
		if !ok {
			return dataError("Flatten transformation was passed a value of type class %s which is not supported by Connect's data API", javaClassName(v))
		}
		switch typ {
		case connect.Map:
			nested, err := requireMap(v, flattenPurpose)
			if err != nil {
				return err
			}
			if err := t.flattenMap(nested, name, out); err != nil {
				return err
			}
		case connect.Struct_:
			return dataError("Flatten transformation does not support class %s for record without schemas (for field %s).", javaClassName(v), name)
		default:
			out[name] = v
		}
	}
	return nil
}

func (t *Flatten) buildSchema(s *connect.Schema, prefix string, b *connect.SchemaBuilder, optional bool, parentDefault *connect.Struct) error {
	for i, f := range s.Fields {
		name := t.name(prefix, f.Name)
		fieldOptional := optional || f.Schema.Optional
		var def any
		if f.Schema.HasDefault && f.Schema.Default != nil {
			def = f.Schema.Default
		} else if parentDefault != nil {
			def = parentDefault.GetAt(i)
		}
		switch f.Schema.Type {
		case connect.Struct_:
			nd, _ := def.(*connect.Struct)
			if err := t.buildSchema(f.Schema, name, b, fieldOptional, nd); err != nil {
				return err
			}
		case connect.Map:
			return dataError("Flatten transformation does not support %s for record with schemas (for field %s).", "MAP", name)
		default:
			fb := connect.NewSchemaBuilder(f.Schema.Type).Name(f.Schema.Name).Doc(f.Schema.Doc)
			if f.Schema.Version != nil {
				fb.Version(*f.Schema.Version)
			}
			for k, v := range f.Schema.Parameters {
				fb.Parameter(k, v)
			}
			fs, err := fb.Build()
			if err != nil {
				return connect.NewDataError("", err)
			}
			fs.ValueSchema = f.Schema.ValueSchema
			if fieldOptional {
				fs.Optional = true
			}
			if def != nil {
				if err := connect.Validate(fs, def); err != nil {
					return connect.NewDataError("", err)
				}
				fs.Default, fs.HasDefault = def, true
			}
			b.Field(name, fs)
		}
	}
	return nil
}

func (t *Flatten) flattenStruct(st *connect.Struct, prefix string, out *connect.Struct) error {
	if st == nil {
		return nil
	}
	for i, f := range st.Schema().Fields {
		name := t.name(prefix, f.Name)
		switch f.Schema.Type {
		case connect.Struct_:
			nested, _ := st.GetAt(i).(*connect.Struct)
			if err := t.flattenStruct(nested, name, out); err != nil {
				return err
			}
		case connect.Map:
			return dataError("Flatten transformation does not support %s for record with schemas (for field %s).", "MAP", name)
		default:
			if err := out.Put(name, st.GetAt(i)); err != nil {
				return connect.NewDataError("", err)
			}
		}
	}
	return nil
}
