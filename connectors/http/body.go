package httpsink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unsafe"

	"github.com/ferryhq/ferry/connect"
	jsonconv "github.com/ferryhq/ferry/converters/json"
)

// renderer turns record values into request body pieces.
type renderer struct {
	format bodyFormat
	json   *jsonconv.Converter
}

func newRenderer(s *settings) *renderer {
	return &renderer{format: s.format, json: jsonconv.New(jsonconv.Options{DecimalNumeric: s.decimalNumeric})}
}

// value renders one record value. A value of a type the format cannot
// carry is a data error.
func (r *renderer) value(rec *connect.SinkRecord) ([]byte, error) {
	v := rec.Value
	switch r.format {
	case formatAiven:
		switch x := v.(type) {
		case string:
			return stringBytes(x), nil
		case *connect.Struct, map[string]any, map[any]any:
			return r.toJSON(rec)
		}
		return nil, connect.NewDataError(fmt.Sprintf("Record value must be a String, a Schema Struct or implement `java.util.Map`, but %s is given", javaClass(v)), nil)
	case formatString:
		return []byte(connect.FormatValue(v)), nil
	default:
		if s, ok := v.(string); ok && json.Valid(stringBytes(s)) {
			return stringBytes(s), nil // already JSON: sent as it is
		}
		return r.toJSON(rec)
	}
}

// stringBytes views s as bytes without copying it. Pieces are only ever
// read (copied into a request body), never written.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (r *renderer) toJSON(rec *connect.SinkRecord) ([]byte, error) {
	b, err := r.json.FromConnectData(rec.Topic, rec.ValueSchema, rec.Value)
	if err != nil {
		return nil, connect.NewDataError("could not convert the record value to JSON", err)
	}
	return b, nil
}

// javaClass names a value's type as the Java connector's error would.
func javaClass(v any) string {
	switch v.(type) {
	case []byte:
		return "class [B"
	case int8:
		return "class java.lang.Byte"
	case int16:
		return "class java.lang.Short"
	case int32:
		return "class java.lang.Integer"
	case int64:
		return "class java.lang.Long"
	case float32:
		return "class java.lang.Float"
	case float64:
		return "class java.lang.Double"
	case bool:
		return "class java.lang.Boolean"
	case []any:
		return "class java.util.ArrayList"
	}
	return fmt.Sprintf("class %T", v)
}

// batchBody joins the pieces of one request: a JSON array, or prefix +
// pieces joined by the separator + suffix.
func batchBody(s *settings, pieces [][]byte, size int) []byte {
	if !s.batching {
		return pieces[0] // batching disabled: the value alone
	}
	var b bytes.Buffer
	b.Grow(size + len(s.prefix) + len(s.suffix) + len(pieces)*max(len(s.separator), 1) + 2)
	if s.jsonArray {
		b.WriteByte('[')
		for i, p := range pieces {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(p)
		}
		b.WriteByte(']')
		return b.Bytes()
	}
	b.WriteString(s.prefix)
	for i, p := range pieces {
		if i > 0 {
			b.WriteString(s.separator)
		}
		b.Write(p)
	}
	b.WriteString(s.suffix)
	return b.Bytes()
}

// keyString renders a record key for ${key}, as Java's toString would.
func keyString(rec *connect.SinkRecord) string { return connect.FormatValue(rec.Key) }

// expandURL replaces ${topic} and ${key} in the URL, escaped for a path.
func expandURL(tmpl string, rec *connect.SinkRecord) string {
	if !strings.Contains(tmpl, "${") {
		return tmpl
	}
	return strings.NewReplacer("${topic}", url.PathEscape(rec.Topic), "${key}", url.PathEscape(keyString(rec))).Replace(tmpl)
}

// expandKey replaces ${topic} and ${key} in batch.key.pattern.
func expandKey(tmpl string, rec *connect.SinkRecord) string {
	if !strings.Contains(tmpl, "${") {
		return tmpl
	}
	return strings.NewReplacer("${topic}", rec.Topic, "${key}", keyString(rec)).Replace(tmpl)
}
