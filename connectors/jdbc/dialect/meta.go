package dialect

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Querier is what the metadata helpers need: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ColumnInfo describes an existing column.
type ColumnInfo struct {
	Name     string
	Type     string // database type name, lower case
	Nullable bool
	Key      bool // part of the primary key
}

// Columns lists an existing table's columns in table order. It returns
// (nil, nil) when the table does not exist. Unqualified names resolve
// against the connection's current database (MySQL) or schema (PostgreSQL).
func (d *Dialect) Columns(ctx context.Context, q Querier, t TableID) ([]ColumnInfo, error) {
	var (
		rows *sql.Rows
		err  error
	)
	switch d.kind {
	case KindSQLite:
		rows, err = q.QueryContext(ctx, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", t.Table)
	case KindMySQL:
		db := t.Catalog
		rows, err = q.QueryContext(ctx, `SELECT c.COLUMN_NAME, c.DATA_TYPE, c.IS_NULLABLE = 'YES', c.COLUMN_KEY = 'PRI'
FROM information_schema.COLUMNS c
WHERE c.TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND c.TABLE_NAME = ?
ORDER BY c.ORDINAL_POSITION`, db, t.Table)
	case KindPostgreSQL:
		rows, err = q.QueryContext(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
  COALESCE(a.attnum = ANY (i.indkey), false)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE c.relname = $1 AND n.nspname = COALESCE(NULLIF($2, ''), current_schema())
  AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY a.attnum`, t.Table, t.Schema)
	}
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", t, err)
	}
	defer rows.Close()
	var out []ColumnInfo
	for rows.Next() {
		var c ColumnInfo
		if d.kind == KindSQLite {
			var notNull, pk int
			if err := rows.Scan(&c.Name, &c.Type, &notNull, &pk); err != nil {
				return nil, fmt.Errorf("reading columns of %s: %w", t, err)
			}
			c.Nullable, c.Key = notNull == 0 && pk == 0, pk > 0
		} else if err := rows.Scan(&c.Name, &c.Type, &c.Nullable, &c.Key); err != nil {
			return nil, fmt.Errorf("reading columns of %s: %w", t, err)
		}
		c.Type = strings.ToLower(c.Type)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", t, err)
	}
	return out, nil
}
