package sink

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// Default column names of pk.mode=kafka.
var kafkaPKNames = []string{"__connect_topic", "__connect_partition", "__connect_offset"}

var kafkaPKSchemas = []*connect.Schema{connect.StringSchema, connect.Int32Schema, connect.Int64Schema}

// layout maps the records of one key/value schema pair to table columns:
// which columns are keys, which are values, and where each value comes from.
type layout struct {
	keySchema   *connect.Schema
	valueSchema *connect.Schema // nil for a key-only (tombstone) layout

	keyCols []dialect.Column
	valCols []dialect.Column
	// keyIdx indexes the key struct (record_key with a struct key) or the
	// value struct (record_value); unused for kafka and primitive keys.
	keyIdx []int
	valIdx []int

	// tableMissing is set on key-only layouts whose table does not exist:
	// there is nothing to delete.
	tableMissing bool
	// sql caches statements by kind and row count.
	sql map[sqlKey]string
}

type sqlKey struct {
	kind byte // 'i' insert/upsert, 'u' update, 'd' delete
	rows int
}

func sameSchema(a, b *connect.Schema) bool { return a == b || a.Equal(b) }

// matches reports whether rec can be written with this layout.
func (l *layout) matches(s *settings, rec *connect.SinkRecord) bool {
	if s.pkMode == "record_key" && !sameSchema(l.keySchema, rec.KeySchema) {
		return false
	}
	if rec.Value == nil {
		return true // a delete needs only the keys
	}
	return l.valueSchema != nil && sameSchema(l.valueSchema, rec.ValueSchema)
}

func dataErr(rec *connect.SinkRecord, format string, args ...any) error {
	return connect.NewDataError(fmt.Sprintf("%s (topic %s, partition %d, offset %d)", fmt.Sprintf(format, args...), rec.Topic, rec.Partition, rec.KafkaOffset), nil)
}

// newLayout derives the columns of a record from pk.mode, pk.fields and
// fields.whitelist.
func newLayout(s *settings, rec *connect.SinkRecord) (*layout, error) {
	l := &layout{keySchema: rec.KeySchema, sql: map[sqlKey]string{}}
	tombstone := rec.Value == nil
	if !tombstone {
		if rec.ValueSchema == nil {
			return nil, dataErr(rec, "JDBC sink needs records with a value schema; schemaless values are not supported (use a converter with schemas enabled)")
		}
		if rec.ValueSchema.Type != connect.Struct_ {
			return nil, dataErr(rec, "JDBC sink needs a Struct value, got %s", rec.ValueSchema)
		}
		if _, ok := rec.Value.(*connect.Struct); !ok {
			return nil, dataErr(rec, "JDBC sink needs a Struct value, got %T", rec.Value)
		}
		l.valueSchema = rec.ValueSchema
	}
	keyNames := map[string]bool{}
	switch s.pkMode {
	case "kafka":
		names := kafkaPKNames
		if len(s.pkFields) == 3 {
			names = s.pkFields
		}
		for i, n := range names {
			l.keyCols = append(l.keyCols, dialect.Column{Name: n, Schema: kafkaPKSchemas[i], Key: true})
			keyNames[n] = true
		}
	case "record_key":
		ks := rec.KeySchema
		if ks == nil || rec.Key == nil {
			return nil, dataErr(rec, "pk.mode=record_key needs a non-null record key with a schema")
		}
		if ks.Type.IsPrimitive() {
			if len(s.pkFields) != 1 {
				return nil, dataErr(rec, "pk.mode=record_key with a primitive key (%s) needs exactly one name in pk.fields, got %d", ks, len(s.pkFields))
			}
			l.keyCols = append(l.keyCols, dialect.Column{Name: s.pkFields[0], Schema: ks, Key: true})
			keyNames[s.pkFields[0]] = true
			break
		}
		if ks.Type != connect.Struct_ {
			return nil, dataErr(rec, "pk.mode=record_key needs a primitive or Struct key, got %s", ks)
		}
		if len(s.pkFields) == 0 {
			for _, f := range ks.Fields {
				l.keyCols = append(l.keyCols, dialect.Column{Name: f.Name, Schema: f.Schema, Key: true})
				l.keyIdx = append(l.keyIdx, f.Index)
				keyNames[f.Name] = true
			}
		} else {
			for _, n := range s.pkFields {
				f := ks.Field(n)
				if f == nil {
					return nil, dataErr(rec, "pk.fields lists %q, which is not a field of the record key %s", n, ks)
				}
				l.keyCols = append(l.keyCols, dialect.Column{Name: n, Schema: f.Schema, Key: true})
				l.keyIdx = append(l.keyIdx, f.Index)
				keyNames[n] = true
			}
		}
	case "record_value":
		if tombstone {
			return nil, dataErr(rec, "pk.mode=record_value cannot take a null value")
		}
		vs := rec.ValueSchema
		names := s.pkFields
		if len(names) == 0 {
			for _, f := range vs.Fields {
				names = append(names, f.Name)
			}
		}
		for _, n := range names {
			f := vs.Field(n)
			if f == nil {
				return nil, dataErr(rec, "pk.fields lists %q, which is not a field of the record value %s", n, vs)
			}
			l.keyCols = append(l.keyCols, dialect.Column{Name: n, Schema: f.Schema, Key: true})
			l.keyIdx = append(l.keyIdx, f.Index)
			keyNames[n] = true
		}
	}
	if len(l.keyCols) == 0 && s.pkMode != "none" {
		return nil, dataErr(rec, "pk.mode=%s found no primary key fields", s.pkMode)
	}
	if l.valueSchema != nil {
		for _, f := range l.valueSchema.Fields {
			if keyNames[f.Name] || (s.whitelist != nil && !s.whitelist[f.Name]) {
				continue
			}
			l.valCols = append(l.valCols, dialect.Column{Name: f.Name, Schema: f.Schema})
			l.valIdx = append(l.valIdx, f.Index)
		}
		if len(l.keyCols)+len(l.valCols) == 0 {
			return nil, dataErr(rec, "no columns to write: the value has no fields left after fields.whitelist")
		}
	}
	return l, nil
}

