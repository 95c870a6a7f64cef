package dialect

import (
	"fmt"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// BindValue converts a Connect value to what the dialect's driver binds
// for a column of schema s. Date, Time and Timestamp values are written as
// wall-clock values in loc (db.timezone); decimals as their exact text.
func (d *Dialect) BindValue(s *connect.Schema, v any, loc *time.Location) (any, error) {
	if v == nil {
		return nil, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	if s != nil {
		switch s.Name {
		case connect.DecimalName:
			if x, ok := v.(connect.Decimal); ok {
				return x.String(), nil
			}
		case connect.DateName:
			if x, ok := v.(time.Time); ok {
				// Dates are calendar days: no zone shift.
				return x.UTC().Format("2006-01-02"), nil
			}
		case connect.TimeName:
			if x, ok := v.(time.Time); ok {
				return x.In(loc).Format("15:04:05.000"), nil
			}
		case connect.TimestampName:
			if x, ok := v.(time.Time); ok {
				if d.kind == KindPostgreSQL {
					// pgx writes TIMESTAMP from the wall clock of the value.
					return x.In(loc), nil
				}
				return x.In(loc).Format("2006-01-02 15:04:05.000"), nil
			}
		}
	}
	switch x := v.(type) {
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64, float64, string, []byte:
		return x, nil
	case float32:
		return float64(x), nil
	case bool:
		if d.kind == KindPostgreSQL {
			return x, nil
		}
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case []any:
		if d.kind == KindPostgreSQL {
			return x, nil
		}
	case time.Time:
		return x.In(loc), nil
	}
	return nil, fmt.Errorf("cannot bind %T to a %s column", v, d.Name())
}
