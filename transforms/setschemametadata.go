package transforms

import (
	"github.com/ferryhq/ferry/connect"
)

// SetSchemaMetadataConfigDef declares SetSchemaMetadata's keys.
func SetSchemaMetadataConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "schema.name", Type: connect.TypeString, Default: nil, Importance: connect.High, Doc: "Schema name to set."}).
		Define(connect.ConfigKey{Name: "schema.version", Type: connect.TypeInt, Default: nil, Importance: connect.High, Doc: "Schema version to set."})
	return defineReplaceNull(d)
}

// SetSchemaMetadata is SetSchemaMetadata$Key / SetSchemaMetadata$Value:
// it sets the name and/or version of the key or value schema.
type SetSchemaMetadata struct {
	side
	noClose
	name        *string
	version     *int32
	replaceNull bool
	cache       schemaCache
}

// Configure implements connect.Transformation.
func (t *SetSchemaMetadata) Configure(props map[string]string) error {
	c, err := parse(SetSchemaMetadataConfigDef(), props)
	if err != nil {
		return err
	}
	t.name, t.version = nil, nil
	if c.IsSet("schema.name") {
		n := c.String("schema.name")
		t.name = &n
	}
	if c.IsSet("schema.version") {
		v := int32(c.Int("schema.version"))
		t.version = &v
	}
	if t.name == nil && t.version == nil {
		return &connect.ConfigError{Message: "Neither schema name nor version configured"}
	}
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	return nil
}

// Apply implements connect.Transformation.
func (t *SetSchemaMetadata) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if schema == nil && value == nil {
		return rec, nil
	}
	if err := requireSchema(schema, "updating schema metadata"); err != nil {
		return nil, err
	}
	ns, err := t.cache.getOrBuild(schema, func(in *connect.Schema) (*connect.Schema, error) {
		s := *in // fields, key and value schemas are shared, not modified
		if t.name != nil {
			s.Name = *t.name
		}
		if t.version != nil {
			v := *t.version
			s.Version = &v
		}
		return &s, nil
	})
	if err != nil {
		return nil, err
	}
	st, ok := value.(*connect.Struct)
	if !ok {
		return t.with(rec, ns, value), nil
	}
	// A struct is bound to its schema: rebuild it against the new one.
	out := connect.NewStruct(ns)
	for i, f := range ns.Fields {
		if err := out.Put(f.Name, fieldValue(st, i, t.replaceNull)); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	return t.with(rec, ns, out), nil
}
