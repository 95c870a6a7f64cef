package transforms

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dateFormat is a java.text.SimpleDateFormat pattern compiled for UTC,
// which is how TimestampConverter and TimestampRouter use it. Formatting
// and parsing are implemented directly on the pattern's fields rather than
// by translating to a Go layout, because Go layouts cannot quote literal
// text and lack several Java fields.
type dateFormat struct {
	pattern string
	fields  []dateField
}

// dateField is a run of one pattern letter (letter != 0) or literal text.
type dateField struct {
	letter byte
	count  int
	text   string
}

const patternLetters = "GyYMLwWDdFEuaHkKhmsSzZX"

// compileDateFormat parses a SimpleDateFormat pattern, with Java's rules:
// ASCII letters are fields, text in single quotes is literal, two single
// quotes are one quote.
func compileDateFormat(pattern string) (*dateFormat, error) {
	df := &dateFormat{pattern: pattern}
	lit := func(s string) {
		if n := len(df.fields); n > 0 && df.fields[n-1].letter == 0 {
			df.fields[n-1].text += s
			return
		}
		df.fields = append(df.fields, dateField{text: s})
	}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			end := -1
			var b strings.Builder
			for j := i + 1; j < len(pattern); j++ {
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					end = j
					break
				}
				b.WriteByte(pattern[j])
			}
			if end < 0 {
				return nil, fmt.Errorf("Unterminated quote")
			}
			lit(b.String())
			i = end + 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !strings.ContainsRune(patternLetters, rune(c)) {
				return nil, fmt.Errorf("Illegal pattern character '%c'", c)
			}
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			df.fields = append(df.fields, dateField{letter: c, count: j - i})
			i = j
		default:
			lit(string(c))
			i++
		}
	}
	return df, nil
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// javaWeekday is Java's day-of-week number, 1 = Monday.
func javaWeekday(t time.Time) int {
	if t.Weekday() == time.Sunday {
		return 7
	}
	return int(t.Weekday())
}

// Format renders t (converted to UTC).
func (df *dateFormat) Format(t time.Time) string {
	t = t.UTC()
	var b strings.Builder
	for _, f := range df.fields {
		if f.letter == 0 {
			b.WriteString(f.text)
			continue
		}
		n := f.count
		switch f.letter {
		case 'G':
			if t.Year() > 0 {
				b.WriteString("AD")
			} else {
				b.WriteString("BC")
			}
		case 'y', 'Y':
			y := t.Year()
			if f.letter == 'Y' {
				y, _ = t.ISOWeek()
			}
			if n == 2 {
				b.WriteString(pad(y%100, 2))
			} else {
				b.WriteString(pad(y, n))
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(pad(int(t.Month()), n))
			}
		case 'w':
			_, w := t.ISOWeek()
			b.WriteString(pad(w, n))
		case 'W':
			b.WriteString(pad((t.Day()-1)/7+1, n))
		case 'D':
			b.WriteString(pad(t.YearDay(), n))
		case 'd':
			b.WriteString(pad(t.Day(), n))
		case 'F':
			b.WriteString(pad((t.Day()-1)/7+1, n))
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'u':
			b.WriteString(pad(javaWeekday(t), n))
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'H':
			b.WriteString(pad(t.Hour(), n))
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b.WriteString(pad(h, n))
		case 'K':
			b.WriteString(pad(t.Hour()%12, n))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, n))
		case 'm':
			b.WriteString(pad(t.Minute(), n))
		case 's':
			b.WriteString(pad(t.Second(), n))
		case 'S':
			b.WriteString(pad(t.Nanosecond()/1e6, n))
		case 'z':
			if n >= 4 {
				b.WriteString("Coordinated Universal Time")
			} else {
				b.WriteString("UTC")
			}
		case 'Z':
			b.WriteString("+0000")
		case 'X':
			b.WriteString("Z")
		}
	}
	return b.String()
}

func isNumericField(f dateField) bool {
	switch f.letter {
	case 0, 'G', 'E', 'a', 'z', 'Z', 'X':
		return false
	case 'M', 'L':
		return f.count <= 2
	}
	return true
}

