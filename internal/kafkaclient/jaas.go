package kafkaclient

import (
	"fmt"
	"strings"
)

// JAASEntry is one login module of a sasl.jaas.config value.
type JAASEntry struct {
	// LoginModule is the module's class name.
	LoginModule string
	// Flag is the control flag in lower case: required, requisite,
	// sufficient or optional.
	Flag string
	// Options are the module's key="value" options.
	Options map[string]string
}

// ParseJAAS parses a sasl.jaas.config value with the rules Apache's
// JaasConfig applies (a java.io.StreamTokenizer with // and /* */ comments
// and '-', '_' and '$' as word characters): a sequence of
//
//	<LoginModuleClass> <flag> [<key>=<value> ...];
//
// where values are bare words or single- or double-quoted strings with
// backslash escapes. A bare value that starts like a number is rejected, as
// Java's tokenizer reads it as a number rather than a word.
func ParseJAAS(s string) ([]JAASEntry, error) {
	tz := &jaasTokenizer{in: []rune(s)}
	var out []JAASEntry
	for {
		t := tz.next()
		if t.kind == tokEOF {
			break
		}
		e, err := parseJAASEntry(tz, t)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("Login module not specified in JAAS config")
	}
	return out, nil
}

func parseJAASEntry(tz *jaasTokenizer, first token) (JAASEntry, error) {
	e := JAASEntry{LoginModule: first.word, Options: map[string]string{}}
	if first.kind != tokWord {
		return e, fmt.Errorf("Login module not specified in JAAS config")
	}
	t := tz.next()
	if t.kind == tokEOF {
		return e, fmt.Errorf("Login module control flag not specified in JAAS config")
	}
	switch f := strings.ToLower(t.word); f {
	case "required", "requisite", "sufficient", "optional":
		e.Flag = f
	default:
		return e, fmt.Errorf("Invalid login module control flag '%s' in JAAS config", t.text())
	}
	for {
		t = tz.next()
		if t.kind == tokEOF || t.is(';') {
			break
		}
		key := t.text()
		if t.kind != tokWord && t.kind != tokQuoted {
			key = "null"
		}
		eq := tz.next()
		val := tz.next()
		if !eq.is('=') || val.kind == tokEOF || (val.kind != tokWord && val.kind != tokQuoted) {
			return e, fmt.Errorf("Value not specified for key '%s' in JAAS config", key)
		}
		e.Options[key] = val.word
	}
	if !t.is(';') {
		return e, fmt.Errorf("JAAS config entry not terminated by semi-colon")
	}
	return e, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokNumber
	tokChar
)

type token struct {
	kind tokKind
	word string // word or quoted string
	char rune   // ordinary character
}

func (t token) is(c rune) bool { return t.kind == tokChar && t.char == c }

func (t token) text() string {
	if t.kind == tokChar {
		return string(t.char)
	}
	return t.word
}

// jaasTokenizer reproduces the parts of java.io.StreamTokenizer's default
// syntax that JaasConfig relies on.
type jaasTokenizer struct {
	in  []rune
	pos int
}

func isWordStart(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0xA0 || c == '_' || c == '$'
}

func isWordPart(c rune) bool { return isWordStart(c) || c >= '0' && c <= '9' || c == '.' || c == '-' }

func isNumberStart(c rune) bool { return c >= '0' && c <= '9' || c == '.' || c == '-' }

func (z *jaasTokenizer) peek() (rune, bool) {
	if z.pos >= len(z.in) {
		return 0, false
	}
	return z.in[z.pos], true
}

func (z *jaasTokenizer) next() token {
	for {
		c, ok := z.peek()
		if !ok {
			return token{kind: tokEOF}
		}
		switch {
		case c <= ' ':
			z.pos++
			continue
		case c == '/' && z.pos+1 < len(z.in) && z.in[z.pos+1] == '/':
			for z.pos < len(z.in) && z.in[z.pos] != '\n' && z.in[z.pos] != '\r' {
				z.pos++
			}
			continue
		case c == '/' && z.pos+1 < len(z.in) && z.in[z.pos+1] == '*':
			z.pos += 2
			for z.pos < len(z.in) && !(z.in[z.pos] == '*' && z.pos+1 < len(z.in) && z.in[z.pos+1] == '/') {
				z.pos++
			}
			z.pos = min(z.pos+2, len(z.in))
			continue
		case c == '/':
			// '/' is StreamTokenizer's comment character: the rest of the
			// line is skipped.
			for z.pos < len(z.in) && z.in[z.pos] != '\n' && z.in[z.pos] != '\r' {
				z.pos++
			}
			continue
		case isNumberStart(c):
			return z.number()
		case isWordStart(c):
			start := z.pos
			for z.pos < len(z.in) && isWordPart(z.in[z.pos]) {
				z.pos++
			}
			return token{kind: tokWord, word: string(z.in[start:z.pos])}
		case c == '"' || c == '\'':
			return z.quoted(c)
		default:
			z.pos++
			return token{kind: tokChar, char: c}
		}
	}
}

// number consumes what StreamTokenizer reads as a number: Java checks the
// number rules before the word rules, so a token starting with a digit, '.'
// or '-' is a number even though '-' is also a word character. A '-' not
// followed by a digit or '.' is an ordinary character.
func (z *jaasTokenizer) number() token {
	start := z.pos
	if z.in[z.pos] == '-' {
		z.pos++
	}
	digits, dot := 0, false
	for z.pos < len(z.in) {
		c := z.in[z.pos]
		if c >= '0' && c <= '9' {
			digits++
		} else if c == '.' && !dot {
			dot = true
		} else {
			break
		}
		z.pos++
	}
	if z.in[start] == '-' && digits == 0 && !dot {
		// Java returns '-' as an ordinary character here.
		z.pos = start + 1
		return token{kind: tokChar, char: '-'}
	}
	return token{kind: tokNumber, word: string(z.in[start:z.pos])}
}

func (z *jaasTokenizer) quoted(q rune) token {
	z.pos++
	var b strings.Builder
	for z.pos < len(z.in) {
		c := z.in[z.pos]
		if c == q || c == '\n' || c == '\r' {
			if c == q {
				z.pos++
			}
			break
		}
		z.pos++
		if c != '\\' || z.pos >= len(z.in) {
			b.WriteRune(c)
			continue
		}
		c = z.in[z.pos]
		z.pos++
		switch c {
		case 'a':
			b.WriteRune(7)
		case 'b':
			b.WriteRune('\b')
		case 'f':
			b.WriteRune('\f')
		case 'n':
			b.WriteRune('\n')
		case 'r':
			b.WriteRune('\r')
		case 't':
			b.WriteRune('\t')
		case 'v':
			b.WriteRune('\v')
		default:
			if c >= '0' && c <= '7' {
				// Octal escape: up to three digits, the first at most 3
				// when three are used.
				n := c - '0'
				maxDigits := 2
				if c > '3' {
					maxDigits = 1
				}
				for i := 0; i < maxDigits && z.pos < len(z.in) && z.in[z.pos] >= '0' && z.in[z.pos] <= '7'; i++ {
					n = n*8 + z.in[z.pos] - '0'
					z.pos++
				}
				b.WriteRune(n)
			} else {
				b.WriteRune(c)
			}
		}
	}
	return token{kind: tokQuoted, word: b.String()}
}
