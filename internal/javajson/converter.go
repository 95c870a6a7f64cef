// Package javajson is the JSON encoding Apache Kafka Connect writes and reads:
// the engine of the JsonConverter plugin (converters/json) and the encoding of
// the worker's internal topics and source offsets, which must not depend on a
// plugin. It is the drop-in equivalent of Apache's
// org.apache.kafka.connect.json.JsonConverter: it writes the same
// bytes (compact Jackson-style JSON, optionally wrapped in a
// {"schema":…,"payload":…} envelope) and reads what Apache writes.
//
// Encoding is hand-written onto pooled byte buffers because every record of
// every connector using JSON passes through it. Decoding uses a small
// tape parser whose nodes point into the input, so only values that end up
// in the result allocate.
package javajson

import (
	"fmt"
	"strings"
	"sync"

	"github.com/ferryhq/ferry/connect"
)

// Configuration keys.
const (
	SchemasEnableConfig          = "schemas.enable"
	SchemasCacheSizeConfig       = "schemas.cache.size"
	DecimalFormatConfig          = "decimal.format"
	ReplaceNullWithDefaultConfig = "replace.null.with.default"
	ConverterTypeConfig          = "converter.type"
)

// Class is the Java class name this converter answers to.
const Class = "org.apache.kafka.connect.json.JsonConverter"

// ConfigDef declares the converter's configuration, as Apache's
// JsonConverterConfig does.
func ConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{
			Name: ConverterTypeConfig, Type: connect.TypeString, Default: connect.NoDefault,
			Validator: connect.OneOf("key", "value", "header"), Importance: connect.Low,
			Doc: "How this converter will be used.",
		}).
		Define(connect.ConfigKey{
			Name: SchemasEnableConfig, Type: connect.TypeBoolean, Default: true, Importance: connect.High,
			Doc:   "Include schemas within each of the serialized values and keys.",
			Group: "Schemas", OrderInGroup: 0, Width: connect.WidthMedium, DisplayName: "Enable Schemas",
		}).
		Define(connect.ConfigKey{
			Name: SchemasCacheSizeConfig, Type: connect.TypeInt, Default: 1000, Importance: connect.High,
			Doc:   "The maximum number of schemas that can be cached in this converter instance.",
			Group: "Schemas", OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Schema Cache Size",
		}).
		Define(connect.ConfigKey{
			Name: DecimalFormatConfig, Type: connect.TypeString, Default: "BASE64",
			Validator: connect.OneOfIgnoreCase("BASE64", "NUMERIC"), Importance: connect.Low,
			Doc:   "Controls which format this converter will serialize decimals in. This value is case insensitive and can be either 'BASE64' (default) or 'NUMERIC'",
			Group: "Serialization", OrderInGroup: 0, Width: connect.WidthMedium, DisplayName: "Decimal Format",
		}).
		Define(connect.ConfigKey{
			Name: ReplaceNullWithDefaultConfig, Type: connect.TypeBoolean, Default: true, Importance: connect.Low,
			Doc:   "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
			Group: "Serialization", OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Replace null with default",
		})
}

// Converter converts Connect data to and from JSON. The zero value is not
// ready; use [New] or call Configure. A Converter is safe for concurrent use.
type Converter struct {
	schemasEnabled bool
	decimalNumeric bool
	replaceNull    bool
	cacheSize      int

	mu       sync.Mutex
	toJSON   map[*connect.Schema][]byte // encoded schema JSON by schema identity
	fromJSON map[string]*connect.Schema // parsed schema by its JSON text
}

// Options are the converter settings in Go form, for callers that build a
// converter without a string config.
type Options struct {
	SchemasEnabled bool
	DecimalNumeric bool
	// KeepNullOverDefault disables replace.null.with.default.
	KeepNullOverDefault bool
}

// New returns a converter with the given options.
func New(o Options) *Converter {
	c := &Converter{}
	c.apply(o.SchemasEnabled, o.DecimalNumeric, !o.KeepNullOverDefault, 1000)
	return c
}

func (c *Converter) apply(schemas, numeric, replaceNull bool, cacheSize int) {
	c.schemasEnabled, c.decimalNumeric, c.replaceNull, c.cacheSize = schemas, numeric, replaceNull, max(cacheSize, 1)
	c.toJSON, c.fromJSON = nil, nil
}

// Configure implements connect.Converter.
func (c *Converter) Configure(config map[string]string, isKey bool) error {
	typ := "value"
	if isKey {
		typ = "key"
	}
	return c.configure(config, typ)
}

