package transforms

import (
	"fmt"
	"slices"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/converters/simpleheader"
)

// InsertHeaderConfigDef declares InsertHeader's keys.
func InsertHeaderConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "header", Type: connect.TypeString, Default: connect.NoDefault, Validator: nonNull(),
			Importance: connect.High, Doc: "The name of the header."}).
		Define(connect.ConfigKey{Name: "value.literal", Type: connect.TypeString, Default: connect.NoDefault, Validator: nonNull(),
			Importance: connect.High, Doc: "The literal value that is to be set as the header value on all records."})
}

// InsertHeader adds a header whose value is parsed from a literal with
// the type inference of Values.parseString.
type InsertHeader struct {
	noClose
	header string
	value  connect.SchemaAndValue
}

// Configure implements connect.Transformation.
func (t *InsertHeader) Configure(props map[string]string) error {
	c, err := parse(InsertHeaderConfigDef(), props)
	if err != nil {
		return err
	}
	t.header = c.String("header")
	t.value = simpleheader.ParseString(c.String("value.literal"))
	return nil
}

// Apply implements connect.Transformation.
func (t *InsertHeader) Apply(rec *connect.Record) (*connect.Record, error) {
	out := *rec
	out.Headers = append(slices.Clip(slices.Clone(rec.Headers)), connect.Header{Key: t.header, Schema: t.value.Schema, Value: t.value.Value})
	return &out, nil
}

// DropHeadersConfigDef declares DropHeaders' keys.
func DropHeadersConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "headers", Type: connect.TypeList, Default: connect.NoDefault, Validator: nonEmptyList(),
			Importance: connect.High, Doc: "The name of the headers to be removed."})
}

// DropHeaders removes every header whose key is listed.
type DropHeaders struct {
	noClose
	drop map[string]bool
}

// Configure implements connect.Transformation.
func (t *DropHeaders) Configure(props map[string]string) error {
	c, err := parse(DropHeadersConfigDef(), props)
	if err != nil {
		return err
	}
	t.drop = map[string]bool{}
	for _, h := range c.List("headers") {
		t.drop[h] = true
	}
	return nil
}

// Apply implements connect.Transformation.
func (t *DropHeaders) Apply(rec *connect.Record) (*connect.Record, error) {
	out := *rec
	out.Headers = make(connect.Headers, 0, len(rec.Headers))
	for _, h := range rec.Headers {
		if !t.drop[h.Key] {
			out.Headers = append(out.Headers, h)
		}
	}
	return &out, nil
}

// HeaderFromConfigDef declares HeaderFrom's keys.
func HeaderFromConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "fields", Type: connect.TypeList, Default: connect.NoDefault, Validator: nonEmptyList(),
			Importance: connect.High, Doc: "Field names in the record whose values are to be copied or moved to headers."}).
		Define(connect.ConfigKey{Name: "headers", Type: connect.TypeList, Default: connect.NoDefault, Validator: nonEmptyList(),
			Importance: connect.High, Doc: "Header names, in the same order as the field names listed in the fields configuration property."}).
		Define(connect.ConfigKey{Name: "operation", Type: connect.TypeString, Default: connect.NoDefault,
			Validator: connect.OneOf("move", "copy"), Importance: connect.High,
			Doc: "Either <code>move</code> if the fields are to be moved to the headers (removed from the key/value), or <code>copy</code> if the fields are to be copied to the headers (retained in the key/value)."})
	return defineReplaceNull(d)
}

// HeaderFrom is HeaderFrom$Key / HeaderFrom$Value: it copies or moves
// fields of the key or value into headers.
type HeaderFrom struct {
	side
	noClose
	fields, headers []string
	move            bool
	replaceNull     bool
	cache           schemaCache
}

// Configure implements connect.Transformation.
func (t *HeaderFrom) Configure(props map[string]string) error {
	c, err := parse(HeaderFromConfigDef(), props)
	if err != nil {
		return err
	}
	t.fields, t.headers = c.List("fields"), c.List("headers")
	if len(t.fields) != len(t.headers) {
		return &connect.ConfigError{Message: fmt.Sprintf("'%s' config must have the same number of elements as '%s' config.", "fields", "headers")}
	}
	t.move = c.String("operation") == "move"
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	return nil
}

// Apply implements connect.Transformation.
func (t *HeaderFrom) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	purpose := "header copy"
	if t.move {
		purpose = "header move"
	}
	headers := slices.Clip(slices.Clone(rec.Headers))
	if schema == nil {
		m, err := requireMap(value, purpose)
		if err != nil {
			return nil, err
		}
		for i, f := range t.fields {
			headers = append(headers, connect.Header{Key: t.headers[i], Value: m[f]})
		}
		out := t.with(rec, nil, m)
		if t.move {
			nm := cloneMap(m)
			for _, f := range t.fields {
				delete(nm, f)
			}
			out = t.with(rec, nil, nm)
		}
		out.Headers = headers
		return out, nil
	}
	st, err := requireStruct(value, purpose)
	if err != nil {
		return nil, err
	}
	for i, f := range t.fields {
		sf := schema.Field(f)
		if sf == nil {
			return nil, dataError("%s is not a valid field name", f)
		}
		headers = append(headers, connect.Header{Key: t.headers[i], Schema: sf.Schema, Value: fieldValue(st, sf.Index, t.replaceNull)})
	}
	if !t.move {
		out := t.with(rec, schema, value)
		out.Headers = headers
		return out, nil
	}
	ns, err := t.cache.getOrBuild(schema, func(in *connect.Schema) (*connect.Schema, error) {
		b := copySchemaBasics(in, connect.Struct_)
		for _, f := range in.Fields {
			if !slices.Contains(t.fields, f.Name) {
				b.Field(f.Name, f.Schema)
			}
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
	nst := connect.NewStruct(ns)
	for _, f := range ns.Fields {
		of := schema.Field(f.Name)
		if err := nst.Put(f.Name, fieldValue(st, of.Index, t.replaceNull)); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	out := t.with(rec, ns, nst)
	out.Headers = headers
	return out, nil
}
