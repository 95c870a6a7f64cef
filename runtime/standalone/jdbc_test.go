package standalone

import (
	"context"
	"io"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/file"
	jdbcsource "github.com/ferryhq/ferry/connectors/jdbc/source"
	"github.com/ferryhq/ferry/converters"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/memstore"
)

// newKafkaHerder is newHerder with a real (or kfake) broker, for
// connectors whose tasks produce, and the JDBC source installed.
func newKafkaHerder(t *testing.T, workerExtra map[string]string) *testHerder {
	t.Helper()
	dir := t.TempDir()
	reg, err := connect.NewRegistry(append(converters.Plugins(), file.SinkPlugin(), jdbcsource.Plugin())...)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{
		"bootstrap.servers":                 testbed.Kafka(t),
		"key.converter":                     "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                   "org.apache.kafka.connect.json.JsonConverter",
		"offset.storage.file.filename":      filepath.Join(dir, "offsets"),
		"offset.flush.interval.ms":          "500",
		"task.shutdown.graceful.timeout.ms": "2000",
	}
	maps.Copy(props, workerExtra)
	cfg, err := runtime.ParseWorkerConfig(props, true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Config: cfg, Registry: reg, Offsets: memstore.New(), WorkerID: "127.0.0.1:8083"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	th := &testHerder{Herder: h, dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(th.done); _ = h.Run(ctx) }()
	if err := h.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(th.close)
	return th
}

// TestJDBCSourceTableMonitorRaiseError: defect 3 with the real JDBC source
// on PostgreSQL (MariaDB lists one database, where two tables cannot share
// a name). When its table monitor finds two tables with one name it raises
// an error; the connector must end FAILED with that error, and deleting it
// must not hang (the worker used to stop the connector from the monitor's
// own goroutine while Stop waited for that goroutine).
func TestJDBCSourceTableMonitorRaiseError(t *testing.T) {
	dsn := testbed.Postgres(t)
	db := testbed.OpenDB(t, testbed.DriverPostgres, dsn)
	exec := func(stmt string) {
		t.Helper()
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	exec(`CREATE SCHEMA a`)
	exec(`CREATE TABLE a.items (id SERIAL PRIMARY KEY, v TEXT)`)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	th := newKafkaHerder(t, nil)
	name := testbed.UniqueName(t, "jdbc")
	cfg := map[string]string{
		"connector.class":          "io.confluent.connect.jdbc.JdbcSourceConnector",
		"connection.url":           "jdbc:postgresql://" + u.Host + u.Path,
		"connection.user":          u.User.Username(),
		"connection.password":      pw,
		"mode":                     "incrementing",
		"incrementing.column.name": "id",
		"topic.prefix":             name + "-",
		"table.poll.interval.ms":   "200",
		"poll.interval.ms":         "200",
		"restart.auto.enable":      "false",
	}
	if _, _, err := th.PutConnectorConfig(context.Background(), name, cfg, "", false); err != nil {
		t.Fatal(err)
	}
	th.waitState(t, name, herder.StateRunning, 1)
	exec(`CREATE SCHEMA b`)
	exec(`CREATE TABLE b.items (id SERIAL PRIMARY KEY, v TEXT)`)
	st := th.waitState(t, name, herder.StateFailed, -1)
	if !strings.Contains(st.Connector.Trace, "have the same name") {
		t.Fatalf("trace %q", st.Connector.Trace)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- th.DeleteConnector(context.Background(), name) }()
	select {
	case err := <-deleted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("deleting the failed connector hangs")
	}
}

// flakyProxy forwards TCP connections to target while up; while down it
// accepts and closes them at once, as a database that went away would.
type flakyProxy struct {
	ln     net.Listener
	target string
	up     atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// down refuses new connections and cuts the open ones.
func (p *flakyProxy) down() {
	p.up.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *flakyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.up.Load() {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, s); c.Close() }()
	}
}

// TestJDBCSourceHealsAfterOutage: defect 6. A JDBC source restarted while
// its database (MariaDB, behind a proxy the test turns off) is unreachable
// goes FAILED, and once the database is back it is RUNNING again with its
// task, without a user, its status showing the automatic restarts.
func TestJDBCSourceHealsAfterOutage(t *testing.T) {
	dsn := testbed.MySQL(t)
	db := testbed.OpenDB(t, testbed.DriverMySQL, dsn)
	if _, err := db.Exec(`CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))`); err != nil {
		t.Fatal(err)
	}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, mc.Addr)
	proxy.up.Store(true)
	th := newKafkaHerder(t, map[string]string{"restart.auto.backoff.initial.ms": "200", "restart.auto.backoff.max.ms": "1000"})
	name := testbed.UniqueName(t, "jdbc")
	cfg := map[string]string{
		"connector.class":          "io.confluent.connect.jdbc.JdbcSourceConnector",
		"connection.url":           "jdbc:mysql://" + proxy.ln.Addr().String() + "/" + mc.DBName,
		"connection.user":          mc.User,
		"connection.password":      mc.Passwd,
		"connection.attempts":      "1",
		"mode":                     "incrementing",
		"incrementing.column.name": "id",
		"topic.prefix":             name + "-",
		"poll.interval.ms":         "200",
	}
	if _, _, err := th.PutConnectorConfig(context.Background(), name, cfg, "", false); err != nil {
		t.Fatal(err)
	}
	th.waitState(t, name, herder.StateRunning, 1)
	proxy.down()
	if err := th.RestartConnector(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	// Down: FAILED, with a restart scheduled.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := th.ConnectorStatus(context.Background(), name)
		if err == nil && st.Connector.State == herder.StateFailed && st.Connector.Restart != nil && st.Connector.Restart.Attempts >= 2 {
			if st.Connector.Restart.NextAttempt == "" {
				t.Fatalf("restarts given up: %+v", st.Connector.Restart)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v (%v)", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	proxy.up.Store(true)
	st := th.waitState(t, name, herder.StateRunning, 1)
	if st.Connector.Restart == nil || st.Connector.Restart.Attempts < 2 {
		t.Fatalf("restart state %+v", st.Connector.Restart)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		st, _ := th.ConnectorStatus(context.Background(), name)
		if len(st.Tasks) == 1 && st.Tasks[0].State == herder.StateRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks %+v", st.Tasks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("connector restarted automatically %d times", st.Connector.Restart.Attempts)
}
