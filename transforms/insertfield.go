package transforms

import (
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

const insertFieldOptionality = "Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it optional (the default)."

// InsertFieldConfigDef declares InsertField's keys.
func InsertFieldConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef()
	for _, k := range []struct{ name, doc string }{
		{"topic.field", "Field name for Kafka topic. " + insertFieldOptionality},
		{"partition.field", "Field name for Kafka partition. " + insertFieldOptionality},
		{"offset.field", "Field name for Kafka offset - only applicable to sink connectors.<br/>" + insertFieldOptionality},
		{"timestamp.field", "Field name for record timestamp. " + insertFieldOptionality},
		{"static.field", "Field name for static data field. " + insertFieldOptionality},
		{"static.value", "Static field value, if field name configured."},
	} {
		d.Define(connect.ConfigKey{Name: k.name, Type: connect.TypeString, Default: nil, Importance: connect.Medium, Doc: k.doc})
	}
	return defineReplaceNull(d)
}

// insertion is a configured field name with its optionality suffix removed.
type insertion struct {
	name     string
	optional bool
}

func parseInsertion(spec string, set bool) *insertion {
	if !set {
		return nil
	}
	if n, ok := strings.CutSuffix(spec, "?"); ok {
		return &insertion{name: n, optional: true}
	}
	if n, ok := strings.CutSuffix(spec, "!"); ok {
		return &insertion{name: n}
	}
	return &insertion{name: spec, optional: true}
}

// InsertField is InsertField$Key / InsertField$Value: it adds the topic,
// partition, offset, timestamp or a static string as fields.
type InsertField struct {
	side
	noClose
	topic, partition, offset, timestamp, static *insertion
	staticValue                                 string
	replaceNull                                 bool
	cache                                       schemaCache
}

const insertPurpose = "field insertion"

// Configure implements connect.Transformation.
func (t *InsertField) Configure(props map[string]string) error {
	c, err := parse(InsertFieldConfigDef(), props)
	if err != nil {
		return err
	}
	get := func(k string) *insertion { return parseInsertion(c.String(k), c.IsSet(k)) }
	t.topic, t.partition, t.offset = get("topic.field"), get("partition.field"), get("offset.field")
	t.timestamp, t.static = get("timestamp.field"), get("static.field")
	t.staticValue = c.String("static.value")
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	if t.topic == nil && t.partition == nil && t.offset == nil && t.timestamp == nil && t.static == nil {
		return &connect.ConfigError{Message: "No field insertion configured"}
	}
	if t.static != nil && !c.IsSet("static.value") {
		return &connect.ConfigError{Name: "static.value", HasVal: true, Message: "No value specified for static field: " + t.static.name}
	}
	return nil
}

// Apply implements connect.Transformation. Without a Kafka offset (a
// source record) offset.field fails, as in Apache.
func (t *InsertField) Apply(rec *connect.Record) (*connect.Record, error) {
	return t.apply(rec, 0, false)
}

// ApplySink implements connect.SinkTransformation, giving offset.field
// the record's Kafka offset.
func (t *InsertField) ApplySink(rec *connect.SinkRecord) (*connect.Record, error) {
	return t.apply(&rec.Record, rec.KafkaOffset, true)
}

func (t *InsertField) apply(rec *connect.Record, offset int64, hasOffset bool) (*connect.Record, error) {
	schema, value := t.get(rec)
	if value == nil {
		return rec, nil
	}
	if t.offset != nil && !hasOffset {
		return nil, dataError("Only SinkRecord supported for [%s], found: org.apache.kafka.connect.source.SourceRecord", insertPurpose)
	}
	if schema == nil {
		m, err := requireMap(value, insertPurpose)
		if err != nil {
			return nil, err
		}
		out := cloneMap(m)
		if t.topic != nil {
			out[t.topic.name] = rec.Topic
		}
		if t.partition != nil && rec.Partition >= 0 {
			out[t.partition.name] = rec.Partition
		}
		if t.offset != nil {
			out[t.offset.name] = offset
		}
		if t.timestamp != nil && !rec.Timestamp.IsZero() {
			out[t.timestamp.name] = rec.Timestamp.UnixMilli()
		}
		if t.static != nil {
			out[t.static.name] = t.staticValue
		}
		return t.with(rec, nil, out), nil
	}
	st, err := requireStruct(value, insertPurpose)
	if err != nil {
		return nil, err
	}
	ns, err := t.cache.getOrBuild(st.Schema(), t.buildSchema)
	if err != nil {
		return nil, err
	}
	out := connect.NewStruct(ns)
	for i, f := range st.Schema().Fields {
		if err := out.Put(f.Name, fieldValue(st, i, t.replaceNull)); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	put := func(ins *insertion, v any) error {
		if ins == nil {
			return nil
		}
		if err := out.Put(ins.name, v); err != nil {
			return connect.NewDataError("", err)
		}
		return nil
	}
	var part, ts any
	if rec.Partition >= 0 {
		part = rec.Partition
	}
	if !rec.Timestamp.IsZero() {
		ts = rec.Timestamp
	}
	for _, e := range []struct {
		ins *insertion
		v   any
	}{{t.topic, rec.Topic}, {t.partition, part}, {t.offset, offset}, {t.timestamp, ts}, {t.static, t.staticValue}} {
		if e.v == nil {
			continue
		}
		if err := put(e.ins, e.v); err != nil {
			return nil, err
		}
	}
	return t.with(rec, ns, out), nil
}

func (t *InsertField) buildSchema(in *connect.Schema) (*connect.Schema, error) {
	b := copySchemaBasics(in, connect.Struct_)
	for _, f := range in.Fields {
		b.Field(f.Name, f.Schema)
	}
	add := func(ins *insertion, required, optional *connect.Schema) {
		if ins == nil {
			return
		}
		if ins.optional {
			b.Field(ins.name, optional)
		} else {
			b.Field(ins.name, required)
		}
	}
	add(t.topic, connect.StringSchema, connect.OptionalStringSchema)
	add(t.partition, connect.Int32Schema, connect.OptionalInt32Schema)
	add(t.offset, connect.Int64Schema, connect.OptionalInt64Schema)
	add(t.timestamp, timestampSchema, optionalTimestampSchema)
	add(t.static, connect.StringSchema, connect.OptionalStringSchema)
	s, err := b.Build()
	if err != nil {
		return nil, connect.NewDataError(fmt.Sprintf("cannot build schema for [%s]", insertPurpose), err)
	}
	return s, nil
}

var (
	timestampSchema         = connect.TimestampSchema().MustBuild()
	optionalTimestampSchema = connect.TimestampSchema().Optional().MustBuild()
	dateSchema              = connect.DateSchema().MustBuild()
	optionalDateSchema      = connect.DateSchema().Optional().MustBuild()
	timeSchema              = connect.TimeSchema().MustBuild()
	optionalTimeSchema      = connect.TimeSchema().Optional().MustBuild()
)