func (c *Converter) configure(config map[string]string, typ string) error {
	props := make(map[string]string, len(config)+1)
	for k, v := range config {
		props[k] = v
	}
	if typ != "" {
		props[ConverterTypeConfig] = typ
	}
	cfg, err := ConfigDef().Parse(props)
	if err != nil {
		return fmt.Errorf("configure JsonConverter: %w", err)
	}
	c.apply(cfg.Bool(SchemasEnableConfig), strings.EqualFold(cfg.String(DecimalFormatConfig), "NUMERIC"),
		cfg.Bool(ReplaceNullWithDefaultConfig), cfg.Int(SchemasCacheSizeConfig))
	return nil
}

// FromConnectData implements connect.Converter.
func (c *Converter) FromConnectData(_ string, schema *connect.Schema, value any) ([]byte, error) {
	if schema == nil && value == nil {
		return nil, nil
	}
	e := getEncoder(c.decimalNumeric, c.replaceNull)
	defer putEncoder(e)
	if c.schemasEnabled {
		e.buf = append(e.buf, `{"schema":`...)
		if schema == nil {
			e.buf = append(e.buf, "null"...)
		} else {
			sj, err := c.schemaJSON(e, schema)
			if err != nil {
				return nil, err
			}
			e.buf = append(e.buf, sj...)
		}
		e.buf = append(e.buf, `,"payload":`...)
	}
	if err := e.value(schema, value); err != nil {
		return nil, err
	}
	if c.schemasEnabled {
		e.buf = append(e.buf, '}')
	}
	out := make([]byte, len(e.buf))
	copy(out, e.buf)
	return out, nil
}

// schemaJSON returns the cached JSON form of s, encoding it on a miss.
func (c *Converter) schemaJSON(e *encoder, s *connect.Schema) ([]byte, error) {
	c.mu.Lock()
	sj, ok := c.toJSON[s]
	c.mu.Unlock()
	if ok {
		return sj, nil
	}
	start := len(e.buf)
	if err := e.schema(s, ""); err != nil {
		return nil, err
	}
	sj = append([]byte(nil), e.buf[start:]...)
	e.buf = e.buf[:start]
	c.mu.Lock()
	if c.toJSON == nil || len(c.toJSON) >= c.cacheSize {
		c.toJSON = map[*connect.Schema][]byte{} // crude bound; schemas repeat, so it refills quickly
	}
	c.toJSON[s] = sj
	c.mu.Unlock()
	return sj, nil
}

const envelopeError = `JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`

// ToConnectData implements connect.Converter.
func (c *Converter) ToConnectData(_ string, data []byte) (connect.SchemaAndValue, error) {
	if data == nil {
		return connect.SchemaAndValue{}, nil
	}
	p := getParser(data)
	defer putParser(p)
	root, err := p.parseDocument()
	if err != nil {
		return connect.SchemaAndValue{}, connect.NewDataError("Converting byte[] to Kafka Connect data failed due to serialization error: ", err)
	}
	d := decoder{p: p, replaceNull: c.replaceNull}
	if !c.schemasEnabled {
		v, err := d.value(nil, root)
		if err != nil {
			return connect.SchemaAndValue{}, err
		}
		return connect.SchemaAndValue{Value: v}, nil
	}
	schemaNode, payloadNode, ok := p.envelope(root)
	if !ok {
		return connect.SchemaAndValue{}, connect.NewDataError(envelopeError, nil)
	}
	schema, err := c.parseSchemaCached(&d, schemaNode)
	if err != nil {
		return connect.SchemaAndValue{}, err
	}
	v, err := d.value(schema, payloadNode)
	if err != nil {
		return connect.SchemaAndValue{}, err
	}
	return connect.SchemaAndValue{Schema: schema, Value: v}, nil
}

func (c *Converter) parseSchemaCached(d *decoder, n int32) (*connect.Schema, error) {
	if d.p.nodes[n].kind == kindNull {
		return nil, nil
	}
	raw := d.p.raw(n)
	c.mu.Lock()
	s, ok := c.fromJSON[string(raw)]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := d.schema(n)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.fromJSON == nil || len(c.fromJSON) >= c.cacheSize {
		c.fromJSON = map[string]*connect.Schema{}
	}
	c.fromJSON[string(raw)] = s
	c.mu.Unlock()
	return s, nil
}

// HeaderConverter is the JsonConverter used as a header converter. Go
// cannot give one type both Configure signatures, so the header side is a
// thin wrapper sharing the same conversion code.
type HeaderConverter struct{ Converter }

// Configure implements connect.HeaderConverter; converter.type defaults to
// header.
func (h *HeaderConverter) Configure(config map[string]string) error {
	typ := ""
	if _, ok := config[ConverterTypeConfig]; !ok {
		typ = "header"
	}
	return h.Converter.configure(config, typ)
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
