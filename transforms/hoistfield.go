package transforms

import (
	"github.com/ferryhq/ferry/connect"
)

// HoistFieldConfigDef declares HoistField's keys.
func HoistFieldConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "field", Type: connect.TypeString, Default: connect.NoDefault, Importance: connect.Medium,
			Doc: "Field name for the single field that will be created in the resulting Struct or Map."})
}

// HoistField is HoistField$Key / HoistField$Value: it wraps the whole key
// or value in a struct (with a schema) or map (without) of one field.
type HoistField struct {
	side
	noClose
	field string
	cache schemaCache
}

// Configure implements connect.Transformation.
func (t *HoistField) Configure(props map[string]string) error {
	c, err := parse(HoistFieldConfigDef(), props)
	if err != nil {
		return err
	}
	t.field = c.String("field")
	return nil
}

// Apply implements connect.Transformation.
func (t *HoistField) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if schema == nil {
		return t.with(rec, nil, map[string]any{t.field: value}), nil
	}
	ns, err := t.cache.getOrBuild(schema, func(in *connect.Schema) (*connect.Schema, error) {
		return connect.StructBuilder().Field(t.field, in).Build()
	})
	if err != nil {
		return nil, err
	}
	st := connect.NewStruct(ns)
	if err := st.Put(t.field, value); err != nil {
		return nil, connect.NewDataError("", err)
	}
	return t.with(rec, ns, st), nil
}
