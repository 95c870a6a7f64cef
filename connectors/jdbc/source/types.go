package source

import (
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/jdbc/dialect"
)

// column maps one result-set column to a struct field.
type column struct {
	name   string
	schema *connect.Schema
	// conv turns a non-nil driver value into the field's Go value.
	conv func(v any) (any, error)
	// tzAware marks timestamps the database returns as instants.
	tzAware bool
}

// unknownScale is the scale Confluent gives decimals whose scale the
// database does not report.
const unknownScale = 127

var sizeRE = regexp.MustCompile(`\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)`)

// mapColumn chooses the Connect schema of a result-set column following
// Confluent's generic mapping (§1.7). It returns ok=false for types that
// Confluent drops.
func mapColumn(ct *sql.ColumnType, kind dialect.Kind, numeric string, optional bool, zone *time.Location) (column, bool) {
	raw := strings.ToUpper(strings.TrimSpace(ct.DatabaseTypeName()))
	unsigned := strings.Contains(raw, "UNSIGNED")
	base := strings.TrimSpace(strings.NewReplacer("UNSIGNED", "", "ZEROFILL", "").Replace(raw))
	prec, scale, hasSize := int64(0), int64(0), false
	if m := sizeRE.FindStringSubmatch(base); m != nil {
		prec, _ = strconv.ParseInt(m[1], 10, 64)
		if m[2] != "" {
			scale, _ = strconv.ParseInt(m[2], 10, 64)
		}
		hasSize = true
	}
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = strings.TrimSpace(base[:i])
	}
	if p, s, ok := ct.DecimalSize(); ok {
		prec, scale, hasSize = p, s, true
	}
	c := column{name: ct.Name()}
	b := func(sb *connect.SchemaBuilder) *connect.Schema {
		if optional {
			sb.Optional()
		}
		return sb.MustBuild()
	}
	prim := func(t connect.Type) *connect.Schema { return b(connect.NewSchemaBuilder(t)) }
	switch base {
	case "BOOL", "BOOLEAN":
		c.schema, c.conv = prim(connect.Boolean), toBool
	case "BIT":
		if kind == dialect.KindPostgreSQL && prec <= 1 {
			c.schema, c.conv = prim(connect.Boolean), toBool
		} else {
			c.schema, c.conv = prim(connect.Int8), intConv(connect.Int8)
		}
	case "TINYINT", "INT1":
		c.schema, c.conv = intSchema(prim, connect.Int8, unsigned)
	case "SMALLINT", "INT2", "SMALLSERIAL":
		c.schema, c.conv = intSchema(prim, connect.Int16, unsigned)
	case "INT", "INTEGER", "INT4", "MEDIUMINT", "SERIAL", "YEAR":
		c.schema, c.conv = intSchema(prim, connect.Int32, unsigned)
	case "BIGINT", "INT8", "BIGSERIAL":
		c.schema, c.conv = prim(connect.Int64), intConv(connect.Int64)
	case "REAL", "FLOAT4":
		c.schema, c.conv = prim(connect.Float32), toFloat32
	case "FLOAT":
		if kind == dialect.KindMySQL {
			c.schema, c.conv = prim(connect.Float32), toFloat32
		} else {
			c.schema, c.conv = prim(connect.Float64), toFloat64
		}
	case "DOUBLE", "DOUBLE PRECISION", "FLOAT8":
		c.schema, c.conv = prim(connect.Float64), toFloat64
	case "DECIMAL", "NUMERIC", "NEWDECIMAL", "DEC", "MONEY":
		if !hasSize || (prec == 0 && scale == 0) {
			prec, scale = 0, unknownScale
		}
		if base != "DECIMAL" && base != "NEWDECIMAL" && base != "DEC" {
			if sch, conv, ok := numericMapping(prim, numeric, prec, scale); ok {
				c.schema, c.conv = sch, conv
				break
			}
		}
		sb := connect.DecimalSchema(int32(scale))
		if prec > 0 {
			sb.Parameter("connect.decimal.precision", strconv.FormatInt(prec, 10))
		}
		c.schema, c.conv = b(sb), decimalConv(int32(scale))
	case "CHAR", "VARCHAR", "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "BPCHAR", "NCHAR", "NVARCHAR",
		"CHARACTER", "CHARACTER VARYING", "CLOB", "NCLOB", "JSON", "JSONB", "UUID", "ENUM", "SET", "XML",
		"CITEXT", "NAME", "VARCHAR2", "STRING", "INET", "CIDR", "MACADDR", "INTERVAL":
		c.schema, c.conv = prim(connect.String), toString
	case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BYTEA", "GEOMETRY":
		c.schema, c.conv = prim(connect.Bytes), toBytes
	case "DATE":
		c.schema, c.conv = b(connect.DateSchema()), toDate
	case "TIME", "TIMETZ":
		c.schema, c.conv = b(connect.TimeSchema()), toTime
	case "DATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE":
		c.tzAware = base == "TIMESTAMPTZ" || base == "TIMESTAMP WITH TIME ZONE"
		c.schema, c.conv = b(connect.TimestampSchema()), timestampConv(zone, c.tzAware)
	default:
		return column{}, false
	}
	return c, true
}

