package transforms

import (
	"fmt"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// TimestampConverter target types and precisions.
const (
	tsString    = "string"
	tsUnix      = "unix"
	tsDate      = "Date"
	tsTime      = "Time"
	tsTimestamp = "Timestamp"
)

// TimestampConverterConfigDef declares TimestampConverter's keys.
func TimestampConverterConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "field", Type: connect.TypeString, Default: "", Importance: connect.High,
			Doc: "The field containing the timestamp, or empty if the entire value is a timestamp"}).
		Define(connect.ConfigKey{Name: "target.type", Type: connect.TypeString, Default: connect.NoDefault,
			Validator: connect.OneOf(tsString, tsUnix, tsDate, tsTime, tsTimestamp), Importance: connect.High,
			Doc: "The desired timestamp representation: string, unix, Date, Time, or Timestamp"}).
		Define(connect.ConfigKey{Name: "format", Type: connect.TypeString, Default: "", Importance: connect.Medium,
			Doc: "A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string."}).
		Define(connect.ConfigKey{Name: "unix.precision", Type: connect.TypeString, Default: "milliseconds",
			Validator: connect.OneOf("nanoseconds", "microseconds", "milliseconds", "seconds"), Importance: connect.Low,
			Doc: "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long.Note: This SMT will cause precision loss during conversions from, and to, values with sub-millisecond components."})
	return defineReplaceNull(d)
}

// TimestampConverter is TimestampConverter$Key / TimestampConverter$Value:
// it converts a timestamp field, or the whole key or value, between
// strings, epoch numbers and the Date, Time and Timestamp logical types.
type TimestampConverter struct {
	side
	noClose
	field       string
	target      string
	format      *dateFormat
	precision   string
	replaceNull bool
	cache       schemaCache
}

const tsPurpose = "converting timestamp formats"

// Configure implements connect.Transformation.
func (t *TimestampConverter) Configure(props map[string]string) error {
	c, err := parse(TimestampConverterConfigDef(), props)
	if err != nil {
		return err
	}
	t.field, t.target, t.precision = c.String("field"), c.String("target.type"), c.String("unix.precision")
	t.replaceNull = c.Bool(keyReplaceNullWithDefault)
	pattern := c.String("format")
	if t.target == tsString && pattern == "" {
		return &connect.ConfigError{Message: "TimestampConverter requires format option to be specified when using string timestamps"}
	}
	if pattern != "" {
		if t.format, err = compileDateFormat(pattern); err != nil {
			return &connect.ConfigError{Message: "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: " + pattern + ": " + err.Error()}
		}
	}
	return nil
}

func (t *TimestampConverter) targetSchema(optional bool) *connect.Schema {
	switch t.target {
	case tsString:
		if optional {
			return connect.OptionalStringSchema
		}
		return connect.StringSchema
	case tsUnix:
		if optional {
			return connect.OptionalInt64Schema
		}
		return connect.Int64Schema
	case tsDate:
		if optional {
			return optionalDateSchema
		}
		return dateSchema
	case tsTime:
		if optional {
			return optionalTimeSchema
		}
		return timeSchema
	}
	if optional {
		return optionalTimestampSchema
	}
	return timestampSchema
}

