package source

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// privateDB is the testDB of a private MariaDB server.
func privateDB(t *testing.T, m *testbed.Private) *testDB {
	return &testDB{kind: "mysql", url: fmt.Sprintf("jdbc:mysql://127.0.0.1:%d/ferry?user=ferry&password=ferry", m.Port),
		db: testbed.OpenDB(t, testbed.DriverMySQL, m.MySQLDSN()), fqn: func(tb string) string { return "ferry." + tb },
		serial: "INT AUTO_INCREMENT PRIMARY KEY", ts: "DATETIME(3)", dec: "DECIMAL(10,2)"}
}

// TestDatabaseOutage: while the database is down, the connector's Start
// fails with a Retriable error (so a runtime that restarts failed
// connectors heals it) and the task's Poll keeps returning Retriable
// errors; once the database is back the connector starts and the task
// goes on from its offset without being restarted.
func TestDatabaseOutage(t *testing.T) {
	m := testbed.PrivateMariaDB(t)
	d := privateDB(t, m)
	d.createOrders(t, "orders")
	for i := 1; i <= 3; i++ {
		d.insertOrder(t, "orders", i, 1, "1.00", "NEW", "2024-01-15 09:50:00")
	}
	cfg := baseConfig(d, ModeIncrementing)
	cfg[IncrementingColumn] = "id"
	cfg[ConnectionAttempts] = "2"
	cfg[ConnectionBackoff] = "200"
	r := startTask(t, cfg, &memOffsets{})
	r.pollUntil(3)

	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	c := &Connector{}
	err := c.Start(context.Background(), &connCtx{}, cfg)
	if err == nil {
		c.Stop()
		t.Fatal("the connector started while its database is down")
	}
	if !connect.IsRetriable(err) {
		t.Fatalf("start error %v is not retriable", err)
	}
	t.Logf("connector start failed after %v: %v", time.Since(began).Round(time.Millisecond), err)
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := r.task.Poll(ctx)
		cancel()
		if err == nil || !connect.IsRetriable(err) {
			t.Fatalf("poll while the database is down: %v, want a retriable error", err)
		}
	}

	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for i := 4; i <= 5; i++ {
		d.insertOrder(t, "orders", i, 1, "1.00", "NEW", "2024-01-15 09:50:00")
	}
	if err := c.Start(context.Background(), &connCtx{}, cfg); err != nil {
		t.Fatalf("connector start once the database is back: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	var got []*connect.SourceRecord
	testbed.WaitFor(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		recs, err := r.task.Poll(ctx)
		got = append(got, recs...)
		return len(got) >= 2, fmt.Sprintf("poll: %v", err)
	})
	if fmt.Sprint(ids(got)) != "[4 5]" {
		t.Fatalf("ids after the outage %v", ids(got))
	}
	t.Logf("task read the new rows %v after the database was back", time.Since(back).Round(time.Millisecond))
}
