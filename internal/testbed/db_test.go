package testbed

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// roundTrip creates a table, writes a row and reads it back: proof that the database is
// usable by its DSN's user (for PostgreSQL 15, that the public schema is writable).
func roundTrip(t *testing.T, db *sql.DB, ddl string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (1, 'ferry')"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var name string
	if err := db.QueryRowContext(ctx, "SELECT name FROM items WHERE id = 1").Scan(&name); err != nil {
		t.Fatalf("select: %v", err)
	}
	if name != "ferry" {
		t.Fatalf("read back %q, want %q", name, "ferry")
	}
}

func TestMySQLFreshDatabase(t *testing.T) {
	var dsn1, dsn2 string
	t.Run("first", func(t *testing.T) {
		dsn1 = MySQL(t)
		db := OpenDB(t, DriverMySQL, dsn1)
		roundTrip(t, db, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50))")
		dsn2 = MySQL(t)
		if dsn1 == dsn2 {
			t.Fatalf("two calls returned the same DSN %q", dsn1)
		}
		// The second database is empty: the first one's table is not there.
		var n int
		err := OpenDB(t, DriverMySQL, dsn2).QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&n)
		if err != nil || n != 0 {
			t.Fatalf("fresh database has %d tables (err %v), want 0", n, err)
		}
	})
	if t.Skipped() || t.Failed() {
		return
	}
	// After the subtest ended, its databases are gone.
	admin := OpenDB(t, DriverMySQL, dbEnv(t, EnvMySQL))
	for _, dsn := range []string{dsn1, dsn2} {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", cfg.DBName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after the test", cfg.DBName)
		}
	}
}

func TestPostgresFreshDatabase(t *testing.T) {
	var dsn string
	t.Run("first", func(t *testing.T) {
		dsn = Postgres(t)
		db := OpenDB(t, DriverPostgres, dsn)
		roundTrip(t, db, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50))")
		// A pool the test forgets to close must not block the drop.
		leaked, err := sql.Open(DriverPostgres, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if err := leaked.Ping(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = leaked.Close() })
	})
	if t.Skipped() || t.Failed() {
		return
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := OpenDB(t, DriverPostgres, dbEnv(t, EnvPostgres))
	var exists bool
	if err := admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after the test", name)
	}
}

func TestSQLite(t *testing.T) {
	path := SQLite(t)
	roundTrip(t, OpenDB(t, DriverSQLite, path), "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
}

func TestDBEnvSkipsOutsideCI(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(EnvMySQL, "")
	var skipped bool
	t.Run("inner", func(t *testing.T) {
		// Skip ends the test's goroutine; a deferred call still sees the result.
		defer func() { skipped = t.Skipped() }()
		MySQL(t)
		t.Error("MySQL returned without " + EnvMySQL)
	})
	if !skipped {
		t.Fatal("the test was not skipped")
	}
}