// Apply implements connect.Transformation.
func (t *TimestampConverter) Apply(rec *connect.Record) (*connect.Record, error) {
	schema, value := t.get(rec)
	if schema == nil {
		if value == nil || t.field == "" {
			v, err := t.convert(value, "")
			if err != nil {
				return nil, err
			}
			return t.with(rec, nil, v), nil
		}
		m, err := requireMap(value, tsPurpose)
		if err != nil {
			return nil, err
		}
		out := cloneMap(m)
		if out[t.field], err = t.convert(m[t.field], ""); err != nil {
			return nil, err
		}
		return t.with(rec, nil, out), nil
	}
	if t.field == "" {
		from, err := typeFromSchema(schema)
		if err != nil {
			return nil, err
		}
		v, err := t.convert(value, from)
		if err != nil {
			return nil, err
		}
		return t.with(rec, t.targetSchema(schema.Optional), v), nil
	}
	var st *connect.Struct
	if value != nil {
		var err error
		if st, err = requireStruct(value, tsPurpose); err != nil {
			return nil, err
		}
	}
	ns, err := t.cache.getOrBuild(schema, func(in *connect.Schema) (*connect.Schema, error) {
		b := copySchemaBasics(in, connect.Struct_)
		for _, f := range in.Fields {
			if f.Name == t.field {
				b.Field(f.Name, t.targetSchema(f.Schema.Optional))
			} else {
				b.Field(f.Name, f.Schema)
			}
		}
		if in.Optional {
			b.Optional()
		}
		if in.HasDefault && in.Default != nil {
			if ds, ok := in.Default.(*connect.Struct); ok {
				partial, err := b.Build()
				if err != nil {
					return nil, connect.NewDataError("", err)
				}
				d, err := t.convertStruct(ds, partial)
				if err != nil {
					return nil, err
				}
				b.DefaultValue(d)
			}
		}
		s, err := b.Build()
		if err != nil {
			return nil, connect.NewDataError("", err)
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.with(rec, ns, nil), nil
	}
	out, err := t.convertStruct(st, ns)
	if err != nil {
		return nil, err
	}
	return t.with(rec, ns, out), nil
}

func (t *TimestampConverter) convertStruct(st *connect.Struct, ns *connect.Schema) (*connect.Struct, error) {
	out := connect.NewStruct(ns)
	for i, f := range st.Schema().Fields {
		v := fieldValue(st, i, t.replaceNull)
		if f.Name == t.field {
			from, err := typeFromSchema(f.Schema)
			if err != nil {
				return nil, err
			}
			if v, err = t.convert(v, from); err != nil {
				return nil, err
			}
		}
		if err := out.Put(f.Name, v); err != nil {
			return nil, connect.NewDataError("", err)
		}
	}
	return out, nil
}

func typeFromSchema(s *connect.Schema) (string, error) {
	switch {
	case s.Name == connect.TimestampName:
		return tsTimestamp, nil
	case s.Name == connect.DateName:
		return tsDate, nil
	case s.Name == connect.TimeName:
		return tsTime, nil
	case s.Type == connect.String:
		return tsString, nil
	case s.Type == connect.Int64:
		return tsUnix, nil
	}
	return "", connect.NewDataError(fmt.Sprintf("Schema %s does not correspond to a known timestamp type format", s), nil)
}

// convert turns v (of type from, or inferred when from is empty) into the
// target type through a UTC instant of millisecond precision.
func (t *TimestampConverter) convert(v any, from string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if from == "" {
		switch v.(type) {
		case time.Time:
			from = tsTimestamp
		case int64:
			from = tsUnix
		case string:
			from = tsString
		default:
			return nil, dataError("TimestampConverter does not support class %s objects as timestamps", javaClassName(v))
		}
	}
	var raw time.Time
	switch from {
	case tsString:
		s, ok := v.(string)
		if !ok {
			return nil, dataError("Expected string timestamp to be a String, but found class %s", javaClassName(v))
		}
		if t.format == nil {
			// An empty SimpleDateFormat pattern parses nothing.
			return nil, dataError("Could not parse timestamp: value (%s) does not match pattern ()", s)
		}
		p, err := t.format.Parse(s)
		if err != nil {
			return nil, connect.NewDataError(fmt.Sprintf("Could not parse timestamp: value (%s) does not match pattern (%s)", s, t.format.pattern), err)
		}
		raw = p
	case tsUnix:
		n, ok := v.(int64)
		if !ok {
			return nil, dataError("Expected Unix timestamp to be a Long, but found class %s", javaClassName(v))
		}
		switch t.precision {
		case "seconds":
			raw = time.UnixMilli(n * 1000)
		case "microseconds":
			raw = time.UnixMilli(truncDiv(n, 1000))
		case "nanoseconds":
			raw = time.UnixMilli(truncDiv(n, 1000000))
		default:
			raw = time.UnixMilli(n)
		}
	default:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, dataError("Expected %s to be a java.util.Date, but found class %s", from, javaClassName(v))
		}
		raw = tm
	}
	raw = time.UnixMilli(raw.UnixMilli()).UTC()
	switch t.target {
	case tsString:
		return t.format.Format(raw), nil
	case tsUnix:
		ms := raw.UnixMilli()
		switch t.precision {
		case "seconds":
			return truncDiv(ms, 1000), nil
		case "microseconds":
			return ms * 1000, nil
		case "nanoseconds":
			return ms * 1000000, nil
		}
		return ms, nil
	case tsDate:
		y, m, d := raw.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case tsTime:
		h, mi, s := raw.Clock()
		return time.Date(1970, 1, 1, h, mi, s, raw.Nanosecond(), time.UTC), nil
	}
	return raw, nil
}

// truncDiv divides truncating toward zero, as Java's TimeUnit conversions do.
func truncDiv(a, b int64) int64 { return a / b }
