package dialect

import (
	"fmt"
	"strings"
)

// The statement builders take the table and column names unquoted. Keys
// come first in the column list and in bind order for INSERT and UPSERT;
// UPDATE binds the non-key columns, then the keys; DELETE binds the keys.

func (d *Dialect) columnList(cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.Ident(c))
	}
	return b.String()
}

// valuesRows writes rows groups of "(?,?,…)" separated by commas, numbering
// the placeholders from 1.
func (d *Dialect) valuesRows(b *strings.Builder, width, rows int) {
	n := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteString(d.Placeholder(n))
			n++
		}
		b.WriteByte(')')
	}
}

// InsertSQL builds a plain INSERT of rows rows (multi-row VALUES when rows > 1).
func (d *Dialect) InsertSQL(t TableID, keys, cols []string, rows int) string {
	all := append(append([]string{}, keys...), cols...)
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.Table(t))
	b.WriteString("(")
	b.WriteString(d.columnList(all))
	b.WriteString(") VALUES")
	d.valuesRows(&b, len(all), max(rows, 1))
	return b.String()
}

// SupportsUpsert reports whether UpsertSQL works for the dialect (all
// three supported dialects do).
func (d *Dialect) SupportsUpsert() bool { return true }

// UpsertSQL builds an insert-or-update of rows rows keyed on keys:
//
//	MySQL:      INSERT … ON DUPLICATE KEY UPDATE c=VALUES(c)
//	PostgreSQL: INSERT … ON CONFLICT (k) DO UPDATE SET c=EXCLUDED.c (DO NOTHING without non-key columns)
//	SQLite:     INSERT OR REPLACE INTO …
//
// A multi-row PostgreSQL upsert must not hold the same key twice; callers
// keep only the last row per key in one statement.
func (d *Dialect) UpsertSQL(t TableID, keys, cols []string, rows int) (string, error) {
	if len(keys) == 0 {
		return "", fmt.Errorf("upsert into %s needs at least one primary key column (set pk.mode)", t)
	}
	all := append(append([]string{}, keys...), cols...)
	var b strings.Builder
	rows = max(rows, 1)
	switch d.kind {
	case KindMySQL:
		b.WriteString("INSERT INTO ")
		b.WriteString(d.Table(t))
		b.WriteString("(")
		b.WriteString(d.columnList(all))
		b.WriteString(") VALUES")
		d.valuesRows(&b, len(all), rows)
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		set := cols
		if len(set) == 0 {
			set = keys
		}
		for i, c := range set {
			if i > 0 {
				b.WriteByte(',')
			}
			q := d.Ident(c)
			b.WriteString(q + "=VALUES(" + q + ")")
		}
	case KindPostgreSQL:
		b.WriteString("INSERT INTO ")
		b.WriteString(d.Table(t))
		b.WriteString(" (")
		b.WriteString(d.columnList(all))
		b.WriteString(") VALUES ")
		d.valuesRows(&b, len(all), rows)
		b.WriteString(" ON CONFLICT (")
		b.WriteString(d.columnList(keys))
		b.WriteString(") ")
		if len(cols) == 0 {
			b.WriteString("DO NOTHING")
			break
		}
		b.WriteString("DO UPDATE SET ")
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			q := d.Ident(c)
			b.WriteString(q + "=EXCLUDED." + q)
		}
	case KindSQLite:
		b.WriteString("INSERT OR REPLACE INTO ")
		b.WriteString(d.Table(t))
		b.WriteString("(")
		b.WriteString(d.columnList(all))
		b.WriteString(") VALUES")
		d.valuesRows(&b, len(all), rows)
	}
	return b.String(), nil
}

// UpdateSQL builds UPDATE t SET c1 = ?, … WHERE k1 = ? AND …
func (d *Dialect) UpdateSQL(t TableID, keys, cols []string) (string, error) {
	if len(cols) == 0 {
		return "", fmt.Errorf("update of %s needs at least one non-key column", t)
	}
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(d.Table(t))
	b.WriteString(" SET ")
	n := 1
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Ident(c) + " = " + d.Placeholder(n))
		n++
	}
	if len(keys) > 0 {
		b.WriteString(" WHERE ")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(" AND ")
			}
			b.WriteString(d.Ident(k) + " = " + d.Placeholder(n))
			n++
		}
	}
	return b.String(), nil
}

// DeleteSQL builds a delete of rows keys: DELETE FROM t WHERE k1 = ? AND …
// for one row, and WHERE (k1,k2) IN ((?,?),…) (or k IN (?,…)) for several.
func (d *Dialect) DeleteSQL(t TableID, keys []string, rows int) (string, error) {
	if len(keys) == 0 {
		return "", fmt.Errorf("delete from %s needs at least one primary key column", t)
	}
	var b strings.Builder
	b.WriteString("DELETE FROM ")
	b.WriteString(d.Table(t))
	b.WriteString(" WHERE ")
	if rows <= 1 {
		for i, k := range keys {
			if i > 0 {
				b.WriteString(" AND ")
			}
			b.WriteString(d.Ident(k) + " = " + d.Placeholder(i+1))
		}
		return b.String(), nil
	}
	if len(keys) == 1 {
		b.WriteString(d.Ident(keys[0]) + " IN (")
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteString(d.Placeholder(r + 1))
		}
		b.WriteByte(')')
		return b.String(), nil
	}
	b.WriteString("(" + d.columnList(keys) + ") IN (")
	d.valuesRows(&b, len(keys), rows)
	b.WriteByte(')')
	return b.String(), nil
}
