package elasticsearch

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry/connect"
)

// indexName turns a topic into an index name as the Java connectors do:
// lower-cased, cut to 255 characters, one leading '-' or '_' (and for
// Aiven '+') dropped, "." and ".." renamed; Aiven also replaces ':' by '_'.
func indexName(f flavour, topic string) string {
	s := strings.ToLower(topic)
	if f == aiven {
		s = strings.ReplaceAll(s, ":", "_")
	}
	if utf8.RuneCountInString(s) > 255 {
		s = string([]rune(s)[:255])
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "_") || (f == aiven && strings.HasPrefix(s, "+")) {
		s = s[1:]
	}
	switch s {
	case ".":
		return "dot"
	case "..":
		return "dotdot"
	}
	return s
}

// dataStreamName is Confluent's <type>-<dataset>-<namespace> or Aiven's
// <prefix>-<index name>.
func (s *settings) dataStreamName(topic string) string {
	if s.flavour == aiven {
		if s.dsPrefix == "" {
			return indexName(aiven, topic)
		}
		return s.dsPrefix + "-" + indexName(aiven, topic)
	}
	ns := strings.ReplaceAll(s.dsNamespace, "${topic}", strings.ToLower(topic))
	if utf8.RuneCountInString(ns) > 100 {
		ns = string([]rune(ns)[:100])
	}
	return s.dsType + "-" + s.dsDataset + "-" + ns
}

// keyID renders a record key as a document id: integer and string keys only.
func keyID(rec *connect.SinkRecord) (string, error) {
	if rec.Key == nil {
		return "", connect.NewDataError("Key is used as document id and can not be null.", nil)
	}
	var id string
	switch k := rec.Key.(type) {
	case string:
		id = k
	case int8:
		id = strconv.Itoa(int(k))
	case int16:
		id = strconv.Itoa(int(k))
	case int32:
		id = strconv.Itoa(int(k))
	case int64:
		id = strconv.FormatInt(k, 10)
	default:
		t := "unknown"
		if rec.KeySchema != nil {
			t = strings.ToUpper(string(rec.KeySchema.Type))
		}
		return "", connect.NewDataError(fmt.Sprintf("%s is not supported as the document id.", t), nil)
	}
	if id == "" {
		return "", connect.NewDataError("Key is used as document id and can not be empty.", nil)
	}
	return id, nil
}

// encoder writes Connect values as the Java connector's payload: the
// JsonConverter's schemaless output after its preprocessing (Decimal as a
// double, maps as objects or key/value arrays).
type encoder struct{ compactMaps bool }

