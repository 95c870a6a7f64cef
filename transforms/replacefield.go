package transforms

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// javaSplit is String.split(sep) for a one-character separator: trailing
// empty strings are dropped.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

func parseRenames(mappings []string) (map[string]string, error) {
	m := map[string]string{}
	for _, mapping := range mappings {
		parts := javaSplit(mapping, ":")
		if len(parts) != 2 {
			return nil, fmt.Errorf("Invalid rename mapping: %s", mapping)
		}
		m[parts[0]] = parts[1]
	}
	return m, nil
}

// ReplaceFieldConfigDef declares ReplaceField's keys.
func ReplaceFieldConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "exclude", Type: connect.TypeList, Default: []string{}, Importance: connect.Medium,
			Doc: "Fields to exclude. This takes precedence over the fields to include."}).
		Define(connect.ConfigKey{Name: "include", Type: connect.TypeList, Default: []string{}, Importance: connect.Medium,
			Doc: "Fields to include. If specified, only these fields will be used."}).
		Define(connect.ConfigKey{Name: "renames", Type: connect.TypeList, Default: []string{}, Importance: connect.Medium,
			Doc: "Field rename mappings.",
			Validator: connect.ValidatorFunc("list of colon-delimited pairs, e.g. <code>foo:bar,abc:xyz</code>", func(v any) error {
				l, _ := v.([]string)
				_, err := parseRenames(l)
				return err
			})})
	return defineReplaceNull(d)
}

// ReplaceField is ReplaceField$Key / ReplaceField$Value: it keeps, drops
// and renames top-level fields.
type ReplaceField struct {
	side
	noClose
	exclude, include []string
	renames, reverse map[string]string
	replaceNull      bool
	cache            schemaCache
}

const replacePurpose = "field replacement"

// Configure implements connect.Transformation.
func (t *ReplaceField) Configure(props map[string]string) error {
	c, err := parse(ReplaceFieldConfigDef(), props)
	if err != nil {
		return err
	}
	t.exclude, t.include = c.List("exclude"), c.List("include")
	t.renames, _ = parseRenames(c.List("renames"))
	t.reverse = map[string]string{}
	for k, v := range t.renames {
		t.reverse[v] = k
	}
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	return nil
}

func (t *ReplaceField) keep(name string) bool {
	return !slices.Contains(t.exclude, name) && (len(t.include) == 0 || slices.Contains(t.include, name))
}

func (t *ReplaceField) renamed(name string) string {
	if n, ok := t.renames[name]; ok {
		return n
	}
	return name
}

// Apply implements connect.Transformation.
func (t *ReplaceField) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if value == nil {
		return rec, nil
	}
	if schema == nil {
		m, err := requireMap(value, replacePurpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			if t.keep(k) {
				out[t.renamed(k)] = v
			}
		}
		return t.with(rec, nil, out), nil
	}
	st, err := requireStruct(value, replacePurpose)
	if err != nil {
		return nil, err
	}
	ns, err := t.cache.getOrBuild(st.Schema(), func(in *connect.Schema) (*connect.Schema, error) {
		b := copySchemaBasics(in, connect.Struct_)
		for _, f := range in.Fields {
			if t.keep(f.Name) {
				b.Field(t.renamed(f.Name), f.Schema)
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
	out := connect.NewStruct(ns)
	for _, f := range ns.Fields {
		orig := f.Name
		if o, ok := t.reverse[f.Name]; ok {
			orig = o
		}
		of := st.Schema().Field(orig)
		if err := out.Put(f.Name, fieldValue(st, of.Index, t.replaceNull)); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	return t.with(rec, ns, out), nil
}
