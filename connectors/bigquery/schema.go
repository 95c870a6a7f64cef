package bigquery

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	bq "cloud.google.com/go/bigquery"

	"github.com/ferryhq/ferry/connect"
)

// Debezium logical type names the Java connector maps specially.
const (
	dbzDate           = "io.debezium.time.Date"
	dbzTime           = "io.debezium.time.Time"
	dbzMicroTime      = "io.debezium.time.MicroTime"
	dbzTimestamp      = "io.debezium.time.Timestamp"
	dbzMicroTimestamp = "io.debezium.time.MicroTimestamp"
	dbzZonedTimestamp = "io.debezium.time.ZonedTimestamp"
	dbzVarScale       = "io.debezium.data.VariableScaleDecimal"
)

// sanitizeName turns s into a valid BigQuery column name: every character
// outside [a-zA-Z0-9_] becomes _, and _ is prepended when the name does not
// start with a letter or _.
func sanitizeName(s string) string {
	out := sanitizeTable(s)
	if out == "" || !(isLetter(out[0]) || out[0] == '_') {
		out = "_" + out
	}
	return out
}

// sanitizeTable replaces every character (code point) outside
// [a-zA-Z0-9_] with _.
func sanitizeTable(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 && (isLetter(byte(r)) || r >= '0' && r <= '9' || r == '_') {
			b = append(b, byte(r))
		} else {
			b = append(b, '_')
		}
	}
	return string(b)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// schemaMapper turns Connect schemas (or schemaless values) into BigQuery
// table schemas under the connector's settings.
type schemaMapper struct{ s *settings }

func (m schemaMapper) name(n string) string {
	if m.s.sanitizeFields {
		return sanitizeName(n)
	}
	return n
}

// valueSchema is the table schema for a record: the value's columns, then
// the kafka-data and kafka-key records when configured. It returns nil for
// a tombstone without a schema.
func (m schemaMapper) recordSchema(rec *connect.SinkRecord) (bq.Schema, error) {
	var out bq.Schema
	switch {
	case rec.ValueSchema != nil:
		if rec.ValueSchema.Type != connect.Struct_ {
			return nil, fmt.Errorf("the value schema must be a struct to become a table, got %s", strings.ToUpper(string(rec.ValueSchema.Type)))
		}
		fs, err := m.structFields(rec.ValueSchema)
		if err != nil {
			return nil, err
		}
		out = fs
	case rec.Value != nil:
		obj, ok := rec.Value.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("a schemaless value must be a JSON object to become a row, got %T", rec.Value)
		}
		out = m.inferObject(obj)
	}
	if m.s.dataField != "" {
		out = append(out, m.kafkaDataField())
	}
	if m.s.keyField != "" {
		kf, err := m.keyField(rec)
		if err != nil {
			return nil, err
		}
		if kf != nil {
			out = append(out, kf)
		}
	}
	return out, nil
}

func (m schemaMapper) kafkaDataField() *bq.FieldSchema {
	fs := bq.Schema{
		{Name: "topic", Type: bq.StringFieldType, Required: true},
		{Name: "partition", Type: bq.IntegerFieldType, Required: true},
		{Name: "offset", Type: bq.IntegerFieldType, Required: true},
		{Name: "insertTime", Type: bq.TimestampFieldType, Required: true},
	}
	if m.s.trackPutAttempts {
		fs = append(fs, &bq.FieldSchema{Name: "putAttemptId", Type: bq.StringFieldType})
	}
	return &bq.FieldSchema{Name: m.s.dataField, Type: bq.RecordFieldType, Schema: fs}
}

// keyField is the kafkaKeyFieldName column: a RECORD for struct (or
// object) keys, the key's own type for primitive keys.
func (m schemaMapper) keyField(rec *connect.SinkRecord) (*bq.FieldSchema, error) {
	var f *bq.FieldSchema
	switch {
	case rec.KeySchema != nil:
		var err error
		f, err = m.field(m.s.keyField, rec.KeySchema)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
	case rec.Key != nil:
		f = m.inferField(m.s.keyField, rec.Key)
	}
	if f != nil {
		f.Required = false
	}
	return f, nil
}

func (m schemaMapper) structFields(s *connect.Schema) (bq.Schema, error) {
	out := make(bq.Schema, 0, len(s.Fields))
	for _, f := range s.Fields {
		fs, err := m.field(f.Name, f.Schema)
		if err != nil {
			return nil, err
		}
		if fs != nil {
			out = append(out, fs)
		}
	}
	return out, nil
}