func (l *layout) keyNames() []string {
	out := make([]string, len(l.keyCols))
	for i, c := range l.keyCols {
		out[i] = c.Name
	}
	return out
}

func (l *layout) valNames() []string {
	out := make([]string, len(l.valCols))
	for i, c := range l.valCols {
		out[i] = c.Name
	}
	return out
}

// appendKeyArgs appends the bound key values of rec.
func (l *layout) appendKeyArgs(dst []any, s *settings, rec *connect.SinkRecord) ([]any, error) {
	d := s.dialect
	switch s.pkMode {
	case "kafka":
		return append(dst, rec.Topic, int64(rec.Partition), rec.KafkaOffset), nil
	case "record_key":
		if len(l.keyIdx) == 0 {
			v, err := d.BindValue(l.keyCols[0].Schema, rec.Key, s.loc)
			if err != nil {
				return nil, dataErr(rec, "key: %v", err)
			}
			return append(dst, v), nil
		}
		st, ok := rec.Key.(*connect.Struct)
		if !ok {
			return nil, dataErr(rec, "record key is %T, not a Struct", rec.Key)
		}
		return l.appendFields(dst, s, rec, st, l.keyIdx, l.keyCols)
	case "record_value":
		return l.appendFields(dst, s, rec, rec.Value.(*connect.Struct), l.keyIdx, l.keyCols)
	}
	return dst, nil
}

func (l *layout) appendFields(dst []any, s *settings, rec *connect.SinkRecord, st *connect.Struct, idx []int, cols []dialect.Column) ([]any, error) {
	for i, fi := range idx {
		var v any
		if s.replaceNull {
			v = st.GetAt(fi)
		} else {
			v = st.Raw(fi)
		}
		if v == nil && cols[i].Key {
			return nil, dataErr(rec, "primary key field %s is null", cols[i].Name)
		}
		b, err := s.dialect.BindValue(cols[i].Schema, v, s.loc)
		if err != nil {
			return nil, dataErr(rec, "field %s: %v", cols[i].Name, err)
		}
		dst = append(dst, b)
	}
	return dst, nil
}

// appendValueArgs appends the bound non-key values of rec.
func (l *layout) appendValueArgs(dst []any, s *settings, rec *connect.SinkRecord) ([]any, error) {
	return l.appendFields(dst, s, rec, rec.Value.(*connect.Struct), l.valIdx, l.valCols)
}

// resolveColumns matches the layout's columns to the table's existing
// columns (exactly, else ignoring case) and returns those that are missing.
func (l *layout) resolveColumns(existing []dialect.ColumnInfo) []dialect.Column {
	var missing []dialect.Column
	resolve := func(cols []dialect.Column) {
		for i := range cols {
			j := slices.IndexFunc(existing, func(c dialect.ColumnInfo) bool { return c.Name == cols[i].Name })
			if j < 0 {
				j = slices.IndexFunc(existing, func(c dialect.ColumnInfo) bool { return strings.EqualFold(c.Name, cols[i].Name) })
			}
			if j < 0 {
				missing = append(missing, cols[i])
				continue
			}
			cols[i].Name = existing[j].Name
		}
	}
	resolve(l.keyCols)
	resolve(l.valCols)
	return missing
}
