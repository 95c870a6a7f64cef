package javajson

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON type of a parsed node.
type kind uint8

const (
	kindMissing kind = iota // empty input, or an absent member
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// nodeType names a kind as Jackson's JsonNodeType does, for error messages.
func (k kind) nodeType() string {
	return [...]string{"MISSING", "NULL", "BOOLEAN", "NUMBER", "STRING", "ARRAY", "OBJECT"}[k]
}

// node is one parsed JSON value. It refers to the input by offsets, so
// nothing is copied until a value is converted. The children of an array
// or object are the contiguous nodes [first, first+n).
type node struct {
	kind kind
	flt  bool // number with a fraction or exponent
	esc  bool // string contains escapes
	kesc bool // member key contains escapes
	// Value span: the whole value for containers and numbers, the content
	// between the quotes for strings.
	vs, ve int32
	// Member key span (object members only), between the quotes.
	ks, ke   int32
	first, n int32
}

// maxDepth bounds nesting as Jackson's default read constraints do.
const maxDepth = 1000

// parser turns bytes into a tape of nodes. Parsers are pooled; the tape is
// reused, and no value handed to callers points into it.
type parser struct {
	data  []byte
	pos   int
	nodes []node
	stack []node // children of containers still being parsed
	depth int
}

var parserPool = sync.Pool{New: func() any { return &parser{} }}

func getParser(data []byte) *parser {
	p := parserPool.Get().(*parser)
	p.data, p.pos, p.nodes, p.stack, p.depth = data, 0, p.nodes[:0], p.stack[:0], 0
	return p
}

func putParser(p *parser) {
	p.data = nil
	if cap(p.nodes) > 1<<16 {
		p.nodes, p.stack = nil, nil
	}
	parserPool.Put(p)
}

var errUnexpectedEnd = errors.New("unexpected end-of-input")

func (p *parser) syntax(msg string) error {
	if p.pos >= len(p.data) {
		return fmt.Errorf("%w: %s", errUnexpectedEnd, msg)
	}
	return fmt.Errorf("unexpected character '%c' at offset %d: %s", p.data[p.pos], p.pos, msg)
}

// parseDocument parses the first JSON value of the input and returns its
// node index. Trailing content is ignored, as Jackson's readTree does.
func (p *parser) parseDocument() (int32, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		p.nodes = append(p.nodes, node{kind: kindMissing})
		return 0, nil
	}
	n, err := p.value()
	if err != nil {
		return 0, err
	}
	p.nodes = append(p.nodes, n)
	return int32(len(p.nodes) - 1), nil
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (node, error) {
	if p.pos >= len(p.data) {
		return node{}, p.syntax("expected a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.container(kindObject, '}')
	case c == '[':
		return p.container(kindArray, ']')
	case c == '"':
		p.pos++
		s, e, esc, err := p.str()
		return node{kind: kindString, vs: s, ve: e, esc: esc}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", kindBool)
	case c == 'f':
		return p.literal("false", kindBool)
	case c == 'n':
		return p.literal("null", kindNull)
	}
	return node{}, p.syntax("expected a JSON value")
}

func (p *parser) literal(word string, k kind) (node, error) {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return node{}, p.syntax("unrecognized token")
	}
	n := node{kind: k, vs: int32(p.pos), ve: int32(p.pos + len(word))}
	p.pos += len(word)
	return n, nil
}

// number scans a JSON number; leading zeros are accepted, as Apache's
// deserializer enables ALLOW_LEADING_ZEROS_FOR_NUMBERS.
func (p *parser) number() (node, error) {
	start := p.pos
	n := node{kind: kindNumber}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.digits() == 0 {
		return node{}, p.syntax("expected digit")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		n.flt = true
		if p.digits() == 0 {
			return node{}, p.syntax("expected digit after decimal point")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		n.flt = true
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return node{}, p.syntax("expected digit in exponent")
		}
	}
	n.vs, n.ve = int32(start), int32(p.pos)
	return n, nil
}

func (p *parser) digits() int {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// str scans a string body after the opening quote and returns its span.
func (p *parser) str() (start, end int32, esc bool, err error) {
	s := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return int32(s), int32(p.pos - 1), esc, nil
		case c == '\\':
			esc = true
			p.pos += 2
		case c < 0x20:
			return 0, 0, false, p.syntax("illegal unquoted character in string")
		default:
			p.pos++
		}
	}
	return 0, 0, false, p.syntax("unterminated string")
}