func intSchema(prim func(connect.Type) *connect.Schema, t connect.Type, unsigned bool) (*connect.Schema, func(any) (any, error)) {
	if unsigned {
		t = map[connect.Type]connect.Type{connect.Int8: connect.Int16, connect.Int16: connect.Int32, connect.Int32: connect.Int64}[t]
	}
	return prim(t), intConv(t)
}

// numericMapping applies numeric.mapping to a NUMERIC column.
func numericMapping(prim func(connect.Type) *connect.Schema, mode string, p, s int64) (*connect.Schema, func(any) (any, error), bool) {
	byPrecision := func() (*connect.Schema, func(any) (any, error), bool) {
		t := connect.Int8
		switch {
		case p > 9:
			t = connect.Int64
		case p > 4:
			t = connect.Int32
		case p > 2:
			t = connect.Int16
		}
		return prim(t), intConv(t), true
	}
	switch mode {
	case NumericPrecisionOnly:
		if s == 0 && p <= 18 && p > 0 {
			return byPrecision()
		}
	case NumericBestFit:
		if p <= 18 && p > 0 {
			if s <= 0 && s >= -84 {
				return byPrecision()
			}
			if s > 0 && s != unknownScale {
				return prim(connect.Float64), toFloat64, true
			}
		}
	case NumericBestFitDouble:
		if s <= 0 && s >= -84 && p <= 18 && p > 0 {
			return byPrecision()
		}
		if s > 0 && s != unknownScale {
			return prim(connect.Float64), toFloat64, true
		}
	}
	return nil, nil, false
}

func asText(v any) (string, bool) {
	switch x := v.(type) {
	case []byte:
		return string(x), true
	case string:
		return x, true
	}
	return "", false
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("unsigned value %d does not fit in a 64-bit integer", x)
		}
		return int64(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), nil
		}
		return 0, fmt.Errorf("value %v is not an integer", x)
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	if s, ok := asText(v); ok {
		s = strings.TrimSpace(s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if d, err := connect.ParseDecimal(s); err == nil && d.Scale <= 0 {
			u := new(big.Int).Mul(d.Unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil))
			if u.IsInt64() {
				return u.Int64(), nil
			}
		}
		if b, ok := v.([]byte); ok && len(b) <= 8 {
			// MySQL BIT values arrive as big-endian bytes.
			var n int64
			for _, c := range b {
				n = n<<8 | int64(c)
			}
			return n, nil
		}
		return 0, fmt.Errorf("value %q is not an integer", s)
	}
	return 0, fmt.Errorf("value of type %T is not an integer", v)
}

func intConv(t connect.Type) func(any) (any, error) {
	return func(v any) (any, error) {
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		switch t {
		case connect.Int8:
			if n < math.MinInt8 || n > math.MaxInt8 {
				return nil, fmt.Errorf("value %d does not fit in INT8", n)
			}
			return int8(n), nil
		case connect.Int16:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return nil, fmt.Errorf("value %d does not fit in INT16", n)
			}
			return int16(n), nil
		case connect.Int32:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("value %d does not fit in INT32", n)
			}
			return int32(n), nil
		}
		return n, nil
	}
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	}
	if s, ok := asText(v); ok {
		return strconv.ParseFloat(strings.TrimSpace(s), 64)
	}
	return 0, fmt.Errorf("value of type %T is not a number", v)
}

