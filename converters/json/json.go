// Package json is the JsonConverter plugin, the drop-in equivalent of Apache
// Kafka's org.apache.kafka.connect.json.JsonConverter. The encoding itself
// lives in internal/javajson, which the worker's internal topics share
// without depending on a plugin.
package json

import (
	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/javajson"
)

// Configuration keys.
const (
	SchemasEnableConfig          = javajson.SchemasEnableConfig
	SchemasCacheSizeConfig       = javajson.SchemasCacheSizeConfig
	DecimalFormatConfig          = javajson.DecimalFormatConfig
	ReplaceNullWithDefaultConfig = javajson.ReplaceNullWithDefaultConfig
	ConverterTypeConfig          = javajson.ConverterTypeConfig
)

// Class is the Java class name this converter answers to.
const Class = javajson.Class

type (
	// Converter is the JsonConverter used as a key or value converter.
	Converter = javajson.Converter
	// HeaderConverter is the JsonConverter used as a header converter.
	HeaderConverter = javajson.HeaderConverter
	// Options configures a Converter built in code.
	Options = javajson.Options
)

// ConfigDef declares the converter's configuration.
func ConfigDef() *connect.ConfigDef { return javajson.ConfigDef() }

// New returns a converter with the given options.
func New(o Options) *Converter { return javajson.New(o) }
