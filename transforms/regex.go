package transforms

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"

	"strings"

	"github.com/ferryhq/ferry/connect"
)

// javaRegex compiles a Java regular expression for whole-string matching
// (Matcher.matches) and for finding (Matcher.find). Go's RE2 syntax covers
// the common Java syntax; lookaround, backreferences and possessive
// quantifiers are rejected as invalid.
type javaRegex struct {
	find *regexp.Regexp
	full *regexp.Regexp
}

func compileJavaRegex(pattern string) (*javaRegex, error) {
	find, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	full, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, err
	}
	return &javaRegex{find: find, full: full}, nil
}

// regexValidator is Apache's RegexValidator.
func regexValidator() connect.Validator {
	return connect.ValidatorFunc("valid regex", func(v any) error {
		s, _ := v.(string)
		if _, err := compileJavaRegex(s); err != nil {
			return fmt.Errorf("Invalid regex: %s", regexMessage(err))
		}
		return nil
	})
}

func regexMessage(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s near index 0\n%s", se.Code, se.Expr)
	}
	return err.Error()
}

// replacement is a parsed java.util.regex replacement string: literal
// text, $n group numbers and ${name} named groups; a backslash escapes the
// next character.
type replacement struct {
	parts []replPart
	err   error // reported when the replacement is used, as Java does
}

type replPart struct {
	lit   string
	group int // -1 for literal
	name  string
}

func compileReplacement(s string, re *regexp.Regexp) *replacement {
	r := &replacement{}
	groups := re.NumSubexp()
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			r.parts = append(r.parts, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			i++
			if i >= len(s) {
				r.err = fmt.Errorf("character to be escaped is missing")
				return r
			}
			lit.WriteByte(s[i])
		case '$':
			i++
			if i >= len(s) {
				r.err = fmt.Errorf("Illegal group reference: group index is missing")
				return r
			}
			if s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					r.err = fmt.Errorf("named capturing group is missing trailing '}'")
					return r
				}
				name := s[i+1 : i+end]
				if re.SubexpIndex(name) < 0 {
					r.err = fmt.Errorf("No group with name {%s}", name)
					return r
				}
				flush()
				r.parts = append(r.parts, replPart{group: re.SubexpIndex(name), name: name})
				i += end
				continue
			}
			if s[i] < '0' || s[i] > '9' {
				r.err = fmt.Errorf("Illegal group reference")
				return r
			}
			// Java takes the first digit, then more digits while the
			// number stays a valid group.
			n := int(s[i] - '0')
			for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				next := n*10 + int(s[i+1]-'0')
				if next > groups {
					break
				}
				n = next
				i++
			}
			if n > groups {
				r.err = fmt.Errorf("No group %d", n)
				return r
			}
			flush()
			r.parts = append(r.parts, replPart{group: n})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return r
}

// replaceFirst is Matcher.replaceFirst: the first match in s is replaced.
func (jr *javaRegex) replaceFirst(s string, r *replacement) (string, error) {
	loc := jr.find.FindStringSubmatchIndex(s)
	if loc == nil {
		return s, nil
	}
	if r.err != nil {
		return "", r.err
	}
	var b strings.Builder
	b.WriteString(s[:loc[0]])
	for _, p := range r.parts {
		if p.group < 0 {
			b.WriteString(p.lit)
			continue
		}
		if start := loc[2*p.group]; start >= 0 {
			b.WriteString(s[start:loc[2*p.group+1]])
		}
	}
	b.WriteString(s[loc[1]:])
	return b.String(), nil
}
