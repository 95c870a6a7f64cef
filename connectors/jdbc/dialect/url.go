// Package dialect is the database knowledge shared by the JDBC source and
// sink connectors: it turns a JDBC connection URL into a Go database/sql
// driver name and DSN, quotes identifiers, parses table names, maps Connect
// schemas to column types, builds the DML each database understands, and
// tells transient database errors from permanent ones.
//
// Three databases are supported, each through a pure-Go driver:
//
//	jdbc:mysql://… and jdbc:mariadb://…  go-sql-driver/mysql  ("mysql")
//	jdbc:postgresql://…                  pgx stdlib           ("pgx")
//	jdbc:sqlite:<path>                   modernc.org/sqlite   ("sqlite")
package dialect

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	// Registered drivers: "pgx" and "sqlite".
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Target is a parsed JDBC URL: which dialect and Go driver to use and the
// DSN to hand to sql.Open.
type Target struct {
	Dialect *Dialect
	// Driver is the database/sql driver name: "mysql", "pgx" or "sqlite".
	Driver string
	// DSN is the driver-specific data source name, credentials included.
	DSN string
	// Host and Port are empty/0 for SQLite.
	Host string
	Port int
	// Database is the database name (MySQL, PostgreSQL) or file path (SQLite).
	Database string
}

// Redacted returns the DSN with the password masked, for logs and errors.
func (t Target) Redacted() string {
	switch t.Driver {
	case "mysql":
		cfg, err := mysql.ParseDSN(t.DSN)
		if err != nil {
			return "<unparsable DSN>"
		}
		if cfg.Passwd != "" {
			cfg.Passwd = "xxxxx"
		}
		return cfg.FormatDSN()
	case "pgx":
		u, err := url.Parse(t.DSN)
		if err != nil {
			return "<unparsable DSN>"
		}
		return u.Redacted()
	}
	return t.DSN
}

// ParseURL resolves a JDBC URL. user and password, when non-empty, take
// precedence over credentials written in the URL (connection.user and
// connection.password win, as with Confluent's connector).
func ParseURL(jdbcURL, user, password string) (Target, error) {
	s := strings.TrimSpace(jdbcURL)
	rest, ok := strings.CutPrefix(s, "jdbc:")
	if !ok {
		return Target{}, fmt.Errorf("not a JDBC URL (must start with jdbc:): %q", redactURL(s))
	}
	sub, body, _ := strings.Cut(rest, ":")
	switch strings.ToLower(sub) {
	case "mysql", "mariadb":
		return parseMySQL(body, user, password, s)
	case "postgresql", "postgres":
		return parsePostgres(body, user, password, s)
	case "sqlite":
		return parseSQLite(body)
	}
	return Target{}, fmt.Errorf("unsupported JDBC subprotocol %q in %q: supported are mysql, mariadb, postgresql and sqlite", sub, redactURL(s))
}

// redactURL hides password=… query parameters in a JDBC URL.
func redactURL(s string) string {
	i := strings.IndexByte(s, '?')
	if i < 0 {
		return s
	}
	parts := strings.Split(s[i+1:], "&")
	for j, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "password") {
			parts[j] = k + "=xxxxx"
		}
	}
	return s[:i+1] + strings.Join(parts, "&")
}

