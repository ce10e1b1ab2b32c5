package scan

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON parser that keeps where every string is in the file, so a
// finding in a notebook's decoded text maps back to the file's line and
// column, and --fix can rewrite one string (or one array of lines) in
// place and leave every other byte of the file as it was.

// jnode is one JSON value: its kind, its span in the file ([start, end),
// quotes included for a string), and its children.
type jnode struct {
	kind       byte // 'o' object, 'a' array, 's' string, 'x' anything else
	start, end int
	keys       []*jnode // object: the key strings, parallel to kids
	kids       []*jnode // object values or array elements
}

// maxJSONDepth bounds nesting, so a hostile file cannot exhaust the stack.
const maxJSONDepth = 512

// errJSON is wrapped by every parse error.
var errJSON = errors.New("not valid JSON")

type jsonParser struct {
	b   []byte
	pos int
}

// parseJSON parses data as one JSON value.
func parseJSON(data []byte) (*jnode, error) {
	p := &jsonParser{b: data}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.b) {
		return nil, p.fail("data after the value")
	}
	return n, nil
}

func (p *jsonParser) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errJSON, what, p.pos)
}

func (p *jsonParser) space() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*jnode, error) {
	if depth > maxJSONDepth {
		return nil, p.fail("nesting too deep")
	}
	p.space()
	if p.pos >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.b[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	default:
		return p.scalar()
	}
}

func (p *jsonParser) object(depth int) (*jnode, error) {
	n := &jnode{kind: 'o', start: p.pos}
	p.pos++
	p.space()
	if p.pos < len(p.b) && p.b[p.pos] == '}' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for {
		p.space()
		if p.pos >= len(p.b) || p.b[p.pos] != '"' {
			return nil, p.fail("expected a key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.b) || p.b[p.pos] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, k)
		n.kids = append(n.kids, v)
		p.space()
		if p.pos < len(p.b) && p.b[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.b) && p.b[p.pos] == '}' {
			p.pos++
			n.end = p.pos
			return n, nil
		}
		return nil, p.fail("expected ',' or '}'")
	}
}

func (p *jsonParser) array(depth int) (*jnode, error) {
	n := &jnode{kind: 'a', start: p.pos}
	p.pos++
	p.space()
	if p.pos < len(p.b) && p.b[p.pos] == ']' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, v)
		p.space()
		if p.pos < len(p.b) && p.b[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.b) && p.b[p.pos] == ']' {
			p.pos++
			n.end = p.pos
			return n, nil
		}
		return nil, p.fail("expected ',' or ']'")
	}
}

func (p *jsonParser) str() (*jnode, error) {
	start := p.pos
	p.pos++
	for p.pos < len(p.b) {
		switch c := p.b[p.pos]; {
		case c == '"':
			p.pos++
			return &jnode{kind: 's', start: start, end: p.pos}, nil
		case c == '\\':
			p.pos += 2
		case c < 0x20:
			return nil, p.fail("control character in a string")
		default:
			p.pos++
		}
	}
	return nil, p.fail("unterminated string")
}

func (p *jsonParser) scalar() (*jnode, error) {
	start := p.pos
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		p.pos++
	}
	if p.pos == start {
		return nil, p.fail("expected a value")
	}
	return &jnode{kind: 'x', start: start, end: p.pos}, nil
}

// field returns the value of key name in object n, or nil.
func (n *jnode) field(data []byte, name string) *jnode {
	if n == nil || n.kind != 'o' {
		return nil
	}
	for i, k := range n.keys {
		if k.end-k.start == len(name)+2 && string(data[k.start+1:k.end-1]) == name {
			return n.kids[i]
		}
	}
	return nil
}

// decodeString appends to dst the decoded content of the string token
// data[start:end] (quotes included). Invalid escapes and lone surrogates
// decode to U+FFFD.
func decodeString(dst, data []byte, start, end int) []byte {
	body := data[start+1 : end-1]
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			j := i + 1
			for j < len(body) && body[j] != '\\' {
				j++
			}
			dst = append(dst, body[i:j]...)
			i = j
			continue
		}
		r, n := decodeEscape(body[i:])
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst
}

// rawOffset returns the offset in the file of the byte at decoded offset
// d of the string token data[start:end].
func rawOffset(data []byte, start, end, d int) int {
	body := data[start+1 : end-1]
	var buf [utf8.UTFMax]byte
	for i, dec := 0, 0; i < len(body); {
		if dec >= d {
			return start + 1 + i
		}
		if body[i] != '\\' {
			i++
			dec++
			continue
		}
		r, n := decodeEscape(body[i:])
		w := utf8.EncodeRune(buf[:], r)
		if dec+w > d {
			return start + 1 + i // inside one escape: its start
		}
		dec += w
		i += n
	}
	return end - 1
}

// decodeEscape decodes the escape at the start of b (b[0] == '\\') and
// returns the rune and the number of bytes it took.
func decodeEscape(b []byte) (rune, int) {
	if len(b) < 2 {
		return utf8.RuneError, len(b)
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r1, ok := hex4(b[2:])
		if !ok {
			return utf8.RuneError, 2
		}
		if utf16.IsSurrogate(r1) && len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
			if r2, ok := hex4(b[8:]); ok {
				if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
					return r, 12
				}
			}
		}
		if utf16.IsSurrogate(r1) {
			return utf8.RuneError, 6
		}
		return r1, 6
	default:
		return utf8.RuneError, 2
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendJSONString appends s as a JSON string the way Python's json.dumps
// with ensure_ascii=False writes it (nbformat's style): only ", \ and the
// control characters escaped.
func appendJSONString(dst []byte, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}
