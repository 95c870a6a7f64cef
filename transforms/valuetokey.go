package transforms

import (
	"github.com/ferryhq/ferry/connect"
)

// ValueToKeyConfigDef declares ValueToKey's keys.
func ValueToKeyConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "fields", Type: connect.TypeList, Default: connect.NoDefault, Validator: nonEmptyList(),
			Importance: connect.High, Doc: "Field names on the record value to extract as the record key."})
	return defineReplaceNull(d)
}

// ValueToKey replaces the key with a struct or map of value fields.
type ValueToKey struct {
	noClose
	fields      []string
	replaceNull bool
	cache       schemaCache
}

const valueToKeyPurpose = "copying fields from value to key"

// Configure implements connect.Transformation.
func (t *ValueToKey) Configure(props map[string]string) error {
	c, err := parse(ValueToKeyConfigDef(), props)
	if err != nil {
		return err
	}
	t.fields, t.replaceNull = c.List("fields"), c.Bool(keyReplaceNullWithDefault)
	return nil
}

// Apply implements connect.Transformation.
func (t *ValueToKey) Apply(rec *connect.Record) (*connect.Record, error) {
	out := *rec
	if rec.ValueSchema == nil {
		m, err := requireMap(rec.Value, valueToKeyPurpose)
		if err != nil {
			return nil, err
		}
		key := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			key[f] = m[f]
		}
		out.KeySchema, out.Key = nil, key
		return &out, nil
	}
	st, err := requireStruct(rec.Value, valueToKeyPurpose)
	if err != nil {
		return nil, err
	}
	ks, err := t.cache.getOrBuild(rec.ValueSchema, func(vs *connect.Schema) (*connect.Schema, error) {
		b := connect.StructBuilder()
		for _, f := range t.fields {
			vf := vs.Field(f)
			if vf == nil {
				return nil, dataError("Field does not exist: %s", f)
			}
			b.Field(f, vf.Schema)
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
	key := connect.NewStruct(ks)
	for _, f := range t.fields {
		vf := st.Schema().Field(f)
		if vf == nil {
			return nil, dataError("Field does not exist: %s", f)
		}
		if err := key.Put(f, fieldValue(st, vf.Index, t.replaceNull)); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	out.KeySchema, out.Key = ks, key
	return &out, nil
}