// hierarchical splits "//host:port,host2/db?a=b" into its parts. Only the
// first host of a failover list is used.
func hierarchical(body, original string, defaultPort int) (host string, port int, db string, params url.Values, err error) {
	rest, ok := strings.CutPrefix(body, "//")
	if !ok {
		// jdbc:postgresql:db is a database on localhost.
		rest = "localhost/" + rest
	}
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	hostport, db, _ := strings.Cut(rest, "/")
	if i := strings.IndexByte(hostport, '@'); i >= 0 {
		hostport = hostport[i+1:] // user info in the authority is not JDBC; ignore it
	}
	if i := strings.IndexByte(hostport, ','); i >= 0 {
		hostport = hostport[:i]
	}
	params, err = url.ParseQuery(query)
	if err != nil {
		return "", 0, "", nil, fmt.Errorf("invalid query in JDBC URL %q: %w", redactURL(original), err)
	}
	port = defaultPort
	host = hostport
	if h, p, splitErr := net.SplitHostPort(hostport); splitErr == nil {
		host = h
		if port, err = strconv.Atoi(p); err != nil {
			return "", 0, "", nil, fmt.Errorf("invalid port %q in JDBC URL %q", p, redactURL(original))
		}
	} else {
		host = strings.Trim(hostport, "[]")
	}
	if host == "" {
		host = "localhost"
	}
	db, err = url.PathUnescape(db)
	return host, port, db, params, err
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func parseMySQL(body, user, password, original string) (Target, error) {
	host, port, db, params, err := hierarchical(body, original, 3306)
	if err != nil {
		return Target{}, err
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	cfg.DBName = db
	cfg.User = firstNonEmpty(user, params.Get("user"))
	cfg.Passwd = firstNonEmpty(password, params.Get("password"))
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// One round trip per statement instead of prepare, execute and close.
	cfg.InterpolateParams = true
	for k, vs := range params {
		v := vs[len(vs)-1]
		switch strings.ToLower(k) {
		case "usessl", "requiressl":
			if strings.EqualFold(v, "true") {
				cfg.TLSConfig = "skip-verify"
			}
		case "sslmode":
			switch strings.ToUpper(v) {
			case "DISABLED":
				cfg.TLSConfig = "false"
			case "PREFERRED":
				cfg.TLSConfig = "preferred"
			case "REQUIRED":
				cfg.TLSConfig = "skip-verify"
			case "VERIFY_CA", "VERIFY_IDENTITY":
				cfg.TLSConfig = "true"
			}
		case "connecttimeout":
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
				cfg.Timeout = time.Duration(ms) * time.Millisecond
			}
		case "sockettimeout":
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
				cfg.ReadTimeout = time.Duration(ms) * time.Millisecond
				cfg.WriteTimeout = cfg.ReadTimeout
			}
		}
		// Other JDBC driver properties (rewriteBatchedStatements, serverTimezone, …)
		// have no meaning for the Go driver and are ignored.
	}
	return Target{Dialect: MySQL(), Driver: "mysql", DSN: cfg.FormatDSN(), Host: host, Port: port, Database: db}, nil
}

func parsePostgres(body, user, password, original string) (Target, error) {
	host, port, db, params, err := hierarchical(body, original, 5432)
	if err != nil {
		return Target{}, err
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + db}
	user = firstNonEmpty(user, params.Get("user"))
	password = firstNonEmpty(password, params.Get("password"))
	if user != "" || password != "" {
		u.User = url.UserPassword(user, password)
	}
	q := url.Values{}
	for k, vs := range params {
		v := vs[len(vs)-1]
		switch strings.ToLower(k) {
		case "sslmode":
			q.Set("sslmode", v)
		case "ssl":
			if strings.EqualFold(v, "true") && q.Get("sslmode") == "" {
				q.Set("sslmode", "require")
			}
		case "connecttimeout":
			q.Set("connect_timeout", v)
		case "applicationname":
			q.Set("application_name", v)
		case "currentschema":
			q.Set("search_path", v)
		case "options":
			q.Set("options", v)
		}
	}
	u.RawQuery = q.Encode()
	return Target{Dialect: PostgreSQL(), Driver: "pgx", DSN: u.String(), Host: host, Port: port, Database: db}, nil
}

func parseSQLite(body string) (Target, error) {
	path := body
	if path == "" {
		return Target{}, fmt.Errorf("jdbc:sqlite: URL needs a file path")
	}
	if path == ":memory:" {
		return Target{Dialect: SQLite(), Driver: "sqlite", DSN: "file::memory:?cache=shared&_pragma=busy_timeout(10000)", Database: path}, nil
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	// busy_timeout: the source and sink may share the file; wait for locks
	// instead of failing with SQLITE_BUSY at once.
	dsn := path + sep + "_pragma=busy_timeout(10000)&_time_format=sqlite"
	return Target{Dialect: SQLite(), Driver: "sqlite", DSN: dsn, Database: strings.SplitN(path, "?", 2)[0]}, nil
}

// Open resolves the URL, opens a pool and checks that the database answers.
// The caller closes the returned *sql.DB.
func Open(ctx context.Context, jdbcURL, user, password string) (*sql.DB, *Dialect, error) {
	t, err := ParseURL(jdbcURL, user, password)
	if err != nil {
		return nil, nil, err
	}
	db, err := OpenTarget(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	return db, t.Dialect, nil
}

// OpenTarget opens a pool for a parsed target and pings it.
func OpenTarget(ctx context.Context, t Target) (*sql.DB, error) {
	db, err := sql.Open(t.Driver, t.DSN)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", t.Redacted(), err)
	}
	if t.Driver == "sqlite" && t.Database == ":memory:" {
		// Every connection to :memory: is its own database; keep one.
		db.SetMaxOpenConns(1)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", t.Redacted(), err)
	}
	return db, nil
}
