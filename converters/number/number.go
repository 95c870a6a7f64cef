// Package number holds Apache's fixed-width binary converters
// (org.apache.kafka.connect.converters.IntegerConverter, LongConverter,
// ShortConverter, FloatConverter, DoubleConverter and BooleanConverter):
// values are stored in the big-endian layouts of Kafka's serializers.
package number

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// Java class names of the converters.
const (
	ShortClass   = "org.apache.kafka.connect.converters.ShortConverter"
	IntegerClass = "org.apache.kafka.connect.converters.IntegerConverter"
	LongClass    = "org.apache.kafka.connect.converters.LongConverter"
	FloatClass   = "org.apache.kafka.connect.converters.FloatConverter"
	DoubleClass  = "org.apache.kafka.connect.converters.DoubleConverter"
	BooleanClass = "org.apache.kafka.connect.converters.BooleanConverter"
)

// ConfigDef declares the (empty) configuration of every number converter.
func ConfigDef() *connect.ConfigDef { return connect.NewConfigDef() }

// Converter is one fixed-width converter; build it with the constructors.
type Converter struct {
	typeName string // Java type name used in messages
	size     int
	schema   *connect.Schema
	encode   func(v any) ([]byte, bool)
	decode   func(b []byte) (any, error)
}

// Short returns the ShortConverter (int16, 2 bytes).
func Short() *Converter {
	return &Converter{typeName: "Short", size: 2, schema: connect.OptionalInt16Schema,
		encode: func(v any) ([]byte, bool) {
			x, ok := v.(int16)
			return binary.BigEndian.AppendUint16(nil, uint16(x)), ok
		},
		decode: func(b []byte) (any, error) { return int16(binary.BigEndian.Uint16(b)), nil }}
}

// Integer returns the IntegerConverter (int32, 4 bytes).
func Integer() *Converter {
	return &Converter{typeName: "Integer", size: 4, schema: connect.OptionalInt32Schema,
		encode: func(v any) ([]byte, bool) {
			x, ok := v.(int32)
			return binary.BigEndian.AppendUint32(nil, uint32(x)), ok
		},
		decode: func(b []byte) (any, error) { return int32(binary.BigEndian.Uint32(b)), nil }}
}

// Long returns the LongConverter (int64, 8 bytes).
func Long() *Converter {
	return &Converter{typeName: "Long", size: 8, schema: connect.OptionalInt64Schema,
		encode: func(v any) ([]byte, bool) {
			x, ok := v.(int64)
			return binary.BigEndian.AppendUint64(nil, uint64(x)), ok
		},
		decode: func(b []byte) (any, error) { return int64(binary.BigEndian.Uint64(b)), nil }}
}

// Float returns the FloatConverter (float32, 4 bytes IEEE 754).
func Float() *Converter {
	return &Converter{typeName: "Float", size: 4, schema: connect.OptionalFloat32Schema,
		encode: func(v any) ([]byte, bool) {
			x, ok := v.(float32)
			return binary.BigEndian.AppendUint32(nil, math.Float32bits(x)), ok
		},
		decode: func(b []byte) (any, error) { return math.Float32frombits(binary.BigEndian.Uint32(b)), nil }}
}

// Double returns the DoubleConverter (float64, 8 bytes IEEE 754).
func Double() *Converter {
	return &Converter{typeName: "Double", size: 8, schema: connect.OptionalFloat64Schema,
		encode: func(v any) ([]byte, bool) {
			x, ok := v.(float64)
			return binary.BigEndian.AppendUint64(nil, math.Float64bits(x)), ok
		},
		decode: func(b []byte) (any, error) { return math.Float64frombits(binary.BigEndian.Uint64(b)), nil }}
}

// Boolean returns the BooleanConverter (one byte, 1 or 0).
func Boolean() *Converter {
	return &Converter{typeName: "Boolean", size: 1, schema: connect.OptionalBooleanSchema,
		encode: func(v any) ([]byte, bool) {
			x, ok := v.(bool)
			if x {
				return []byte{1}, ok
			}
			return []byte{0}, ok
		},
		decode: func(b []byte) (any, error) {
			switch b[0] {
			case 0:
				return false, nil
			case 1:
				return true, nil
			}
			return nil, fmt.Errorf("Unexpected byte received by BooleanDeserializer: %d", b[0])
		}}
}

// Configure implements connect.Converter; there is nothing to configure.
func (c *Converter) Configure(map[string]string, bool) error { return nil }

// FromConnectData writes the value's binary form; nil gives nil bytes.
func (c *Converter) FromConnectData(_ string, schema *connect.Schema, value any) ([]byte, error) {
	if c.typeName == "Boolean" && schema != nil && schema.Type != connect.Boolean {
		return nil, connect.NewDataError(fmt.Sprintf("Invalid schema type for BooleanConverter: %s", strings.ToUpper(string(schema.Type))), nil)
	}
	if value == nil {
		return nil, nil
	}
	b, ok := c.encode(value)
	if !ok {
		return nil, connect.NewDataError(fmt.Sprintf("Failed to serialize to %s (was %T): ", c.typeName, value), nil)
	}
	return b, nil
}

// ToConnectData reads the binary form; nil bytes give a nil value.
func (c *Converter) ToConnectData(_ string, data []byte) (connect.SchemaAndValue, error) {
	if data == nil {
		return connect.SchemaAndValue{Schema: c.schema}, nil
	}
	if len(data) != c.size {
		return connect.SchemaAndValue{}, connect.NewDataError(fmt.Sprintf("Failed to deserialize %s: ", c.typeName),
			fmt.Errorf("Size of data received by %sDeserializer is not %d", c.typeName, c.size))
	}
	v, err := c.decode(data)
	if err != nil {
		return connect.SchemaAndValue{}, connect.NewDataError(fmt.Sprintf("Failed to deserialize %s: ", c.typeName), err)
	}
	return connect.SchemaAndValue{Schema: c.schema, Value: v}, nil
}

// HeaderConverter adapts a number converter to headers.
type HeaderConverter struct{ *Converter }

// Configure implements connect.HeaderConverter.
func (h HeaderConverter) Configure(map[string]string) error { return nil }

// FromConnectHeader implements connect.HeaderConverter.
func (h HeaderConverter) FromConnectHeader(topic, _ string, schema *connect.Schema, value any) ([]byte, error) {
	return h.FromConnectData(topic, schema, value)
}

// ToConnectHeader implements connect.HeaderConverter.
func (h HeaderConverter) ToConnectHeader(topic, _ string, data []byte) (connect.SchemaAndValue, error) {
	return h.ToConnectData(topic, data)
}

var (
	_ connect.Converter       = (*Converter)(nil)
	_ connect.HeaderConverter = HeaderConverter{}
)
