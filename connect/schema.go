package connect

import (
	"fmt"
	"maps"
	"slices"
)

// Type is the kind of value a Schema describes. The names are those of
// Apache's Schema.Type, lower-cased as the JsonConverter writes them.
type Type string

// The Connect schema types.
const (
	Int8    Type = "int8"
	Int16   Type = "int16"
	Int32   Type = "int32"
	Int64   Type = "int64"
	Float32 Type = "float32"
	Float64 Type = "float64"
	Boolean Type = "boolean"
	String  Type = "string"
	Bytes   Type = "bytes"
	Array   Type = "array"
	Map     Type = "map"
	Struct_ Type = "struct"
)

// IsPrimitive reports whether t has no child schemas.
func (t Type) IsPrimitive() bool {
	switch t {
	case Array, Map, Struct_:
		return false
	}
	return true
}

// Field is one named member of a struct schema.
type Field struct {
	Name   string
	Index  int
	Schema *Schema
}

// Schema describes the shape of a key, value or header value.
//
// Schemas are treated as immutable once built; build them with the
// constructors and [SchemaBuilder]. Go values for each type:
//
//	int8..int64      int8, int16, int32, int64
//	float32/float64  float32, float64
//	boolean          bool
//	string           string
//	bytes            []byte
//	array            []any
//	map              map[string]any when keys are strings, else []MapEntry
//	struct           *Struct
//
// Logical types change the Go value: Decimal is [Decimal],
// Date, Time and Timestamp are time.Time.
type Schema struct {
	Type       Type
	Optional   bool
	Default    any
	HasDefault bool
	Name       string
	Version    *int32
	Doc        string
	Parameters map[string]string

	Fields      []Field // struct
	KeySchema   *Schema // map
	ValueSchema *Schema // map, array (element schema)
}

// MapEntry is one key/value pair of a map whose keys are not strings.
type MapEntry struct {
	Key   any
	Value any
}

// Predefined schemas, shared and never to be modified.
var (
	Int8Schema            = &Schema{Type: Int8}
	Int16Schema           = &Schema{Type: Int16}
	Int32Schema           = &Schema{Type: Int32}
	Int64Schema           = &Schema{Type: Int64}
	Float32Schema         = &Schema{Type: Float32}
	Float64Schema         = &Schema{Type: Float64}
	BooleanSchema         = &Schema{Type: Boolean}
	StringSchema          = &Schema{Type: String}
	BytesSchema           = &Schema{Type: Bytes}
	OptionalInt8Schema    = &Schema{Type: Int8, Optional: true}
	OptionalInt16Schema   = &Schema{Type: Int16, Optional: true}
	OptionalInt32Schema   = &Schema{Type: Int32, Optional: true}
	OptionalInt64Schema   = &Schema{Type: Int64, Optional: true}
	OptionalFloat32Schema = &Schema{Type: Float32, Optional: true}
	OptionalFloat64Schema = &Schema{Type: Float64, Optional: true}
	OptionalBooleanSchema = &Schema{Type: Boolean, Optional: true}
	OptionalStringSchema  = &Schema{Type: String, Optional: true}
	OptionalBytesSchema   = &Schema{Type: Bytes, Optional: true}
)

