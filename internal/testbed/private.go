package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Private is a server of the test's own, started with scripts/testbed.sh on free
// ports, that the test may stop and start again to play an outage. It is stopped and
// its directory removed when the test ends. The shared servers named by the FERRY_TEST_*
// variables must never be stopped; use one of these instead.
type Private struct {
	t      testing.TB
	script string
	kind   string // mariadb or bigquery
	dir    string
	// Port is the server's port on 127.0.0.1 (the REST port for BigQuery); GRPCPort is
	// the BigQuery emulator's Storage API port.
	Port, GRPCPort int
}

// PrivateMariaDB starts a MariaDB server of the test's own with database ferry (user
// ferry, password ferry); a later Start restarts it on the data it left. The test is
// skipped (failed in CI) when the test bed is not configured (FERRY_TEST_MYSQL unset).
func PrivateMariaDB(t testing.TB) *Private {
	t.Helper()
	dbEnv(t, EnvMySQL)
	p := newPrivate(t, "mariadb")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// PrivateBigQuery starts a BigQuery emulator of the test's own that keeps its datasets
// and tables on disk, so they survive a Stop and Start. The test is skipped (failed in
// CI) when the test bed is not configured (FERRY_TEST_BIGQUERY unset).
func PrivateBigQuery(t testing.TB) *Private {
	t.Helper()
	dbEnv(t, EnvBigQuery)
	p := newPrivate(t, "bigquery")
	p.GRPCPort = FreePort(t)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func newPrivate(t testing.TB, kind string) *Private {
	t.Helper()
	script, err := testbedScript()
	if err != nil {
		t.Fatal(err)
	}
	// mariadbd runs as user mysql, which must reach the directory: not t.TempDir (0700).
	dir, err := os.MkdirTemp("", "ferry-"+kind+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Private{t: t, script: script, kind: kind, dir: dir, Port: FreePort(t)}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Log(err)
		}
		os.RemoveAll(dir)
	})
	return p
}

// testbedScript finds scripts/testbed.sh above the working directory (a package dir).
func testbedScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "testbed.sh"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbed: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Start starts the server (again) and waits until it is ready.
func (p *Private) Start() error {
	args := []string{"start-" + p.kind, "--port", fmt.Sprint(p.Port)}
	switch p.kind {
	case "bigquery":
		args = append(args, "--grpc-port", fmt.Sprint(p.GRPCPort), "--keep")
	case "mariadb":
		args = append(args, "--keep")
	}
	return p.run(args...)
}

// Stop stops the server; stopping a stopped server does nothing.
func (p *Private) Stop() error { return p.run("stop-" + p.kind) }

func (p *Private) run(args ...string) error {
	out, err := exec.Command(p.script, append(args, "--dir", p.dir)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testbed.sh %v: %v\n%s", args, err, out)
	}
	return nil
}

// MySQLDSN is the private MariaDB's DSN for go-sql-driver/mysql (database ferry).
func (p *Private) MySQLDSN() string {
	return fmt.Sprintf("ferry:ferry@tcp(127.0.0.1:%d)/ferry", p.Port)
}

// BigQueryREST is the private emulator's REST base URL.
func (p *Private) BigQueryREST() string { return fmt.Sprintf("http://127.0.0.1:%d", p.Port) }
