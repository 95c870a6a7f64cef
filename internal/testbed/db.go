package testbed

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"   // registers driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "modernc.org/sqlite"             // registers driver "sqlite"
)

// Environment variables naming the databases scripts/test.sh starts. Each holds an admin
// DSN of a user that may create databases:
//
//	FERRY_TEST_MYSQL=ferry:ferry@tcp(127.0.0.1:13306)/ferry                      (go-sql-driver/mysql)
//	FERRY_TEST_POSTGRES=postgres://ferry:ferry@127.0.0.1:15432/ferry?sslmode=disable (pgx)
const (
	EnvMySQL    = "FERRY_TEST_MYSQL"
	EnvPostgres = "FERRY_TEST_POSTGRES"
)

// database/sql driver names of the drivers this package registers.
const (
	DriverMySQL    = "mysql"
	DriverPostgres = "pgx"
	DriverSQLite   = "sqlite"
)

// MySQL returns a go-sql-driver/mysql DSN for a fresh, empty database on the MariaDB
// server named by FERRY_TEST_MYSQL; the database is dropped when the test ends. Without
// the variable the test is skipped, except in CI (CI=true), where it fails.
func MySQL(t testing.TB) string {
	t.Helper()
	admin := dbEnv(t, EnvMySQL)
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatalf("testbed: parse %s: %v", EnvMySQL, err)
	}
	name := freshDBName(t)
	// Backquotes are safe: the name is [a-z0-9_] only.
	createDB(t, DriverMySQL, admin, "CREATE DATABASE `"+name+"`", "DROP DATABASE IF EXISTS `"+name+"`")
	cfg.DBName = name
	return cfg.FormatDSN()
}

// Postgres returns a pgx DSN (URL form) for a fresh, empty database on the PostgreSQL
// server named by FERRY_TEST_POSTGRES, owned by the DSN's user so its public schema is
// writable; the database is dropped when the test ends. Without the variable the test is
// skipped, except in CI (CI=true), where it fails.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := dbEnv(t, EnvPostgres)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testbed: parse %s: %v", EnvPostgres, err)
	}
	name := freshDBName(t)
	// FORCE (PostgreSQL 13+) ends sessions a test left open, which would block the drop.
	createDB(t, DriverPostgres, admin, `CREATE DATABASE "`+name+`"`, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// SQLite returns the path of a new, empty SQLite database file in the test's temporary
// directory, for driver "sqlite" (modernc.org/sqlite).
func SQLite(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db := OpenDB(t, DriverSQLite, path)
	// Opening is lazy; a ping creates the file.
	if err := db.Ping(); err != nil {
		t.Fatalf("testbed: create sqlite database %s: %v", path, err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("testbed: close sqlite database %s: %v", path, err)
	}
	return path
}

// OpenDB opens dsn with driver and checks it answers; the pool is closed when the test
// ends.
func OpenDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("testbed: open %s database: %v", driver, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("testbed: connect to %s database: %v", driver, err)
	}
	return db
}

// dbEnv returns the admin DSN in env, skipping the test when it is unset outside CI.
func dbEnv(t testing.TB, env string) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("testbed: %s not set in CI (scripts/test.sh sets it)", env)
	}
	t.Skip(env + " not set")
	return ""
}

// freshDBName returns "t_" and 16 random hex digits: unique across parallel tests and
// packages, and valid unquoted in both MySQL and PostgreSQL.
func freshDBName(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testbed: random database name: %v", err)
	}
	return "t_" + hex.EncodeToString(b[:])
}

// createDB runs create over a short-lived admin connection and registers drop for the
// end of the test. Cleanups run last-in first-out, so pools the test opened after this
// call are closed before the drop.
func createDB(t testing.TB, driver, adminDSN, create, drop string) {
	t.Helper()
	if err := adminExec(driver, adminDSN, create); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec(driver, adminDSN, drop); err != nil {
			t.Errorf("testbed: %v", err)
		}
	})
}

func adminExec(driver, dsn, stmt string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return fmt.Errorf("open %s admin connection: %w", driver, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %s: %w", driver, stmt, err)
	}
	return nil
}
