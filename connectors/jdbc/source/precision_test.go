package source

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// wholeSecondTable creates a table whose timestamp column keeps whole
// seconds and is set by the database clock on every update, and returns
// the statement that updates every row to a new status.
func wholeSecondTable(t *testing.T, d *testDB, name string, rows int) (update func(status int)) {
	t.Helper()
	var ddl, set string
	switch d.kind {
	case "mysql":
		// DATETIME without fractional seconds: MariaDB truncates.
		ddl = "updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"
		set = ""
	case "postgres":
		// timestamp(0): PostgreSQL rounds to the nearest second.
		ddl = "updated_at TIMESTAMP(0) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')"
		set = ", updated_at = now() AT TIME ZONE 'UTC'"
	default:
		// SQLite's CURRENT_TIMESTAMP is text with whole seconds.
		ddl = "updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP"
		set = ", updated_at = CURRENT_TIMESTAMP"
	}
	d.exec(t, fmt.Sprintf("CREATE TABLE %s (id INTEGER NOT NULL PRIMARY KEY, status INTEGER NOT NULL, %s)", name, ddl))
	var vals []string
	for i := 1; i <= rows; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 0)", i))
	}
	d.exec(t, fmt.Sprintf("INSERT INTO %s (id, status) VALUES %s", name, strings.Join(vals, ",")))
	return func(status int) {
		d.exec(t, fmt.Sprintf("UPDATE %s SET status = %d%s", name, status, set))
	}
}

// TestUpdatesWithinOneSecond: with a whole-second timestamp column and
// the default timestamp.delay.interval.ms=0, rows updated twice in the
// second a poll runs must end in their latest state downstream. A poll
// that reads the second while it is still in progress and then moves its
// offset to it never sees the second update.
func TestUpdatesWithinOneSecond(t *testing.T) {
	const rows, rounds = 5, 2
	eachDB(t, func(t *testing.T, d *testDB) {
		for _, mode := range []string{ModeTimestamp, ModeTimestampIncrementing} {
			t.Run(mode, func(t *testing.T) {
				name := "prec_" + strings.ReplaceAll(mode, "+", "_")
				update := wholeSecondTable(t, d, name, rows)
				cfg := baseConfig(d, mode)
				cfg[TableWhitelist] = name
				cfg[IncrementingColumn] = "id"
				cfg[TimestampColumn] = "updated_at"
				cfg[PollInterval] = "0"
				cfg[PollLinger] = "50"
				cfg[DBTimezone] = "UTC"
				r := startTask(t, cfg, &memOffsets{})
				latest := map[int64]int64{}
				collect := func(recs []*connect.SourceRecord) {
					for _, rec := range recs {
						v := rec.Value.(*connect.Struct)
						latest[toInt(v.Get("id"))] = toInt(v.Get("status"))
					}
				}
				deadline := time.Now().Add(20 * time.Second)
				for len(latest) < rows && time.Now().Before(deadline) {
					collect(r.poll())
				}
				if len(latest) != rows {
					t.Fatalf("initial snapshot: %d rows, want %d", len(latest), rows)
				}
				lost := 0
				for round := 1; round <= rounds; round++ {
					// Start just after a second begins, so that both
					// updates and the poll between them share a second.
					if frac := time.Duration(time.Now().Nanosecond()); frac > 50*time.Millisecond {
						time.Sleep(time.Second - frac + 20*time.Millisecond)
					}
					first, second := 2*round-1, 2*round
					update(first)
					collect(r.poll())
					update(second)
					// Two seconds later the second has long ended.
					end := time.Now().Add(3 * time.Second)
					for time.Now().Before(end) {
						collect(r.poll())
					}
					for id := int64(1); id <= rows; id++ {
						if latest[id] != int64(second) {
							lost++
						}
					}
				}
				t.Logf("%s %s: %d of %d second updates never emitted", d.kind, mode, lost, rows*rounds)
				if lost > 0 {
					t.Fatalf("%d of %d updates made in the second of a poll were lost", lost, rows*rounds)
				}
			})
		}
	})
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int32:
		return int64(n)
	case int64:
		return n
	case int16:
		return int64(n)
	case int8:
		return int64(n)
	}
	panic(fmt.Sprintf("not an integer: %T", v))
}

func TestTickOf(t *testing.T) {
	cases := []struct {
		c    columnInfo
		kind dialect.Kind
		want time.Duration
	}{
		{columnInfo{typ: "datetime", precision: 0}, dialect.KindMySQL, time.Second},
		{columnInfo{typ: "timestamp", precision: 3}, dialect.KindMySQL, time.Millisecond},
		{columnInfo{typ: "timestamp without time zone", precision: 6}, dialect.KindPostgreSQL, time.Microsecond},
		{columnInfo{typ: "date", precision: 0}, dialect.KindPostgreSQL, 24 * time.Hour},
		{columnInfo{typ: "date", precision: -1}, dialect.KindMySQL, 24 * time.Hour},
		{columnInfo{typ: "DATE", precision: -1}, dialect.KindSQLite, time.Second},
		{columnInfo{typ: "TEXT", precision: -1}, dialect.KindSQLite, time.Second},
		{columnInfo{typ: "TIMESTAMP", precision: -1}, dialect.KindSQLite, time.Second},
		{columnInfo{typ: "TIMESTAMP(3)", precision: declaredPrecision("TIMESTAMP(3)")}, dialect.KindSQLite, time.Millisecond},
	}
	for _, c := range cases {
		if got := tickOf(c.c, c.kind); got != c.want {
			t.Errorf("%+v: tick %v, want %v", c.c, got, c.want)
		}
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip(err)
	}
	now := time.Date(2024, 1, 15, 23, 30, 0, 700_000_000, time.UTC)
	if got := truncateTick(now, time.Second, time.UTC); !got.Equal(now.Add(-700 * time.Millisecond)) {
		t.Errorf("second: %v", got)
	}
	if got := truncateTick(now, 24*time.Hour, paris); !got.Equal(time.Date(2024, 1, 16, 0, 0, 0, 0, paris)) {
		t.Errorf("day in Paris: %v", got)
	}
}
