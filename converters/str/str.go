// Package str is Ferry's StringConverter
// (org.apache.kafka.connect.storage.StringConverter): values are written as
// their string form and read back as optional strings.
package str

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ferryhq/ferry/connect"
)

// Class is the Java class name this converter answers to.
const Class = "org.apache.kafka.connect.storage.StringConverter"

// EncodingConfig names the character set; only UTF-8 is supported.
const EncodingConfig = "converter.encoding"

// ConfigDef declares the converter's configuration.
func ConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{
			Name: "converter.type", Type: connect.TypeString, Default: connect.NoDefault,
			Validator: connect.OneOf("key", "value", "header"), Importance: connect.Low,
			Doc: "How this converter will be used.",
		}).
		Define(connect.ConfigKey{
			Name: EncodingConfig, Type: connect.TypeString, Default: "UTF-8", Importance: connect.High,
			Doc:   "The name of the Java character set to use for encoding strings as byte arrays.",
			Width: connect.WidthMedium, DisplayName: "Encoding",
			Validator: connect.ValidatorFunc("UTF-8", func(v any) error {
				s, _ := v.(string)
				switch strings.ToUpper(s) {
				case "UTF-8", "UTF8":
					return nil
				}
				return fmt.Errorf("unsupported encoding %q: Ferry's StringConverter supports UTF-8 only", s)
			}),
		})
}

// Converter is the StringConverter. The zero value is ready to use.
type Converter struct{}

// Configure implements connect.Converter.
func (c *Converter) Configure(config map[string]string, isKey bool) error {
	typ := "value"
	if isKey {
		typ = "key"
	}
	return configure(config, typ)
}

func configure(config map[string]string, typ string) error {
	props := make(map[string]string, len(config)+1)
	for k, v := range config {
		props[k] = v
	}
	if typ != "" {
		props["converter.type"] = typ
	}
	if _, err := ConfigDef().Parse(props); err != nil {
		return fmt.Errorf("configure StringConverter: %w", err)
	}
	return nil
}

// FromConnectData renders value with its Java toString form; the schema is
// ignored. A nil value gives nil bytes.
func (c *Converter) FromConnectData(_ string, _ *connect.Schema, value any) ([]byte, error) {
	switch v := value.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	}
	return []byte(connect.FormatValue(value)), nil
}

// ToConnectData returns the bytes as an optional string; invalid UTF-8 is
// replaced with U+FFFD, as Java's decoder does.
func (c *Converter) ToConnectData(_ string, data []byte) (connect.SchemaAndValue, error) {
	if data == nil {
		return connect.SchemaAndValue{Schema: connect.OptionalStringSchema}, nil
	}
	s := string(data)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return connect.SchemaAndValue{Schema: connect.OptionalStringSchema, Value: s}, nil
}

// HeaderConverter is the StringConverter used for headers.
type HeaderConverter struct{ Converter }

// Configure implements connect.HeaderConverter.
func (h *HeaderConverter) Configure(config map[string]string) error {
	typ := ""
	if _, ok := config["converter.type"]; !ok {
		typ = "header"
	}
	return configure(config, typ)
}

// FromConnectHeader implements connect.HeaderConverter.
func (h *HeaderConverter) FromConnectHeader(topic, _ string, schema *connect.Schema, value any) ([]byte, error) {
	return h.FromConnectData(topic, schema, value)
}

// ToConnectHeader implements connect.HeaderConverter.
func (h *HeaderConverter) ToConnectHeader(topic, _ string, data []byte) (connect.SchemaAndValue, error) {
	return h.ToConnectData(topic, data)
}

var (
	_ connect.Converter       = (*Converter)(nil)
	_ connect.HeaderConverter = (*HeaderConverter)(nil)
)