// field maps one Connect field; nil means the field has no column (an
// empty struct).
func (m schemaMapper) field(name string, s *connect.Schema) (*bq.FieldSchema, error) {
	f := &bq.FieldSchema{Name: m.name(name), Description: s.Doc, Required: !s.Optional && !m.s.allNullable}
	switch s.Name {
	case connect.DecimalName:
		return m.decimalField(f, s, m.s.decimalMode), nil
	case connect.DateName, dbzDate:
		f.Type = bq.DateFieldType
		return f, nil
	case connect.TimeName, dbzTime, dbzMicroTime:
		f.Type = bq.TimeFieldType
		return f, nil
	case connect.TimestampName, dbzMicroTimestamp, dbzZonedTimestamp:
		f.Type = bq.TimestampFieldType
		return f, nil
	case dbzTimestamp:
		f.Type = bq.TimestampFieldType
		if m.s.debeziumTSInteger {
			f.Type = bq.IntegerFieldType
		}
		return f, nil
	case dbzVarScale:
		if m.s.varScaleMode != "RECORD" {
			return m.decimalField(f, s, m.s.varScaleMode), nil
		}
	}
	switch s.Type {
	case connect.Int8, connect.Int16, connect.Int32, connect.Int64:
		f.Type = bq.IntegerFieldType
	case connect.Float32, connect.Float64:
		f.Type = bq.FloatFieldType
	case connect.Boolean:
		f.Type = bq.BooleanFieldType
	case connect.String:
		f.Type = bq.StringFieldType
	case connect.Bytes:
		f.Type = bq.BytesFieldType
	case connect.Struct_:
		fs, err := m.structFields(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(fs) == 0 {
			return nil, nil
		}
		f.Type, f.Schema = bq.RecordFieldType, fs
	case connect.Array:
		elem, err := m.field(name, s.ValueSchema)
		if err != nil {
			return nil, err
		}
		if elem == nil {
			return nil, nil
		}
		if elem.Repeated {
			return nil, fmt.Errorf("%s: arrays of arrays have no BigQuery column type", name)
		}
		elem.Description, elem.Required, elem.Repeated = s.Doc, false, true
		return elem, nil
	case connect.Map:
		k, err := m.field("key", s.KeySchema)
		if err != nil {
			return nil, err
		}
		v, err := m.field("value", s.ValueSchema)
		if err != nil {
			return nil, err
		}
		entry := bq.Schema{}
		for _, e := range []*bq.FieldSchema{k, v} {
			if e != nil {
				entry = append(entry, e)
			}
		}
		f.Type, f.Schema, f.Required, f.Repeated = bq.RecordFieldType, entry, false, true
	default:
		return nil, fmt.Errorf("%s: unsupported Connect type %s", name, s.Type)
	}
	return f, nil
}

func (m schemaMapper) decimalField(f *bq.FieldSchema, s *connect.Schema, mode string) *bq.FieldSchema {
	switch mode {
	case "NUMERIC", "BIGNUMERIC":
		f.Type = bq.NumericFieldType
		if mode == "BIGNUMERIC" {
			f.Type = bq.BigNumericFieldType
		}
		if p, err := strconv.ParseInt(s.Parameters["connect.decimal.precision"], 10, 64); err == nil && p > 0 {
			f.Precision = p
			if sc, err := strconv.ParseInt(s.Parameters["scale"], 10, 64); err == nil {
				f.Scale = sc
			}
		}
	case "RECORD":
		f.Type = bq.RecordFieldType
		f.Schema = bq.Schema{
			{Name: "scale", Type: bq.IntegerFieldType, Required: true},
			{Name: "value", Type: bq.BytesFieldType, Required: true},
		}
	default:
		f.Type = bq.FloatFieldType
	}
	return f
}

// inferObject derives NULLABLE columns from a schemaless JSON object, in
// name order. Null values give no column.
func (m schemaMapper) inferObject(obj map[string]any) bq.Schema {
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make(bq.Schema, 0, len(names))
	for _, n := range names {
		if f := m.inferField(n, obj[n]); f != nil {
			out = append(out, f)
		}
	}
	return out
}

func (m schemaMapper) inferField(name string, v any) *bq.FieldSchema {
	f := &bq.FieldSchema{Name: m.name(name)}
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		f.Type = bq.BooleanFieldType
	case int, int8, int16, int32, int64:
		f.Type = bq.IntegerFieldType
	case float32, float64:
		f.Type = bq.FloatFieldType
	case string:
		f.Type = bq.StringFieldType
	case []byte:
		f.Type = bq.BytesFieldType
	case map[string]any:
		fs := m.inferObject(x)
		if len(fs) == 0 {
			return nil
		}
		f.Type, f.Schema = bq.RecordFieldType, fs
	case []any:
		var elem *bq.FieldSchema
		for _, e := range x {
			if ef := m.inferField(name, e); ef != nil && !ef.Repeated {
				elem = unionField(elem, ef)
			}
		}
		if elem == nil {
			return nil
		}
		elem.Repeated = true
		return elem
	case *connect.Struct:
		fs, err := m.structFields(x.Schema())
		if err != nil || len(fs) == 0 {
			return nil
		}
		f.Type, f.Schema = bq.RecordFieldType, fs
	default:
		f.Type = bq.StringFieldType
	}
	return f
}

