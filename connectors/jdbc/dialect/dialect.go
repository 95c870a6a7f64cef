package dialect

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind names a supported database family.
type Kind string

// Supported database families.
const (
	KindMySQL      Kind = "mysql"
	KindPostgreSQL Kind = "postgresql"
	KindSQLite     Kind = "sqlite"
)

// Dialect holds what differs between databases. A *Dialect is immutable;
// WithQuoting returns a changed copy.
type Dialect struct {
	kind  Kind
	quote bool
}

// MySQL returns the MySQL/MariaDB dialect (identifiers quoted).
func MySQL() *Dialect { return &Dialect{kind: KindMySQL, quote: true} }

// PostgreSQL returns the PostgreSQL dialect (identifiers quoted).
func PostgreSQL() *Dialect { return &Dialect{kind: KindPostgreSQL, quote: true} }

// SQLite returns the SQLite dialect (identifiers quoted).
func SQLite() *Dialect { return &Dialect{kind: KindSQLite, quote: true} }

// ByName returns the dialect for a Confluent dialect.name value such as
// MySqlDatabaseDialect, PostgreSqlDatabaseDialect or SqliteDatabaseDialect.
func ByName(name string) (*Dialect, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "mysqldatabasedialect", "mysql", "mariadb":
		return MySQL(), nil
	case "postgresqldatabasedialect", "postgresql", "postgres":
		return PostgreSQL(), nil
	case "sqlitedatabasedialect", "sqlite":
		return SQLite(), nil
	}
	return nil, fmt.Errorf("unsupported dialect %q: supported are MySqlDatabaseDialect, PostgreSqlDatabaseDialect and SqliteDatabaseDialect", name)
}

// Kind returns the database family.
func (d *Dialect) Kind() Kind { return d.kind }

// Name returns Confluent's dialect class simple name.
func (d *Dialect) Name() string {
	switch d.kind {
	case KindMySQL:
		return "MySqlDatabaseDialect"
	case KindPostgreSQL:
		return "PostgreSqlDatabaseDialect"
	}
	return "SqliteDatabaseDialect"
}

// DriverName is the database/sql driver the dialect is used with.
func (d *Dialect) DriverName() string {
	switch d.kind {
	case KindMySQL:
		return "mysql"
	case KindPostgreSQL:
		return "pgx"
	}
	return "sqlite"
}

// WithQuoting returns a copy that quotes identifiers (quote.sql.identifiers
// = always) or leaves them bare (never).
func (d *Dialect) WithQuoting(quote bool) *Dialect {
	c := *d
	c.quote = quote
	return &c
}

// QuotesIdentifiers reports whether identifiers are quoted.
func (d *Dialect) QuotesIdentifiers() bool { return d.quote }

// QuoteChar is the dialect's identifier quote: a backtick for MySQL, a
// double quote otherwise.
func (d *Dialect) QuoteChar() string {
	if d.kind == KindMySQL {
		return "`"
	}
	return `"`
}

// Ident renders one identifier, quoted when quoting is on (embedded quote
// characters doubled).
func (d *Dialect) Ident(name string) string {
	if !d.quote {
		return name
	}
	q := d.QuoteChar()
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// QuoteAlways renders an identifier quoted whatever the quoting setting.
func (d *Dialect) QuoteAlways(name string) string {
	q := d.QuoteChar()
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// Placeholder returns the n-th (1-based) bind marker: ? or $n.
func (d *Dialect) Placeholder(n int) string {
	if d.kind == KindPostgreSQL {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// MaxParams is the most bind parameters one statement may carry.
func (d *Dialect) MaxParams() int {
	switch d.kind {
	case KindSQLite:
		return 32766
	}
	return 65535
}

// TableID is a possibly qualified table name. For MySQL the database is
// the Catalog; for PostgreSQL the Schema; SQLite uses Table only.
type TableID struct {
	Catalog string
	Schema  string
	Table   string
}

// String joins the non-empty parts with dots, unquoted.
func (t TableID) String() string {
	var parts []string
	for _, p := range []string{t.Catalog, t.Schema, t.Table} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// ParseTableID parses "[catalog.][schema.]table". Parts may be quoted
// with the dialect's quote character (or a double quote), so a quoted part
// may contain dots. With quoting off, PostgreSQL names are lower-cased as
// the server would fold them.
func (d *Dialect) ParseTableID(s string) (TableID, error) {
	parts, err := splitQualified(s, d.QuoteChar())
	if err != nil {
		return TableID{}, err
	}
	if d.kind == KindPostgreSQL && !d.quote {
		for i := range parts {
			if !parts[i].quoted {
				parts[i].name = strings.ToLower(parts[i].name)
			}
		}
	}
	var id TableID
	switch len(parts) {
	case 1:
		id.Table = parts[0].name
	case 2:
		if d.kind == KindMySQL {
			id.Catalog, id.Table = parts[0].name, parts[1].name
		} else {
			id.Schema, id.Table = parts[0].name, parts[1].name
		}
	case 3:
		id.Catalog, id.Schema, id.Table = parts[0].name, parts[1].name, parts[2].name
	default:
		return TableID{}, fmt.Errorf("invalid table name %q: expected [catalog.][schema.]table", s)
	}
	if id.Table == "" {
		return TableID{}, fmt.Errorf("invalid table name %q: empty table part", s)
	}
	return id, nil
}

type namePart struct {
	name   string
	quoted bool
}

func splitQualified(s, quote string) ([]namePart, error) {
	var out []namePart
	var cur strings.Builder
	quoted, inQuote := false, false
	q := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == q:
			if i+1 < len(s) && s[i+1] == q {
				cur.WriteByte(c)
				i++
			} else {
				inQuote = false
			}
		case inQuote:
			cur.WriteByte(c)
		case (c == quote[0] || c == '"') && cur.Len() == 0 && !quoted:
			inQuote, quoted, q = true, true, c
		case c == '.':
			out = append(out, namePart{cur.String(), quoted})
			cur.Reset()
			quoted = false
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, fmt.Errorf("invalid table name %q: unterminated quote", s)
	}
	out = append(out, namePart{cur.String(), quoted})
	return out, nil
}

// Table renders a table name for SQL, each part through Ident. For
// SQLite, catalog and schema are dropped (one database per file).
func (d *Dialect) Table(t TableID) string {
	var parts []string
	if d.kind != KindSQLite {
		if t.Catalog != "" && (d.kind == KindMySQL || t.Schema != "") {
			parts = append(parts, d.Ident(t.Catalog))
		}
		if t.Schema != "" {
			parts = append(parts, d.Ident(t.Schema))
		}
	}
	parts = append(parts, d.Ident(t.Table))
	return strings.Join(parts, ".")
}
