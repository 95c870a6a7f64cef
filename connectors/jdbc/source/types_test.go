package source

import (
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// TestTypeMapping reads one row of many column types on each database and
// checks the Connect schema and value of every field.
func TestTypeMapping(t *testing.T) {
	type want struct {
		typ      connect.Type
		name     string
		optional bool
		value    string // connect.FormatValue, or the decimal text, or ms
	}
	type dbCase struct {
		ddl, insert string
		want        map[string]want
	}
	common := map[string]want{
		"i":    {connect.Int32, "", false, "7"},
		"big":  {connect.Int64, "", true, "9000000000"},
		"amt":  {connect.Bytes, connect.DecimalName, true, "-12.30"},
		"s":    {connect.String, "", true, "héllo"},
		"n":    {connect.String, "", true, "null"},
		"d":    {connect.Int32, connect.DateName, true, "19737"},
		"ts":   {connect.Int64, connect.TimestampName, true, "1705312200123"},
		"bin":  {connect.Bytes, "", true, "010203"},
		"f":    {connect.Float64, "", true, "1.5"},
		"flag": {connect.Boolean, "", true, "true"},
	}
	cases := map[string]dbCase{
		"sqlite": {
			ddl:    `CREATE TABLE types (i INTEGER NOT NULL, big BIGINT, amt DECIMAL(10,2), s VARCHAR(10), n TEXT, d DATE, ts TIMESTAMP, bin BLOB, f DOUBLE, flag BOOLEAN)`,
			insert: `INSERT INTO types VALUES (7, 9000000000, -12.3, 'héllo', NULL, '2024-01-15', '2024-01-15 09:50:00.123', X'010203', 1.5, 1)`,
		},
		"mysql": {
			ddl: `CREATE TABLE types (i INT NOT NULL, big BIGINT, amt DECIMAL(10,2), s VARCHAR(10), n TEXT, d DATE, ts DATETIME(3), bin VARBINARY(10), f DOUBLE, flag BOOLEAN,
				u8 TINYINT UNSIGNED, u16 SMALLINT UNSIGNED, u32 INT UNSIGNED, tm TIME(3))`,
			insert: `INSERT INTO types VALUES (7, 9000000000, -12.3, 'héllo', NULL, '2024-01-15', '2024-01-15 09:50:00.123', X'010203', 1.5, 1, 255, 65535, 4294967295, '10:11:12.500')`,
			want: map[string]want{
				"flag": {connect.Int8, "", true, "1"}, // MySQL BOOLEAN is TINYINT(1)
				"u8":   {connect.Int16, "", true, "255"},
				"u16":  {connect.Int32, "", true, "65535"},
				"u32":  {connect.Int64, "", true, "4294967295"},
				"tm":   {connect.Int32, connect.TimeName, true, "36672500"},
			},
		},
		"postgres": {
			ddl: `CREATE TABLE types (i INTEGER NOT NULL, big BIGINT, amt DECIMAL(10,2), s VARCHAR(10), n TEXT, d DATE, ts TIMESTAMP(3), bin BYTEA, f DOUBLE PRECISION, flag BOOLEAN,
				tstz TIMESTAMPTZ, num NUMERIC(5,0), j JSONB, tm TIME)`,
			insert: `INSERT INTO types VALUES (7, 9000000000, -12.3, 'héllo', NULL, '2024-01-15', '2024-01-15 09:50:00.123', '\x010203', 1.5, true,
				'2024-01-15 10:50:00.123+01', 12345, '{"a": 1}', '10:11:12.5')`,
			want: map[string]want{
				"tstz": {connect.Int64, connect.TimestampName, true, "1705312200123"},
				"num":  {connect.Bytes, connect.DecimalName, true, "12345"},
				"j":    {connect.String, "", true, `{"a": 1}`},
				"tm":   {connect.Int32, connect.TimeName, true, "36672500"},
			},
		},
	}
	eachDB(t, func(t *testing.T, d *testDB) {
		c := cases[d.kind]
		d.exec(t, c.ddl, c.insert)
		r := startTask(t, baseConfig(d, ModeBulk), &memOffsets{})
		rec := r.pollUntil(1)[0]
		v := rec.Value.(*connect.Struct)
		all := map[string]want{}
		for k, w := range common {
			all[k] = w
		}
		for k, w := range c.want {
			all[k] = w
		}
		for name, w := range all {
			f := rec.ValueSchema.Field(name)
			if f == nil {
				t.Errorf("%s: no field", name)
				continue
			}
			if f.Schema.Type != w.typ || f.Schema.Name != w.name || f.Schema.Optional != w.optional {
				t.Errorf("%s: schema %v optional=%v, want %s %s optional=%v", name, f.Schema, f.Schema.Optional, w.typ, w.name, w.optional)
			}
			if got := render(v.Get(name)); got != w.value {
				t.Errorf("%s: value %s, want %s", name, got, w.value)
			}
		}
	})
}

func render(v any) string {
	switch x := v.(type) {
	case connect.Decimal:
		return x.String()
	case time.Time:
		if x.Year() == 1970 {
			ms, _ := connect.TimeToMillis(x)
			return fmt.Sprint(ms)
		}
		if x.UnixMilli()%86400000 == 0 {
			days, _ := connect.DateToDays(x)
			return fmt.Sprint(days)
		}
		return fmt.Sprint(x.UnixMilli())
	case []byte:
		return fmt.Sprintf("%x", x)
	case nil:
		return "null"
	}
	return connect.FormatValue(v)
}

func TestNumericMapping(t *testing.T) {
	prim := func(t connect.Type) *connect.Schema { return &connect.Schema{Type: t} }
	cases := []struct {
		mode string
		p, s int64
		want string // "" = stays Decimal
	}{
		{NumericPrecisionOnly, 5, 0, "int32"},
		{NumericPrecisionOnly, 10, 0, "int64"},
		{NumericPrecisionOnly, 2, 0, "int8"},
		{NumericPrecisionOnly, 10, 2, ""},
		{NumericBestFit, 10, 2, "float64"},
		{NumericBestFit, 20, 2, ""},
		{NumericBestFit, 4, 0, "int16"},
		{NumericBestFitDouble, 30, 2, "float64"},
		{NumericNone, 5, 0, ""},
	}
	for _, c := range cases {
		s, _, ok := numericMapping(prim, c.mode, c.p, c.s)
		got := ""
		if ok {
			got = string(s.Type)
		}
		if got != c.want {
			t.Errorf("%s p=%d s=%d: %q, want %q", c.mode, c.p, c.s, got, c.want)
		}
	}
}