// unionField merges two inferred fields of one name: records merge their
// sub-fields, INTEGER and FLOAT widen to FLOAT; otherwise a wins.
func unionField(a, b *bq.FieldSchema) *bq.FieldSchema {
	if a == nil {
		c := *b
		return &c
	}
	if a.Type == bq.RecordFieldType && b.Type == bq.RecordFieldType {
		c := *a
		c.Schema = unionSchemas(a.Schema, b.Schema)
		return &c
	}
	if a.Type == bq.IntegerFieldType && b.Type == bq.FloatFieldType {
		c := *a
		c.Type = bq.FloatFieldType
		return &c
	}
	return a
}

// unionSchemas is a's fields (widened by b's) followed by b's new fields;
// a field REQUIRED on one side only becomes NULLABLE.
func unionSchemas(a, b bq.Schema) bq.Schema {
	out := make(bq.Schema, 0, len(a)+len(b))
	for _, f := range a {
		g := findField(b, f.Name)
		if g == nil {
			c := *f
			c.Required = false
			out = append(out, &c)
			continue
		}
		u := unionField(f, g)
		u.Required = f.Required && g.Required
		out = append(out, u)
	}
	for _, g := range b {
		if findField(a, g.Name) == nil {
			c := *g
			c.Required = false
			out = append(out, &c)
		}
	}
	return out
}

func findField(s bq.Schema, name string) *bq.FieldSchema {
	for _, f := range s {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// schemaChange is the outcome of comparing a table schema with the schema
// the records need.
type schemaChange struct {
	merged  bq.Schema
	changed bool
}

// evolve computes the table schema that fits proposed, under the
// allowNewBigQueryFields / relaxation rules. Fields are never removed and
// types never changed; an error names the field the config does not allow
// to change.
func evolve(table, proposed bq.Schema, allowNew, allowRelax bool) (schemaChange, error) {
	var ch schemaChange
	out := make(bq.Schema, 0, len(table)+len(proposed))
	for _, f := range table {
		p := findField(proposed, f.Name)
		c := *f
		switch {
		case p == nil:
			// A REQUIRED column the records no longer carry can only take
			// rows once it is relaxed.
			if c.Required && allowRelax {
				c.Required, ch.changed = false, true
			}
		case c.Type == bq.RecordFieldType && p.Type == bq.RecordFieldType:
			sub, err := evolve(f.Schema, p.Schema, allowNew, allowRelax)
			if err != nil {
				return ch, fmt.Errorf("%s.%w", f.Name, err)
			}
			if sub.changed {
				c.Schema, ch.changed = sub.merged, true
			}
			if c.Required && !p.Required && allowRelax {
				c.Required, ch.changed = false, true
			}
		default:
			if c.Required && !p.Required && !p.Repeated && allowRelax {
				c.Required, ch.changed = false, true
			}
		}
		out = append(out, &c)
	}
	for _, p := range proposed {
		if findField(table, p.Name) != nil {
			continue
		}
		if !allowNew {
			return ch, fmt.Errorf("%s: the table has no such column and %s=false", p.Name, AllowNewFields)
		}
		c := *p
		if c.Required {
			if !allowRelax {
				return ch, fmt.Errorf("%s: a REQUIRED column cannot be added to an existing table; set %s=true to add it as NULLABLE", p.Name, AllowRequiredRelaxation)
			}
			c.Required = false
		}
		out = append(out, &c)
		ch.changed = true
	}
	ch.merged = out
	return ch, nil
}