var (
	monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayNames   = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// matchName matches the longest full or three-letter name at s, ignoring
// case, returning its index and length.
func matchName(s string, names []string) (int, int) {
	for i, n := range names {
		if len(s) >= len(n) && strings.EqualFold(s[:len(n)], n) {
			return i, len(n)
		}
	}
	for i, n := range names {
		if len(s) >= 3 && strings.EqualFold(s[:3], n[:3]) {
			return i, 3
		}
	}
	return -1, 0
}

// Parse reads a time from the start of s like SimpleDateFormat.parse in
// lenient mode: out-of-range fields roll over, trailing text is ignored,
// abutting numeric fields take exactly their pattern width.
func (df *dateFormat) Parse(s string) (time.Time, error) {
	year, month, day := 1970, 1, 1
	hour, minute, sec, ms := 0, 0, 0, 0
	pm, hasAmPm, hour12 := false, false, false
	offset := 0
	yearDay := 0
	pos := 0
	fail := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("Unparseable date: %q", s)
	}
	for i, f := range df.fields {
		if f.letter == 0 {
			if !strings.HasPrefix(s[pos:], f.text) {
				return fail()
			}
			pos += len(f.text)
			continue
		}
		if isNumericField(f) {
			width := 0 // as many digits as present
			if i+1 < len(df.fields) && isNumericField(df.fields[i+1]) {
				width = f.count
			}
			start := pos
			neg := false
			if pos < len(s) && (s[pos] == '-' || s[pos] == '+') && width == 0 {
				neg = s[pos] == '-'
				pos++
			}
			digitsStart := pos
			for pos < len(s) && s[pos] >= '0' && s[pos] <= '9' && (width == 0 || pos-digitsStart < width) {
				pos++
			}
			if pos == digitsStart {
				return fail()
			}
			v, err := strconv.Atoi(s[digitsStart:pos])
			if err != nil {
				return fail()
			}
			if neg {
				v = -v
			}
			switch f.letter {
			case 'y', 'Y':
				if f.count <= 2 && pos-start == 2 {
					// Two-digit years fall within 80 years before and 20 after now.
					now := time.Now().UTC().Year()
					base := now - 80
					v = base - base%100 + v
					if v < base {
						v += 100
					}
				}
				year = v
			case 'M', 'L':
				month = v
			case 'd':
				day = v
			case 'D':
				yearDay = v
			case 'H', 'k':
				hour = v
				if f.letter == 'k' && v == 24 {
					hour = 0
				}
			case 'K', 'h':
				hour, hour12 = v, true
				if f.letter == 'h' && v == 12 {
					hour = 0
				}
			case 'm':
				minute = v
			case 's':
				sec = v
			case 'S':
				ms = v
			}
			continue
		}
		rest := s[pos:]
		switch f.letter {
		case 'G':
			switch {
			case len(rest) >= 2 && strings.EqualFold(rest[:2], "AD"):
				pos += 2
			case len(rest) >= 2 && strings.EqualFold(rest[:2], "BC"):
				pos += 2
			default:
				return fail()
			}
		case 'M', 'L':
			idx, n := matchName(rest, monthNames)
			if idx < 0 {
				return fail()
			}
			month = idx + 1
			pos += n
		case 'E':
			idx, n := matchName(rest, dayNames)
			if idx < 0 {
				return fail()
			}
			pos += n
		case 'a':
			switch {
			case len(rest) >= 2 && strings.EqualFold(rest[:2], "AM"):
				hasAmPm = true
			case len(rest) >= 2 && strings.EqualFold(rest[:2], "PM"):
				hasAmPm, pm = true, true
			default:
				return fail()
			}
			pos += 2
		case 'z', 'Z', 'X':
			off, n, ok := parseZone(rest)
			if !ok {
				return fail()
			}
			offset = off
			pos += n
		}
	}
	if hasAmPm && pm && (hour12 || hour < 12) {
		hour += 12
	}
	var t time.Time
	if yearDay > 0 {
		t = time.Date(year, 1, yearDay, hour, minute, sec, 0, time.UTC)
	} else {
		t = time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	}
	t = t.Add(time.Duration(ms) * time.Millisecond).Add(-time.Duration(offset) * time.Second)
	return t, nil
}

// parseZone reads Z, UTC, GMT, GMT±hh:mm or ±hh[[:]mm], returning the
// offset in seconds and the length consumed.
func parseZone(s string) (int, int, bool) {
	n := 0
	switch {
	case strings.HasPrefix(s, "Z"):
		return 0, 1, true
	case strings.HasPrefix(s, "UTC"), strings.HasPrefix(s, "GMT"):
		n = 3
		if len(s) == 3 || (s[3] != '+' && s[3] != '-') {
			return 0, 3, true
		}
	}
	r := s[n:]
	if r == "" || (r[0] != '+' && r[0] != '-') {
		return 0, 0, false
	}
	sign := 1
	if r[0] == '-' {
		sign = -1
	}
	i := 1
	digits := func(max int) (int, int) {
		j := i
		for j < len(r) && j-i < max && r[j] >= '0' && r[j] <= '9' {
			j++
		}
		v, _ := strconv.Atoi(r[i:j])
		return v, j - i
	}
	h, hn := digits(2)
	if hn == 0 {
		return 0, 0, false
	}
	i += hn
	m := 0
	if i < len(r) && r[i] == ':' {
		i++
	}
	if mv, mn := digits(2); mn == 2 {
		m = mv
		i += 2
	}
	return sign * (h*3600 + m*60), n + i, true
}
