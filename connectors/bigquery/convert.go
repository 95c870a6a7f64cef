package bigquery

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// rowMapper turns record values into insertAll JSON rows: maps of column
// name to a value encoding/json writes the way BigQuery reads it.
type rowMapper struct{ s *settings }

func (m rowMapper) name(n string) string {
	if m.s.sanitizeFields {
		return sanitizeName(n)
	}
	return n
}

// row converts the record value (a tombstone gives an empty row) plus the
// kafka-data and kafka-key columns when configured.
func (m rowMapper) row(rec *connect.SinkRecord, now time.Time) (map[string]any, error) {
	var out map[string]any
	switch v := rec.Value.(type) {
	case nil:
		out = map[string]any{}
	case *connect.Struct:
		var err error
		if out, err = m.structValue(v); err != nil {
			return nil, err
		}
	case map[string]any:
		out = m.object(v)
	default:
		return nil, fmt.Errorf("a record value must be a struct or a JSON object to become a row, got %T", rec.Value)
	}
	if m.s.dataField != "" {
		topic, part, off := rec.Topic, rec.Partition, rec.KafkaOffset
		if m.s.preserveOriginal && rec.OriginalTopic != "" {
			topic, part, off = rec.OriginalTopic, rec.OriginalPartition, rec.OriginalOffset
		}
		out[m.s.dataField] = map[string]any{
			"topic":      topic,
			"partition":  strconv.Itoa(int(part)),
			"offset":     strconv.FormatInt(off, 10),
			"insertTime": formatTimestamp(now),
		}
	}
	if m.s.keyField != "" && rec.Key != nil {
		k, err := m.value(rec.KeySchema, rec.Key)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		out[m.s.keyField] = k
	}
	return out, nil
}

// keyValue is the record key as a column value (nil when absent).
func (m rowMapper) keyValue(rec *connect.SinkRecord) (any, error) {
	if rec.Key == nil {
		return nil, nil
	}
	return m.value(rec.KeySchema, rec.Key)
}

func (m rowMapper) structValue(st *connect.Struct) (map[string]any, error) {
	s := st.Schema()
	out := make(map[string]any, len(s.Fields))
	for i, f := range s.Fields {
		v, err := m.value(f.Schema, st.GetAt(i))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if v != nil {
			out[m.name(f.Name)] = v
		}
	}
	return out, nil
}

// object converts a schemaless JSON object; nested objects and arrays keep
// their shape, integers are written as strings (exact beyond 2^53).
func (m rowMapper) object(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if c := m.schemaless(v); c != nil {
			out[m.name(k)] = c
		}
	}
	return out
}

func (m rowMapper) schemaless(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return m.object(x)
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if c := m.schemaless(e); c != nil {
				out = append(out, c)
			}
		}
		return out
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.Itoa(int(x))
	case float64:
		return m.double(x)
	case float32:
		return m.double(float64(x))
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case *connect.Struct:
		r, err := m.structValue(x)
		if err != nil {
			return nil
		}
		return r
	default:
		return v
	}
}

