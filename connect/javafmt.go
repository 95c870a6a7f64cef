package connect

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// FormatJavaFloat formats a float as Java's Double.toString (bits=64) or
// Float.toString (bits=32) do: "1.0", "0.001", "1.0E7", "1.5E-4". Byte-exact
// output matters wherever Apache compares serialised bytes, such as offset
// keys.
func FormatJavaFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	// Shortest digits that round-trip, in scientific form d.dddde±xx.
	sci := strconv.FormatFloat(f, 'e', -1, bits)
	neg := sci[0] == '-'
	if neg {
		sci = sci[1:]
	}
	mant, expStr, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			intLen := exp + 1
			if len(digits) <= intLen {
				b.WriteString(digits)
				b.WriteString(strings.Repeat("0", intLen-len(digits)))
				b.WriteString(".0")
			} else {
				b.WriteString(digits[:intLen])
				b.WriteByte('.')
				b.WriteString(digits[intLen:])
			}
		} else {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp-1))
			b.WriteString(digits)
		}
		return b.String()
	}
	b.WriteString(digits[:1])
	b.WriteByte('.')
	if len(digits) > 1 {
		b.WriteString(digits[1:])
	} else {
		b.WriteByte('0')
	}
	b.WriteByte('E')
	b.WriteString(strconv.Itoa(exp))
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// JavaHashMapOrder returns the keys of m in the order a java.util.HashMap
// holding the same String keys iterates them. Connectors written in Java
// build source partitions in HashMaps, so using this order reproduces the
// exact offset-key bytes an Apache worker writes.
func JavaHashMapOrder(m map[string]any) []string {
	keys := sortedKeys(m)
	if len(keys) < 2 {
		return keys
	}
	capacity := 16
	for float64(len(keys)) > 0.75*float64(capacity) {
		capacity *= 2
	}
	bucket := func(k string) int {
		var h int32
		for _, r := range utf16Units(k) {
			h = 31*h + int32(r)
		}
		spread := uint32(h) ^ (uint32(h) >> 16)
		return int(spread & uint32(capacity-1))
	}
	slices.SortStableFunc(keys, func(a, b string) int { return bucket(a) - bucket(b) })
	return keys
}

func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}
