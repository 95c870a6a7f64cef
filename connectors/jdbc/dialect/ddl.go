package dialect

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Column is a column to create or add: its name, the Connect schema of its
// values, and whether it is part of the primary key.
type Column struct {
	Name   string
	Schema *connect.Schema
	Key    bool
}

// ColumnType maps a Connect schema to the dialect's column type.
func (d *Dialect) ColumnType(s *connect.Schema, key bool) (string, error) {
	if s == nil {
		return "", fmt.Errorf("a column needs a schema")
	}
	switch s.Name {
	case connect.DecimalName:
		scale, err := connect.DecimalScale(s)
		if err != nil {
			return "", err
		}
		switch d.kind {
		case KindMySQL:
			return fmt.Sprintf("DECIMAL(65,%d)", scale), nil
		case KindPostgreSQL:
			return "DECIMAL", nil
		}
		return "NUMERIC", nil
	case connect.DateName:
		if d.kind == KindSQLite {
			return "NUMERIC", nil
		}
		return "DATE", nil
	case connect.TimeName:
		switch d.kind {
		case KindMySQL:
			return "TIME(3)", nil
		case KindPostgreSQL:
			return "TIME", nil
		}
		return "NUMERIC", nil
	case connect.TimestampName:
		switch d.kind {
		case KindMySQL:
			return "DATETIME(3)", nil
		case KindPostgreSQL:
			return "TIMESTAMP", nil
		}
		return "NUMERIC", nil
	}
	switch d.kind {
	case KindMySQL:
		switch s.Type {
		case connect.Int8:
			return "TINYINT", nil
		case connect.Int16:
			return "SMALLINT", nil
		case connect.Int32:
			return "INT", nil
		case connect.Int64:
			return "BIGINT", nil
		case connect.Float32:
			return "FLOAT", nil
		case connect.Float64:
			return "DOUBLE", nil
		case connect.Boolean:
			return "TINYINT", nil
		case connect.String:
			// MySQL cannot index TEXT without a length; key columns get a
			// bounded VARCHAR as Confluent's dialect does.
			if key {
				return "VARCHAR(256)", nil
			}
			return "TEXT", nil
		case connect.Bytes:
			return "VARBINARY(1024)", nil
		}
	case KindPostgreSQL:
		switch s.Type {
		case connect.Int8, connect.Int16:
			return "SMALLINT", nil
		case connect.Int32:
			return "INT", nil
		case connect.Int64:
			return "BIGINT", nil
		case connect.Float32:
			return "REAL", nil
		case connect.Float64:
			return "DOUBLE PRECISION", nil
		case connect.Boolean:
			return "BOOLEAN", nil
		case connect.String:
			return "TEXT", nil
		case connect.Bytes:
			return "BYTEA", nil
		case connect.Array:
			if s.ValueSchema != nil && s.ValueSchema.Type.IsPrimitive() && s.ValueSchema.Name == "" {
				elem, err := d.ColumnType(s.ValueSchema, false)
				if err != nil {
					return "", err
				}
				return elem + "[]", nil
			}
		}
	case KindSQLite:
		switch s.Type {
		case connect.Int8, connect.Int16, connect.Int32, connect.Int64, connect.Boolean:
			return "INTEGER", nil
		case connect.Float32, connect.Float64:
			return "REAL", nil
		case connect.String:
			return "TEXT", nil
		case connect.Bytes:
			return "BLOB", nil
		}
	}
	return "", fmt.Errorf("%s (%s) has no %s column type", s, d.Name(), d.kind)
}

// columnDef renders "<name> <type> [DEFAULT v] NULL|NOT NULL".
func (d *Dialect) columnDef(c Column) (string, error) {
	typ, err := d.ColumnType(c.Schema, c.Key)
	if err != nil {
		return "", fmt.Errorf("column %s: %w", c.Name, err)
	}
	var b strings.Builder
	b.WriteString(d.Ident(c.Name) + " " + typ)
	if c.Schema.HasDefault && c.Schema.Default != nil {
		if lit, ok := d.literal(c.Schema, c.Schema.Default); ok {
			b.WriteString(" DEFAULT " + lit)
		}
	}
	if c.Key || (!c.Schema.Optional && !c.Schema.HasDefault) {
		b.WriteString(" NOT NULL")
	} else {
		b.WriteString(" NULL")
	}
	return b.String(), nil
}

// literal renders a default value as SQL; ok is false when the value has
// no portable literal (the default is then left out).
func (d *Dialect) literal(s *connect.Schema, v any) (string, bool) {
	switch x := v.(type) {
	case int8, int16, int32, int64:
		return fmt.Sprint(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		if d.kind == KindPostgreSQL {
			return strconv.FormatBool(x), true
		}
		if x {
			return "1", true
		}
		return "0", true
	case string:
		if d.kind == KindMySQL {
			return "", false // TEXT columns take no DEFAULT before MySQL 8.0.13
		}
		return "'" + strings.ReplaceAll(x, "'", "''") + "'", true
	case connect.Decimal:
		return x.String(), true
	case []byte:
		switch d.kind {
		case KindPostgreSQL:
			return `'\x` + hex.EncodeToString(x) + "'", true
		default:
			return "X'" + hex.EncodeToString(x) + "'", true
		}
	case time.Time:
		if d.kind == KindSQLite {
			return "", false
		}
		switch s.Name {
		case connect.DateName:
			return "'" + x.UTC().Format("2006-01-02") + "'", true
		case connect.TimeName:
			return "'" + x.UTC().Format("15:04:05.000") + "'", true
		}
		return "'" + x.UTC().Format("2006-01-02 15:04:05.000") + "'", true
	}
	return "", false
}

// CreateTableSQL builds CREATE TABLE t (<columns>, PRIMARY KEY(<keys>)).
func (d *Dialect) CreateTableSQL(t TableID, cols []Column) (string, error) {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(d.Table(t))
	b.WriteString(" (\n")
	var keys []string
	for i, c := range cols {
		def, err := d.columnDef(c)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(def)
		if c.Key {
			keys = append(keys, c.Name)
		}
	}
	if len(keys) > 0 {
		b.WriteString(",\nPRIMARY KEY(" + d.columnList(keys) + ")")
	}
	b.WriteString(")")
	return b.String(), nil
}

// AddColumnSQL builds the statements adding columns to an existing table,
// one ALTER TABLE per column (SQLite takes one column per statement).
func (d *Dialect) AddColumnSQL(t TableID, cols []Column) ([]string, error) {
	var out []string
	for _, c := range cols {
		def, err := d.columnDef(c)
		if err != nil {
			return nil, err
		}
		kw := " ADD "
		if d.kind != KindMySQL {
			kw = " ADD COLUMN "
		}
		out = append(out, "ALTER TABLE "+d.Table(t)+kw+def)
	}
	return out, nil
}