// value converts one Connect value under its schema; nil stays nil.
func (m rowMapper) value(s *connect.Schema, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if s == nil {
		return m.schemaless(v), nil
	}
	switch s.Name {
	case connect.DecimalName:
		d, ok := v.(connect.Decimal)
		if !ok {
			return nil, fmt.Errorf("a Decimal value must be connect.Decimal, got %T", v)
		}
		return m.decimal(d, m.s.decimalMode), nil
	case connect.DateName:
		if t, ok := v.(time.Time); ok {
			return t.UTC().Format("2006-01-02"), nil
		}
	case connect.TimeName:
		if t, ok := v.(time.Time); ok {
			return t.UTC().Format("15:04:05.000"), nil
		}
	case connect.TimestampName:
		if t, ok := v.(time.Time); ok {
			return formatTimestamp(t), nil
		}
	case dbzDate:
		if n, ok := asInt64(v); ok {
			return time.Unix(n*86400, 0).UTC().Format("2006-01-02"), nil
		}
	case dbzTime:
		if n, ok := asInt64(v); ok {
			return time.UnixMilli(n).UTC().Format("15:04:05.000"), nil
		}
	case dbzMicroTime:
		if n, ok := asInt64(v); ok {
			return time.UnixMicro(n).UTC().Format("15:04:05.000000"), nil
		}
	case dbzTimestamp:
		if n, ok := asInt64(v); ok {
			if m.s.debeziumTSInteger {
				return strconv.FormatInt(n, 10), nil
			}
			return formatTimestamp(time.UnixMilli(n)), nil
		}
	case dbzMicroTimestamp:
		if n, ok := asInt64(v); ok {
			return time.UnixMicro(n).UTC().Format("2006-01-02 15:04:05.000000"), nil
		}
	case dbzVarScale:
		if st, ok := v.(*connect.Struct); ok && m.s.varScaleMode != "RECORD" {
			scale, _ := asInt64(st.Get("scale"))
			raw, _ := st.Get("value").([]byte)
			return m.decimal(connect.DecimalFromBytes(raw, int32(scale)), m.s.varScaleMode), nil
		}
	}
	switch s.Type {
	case connect.Int8, connect.Int16, connect.Int32, connect.Int64:
		n, ok := asInt64(v)
		if !ok {
			return nil, fmt.Errorf("expected an integer, got %T", v)
		}
		return strconv.FormatInt(n, 10), nil
	case connect.Float32:
		f, ok := v.(float32)
		if !ok {
			return nil, fmt.Errorf("expected a float32, got %T", v)
		}
		return m.double(float64(f)), nil
	case connect.Float64:
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("expected a float64, got %T", v)
		}
		return m.double(f), nil
	case connect.Boolean, connect.String:
		return v, nil
	case connect.Bytes:
		b, ok := v.([]byte)
		if !ok {
			return nil, fmt.Errorf("expected bytes, got %T", v)
		}
		return base64.StdEncoding.EncodeToString(b), nil
	case connect.Struct_:
		st, ok := v.(*connect.Struct)
		if !ok {
			return nil, fmt.Errorf("expected a struct, got %T", v)
		}
		return m.structValue(st)
	case connect.Array:
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("expected an array, got %T", v)
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			c, err := m.value(s.ValueSchema, it)
			if err != nil {
				return nil, err
			}
			if c != nil { // a REPEATED column holds no NULLs
				out = append(out, c)
			}
		}
		return out, nil
	case connect.Map:
		return m.mapValue(s, v)
	}
	return nil, fmt.Errorf("unsupported value %T for a %s schema", v, s.Type)
}

// mapValue writes a map as a list of {key, value} records, in key order so
// rows are reproducible.
func (m rowMapper) mapValue(s *connect.Schema, v any) (any, error) {
	var entries []connect.MapEntry
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			entries = append(entries, connect.MapEntry{Key: k, Value: e})
		}
		slices.SortFunc(entries, func(a, b connect.MapEntry) int {
			return strings.Compare(a.Key.(string), b.Key.(string))
		})
	case []connect.MapEntry:
		entries = x
	default:
		return nil, fmt.Errorf("expected a map, got %T", v)
	}
	out := make([]any, 0, len(entries))
	for _, e := range entries {
		k, err := m.value(s.KeySchema, e.Key)
		if err != nil {
			return nil, err
		}
		val, err := m.value(s.ValueSchema, e.Value)
		if err != nil {
			return nil, err
		}
		entry := map[string]any{}
		if k != nil {
			entry["key"] = k
		}
		if val != nil {
			entry["value"] = val
		}
		out = append(out, entry)
	}
	return out, nil
}

func (m rowMapper) decimal(d connect.Decimal, mode string) any {
	switch mode {
	case "NUMERIC", "BIGNUMERIC":
		return plainDecimal(d)
	case "RECORD":
		return map[string]any{
			"scale": strconv.Itoa(int(d.Scale)),
			"value": base64.StdEncoding.EncodeToString(connect.DecimalToBytes(d)),
		}
	}
	return m.double(d.Float64())
}

// plainDecimal formats d without an exponent, as BigQuery's NUMERIC reads it.
func plainDecimal(d connect.Decimal) string {
	r := new(big.Rat).SetFrac(d.Unscaled, big.NewInt(1))
	if d.Scale > 0 {
		r.SetFrac(d.Unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil))
		return r.FloatString(int(d.Scale))
	}
	if d.Scale < 0 {
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil)))
	}
	return r.FloatString(0)
}

// double writes a float; NaN and infinities are not JSON numbers, so they
// go as BigQuery's strings, or as the Java connector's substitutes when
// convertDoubleSpecialValues is on.
func (m rowMapper) double(f float64) any {
	switch {
	case math.IsNaN(f):
		if m.s.convertSpecial {
			return math.SmallestNonzeroFloat64
		}
		return "NaN"
	case math.IsInf(f, 1):
		if m.s.convertSpecial {
			return math.MaxFloat64
		}
		return "Infinity"
	case math.IsInf(f, -1):
		if m.s.convertSpecial {
			return math.SmallestNonzeroFloat64
		}
		return "-Infinity"
	}
	return f
}

func formatTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}