func (e encoder) value(b []byte, s *connect.Schema, v any) ([]byte, error) {
	if v == nil {
		if s != nil && s.HasDefault && s.Default != nil {
			v = s.Default
		} else {
			return append(b, "null"...), nil
		}
	}
	if s != nil {
		switch s.Name {
		case connect.DecimalName:
			switch d := v.(type) {
			case connect.Decimal:
				return appendFloat(b, d.Float64()), nil
			}
		case connect.DateName, connect.TimeName, connect.TimestampName:
			if t, ok := v.(time.Time); ok {
				switch s.Name {
				case connect.DateName:
					days, err := connect.DateToDays(t)
					if err != nil {
						return nil, err
					}
					return strconv.AppendInt(b, int64(days), 10), nil
				case connect.TimeName:
					ms, err := connect.TimeToMillis(t)
					if err != nil {
						return nil, err
					}
					return strconv.AppendInt(b, int64(ms), 10), nil
				}
				return strconv.AppendInt(b, t.UnixMilli(), 10), nil
			}
		}
	}
	switch x := v.(type) {
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float32:
		return appendFloat(b, float64(x)), nil
	case float64:
		return appendFloat(b, x), nil
	case []byte:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"'), nil
	case connect.Decimal:
		return appendFloat(b, x.Float64()), nil
	case time.Time:
		return strconv.AppendInt(b, x.UnixMilli(), 10), nil
	case *connect.Struct:
		st := x.Schema()
		b = append(b, '{')
		for i, f := range st.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.Name)
			b = append(b, ':')
			var err error
			if b, err = e.value(b, f.Schema, x.GetAt(i)); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		var es *connect.Schema
		if s != nil {
			es = s.ValueSchema
		}
		b = append(b, '[')
		for i, el := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = e.value(b, es, el); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		var ks, vs *connect.Schema
		if s != nil {
			ks, vs = s.KeySchema, s.ValueSchema
		}
		var err error
		if e.compactMaps || s == nil {
			b = append(b, '{')
			first := true
			for k, el := range x {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = appendString(b, k)
				b = append(b, ':')
				if b, err = e.value(b, vs, el); err != nil {
					return nil, err
				}
			}
			return append(b, '}'), nil
		}
		b = append(b, '[')
		first := true
		for k, el := range x {
			if !first {
				b = append(b, ',')
			}
			first = false
			if b, err = e.entry(b, ks, vs, k, el); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []connect.MapEntry:
		var ks, vs *connect.Schema
		if s != nil {
			ks, vs = s.KeySchema, s.ValueSchema
		}
		b = append(b, '[')
		for i, me := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = e.entry(b, ks, vs, me.Key, me.Value); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[any]any:
		b = append(b, '[')
		first := true
		for k, el := range x {
			if !first {
				b = append(b, ',')
			}
			first = false
			var err error
			if b, err = e.entry(b, nil, nil, k, el); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot write %T as JSON: %w", v, err)
	}
	return append(b, j...), nil
}

func (e encoder) entry(b []byte, ks, vs *connect.Schema, k, v any) ([]byte, error) {
	b = append(b, `{"key":`...)
	var err error
	if b, err = e.value(b, ks, k); err != nil {
		return nil, err
	}
	b = append(b, `,"value":`...)
	if b, err = e.value(b, vs, v); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendString(b, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

func appendString(b []byte, s string) []byte {
	j, _ := json.Marshal(s) // strings always marshal
	return append(b, j...)
}

// mapping builds the index mapping of a value schema, as the Java
// connector's Mapping.buildMapping does.
func mapping(s *connect.Schema) (map[string]any, error) {
	if s == nil {
		return nil, connect.NewDataError("Cannot infer mapping without schema.", nil)
	}
	m := fieldMapping(s)
	if props, ok := m["properties"]; ok {
		return map[string]any{"properties": props}, nil
	}
	return nil, connect.NewDataError(fmt.Sprintf("Cannot create a mapping for a %s value; a struct or map schema is needed.", strings.ToUpper(string(s.Type))), nil)
}

func fieldMapping(s *connect.Schema) map[string]any {
	switch s.Name {
	case connect.DecimalName:
		return withNull(map[string]any{"type": "double"}, s)
	case connect.DateName, connect.TimeName, connect.TimestampName:
		m := map[string]any{"type": "date"}
		if s.HasDefault && s.Default != nil {
			if t, ok := s.Default.(time.Time); ok {
				m["null_value"] = t.UnixMilli()
			}
		}
		return m
	}
	switch s.Type {
	case connect.Array:
		return fieldMapping(s.ValueSchema)
	case connect.Map:
		return map[string]any{"type": "object", "properties": map[string]any{
			"key": fieldMapping(s.KeySchema), "value": fieldMapping(s.ValueSchema)}}
	case connect.Struct_:
		props := map[string]any{}
		for _, f := range s.Fields {
			props[f.Name] = fieldMapping(f.Schema)
		}
		return map[string]any{"type": "object", "properties": props}
	case connect.String:
		return map[string]any{"type": "text", "fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": 256}}}
	case connect.Bytes:
		return map[string]any{"type": "binary"}
	}
	t := map[connect.Type]string{connect.Boolean: "boolean", connect.Int8: "byte", connect.Int16: "short", connect.Int32: "integer",
		connect.Int64: "long", connect.Float32: "float", connect.Float64: "double"}[s.Type]
	return withNull(map[string]any{"type": t}, s)
}

func withNull(m map[string]any, s *connect.Schema) map[string]any {
	if s.HasDefault && s.Default != nil {
		if d, ok := s.Default.(connect.Decimal); ok {
			m["null_value"] = d.Float64()
		} else {
			m["null_value"] = s.Default
		}
	}
	return m
}
