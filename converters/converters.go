// Package converters lists Ferry's built-in converters and header
// converters as plugin descriptors, under the Java class names Apache Kafka
// uses for the same formats.
package converters

import (
	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/converters/bytearray"
	"github.com/ferryhq/ferry/converters/json"
	"github.com/ferryhq/ferry/converters/number"
	"github.com/ferryhq/ferry/converters/simpleheader"
	"github.com/ferryhq/ferry/converters/str"
)

// Version is reported for every built-in converter.
const Version = "1.0.0"

// Plugins returns the descriptors of all built-in converters. Converters
// that Apache also accepts as header converters are listed under both
// kinds with the same class name.
func Plugins() []connect.Plugin {
	ps := []connect.Plugin{
		{Kind: connect.KindConverter, Class: json.Class, Version: Version, Config: json.ConfigDef,
			New: func() any { return &json.Converter{} }, Doc: "JSON with an optional schema envelope."},
		{Kind: connect.KindHeaderConverter, Class: json.Class, Version: Version, Config: json.ConfigDef,
			New: func() any { return &json.HeaderConverter{} }, Doc: "JSON with an optional schema envelope."},
		{Kind: connect.KindConverter, Class: str.Class, Version: Version, Config: str.ConfigDef,
			New: func() any { return &str.Converter{} }, Doc: "Values as UTF-8 text."},
		{Kind: connect.KindHeaderConverter, Class: str.Class, Version: Version, Config: str.ConfigDef,
			New: func() any { return &str.HeaderConverter{} }, Doc: "Values as UTF-8 text."},
		{Kind: connect.KindConverter, Class: bytearray.Class, Version: Version, Config: bytearray.ConfigDef,
			New: func() any { return bytearray.Converter{} }, Doc: "Raw bytes passed through."},
		{Kind: connect.KindHeaderConverter, Class: bytearray.Class, Version: Version, Config: bytearray.ConfigDef,
			New: func() any { return bytearray.HeaderConverter{} }, Doc: "Raw bytes passed through."},
		{Kind: connect.KindHeaderConverter, Class: simpleheader.Class, Version: Version, Config: simpleheader.ConfigDef,
			New: func() any { return simpleheader.Converter{} }, Doc: "Header values as text with inferred types."},
	}
	for _, n := range []struct {
		class string
		mk    func() *number.Converter
		doc   string
	}{
		{number.ShortClass, number.Short, "int16 as 2 big-endian bytes."},
		{number.IntegerClass, number.Integer, "int32 as 4 big-endian bytes."},
		{number.LongClass, number.Long, "int64 as 8 big-endian bytes."},
		{number.FloatClass, number.Float, "float32 as 4 big-endian IEEE 754 bytes."},
		{number.DoubleClass, number.Double, "float64 as 8 big-endian IEEE 754 bytes."},
		{number.BooleanClass, number.Boolean, "boolean as one byte."},
	} {
		ps = append(ps,
			connect.Plugin{Kind: connect.KindConverter, Class: n.class, Version: Version, Config: number.ConfigDef,
				New: func() any { return n.mk() }, Doc: n.doc},
			connect.Plugin{Kind: connect.KindHeaderConverter, Class: n.class, Version: Version, Config: number.ConfigDef,
				New: func() any { return number.HeaderConverter{Converter: n.mk()} }, Doc: n.doc})
	}
	return ps
}