func (p *parser) container(k kind, closer byte) (node, error) {
	p.depth++
	if p.depth > maxDepth {
		return node{}, fmt.Errorf("document nesting depth exceeds the maximum allowed (%d)", maxDepth)
	}
	start := p.pos
	p.pos++
	mark := len(p.stack)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == closer {
		p.pos++
	} else {
		for {
			p.skipSpace()
			var ks, ke int32
			var kesc bool
			if k == kindObject {
				if p.pos >= len(p.data) || p.data[p.pos] != '"' {
					return node{}, p.syntax("expected a field name")
				}
				p.pos++
				var err error
				if ks, ke, kesc, err = p.str(); err != nil {
					return node{}, err
				}
				p.skipSpace()
				if p.pos >= len(p.data) || p.data[p.pos] != ':' {
					return node{}, p.syntax("expected ':'")
				}
				p.pos++
				p.skipSpace()
			}
			child, err := p.value()
			if err != nil {
				return node{}, err
			}
			child.ks, child.ke, child.kesc = ks, ke, kesc
			p.stack = append(p.stack, child)
			p.skipSpace()
			if p.pos >= len(p.data) {
				return node{}, p.syntax("unterminated container")
			}
			if p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.data[p.pos] == closer {
				p.pos++
				break
			}
			return node{}, p.syntax("expected ',' or closing bracket")
		}
	}
	p.depth--
	n := node{kind: k, vs: int32(start), ve: int32(p.pos), first: int32(len(p.nodes)), n: int32(len(p.stack) - mark)}
	p.nodes = append(p.nodes, p.stack[mark:]...)
	p.stack = p.stack[:mark]
	return n, nil
}

// raw returns the input bytes of node i.
func (p *parser) raw(i int32) []byte {
	n := &p.nodes[i]
	return p.data[n.vs:n.ve]
}

// member returns the index of the last member named name in object node
// obj (Jackson keeps the last of duplicate keys), or -1.
func (p *parser) member(obj int32, name string) int32 {
	o := p.nodes[obj]
	for i := o.first + o.n - 1; i >= o.first; i-- {
		if p.keyEq(i, name) {
			return i
		}
	}
	return -1
}

func (p *parser) keyEq(i int32, name string) bool {
	n := &p.nodes[i]
	if !n.kesc {
		return string(p.data[n.ks:n.ke]) == name
	}
	return unescape(p.data[n.ks:n.ke]) == name
}

func (p *parser) key(i int32) string {
	n := &p.nodes[i]
	if n.kesc {
		return unescape(p.data[n.ks:n.ke])
	}
	return string(p.data[n.ks:n.ke])
}

// text returns the content of string node i.
func (p *parser) text(i int32) string {
	n := &p.nodes[i]
	if n.esc {
		return unescape(p.data[n.vs:n.ve])
	}
	return string(p.data[n.vs:n.ve])
}

// envelope checks the {"schema":…,"payload":…} shape and returns both
// members.
func (p *parser) envelope(root int32) (schema, payload int32, ok bool) {
	r := p.nodes[root]
	if r.kind != kindObject {
		return 0, 0, false
	}
	schema, payload = -1, -1
	for i := r.first; i < r.first+r.n; i++ {
		switch {
		case p.keyEq(i, "schema"):
			schema = i
		case p.keyEq(i, "payload"):
			payload = i
		default:
			return 0, 0, false
		}
	}
	return schema, payload, schema >= 0 && payload >= 0
}

// unescape decodes a JSON string body that contains escapes. Unpaired
// surrogates become U+FFFD.
func unescape(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			break
		}
		switch b[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[i+1:])
			if !ok {
				out = append(out, "\uFFFD"...)
				continue
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					if r2, ok := hex4(b[i+3:]); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, b[i]) // \" \\ \/ and, leniently, anything else
		}
	}
	return string(out)
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
