package scan

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/hush-secrets/hush/kernel/jupyter"
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
// data[start:end] (quotes included), each escape decoded by
// jupyter.DecodeEscape: invalid escapes and lone surrogates decode to
// U+FFFD.
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
		r, n := jupyter.DecodeEscape(body[i:])
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
		r, n := jupyter.DecodeEscape(body[i:])
		w := utf8.EncodeRune(buf[:], r)
		if dec+w > d {
			return start + 1 + i // inside one escape: its start
		}
		dec += w
		i += n
	}
	return end - 1
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
