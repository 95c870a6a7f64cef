package connect

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Logical type names, as Apache writes them in schemas.
const (
	DecimalName   = "org.apache.kafka.connect.data.Decimal"
	DateName      = "org.apache.kafka.connect.data.Date"
	TimeName      = "org.apache.kafka.connect.data.Time"
	TimestampName = "org.apache.kafka.connect.data.Timestamp"

	// DecimalScaleParam is the schema parameter holding a Decimal's scale.
	DecimalScaleParam = "scale"
)

// Decimal is an arbitrary-precision decimal number: Unscaled × 10^-Scale,
// the value model of Java's BigDecimal.
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// NewDecimal returns unscaled × 10^-scale.
func NewDecimal(unscaled int64, scale int32) Decimal {
	return Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

// ParseDecimal parses a decimal string such as "12.30", "-1E+3" or "5e-2",
// keeping the scale it is written with.
func ParseDecimal(s string) (Decimal, error) {
	orig := s
	exp := int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil {
			return Decimal{}, fmt.Errorf("invalid decimal %q", orig)
		}
		exp, s = e, s[:i]
	}
	scale := int64(0)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = int64(len(s) - i - 1)
		s = s[:i] + s[i+1:]
	}
	u, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return Decimal{}, fmt.Errorf("invalid decimal %q", orig)
	}
	return Decimal{Unscaled: u, Scale: int32(scale - exp)}, nil
}

// String formats like Java's BigDecimal.toString: plain notation when the
// exponent is small, scientific notation (1.2E+3) otherwise.
func (d Decimal) String() string {
	if d.Unscaled == nil {
		return "0"
	}
	neg := d.Unscaled.Sign() < 0
	digits := new(big.Int).Abs(d.Unscaled).String()
	adjusted := -int64(d.Scale) + int64(len(digits)-1)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case d.Scale >= 0 && adjusted >= -6:
		if d.Scale == 0 {
			b.WriteString(digits)
		} else if int(d.Scale) >= len(digits) {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", int(d.Scale)-len(digits)))
			b.WriteString(digits)
		} else {
			p := len(digits) - int(d.Scale)
			b.WriteString(digits[:p])
			b.WriteByte('.')
			b.WriteString(digits[p:])
		}
	default:
		b.WriteString(digits[:1])
		if len(digits) > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('E')
		if adjusted >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatInt(adjusted, 10))
	}
	return b.String()
}

// Float64 returns the nearest float64.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// DecimalSchema returns a Decimal logical schema of the given scale.
func DecimalSchema(scale int32) *SchemaBuilder {
	return NewSchemaBuilder(Bytes).Name(DecimalName).Version(1).Parameter(DecimalScaleParam, strconv.Itoa(int(scale)))
}

// DateSchema returns a Date logical schema (days since the epoch, int32).
func DateSchema() *SchemaBuilder { return NewSchemaBuilder(Int32).Name(DateName).Version(1) }

// TimeSchema returns a Time logical schema (milliseconds since midnight, int32).
func TimeSchema() *SchemaBuilder { return NewSchemaBuilder(Int32).Name(TimeName).Version(1) }

// TimestampSchema returns a Timestamp logical schema (epoch milliseconds, int64).
func TimestampSchema() *SchemaBuilder { return NewSchemaBuilder(Int64).Name(TimestampName).Version(1) }

// DecimalScale returns the scale recorded in a Decimal schema.
func DecimalScale(s *Schema) (int32, error) {
	v, ok := s.Parameters[DecimalScaleParam]
	if !ok {
		return 0, fmt.Errorf("invalid Decimal schema: scale parameter not found")
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid Decimal schema: scale %q: %w", v, err)
	}
	return int32(n), nil
}

// DecimalToBytes encodes a Decimal as the big-endian two's-complement bytes
// of its unscaled value, the minimal form Java's BigInteger.toByteArray uses.
func DecimalToBytes(d Decimal) []byte {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	if u.Sign() >= 0 {
		b := u.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Two's complement of a negative number: 2^(8n) + u for the smallest n
	// that keeps the sign bit set.
	n := (u.BitLen() + 8) / 8
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	b := new(big.Int).Add(mod, u).Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	for len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0 {
		b = b[1:]
	}
	return b
}

// DecimalFromBytes decodes two's-complement bytes with the given scale.
func DecimalFromBytes(b []byte, scale int32) Decimal {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return Decimal{Unscaled: u, Scale: scale}
}

const msPerDay = 24 * 60 * 60 * 1000

// DateToDays converts a Date value (midnight UTC) to days since the epoch.
func DateToDays(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms%msPerDay != 0 {
		return 0, fmt.Errorf("kafka connect date type should not have any time fields set to non-zero values")
	}
	return int32(ms / msPerDay), nil
}

// DaysToDate converts days since the epoch to a UTC time.
func DaysToDate(days int32) time.Time { return time.UnixMilli(int64(days) * msPerDay).UTC() }

// TimeToMillis converts a Time value (on 1970-01-01 UTC) to milliseconds since midnight.
func TimeToMillis(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms >= msPerDay {
		return 0, fmt.Errorf("kafka connect time type should not have any date fields set to non-zero values")
	}
	return int32(ms), nil
}

// MillisToTime converts milliseconds since midnight to a UTC time on the epoch day.
func MillisToTime(ms int32) time.Time { return time.UnixMilli(int64(ms)).UTC() }
