package source

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// stoppingCtx is a runtime that, like one stopping a failed connector
// from its own goroutine, does not return from RaiseError before Stop
// has returned.
type stoppingCtx struct {
	c       *Connector
	mu      sync.Mutex
	raised  error
	stopErr error
	stopped chan struct{}
}

func (s *stoppingCtx) RequestTaskReconfiguration() {}
func (s *stoppingCtx) Logger() *slog.Logger        { return slog.New(slog.DiscardHandler) }
func (s *stoppingCtx) RaiseError(err error) {
	s.mu.Lock()
	s.raised = err
	s.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.c.Stop() }()
	s.stopErr = <-done
	close(s.stopped)
}

// serverConns counts the sessions other than the caller's on the
// database d.db points at; d.db must be limited to one connection.
func serverConns(t *testing.T, d *testDB) int {
	t.Helper()
	q := `SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()`
	if d.kind == "postgres" {
		q = `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
	}
	var n int
	if err := d.db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMonitorRaiseErrorThenStop: the table monitor finds two tables that
// would share a topic and raises an error; the runtime stops the
// connector before RaiseError returns. Stop must not wait for the
// goroutine blocked in RaiseError, and no session may stay open.
func TestMonitorRaiseErrorThenStop(t *testing.T) {
	d := postgresDB(t)
	d.db.SetMaxOpenConns(1)
	d.exec(t, "CREATE SCHEMA a", "CREATE TABLE a.orders (id INT)")
	before := serverConns(t, d)
	cfg := baseConfig(d, ModeBulk)
	cfg[TablePollInterval] = "50"
	c := &Connector{}
	cc := &stoppingCtx{c: c, stopped: make(chan struct{})}
	if err := c.Start(context.Background(), cc, cfg); err != nil {
		t.Fatal(err)
	}
	if n := serverConns(t, d); n <= before {
		t.Fatalf("%d sessions while running, %d before: the connector holds none", n, before)
	}
	d.exec(t, "CREATE SCHEMA b", "CREATE TABLE b.orders (id INT)")
	select {
	case <-cc.stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop called from the runtime while RaiseError waits did not return (deadlock)")
	}
	cc.mu.Lock()
	raised := cc.raised
	cc.mu.Unlock()
	if raised == nil || !strings.Contains(raised.Error(), "a.orders") || !strings.Contains(raised.Error(), "b.orders") {
		t.Fatalf("raised %v", raised)
	}
	if cc.stopErr != nil {
		t.Fatalf("stop: %v", cc.stopErr)
	}
	// Closing a pool ends its sessions; the server notices at once.
	testbed.WaitFor(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		n := serverConns(t, d)
		return n == before, "sessions left open after Stop"
	})
	if err := c.Stop(); err != nil { // a second Stop is harmless
		t.Fatal(err)
	}
}

// TestStopClosesPool: Start then Stop leaves no session open on the
// server, with the monitor running or idle.
func TestStopClosesPool(t *testing.T) {
	eachDB(t, func(t *testing.T, d *testDB) {
		if d.kind == "sqlite" {
			t.Skip("no server sessions to count")
		}
		d.db.SetMaxOpenConns(1)
		d.createOrders(t, "orders")
		before := serverConns(t, d)
		for _, interval := range []string{"20", "0"} {
			cfg := baseConfig(d, ModeBulk)
			cfg[TablePollInterval] = interval
			c := &Connector{}
			if err := c.Start(context.Background(), &connCtx{}, cfg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			testbed.WaitFor(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
				return serverConns(t, d) == before, "sessions left open after Stop"
			})
		}
	})
}