func toFloat64(v any) (any, error) { return toFloat(v) }

func toFloat32(v any) (any, error) {
	f, err := toFloat(v)
	return float32(f), err
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	}
	if s, ok := asText(v); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "t", "true", "y", "yes", "\x01":
			return true, nil
		case "0", "f", "false", "n", "no", "\x00":
			return false, nil
		}
	}
	return nil, fmt.Errorf("value %v is not a boolean", v)
}

func toString(v any) (any, error) {
	if s, ok := asText(v); ok {
		return s, nil
	}
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339Nano), nil
	}
	return fmt.Sprint(v), nil
}

func toBytes(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	}
	return nil, fmt.Errorf("value of type %T is not binary", v)
}

// decimalConv parses a database number and brings it to the schema scale,
// rounding half up like BigDecimal.setScale(scale, HALF_UP).
func decimalConv(scale int32) func(any) (any, error) {
	return func(v any) (any, error) {
		var d connect.Decimal
		var err error
		switch x := v.(type) {
		case int64:
			d = connect.NewDecimal(x, 0)
		case float64:
			d, err = connect.ParseDecimal(strconv.FormatFloat(x, 'f', -1, 64))
		default:
			s, ok := asText(v)
			if !ok {
				s = fmt.Sprint(v)
			}
			d, err = connect.ParseDecimal(strings.TrimSpace(s))
		}
		if err != nil {
			return nil, err
		}
		return rescale(d, scale), nil
	}
}

func rescale(d connect.Decimal, scale int32) connect.Decimal {
	if d.Scale == scale {
		return d
	}
	u := new(big.Int).Set(d.Unscaled)
	if d.Scale < scale {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-d.Scale)), nil))
		return connect.Decimal{Unscaled: u, Scale: scale}
	}
	div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale-scale)), nil)
	q, r := new(big.Int).QuoRem(u, div, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2)).Cmp(div) >= 0 {
		if u.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return connect.Decimal{Unscaled: q, Scale: scale}
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
	"15:04:05.999999999",
}

// parseTime reads a textual date/time. ok=false means the text carried no
// zone, so the result holds wall-clock fields in UTC.
func parseTime(s string) (t time.Time, zoned bool, err error) {
	s = strings.TrimSpace(s)
	for i, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, i <= 1 || i == 3, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("cannot parse %q as a date or time", s)
}

// wall returns v's date and time fields, ignoring its location.
func wall(v any) (time.Time, bool, error) {
	switch x := v.(type) {
	case time.Time:
		// Drivers hand naive values back in UTC; any other location is
		// zone information the database stored.
		return x, x.Location() != time.UTC, nil
	}
	if s, ok := asText(v); ok {
		return parseTime(s)
	}
	return time.Time{}, false, fmt.Errorf("value of type %T is not a date or time", v)
}

func toDate(v any) (any, error) {
	t, _, err := wall(v)
	if err != nil {
		return nil, err
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

func toTime(v any) (any, error) {
	if s, ok := asText(v); ok {
		// TIME values can exceed 24h in MySQL; keep the clock part.
		s = strings.TrimSpace(s)
		if i := strings.IndexAny(s, "+-"); i > 0 {
			s = s[:i]
		}
		t, err := time.Parse("15:04:05.999999999", s)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %q as a time", s)
		}
		return time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6*1e6, time.UTC), nil
	}
	t, _, err := wall(v)
	if err != nil {
		return nil, err
	}
	return time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6*1e6, time.UTC), nil
}

// timestampConv reads a timestamp: zone-aware values keep their instant,
// naive ones are wall-clock time in db.timezone.
func timestampConv(zone *time.Location, tzAware bool) func(any) (any, error) {
	return func(v any) (any, error) {
		t, zoned, err := wall(v)
		if err != nil {
			return nil, err
		}
		if tzAware || zoned {
			return t, nil
		}
		return inZone(t, zone), nil
	}
}

// inZone reinterprets t's wall-clock fields in zone.
func inZone(t time.Time, zone *time.Location) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), zone)
}