// Field returns the struct field with the given name, or nil.
func (s *Schema) Field(name string) *Field {
	if s == nil {
		return nil
	}
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// String renders the schema briefly, for error messages.
func (s *Schema) String() string {
	if s == nil {
		return "null"
	}
	if s.Name != "" {
		return fmt.Sprintf("Schema{%s:%s}", s.Name, upper(s.Type))
	}
	return fmt.Sprintf("Schema{%s}", upper(s.Type))
}

func upper(t Type) string {
	b := []byte(t)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// Equal reports whether two schemas are structurally identical, as Apache's
// ConnectSchema.equals does.
func (s *Schema) Equal(o *Schema) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	if s.Type != o.Type || s.Optional != o.Optional || s.Name != o.Name || s.Doc != o.Doc ||
		s.HasDefault != o.HasDefault || !maps.Equal(s.Parameters, o.Parameters) {
		return false
	}
	if (s.Version == nil) != (o.Version == nil) || (s.Version != nil && *s.Version != *o.Version) {
		return false
	}
	if s.HasDefault && !ValuesEqual(s.Default, o.Default) {
		return false
	}
	if len(s.Fields) != len(o.Fields) {
		return false
	}
	for i := range s.Fields {
		if s.Fields[i].Name != o.Fields[i].Name || !s.Fields[i].Schema.Equal(o.Fields[i].Schema) {
			return false
		}
	}
	return s.KeySchema.Equal(o.KeySchema) && s.ValueSchema.Equal(o.ValueSchema)
}

// SchemaBuilder assembles a Schema step by step.
type SchemaBuilder struct {
	s   Schema
	err error
}

// NewSchemaBuilder starts a schema of the given type.
func NewSchemaBuilder(t Type) *SchemaBuilder { return &SchemaBuilder{s: Schema{Type: t}} }

// StructBuilder starts a struct schema.
func StructBuilder() *SchemaBuilder { return NewSchemaBuilder(Struct_) }

// ArrayOf starts an array schema with the given element schema.
func ArrayOf(elem *Schema) *SchemaBuilder {
	b := NewSchemaBuilder(Array)
	b.s.ValueSchema = elem
	return b
}

// MapOf starts a map schema with the given key and value schemas.
func MapOf(key, value *Schema) *SchemaBuilder {
	b := NewSchemaBuilder(Map)
	b.s.KeySchema, b.s.ValueSchema = key, value
	return b
}

// Optional marks the schema optional.
func (b *SchemaBuilder) Optional() *SchemaBuilder { b.s.Optional = true; return b }

// Required marks the schema required (the default).
func (b *SchemaBuilder) Required() *SchemaBuilder { b.s.Optional = false; return b }

// Name sets the schema name.
func (b *SchemaBuilder) Name(n string) *SchemaBuilder { b.s.Name = n; return b }

// Version sets the schema version.
func (b *SchemaBuilder) Version(v int32) *SchemaBuilder { b.s.Version = &v; return b }

// Doc sets the schema documentation.
func (b *SchemaBuilder) Doc(d string) *SchemaBuilder { b.s.Doc = d; return b }

// Parameter adds one schema parameter.
func (b *SchemaBuilder) Parameter(k, v string) *SchemaBuilder {
	if b.s.Parameters == nil {
		b.s.Parameters = map[string]string{}
	}
	b.s.Parameters[k] = v
	return b
}

// DefaultValue sets the default value; it is checked when the schema is built.
func (b *SchemaBuilder) DefaultValue(v any) *SchemaBuilder {
	b.s.Default, b.s.HasDefault = v, true
	return b
}

// Field appends a struct field.
func (b *SchemaBuilder) Field(name string, schema *Schema) *SchemaBuilder {
	if b.s.Type != Struct_ {
		b.err = fmt.Errorf("cannot add field %q to a non-struct schema", name)
		return b
	}
	if b.s.Field(name) != nil {
		b.err = fmt.Errorf("cannot create field because of field name duplication %s", name)
		return b
	}
	b.s.Fields = append(b.s.Fields, Field{Name: name, Index: len(b.s.Fields), Schema: schema})
	return b
}

// Build returns the schema or the first error met while building it.
func (b *SchemaBuilder) Build() (*Schema, error) {
	if b.err != nil {
		return nil, b.err
	}
	s := b.s
	s.Fields = slices.Clone(s.Fields)
	s.Parameters = maps.Clone(s.Parameters)
	if s.HasDefault && s.Default != nil {
		if err := Validate(&s, s.Default); err != nil {
			return nil, fmt.Errorf("invalid default value: %w", err)
		}
	}
	return &s, nil
}

// MustBuild is Build for schemas known to be valid; it panics otherwise.
func (b *SchemaBuilder) MustBuild() *Schema {
	s, err := b.Build()
	if err != nil {
		panic(err)
	}
	return s
}

// SchemaAndValue pairs a value with its (possibly nil) schema.
type SchemaAndValue struct {
	Schema *Schema
	Value  any
}
