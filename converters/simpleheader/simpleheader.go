// Package simpleheader is Ferry's SimpleHeaderConverter
// (org.apache.kafka.connect.storage.SimpleHeaderConverter), Apache's default
// header converter. Values are written as text (strings raw, numbers and
// booleans as literals, containers in a JSON-like form) and read back by
// inferring the type from the text, as Apache's Values.parseString does.
// Text that is not a recognised literal or container stays a string, so
// plain strings always round-trip unchanged.
package simpleheader

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry/connect"
)

// Class is the Java class name this converter answers to.
const Class = "org.apache.kafka.connect.storage.SimpleHeaderConverter"

// ConfigDef declares the (empty) configuration.
func ConfigDef() *connect.ConfigDef { return connect.NewConfigDef() }

// Converter is the SimpleHeaderConverter. The zero value is ready to use.
type Converter struct{}

// Configure implements connect.HeaderConverter; there is nothing to configure.
func (Converter) Configure(map[string]string) error { return nil }

// FromConnectHeader writes the text form of value; nil gives nil bytes.
func (Converter) FromConnectHeader(_, _ string, _ *connect.Schema, value any) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	var b strings.Builder
	if err := appendValue(&b, value, false); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// ToConnectHeader infers a schema and value from the text.
func (Converter) ToConnectHeader(_, _ string, data []byte) (connect.SchemaAndValue, error) {
	if data == nil {
		return connect.SchemaAndValue{}, nil
	}
	s := string(data)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return ParseString(s), nil
}

var _ connect.HeaderConverter = Converter{}

// ConvertToString renders a value as Apache's Values.convertToString.
func ConvertToString(value any) (string, error) {
	if value == nil {
		return "", nil
	}
	var b strings.Builder
	err := appendValue(&b, value, false)
	return b.String(), err
}

func appendValue(b *strings.Builder, v any, embedded bool) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if embedded {
			b.WriteByte('"')
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x))
			b.WriteByte('"')
		} else {
			b.WriteString(x)
		}
	case []byte:
		enc := base64.StdEncoding.EncodeToString(x)
		if embedded {
			b.WriteString(`"` + enc + `"`)
		} else {
			b.WriteString(enc)
		}
	case time.Time:
		b.WriteString(formatTime(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendValue(b, e, true); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range connect.JavaHashMapOrder(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			appendValue(b, k, true)
			b.WriteByte(':')
			if err := appendValue(b, x[k], true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []connect.MapEntry:
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendValue(b, e.Key, true); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := appendValue(b, e.Value, true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *connect.Struct:
		b.WriteByte('{')
		for i, f := range x.Schema().Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			appendValue(b, f.Name, true)
			b.WriteByte(':')
			if err := appendValue(b, x.GetAt(i), true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case bool, int8, int16, int32, int64, int, float32, float64, connect.Decimal:
		b.WriteString(connect.FormatValue(x))
	default:
		return connect.NewDataError("Failed to serialize unexpected value type "+typeName(v), nil)
	}
	return nil
}

func typeName(v any) string { return fmt.Sprintf("%T: %v", v, v) }

const msPerDay = 24 * 60 * 60 * 1000

const (
	dateLayout      = "2006-01-02"
	timeLayout      = "15:04:05.000Z"
	timestampLayout = "2006-01-02T15:04:05.000Z"
)

// formatTime picks the ISO-8601 form Apache uses: a time of day for values
// within the first day, a date for midnights, a timestamp otherwise.
func formatTime(t time.Time) string {
	ms := t.UnixMilli()
	switch {
	case ms < msPerDay:
		return t.UTC().Format(timeLayout)
	case ms%msPerDay == 0:
		return t.UTC().Format(dateLayout)
	}
	return t.UTC().Format(timestampLayout)
}
