package transforms

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Version is reported for every built-in transform and predicate: the
// Apache Kafka release whose behaviour they follow.
const Version = "4.1.1"

// Package prefixes of the Apache class names.
const (
	pkg     = "org.apache.kafka.connect.transforms."
	predPkg = pkg + "predicates."
)

// Shared key names and docs.
const (
	keyReplaceNullWithDefault = "replace.null.with.default"
	docReplaceNullWithDefault = "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."
)

func defineReplaceNull(d *connect.ConfigDef) *connect.ConfigDef {
	return d.Define(connect.ConfigKey{Name: keyReplaceNullWithDefault, Type: connect.TypeBoolean, Default: true,
		Importance: connect.Medium, Doc: docReplaceNullWithDefault})
}

// side selects the part of a record a $Key or $Value transform works on.
type side bool

const (
	onValue side = false
	onKey   side = true
)

func (s side) get(r *connect.Record) (*connect.Schema, any) {
	if s == onKey {
		return r.KeySchema, r.Key
	}
	return r.ValueSchema, r.Value
}

// with returns a shallow copy of r with the operated part replaced; the
// input record is never modified.
func (s side) with(r *connect.Record, schema *connect.Schema, value any) *connect.Record {
	out := *r
	if s == onKey {
		out.KeySchema, out.Key = schema, value
	} else {
		out.ValueSchema, out.Value = schema, value
	}
	return &out
}

// classes returns the Apache class names of a transform's two variants.
func variantClass(name string, s side) string {
	if s == onKey {
		return pkg + name + "$Key"
	}
	return pkg + name + "$Value"
}

func dataError(format string, args ...any) error {
	return connect.NewDataError(fmt.Sprintf(format, args...), nil)
}

func requireMap(v any, purpose string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, dataError("Only Map objects supported in absence of schema for [%s], found: %s", purpose, javaClassName(v))
	}
	return m, nil
}

func requireStruct(v any, purpose string) (*connect.Struct, error) {
	st, ok := v.(*connect.Struct)
	if !ok || st == nil {
		return nil, dataError("Only Struct objects supported for [%s], found: %s", purpose, javaClassName(v))
	}
	return st, nil
}

func requireSchema(s *connect.Schema, purpose string) error {
	if s == nil {
		return dataError("Schema required for [%s]", purpose)
	}
	return nil
}

// javaClassName names the Java class Apache would see for a Connect value,
// so error messages read the same.
func javaClassName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "java.lang.String"
	case int8:
		return "java.lang.Byte"
	case int16:
		return "java.lang.Short"
	case int32, int:
		return "java.lang.Integer"
	case int64:
		return "java.lang.Long"
	case float32:
		return "java.lang.Float"
	case float64:
		return "java.lang.Double"
	case bool:
		return "java.lang.Boolean"
	case []byte:
		return "[B"
	case []any:
		return "java.util.ArrayList"
	case map[string]any, []connect.MapEntry:
		return "java.util.HashMap"
	case *connect.Struct:
		return "org.apache.kafka.connect.data.Struct"
	case connect.Decimal:
		return "java.math.BigDecimal"
	case time.Time:
		return "java.util.Date"
	default:
		return fmt.Sprintf("%T", x)
	}
}

// fieldValue reads field i of st, applying the field default when
// replace.null.with.default is on.
func fieldValue(st *connect.Struct, i int, replaceNull bool) any {
	if replaceNull {
		return st.GetAt(i)
	}
	return st.Raw(i)
}

// copySchemaBasics starts a builder of type t carrying s's name, version,
// doc and parameters (not optionality or default), as Apache's
// SchemaUtil.copySchemaBasics.
func copySchemaBasics(s *connect.Schema, t connect.Type) *connect.SchemaBuilder {
	b := connect.NewSchemaBuilder(t).Name(s.Name).Doc(s.Doc)
	if s.Version != nil {
		b.Version(*s.Version)
	}
	for k, v := range s.Parameters {
		b.Parameter(k, v)
	}
	return b
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return maps.Clone(m)
}

// schemaCache remembers the output schema built for an input schema. It
// is keyed by pointer first (converters usually reuse schema instances)
// and falls back to structural equality, and holds at most cacheSize
// entries like Apache's LRU cache of 16.
type schemaCache struct {
	mu      sync.Mutex
	entries []cacheEntry
}

type cacheEntry struct {
	in, out *connect.Schema
}

const cacheSize = 16

func (c *schemaCache) get(in *connect.Schema) *connect.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.entries {
		if c.entries[i].in == in {
			return c.entries[i].out
		}
	}
	for i := range c.entries {
		if c.entries[i].in.Equal(in) {
			return c.entries[i].out
		}
	}
	return nil
}

func (c *schemaCache) put(in, out *connect.Schema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= cacheSize {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, cacheEntry{in: in, out: out})
}

// getOrBuild returns the cached output schema for in, building it once.
func (c *schemaCache) getOrBuild(in *connect.Schema, build func(*connect.Schema) (*connect.Schema, error)) (*connect.Schema, error) {
	if out := c.get(in); out != nil {
		return out, nil
	}
	out, err := build(in)
	if err != nil {
		return nil, err
	}
	c.put(in, out)
	return out, nil
}

// putAll fills a new struct of schema s with values by field index,
// wrapping a schema mismatch as a data error.
func newStructFrom(s *connect.Schema, values map[string]any) (*connect.Struct, error) {
	st := connect.NewStruct(s)
	for _, f := range s.Fields {
		if v, ok := values[f.Name]; ok {
			if err := st.Put(f.Name, v); err != nil {
				return nil, connect.NewDataError("", err)
			}
		}
	}
	return st, nil
}

func parse(def *connect.ConfigDef, props map[string]string) (*connect.Config, error) {
	c, err := def.Parse(props)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// nonEmptyList is Apache's NonEmptyListValidator.
func nonEmptyList() connect.Validator {
	return connect.ValidatorFunc("non-empty list", func(v any) error {
		if l, ok := v.([]string); !ok || len(l) == 0 {
			return fmt.Errorf("Empty list")
		}
		return nil
	})
}

// nonNull is ConfigDef.NonNullValidator.
func nonNull() connect.Validator {
	return connect.ValidatorFunc("non-null string", func(v any) error {
		if v == nil {
			return fmt.Errorf("entry must be non null")
		}
		return nil
	})
}

type noClose struct{}

func (noClose) Close() error { return nil }
