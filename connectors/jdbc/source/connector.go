package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// Plugin describes the JDBC source connector.
func Plugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSource,
		Class:     Class,
		Aliases:   []string{AivenClass},
		Version:   Version,
		TaskClass: TaskClass,
		Config:    configDef,
		New:       func() any { return &Connector{} },
		Doc:       "Copies rows of MySQL/MariaDB, PostgreSQL or SQLite tables to Kafka, like Confluent's JDBC source.",
	}
}

// Connector lists the tables, splits them over tasks and watches for
// tables that appear or disappear.
type Connector struct {
	config map[string]string
	s      *settings
	d      *dialect.Dialect

	mu     sync.Mutex
	tables []table

	mon *monitor // table mode, between Start and Stop
}

var (
	_ connect.SourceConnector = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
)

// Start checks the config and, in table mode, lists the tables and starts
// the monitor that lists them again every table.poll.interval.ms. A
// database that cannot be reached is a Retriable error: the runtime may
// start the connector again once it is back. A refused login or a bad
// config is not.
func (c *Connector) Start(ctx context.Context, cc connect.ConnectorContext, config map[string]string) error {
	if c.mon != nil {
		// Started again without a Stop: do not leak the previous pool.
		c.mon.stop()
		c.mon = nil
	}
	s, err := parse(config)
	if err != nil {
		return fmt.Errorf("JdbcSourceConnector could not start because of an error in the configuration: %w", err)
	}
	tg, err := resolve(s)
	if err != nil {
		return err
	}
	c.config, c.s, c.d = maps.Clone(config), s, tg.Dialect.WithQuoting(s.quote)
	c.mu.Lock()
	c.tables = nil
	c.mu.Unlock()
	if s.queryMode() {
		return nil
	}
	var db *sql.DB
	for i := range s.attempts {
		if i > 0 && !sleep(ctx, s.backoff) {
			return ctx.Err()
		}
		if db, err = dialect.OpenTarget(ctx, tg); err == nil {
			break
		}
		cc.Logger().Warn("cannot connect to the database", "attempt", i+1, "of", s.attempts, "error", err)
	}
	if err != nil {
		return transient(fmt.Errorf("%s: %w", ConnectionURL, err))
	}
	tables, err := listTables(ctx, db, c.d, s)
	if err != nil {
		db.Close()
		return transient(err)
	}
	if err := checkDuplicates(tables); err != nil {
		db.Close()
		return err
	}
	c.mu.Lock()
	c.tables = tables
	c.mu.Unlock()
	cc.Logger().Info("listed tables", "count", len(tables))
	mctx, cancel := context.WithCancel(context.Background())
	c.mon = &monitor{c: c, cc: cc, s: s, d: c.d, db: db, ctx: mctx, cancel: cancel, done: make(chan struct{})}
	go c.mon.run()
	return nil
}

// transient marks err Retriable when the database may heal it (refused or
// lost connection, server restarting).
func transient(err error) error {
	if dialect.IsTransient(err) {
		return connect.Retriable(err)
	}
	return err
}

// checkDuplicates refuses two tables with the same bare name: they would
// write to one topic under one schema name.
func checkDuplicates(tables []table) error {
	seen := map[string]string{}
	for _, t := range tables {
		if other, ok := seen[t.bare()]; ok {
			return fmt.Errorf("the tables %s and %s have the same name %q and would write to the same topic; narrow %s, %s or %s",
				other, t.fqn(), t.bare(), TableWhitelist, TableIncludeList, CatalogPattern+"/"+SchemaPattern)
		}
		seen[t.bare()] = t.fqn()
	}
	return nil
}

// monitor owns the connector's pool and the goroutine that lists the
// tables every table.poll.interval.ms. The goroutine calls into the
// runtime (RequestTaskReconfiguration, RaiseError), which may stop the
// connector before it returns: stop therefore waits only for the
// database work, never for a call into the runtime.
type monitor struct {
	c  *Connector
	cc connect.ConnectorContext
	s  *settings
	d  *dialect.Dialect

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	dbMu sync.Mutex // held while the pool is in use
	db   *sql.DB    // nil once closed

	callMu  sync.Mutex
	calling bool // run is inside a call into the runtime
}

// run lists the tables until the monitor stops, asking for a task
// reconfiguration when the list changed.
func (m *monitor) run() {
	defer close(m.done)
	if m.s.tablePollInterval <= 0 {
		return
	}
	tk := time.NewTicker(m.s.tablePollInterval)
	defer tk.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-tk.C:
		}
		tables, err := m.list()
		if m.ctx.Err() != nil {
			return
		}
		if err != nil {
			m.cc.Logger().Warn("listing tables failed; keeping the previous list", "error", err)
			continue
		}
		if err := checkDuplicates(tables); err != nil {
			// The connector is failed: release the pool now rather
			// than when the runtime gets round to stopping it.
			m.closeDB()
			m.call(func() { m.cc.RaiseError(err) })
			return
		}
		m.c.mu.Lock()
		changed := m.ctx.Err() == nil && !slices.Equal(tables, m.c.tables)
		if changed {
			m.c.tables = tables
		}
		m.c.mu.Unlock()
		if changed {
			m.cc.Logger().Info("the set of tables changed; reconfiguring tasks", "count", len(tables))
			if !m.call(m.cc.RequestTaskReconfiguration) {
				return
			}
		}
	}
}

