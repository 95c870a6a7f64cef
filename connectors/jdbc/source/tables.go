package source

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// table is one listed table: its identifier and the name used in offsets.
type table struct {
	id dialect.TableID
}

// fqn is the unquoted, dot-joined name Confluent stores in offsets:
// db.table for MySQL, schema.table for PostgreSQL, main.table for SQLite.
func (t table) fqn() string { return t.id.String() }

// bare is the unqualified table name, used for topics and schema names.
func (t table) bare() string { return t.id.Table }

// sqliteSchema is the schema name SQLite gives the main database file.
const sqliteSchema = "main"

// listTables returns the tables the config selects, in a stable order.
func listTables(ctx context.Context, db *sql.DB, d *dialect.Dialect, s *settings) ([]table, error) {
	types := map[string]bool{}
	for _, t := range s.tableTypes {
		types[strings.ToUpper(strings.TrimSpace(t))] = true
	}
	var (
		q    string
		args []any
	)
	switch d.Kind() {
	case dialect.KindMySQL:
		q = `SELECT table_schema, '', table_name, table_type FROM information_schema.tables WHERE table_schema = COALESCE(?, DATABASE()) ORDER BY table_schema, table_name`
		var cat any
		if s.catalog != nil {
			cat = *s.catalog
		}
		args = []any{cat}
	case dialect.KindPostgreSQL:
		q = `SELECT '', table_schema, table_name, table_type FROM information_schema.tables
			WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%'
			AND ($1::text IS NULL OR table_schema LIKE $1::text) ORDER BY table_schema, table_name`
		var sch any
		if s.schema != nil {
			sch = *s.schema
		}
		args = []any{sch}
	default:
		q = `SELECT '', 'main', name, CASE type WHEN 'view' THEN 'VIEW' ELSE 'BASE TABLE' END FROM sqlite_master
			WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name`
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	var out []table
	for rows.Next() {
		var cat, sch, name, typ string
		if err := rows.Scan(&cat, &sch, &name, &typ); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		kind := "TABLE"
		if strings.Contains(strings.ToUpper(typ), "VIEW") {
			kind = "VIEW"
		}
		if !types[kind] {
			continue
		}
		t := table{id: dialect.TableID{Catalog: cat, Schema: sch, Table: name}}
		if keep(t, d, s) {
			out = append(out, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	return out, nil
}

// keep applies the legacy white/black lists or the include/exclude regexes.
func keep(t table, d *dialect.Dialect, s *settings) bool {
	match := func(names []string) bool {
		quoted := quotedFQN(d, t.id)
		for _, n := range names {
			if n == t.fqn() || n == quoted || n == t.bare() {
				return true
			}
		}
		return false
	}
	switch {
	case len(s.whitelist) > 0:
		return match(s.whitelist)
	case len(s.blacklist) > 0:
		return !match(s.blacklist)
	case len(s.include) > 0:
		ok := false
		for _, r := range s.include {
			if r.MatchString(t.fqn()) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
		for _, r := range s.exclude {
			if r.MatchString(t.fqn()) {
				return false
			}
		}
	}
	return true
}

// quotedFQN renders every non-empty part quoted, the form task configs
// carry in the tables key.
func quotedFQN(d *dialect.Dialect, id dialect.TableID) string {
	var parts []string
	for _, p := range []string{id.Catalog, id.Schema, id.Table} {
		if p != "" {
			parts = append(parts, d.QuoteAlways(p))
		}
	}
	return strings.Join(parts, ".")
}

// encodeTables joins quoted table names with commas.
func encodeTables(d *dialect.Dialect, ts []table) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = quotedFQN(d, t.id)
	}
	return strings.Join(parts, ",")
}

// decodeTables reverses encodeTables, splitting on commas outside quotes.
func decodeTables(d *dialect.Dialect, s string) ([]table, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []table
	q := d.QuoteChar()[0]
	in := false
	start := 0
	flush := func(end int) error {
		raw := s[start:end]
		parts, err := splitQuoted(raw, q)
		if err != nil {
			return err
		}
		var id dialect.TableID
		switch len(parts) {
		case 1:
			id.Table = parts[0]
		case 2:
			if d.Kind() == dialect.KindMySQL {
				id.Catalog, id.Table = parts[0], parts[1]
			} else {
				id.Schema, id.Table = parts[0], parts[1]
			}
		case 3:
			id.Catalog, id.Schema, id.Table = parts[0], parts[1], parts[2]
		default:
			return fmt.Errorf("invalid table name %q", raw)
		}
		out = append(out, table{id: id})
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == q:
			in = !in
		case s[i] == ',' && !in:
			if err := flush(i); err != nil {
				return nil, err
			}
			start = i + 1
		}
	}
	if err := flush(len(s)); err != nil {
		return nil, err
	}
	return out, nil
}

// splitQuoted splits a dotted name whose parts may be quoted with q
// (a doubled q inside quotes is a literal q).
func splitQuoted(s string, q byte) ([]string, error) {
	var parts []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == q && i+1 < len(s) && s[i+1] == q:
			cur.WriteByte(q)
			i++
		case c == q:
			in = !in
		case c == '.' && !in:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote in table name %q", s)
	}
	return append(parts, cur.String()), nil
}

// columnInfo is what the catalog says about one column.
type columnInfo struct {
	notNull bool
	autoInc bool
	typ     string
	// precision is the number of fractional-second digits a date-time
	// column keeps, or -1 when the catalog does not say.
	precision int
}

// tableColumns reads a table's column metadata, keyed by column name, in
// column order.
func tableColumns(ctx context.Context, db *sql.DB, d *dialect.Dialect, t table) ([]string, map[string]columnInfo, error) {
	var (
		q    string
		args []any
	)
	switch d.Kind() {
	case dialect.KindMySQL:
		q = `SELECT column_name, is_nullable = 'NO', extra LIKE '%auto_increment%', data_type, COALESCE(datetime_precision, -1) FROM information_schema.columns
			WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND table_name = ? ORDER BY ordinal_position`
		args = []any{t.id.Catalog, t.id.Table}
	case dialect.KindPostgreSQL:
		q = `SELECT column_name, is_nullable = 'NO', COALESCE(column_default LIKE 'nextval(%', false) OR is_identity = 'YES', data_type,
			COALESCE(datetime_precision, -1) FROM information_schema.columns WHERE table_schema = COALESCE(NULLIF($1, ''), current_schema()) AND table_name = $2 ORDER BY ordinal_position`
		args = []any{t.id.Schema, t.id.Table}
	default:
		q = `SELECT name, "notnull" != 0 OR (pk = 1 AND upper(type) = 'INTEGER'), pk = 1 AND upper(type) = 'INTEGER', type, -1 FROM pragma_table_info(?)`
		args = []any{t.id.Table}
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the columns of %s: %w", t.fqn(), err)
	}
	defer rows.Close()
	var names []string
	info := map[string]columnInfo{}
	for rows.Next() {
		var name, typ string
		var c columnInfo
		if err := rows.Scan(&name, &c.notNull, &c.autoInc, &typ, &c.precision); err != nil {
			return nil, nil, fmt.Errorf("reading the columns of %s: %w", t.fqn(), err)
		}
		c.typ = typ
		if d.Kind() == dialect.KindSQLite {
			c.precision = declaredPrecision(typ)
		}
		names = append(names, name)
		info[name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the columns of %s: %w", t.fqn(), err)
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("table %s does not exist or has no columns", t.fqn())
	}
	return names, info, nil
}

// findColumn matches a configured column name against actual names,
// exactly first, then ignoring case.
func findColumn(names []string, want string) (string, bool) {
	for _, n := range names {
		if n == want {
			return n, true
		}
	}
	for _, n := range names {
		if strings.EqualFold(n, want) {
			return n, true
		}
	}
	return "", false
}

// declaredPrecision reads the n of a declared type such as TIMESTAMP(3);
// SQLite keeps the declaration as written. It returns -1 without one.
func declaredPrecision(typ string) int {
	open := strings.IndexByte(typ, '(')
	end := strings.IndexByte(typ, ')')
	if open < 0 || end < open {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(typ[open+1 : end]))
	if err != nil || n < 0 || n > 9 {
		return -1
	}
	return n
}

// tickOf is the smallest step a timestamp column's values move by: a day
// for a DATE, 10^-precision s for a date-time type whose precision the
// catalog gives, and a whole second otherwise (a text column, SQLite's
// CURRENT_TIMESTAMP, a type the catalog says nothing about). Guessing too
// coarse only delays rows; guessing too fine can lose updates. SQLite's
// declared types are only names: a column declared DATE may hold times.
func tickOf(c columnInfo, kind dialect.Kind) time.Duration {
	t := strings.ToLower(strings.TrimSpace(c.typ))
	if t == "date" && kind != dialect.KindSQLite {
		return 24 * time.Hour
	}
	if c.precision < 0 || !(strings.Contains(t, "time") || strings.Contains(t, "date")) {
		return time.Second
	}
	tick := time.Second
	for range min(c.precision, 9) {
		tick /= 10
	}
	return tick
}
