// Package bytearray is Ferry's ByteArrayConverter
// (org.apache.kafka.connect.converters.ByteArrayConverter): bytes pass
// through unchanged.
package bytearray

import (
	"fmt"

	"github.com/ferryhq/ferry/connect"
)

// Class is the Java class name this converter answers to.
const Class = "org.apache.kafka.connect.converters.ByteArrayConverter"

// ConfigDef declares the (empty) configuration.
func ConfigDef() *connect.ConfigDef { return connect.NewConfigDef() }

// Converter is the ByteArrayConverter. The zero value is ready to use.
type Converter struct{}

// Configure implements connect.Converter; there is nothing to configure.
func (Converter) Configure(map[string]string, bool) error { return nil }

// FromConnectData passes bytes through; the schema must be nil or bytes.
func (Converter) FromConnectData(_ string, schema *connect.Schema, value any) ([]byte, error) {
	if schema != nil && schema.Type != connect.Bytes {
		return nil, connect.NewDataError(fmt.Sprintf("Invalid schema type for ByteArrayConverter: %s", upper(schema.Type)), nil)
	}
	switch v := value.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	}
	return nil, connect.NewDataError(fmt.Sprintf("ByteArrayConverter is not compatible with objects of type %T", value), nil)
}

// ToConnectData returns the bytes as they are, nil included, with the
// optional bytes schema.
func (Converter) ToConnectData(_ string, data []byte) (connect.SchemaAndValue, error) {
	return connect.SchemaAndValue{Schema: connect.OptionalBytesSchema, Value: nilIfNil(data)}, nil
}

// nilIfNil keeps a nil slice an untyped nil in the interface, so callers
// can test Value == nil for tombstones.
func nilIfNil(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// HeaderConverter is the ByteArrayConverter used for headers.
type HeaderConverter struct{ Converter }

// Configure implements connect.HeaderConverter.
func (HeaderConverter) Configure(map[string]string) error { return nil }

// FromConnectHeader implements connect.HeaderConverter.
func (h HeaderConverter) FromConnectHeader(topic, _ string, schema *connect.Schema, value any) ([]byte, error) {
	return h.FromConnectData(topic, schema, value)
}

// ToConnectHeader implements connect.HeaderConverter.
func (h HeaderConverter) ToConnectHeader(topic, _ string, data []byte) (connect.SchemaAndValue, error) {
	return h.ToConnectData(topic, data)
}

func upper(t connect.Type) string {
	b := []byte(t)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

var (
	_ connect.Converter       = Converter{}
	_ connect.HeaderConverter = HeaderConverter{}
)