func (m *monitor) list() ([]table, error) {
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	if m.db == nil {
		return nil, errors.New("the connector is stopping")
	}
	return listTables(m.ctx, m.db, m.d, m.s)
}

// call runs f, a call into the runtime, unless the monitor is stopping;
// stop does not wait for a goroutine inside f.
func (m *monitor) call(f func()) bool {
	m.callMu.Lock()
	if m.ctx.Err() != nil {
		m.callMu.Unlock()
		return false
	}
	m.calling = true
	m.callMu.Unlock()
	f()
	m.callMu.Lock()
	m.calling = false
	m.callMu.Unlock()
	return true
}

func (m *monitor) closeDB() error {
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	if m.db == nil {
		return nil
	}
	err := m.db.Close()
	m.db = nil
	return err
}

// stop ends the goroutine's database work and closes the pool. It waits
// for the goroutine to end unless it is inside a call into the runtime:
// that call may be what is stopping the connector, and the goroutine
// ends on its own once the call returns.
func (m *monitor) stop() error {
	m.cancel()
	err := m.closeDB()
	m.callMu.Lock()
	calling := m.calling
	m.callMu.Unlock()
	if !calling {
		<-m.done
	}
	return err
}

// TaskConfigs splits the tables into at most maxTasks contiguous groups,
// as Confluent's ConnectorUtils.groupPartitions does.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	mk := func(tables string) map[string]string {
		tc := maps.Clone(c.config)
		tc[TablesKey] = tables
		tc[TablesFetchedKey] = "true"
		return tc
	}
	if c.s.queryMode() {
		return []map[string]string{mk("")}, nil
	}
	c.mu.Lock()
	tables := slices.Clone(c.tables)
	c.mu.Unlock()
	if len(tables) == 0 {
		return []map[string]string{mk("")}, nil
	}
	groups := min(len(tables), max(maxTasks, 1))
	out := make([]map[string]string, 0, groups)
	per, extra := len(tables)/groups, len(tables)%groups
	start := 0
	for g := range groups {
		n := per
		if g < extra {
			n++
		}
		out = append(out, mk(encodeTables(c.d, tables[start:start+n])))
		start += n
	}
	return out, nil
}

// Stop ends the monitor and closes the pool.
func (c *Connector) Stop() error {
	if c.mon == nil {
		return nil
	}
	err := c.mon.stop()
	c.mon = nil
	return err
}

// NewTask returns a fresh task.
func (c *Connector) NewTask() connect.SourceTask { return &Task{} }

// ValidateConfig reports multi-key problems and, when the keys parse,
// what the database itself says: a refused connection, a table that does
// not exist, a configured column a table lacks.
func (c *Connector) ValidateConfig(config map[string]string) map[string][]string {
	errs := crossCheck(config)
	if len(errs) > 0 {
		return errs
	}
	s, err := parse(config)
	if err != nil {
		return errs
	}
	tg, err := resolve(s)
	if err != nil {
		key := ConnectionURL
		if strings.HasPrefix(err.Error(), DialectName) {
			key = DialectName
		}
		errs[key] = append(errs[key], err.Error())
		return errs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := dialect.OpenTarget(ctx, tg)
	if err != nil {
		key := ConnectionURL
		if strings.Contains(strings.ToLower(err.Error()), "password") || strings.Contains(err.Error(), "Access denied") {
			key = ConnectionPassword
		}
		errs[key] = append(errs[key], fmt.Sprintf("cannot connect to the database: %v", err))
		return errs
	}
	defer db.Close()
	if s.queryMode() {
		return errs
	}
	d := tg.Dialect.WithQuoting(s.quote)
	tables, err := listTables(ctx, db, d, s)
	if err != nil {
		errs[ConnectionURL] = append(errs[ConnectionURL], err.Error())
		return errs
	}
	if err := checkDuplicates(tables); err != nil {
		errs[TableWhitelist] = append(errs[TableWhitelist], err.Error())
	}
	for _, w := range s.whitelist {
		found := slices.ContainsFunc(tables, func(t table) bool { return w == t.fqn() || w == t.bare() || w == quotedFQN(d, t.id) })
		if !found {
			errs[TableWhitelist] = append(errs[TableWhitelist], fmt.Sprintf("table %s does not exist", w))
		}
	}
	for _, t := range tables {
		q := &querier{s: s, d: d, tbl: t}
		if err := q.prepare(ctx, db); err != nil {
			key := IncrementingColumn
			if strings.HasPrefix(err.Error(), TimestampColumn) {
				key = TimestampColumn
			}
			errs[key] = append(errs[key], err.Error())
		} else if q.incColumn != "" {
			if n := q.info[q.incColumn]; !isIntegral(n.typ) {
				errs[IncrementingColumn] = append(errs[IncrementingColumn],
					fmt.Sprintf("column %q of table %s has type %s; the incrementing column must be an integer", q.incColumn, t.fqn(), n.typ))
			}
		}
	}
	return errs
}

// isIntegral tells whether a catalog type name can hold the incrementing
// column (an integer, or a decimal type; scale is checked per row).
func isIntegral(typ string) bool {
	t := strings.ToUpper(typ)
	for _, k := range []string{"INT", "SERIAL", "NUMERIC", "DECIMAL", "NUMBER"} {
		if strings.Contains(t, k) {
			return !strings.Contains(t, "INTERVAL") && !strings.Contains(t, "POINT")
		}
	}
	return false
}
