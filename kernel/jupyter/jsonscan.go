package jupyter

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of arrays and objects the JSON functions of
// this package accept, so that hostile input cannot exhaust the stack.
const MaxDepth = 10000

// SyntaxError reports malformed JSON. It names the offset only, never the
// offending bytes: a message may carry a secret and errors end up in logs.
type SyntaxError struct {
	// Offset is the byte offset in the JSON text where the problem was found.
	Offset int
	// Reason says what was wrong, without quoting the input.
	Reason string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Reason)
}

// StringContext tells a StringFunc where the string it is given sits.
type StringContext struct {
	// Depth is the number of enclosing arrays and objects: 0 for a bare
	// string, 1 for a key or value of the top-level object, and so on.
	Depth int
	// IsKey is true when the string is an object key.
	IsKey bool
	// Key is the decoded (original, not rewritten) key of the member whose
	// value the string is; nil for keys, array elements and bare strings.
	// It is only valid during the call.
	Key []byte
}

// StringFunc rewrites one decoded JSON string: it appends the replacement
// for s to dst and returns the extended slice. s is only valid during the
// call and must not be modified or retained.
type StringFunc func(dst, s []byte, ctx StringContext) []byte

// RewriteStrings appends to dst a copy of the JSON text src in which every
// string — object keys included — is replaced by what fn makes of it, and
// returns the extended slice. Everything else (numbers, literals, key order,
// whitespace) is copied byte for byte, and a string fn leaves unchanged keeps
// its original spelling when that spelling is valid UTF-8. Rewritten strings
// are encoded without HTML escaping, with invalid UTF-8 replaced by U+FFFD,
// so the output is always valid UTF-8 where a string was touched.
//
// If rewriting makes two keys of one object equal, every later duplicate is
// renamed by appending " (2)", " (3)"… until it is unique, so no member is
// lost to a parser that keeps only one of equal keys.
//
// src must be exactly one JSON value, optionally surrounded by whitespace;
// otherwise a *SyntaxError is returned and the content of dst beyond its
// original length is unspecified. A nil fn only validates and copies.
func RewriteStrings(dst, src []byte, fn StringFunc) ([]byte, error) {
	r := rewriter{src: src, dst: dst, fn: fn}
	r.skipSpace()
	if err := r.value(0, nil); err != nil {
		return dst, err
	}
	r.skipSpace()
	if r.pos != len(r.src) {
		return dst, r.errorf("unexpected data after the JSON value")
	}
	return r.dst, nil
}

// Valid reports whether src is exactly one well-formed JSON value.
func Valid(src []byte) error {
	r := rewriter{src: src, validateOnly: true}
	r.skipSpace()
	if err := r.value(0, nil); err != nil {
		return err
	}
	r.skipSpace()
	if r.pos != len(r.src) {
		return r.errorf("unexpected data after the JSON value")
	}
	return nil
}

type rewriter struct {
	src          []byte
	pos          int
	dst          []byte
	fn           StringFunc
	validateOnly bool
	// strBuf holds a decoded string (with escapes), keyBuf the decoded key
	// of the member being written, outBuf fn's output.
	strBuf, keyBuf, outBuf []byte
	// spans is a stack of the key spans of the objects being written.
	spans []keySpan
}

func (r *rewriter) errorf(reason string) error {
	return &SyntaxError{Offset: r.pos, Reason: reason}
}

func (r *rewriter) skipSpace() {
	start := r.pos
	for r.pos < len(r.src) {
		switch r.src[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
			continue
		}
		break
	}
	if !r.validateOnly {
		r.dst = append(r.dst, r.src[start:r.pos]...)
	}
}

func (r *rewriter) value(depth int, key []byte) error {
	if r.pos >= len(r.src) {
		return r.errorf("unexpected end of input")
	}
	switch c := r.src[r.pos]; {
	case c == '{':
		return r.object(depth + 1)
	case c == '[':
		return r.array(depth + 1)
	case c == '"':
		return r.str(StringContext{Depth: depth, Key: key})
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	default:
		return r.errorf("unexpected character")
	}
}

func (r *rewriter) literal(lit string) error {
	if !bytes.HasPrefix(r.src[r.pos:], []byte(lit)) {
		return r.errorf("invalid literal")
	}
	if !r.validateOnly {
		r.dst = append(r.dst, lit...)
	}
	r.pos += len(lit)
	return nil
}

func (r *rewriter) number() error {
	start := r.pos
	s := r.src
	i := r.pos
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		r.pos = i
		return r.errorf("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			r.pos = i
			return r.errorf("invalid number: digit expected after the decimal point")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			r.pos = i
			return r.errorf("invalid number: digit expected in the exponent")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	r.pos = i
	if !r.validateOnly {
		r.dst = append(r.dst, s[start:i]...)
	}
	return nil
}

func (r *rewriter) array(depth int) error {
	if depth > MaxDepth {
		return r.errorf("nesting too deep")
	}
	r.pos++ // '['
	if !r.validateOnly {
		r.dst = append(r.dst, '[')
	}
	r.skipSpace()
	if r.pos < len(r.src) && r.src[r.pos] == ']' {
		r.pos++
		if !r.validateOnly {
			r.dst = append(r.dst, ']')
		}
		return nil
	}
	for {
		if err := r.value(depth, nil); err != nil {
			return err
		}
		r.skipSpace()
		if r.pos >= len(r.src) {
			return r.errorf("unexpected end of input in an array")
		}
		c := r.src[r.pos]
		if c != ',' && c != ']' {
			return r.errorf("expected ',' or ']' in an array")
		}
		r.pos++
		if !r.validateOnly {
			r.dst = append(r.dst, c)
		}
		if c == ']' {
			return nil
		}
		r.skipSpace()
	}
}

// keySpan is where one key of the object being written sits in dst.
type keySpan struct{ start, end int }

func (r *rewriter) object(depth int) error {
	if depth > MaxDepth {
		return r.errorf("nesting too deep")
	}
	objStart := len(r.dst)
	r.pos++ // '{'
	if !r.validateOnly {
		r.dst = append(r.dst, '{')
	}
	r.skipSpace()
	if r.pos < len(r.src) && r.src[r.pos] == '}' {
		r.pos++
		if !r.validateOnly {
			r.dst = append(r.dst, '}')
		}
		return nil
	}
	base := len(r.spans)
	defer func() { r.spans = r.spans[:base] }()
	keyChanged := false
	for {
		if r.pos >= len(r.src) || r.src[r.pos] != '"' {
			return r.errorf("expected a string key in an object")
		}
		kstart := len(r.dst)
		changed, err := r.key(depth)
		if err != nil {
			return err
		}
		keyChanged = keyChanged || changed
		if !r.validateOnly {
			r.spans = append(r.spans, keySpan{kstart, len(r.dst)})
		}
		r.skipSpace()
		if r.pos >= len(r.src) || r.src[r.pos] != ':' {
			return r.errorf("expected ':' after an object key")
		}
		r.pos++
		if !r.validateOnly {
			r.dst = append(r.dst, ':')
		}
		r.skipSpace()
		// r.keyBuf holds the decoded original key until the value is a
		// string; nested containers overwrite it, but they do not need it.
		if err := r.value(depth, r.keyBuf); err != nil {
			return err
		}
		r.skipSpace()
		if r.pos >= len(r.src) {
			return r.errorf("unexpected end of input in an object")
		}
		c := r.src[r.pos]
		if c != ',' && c != '}' {
			return r.errorf("expected ',' or '}' in an object")
		}
		r.pos++
		if !r.validateOnly {
			r.dst = append(r.dst, c)
		}
		if c == '}' {
			break
		}
		r.skipSpace()
	}
	if spans := r.spans[base:]; keyChanged && len(spans) > 1 {
		r.dedupKeys(objStart, spans)
	}
	return nil
}

// dedupKeys renames later duplicates among the keys at spans (JSON strings
// in r.dst) and rebuilds the object starting at objStart if needed.
func (r *rewriter) dedupKeys(objStart int, spans []keySpan) {
	keys := make([]string, len(spans))
	seen := make(map[string]bool, len(spans))
	dup := false
	for i, sp := range spans {
		k := string(decodeJSONString(r.dst[sp.start+1 : sp.end-1]))
		keys[i] = k
		if seen[k] {
			dup = true
		}
		seen[k] = true
	}
	if !dup {
		return
	}
	used := make(map[string]bool, len(keys))
	rename := make([]string, len(keys))
	for i, k := range keys {
		if !used[k] {
			used[k] = true
			continue
		}
		for n := 2; ; n++ {
			cand := k + " (" + strconv.Itoa(n) + ")"
			if !used[cand] && !seen[cand] {
				used[cand] = true
				rename[i] = cand
				break
			}
		}
	}
	old := append([]byte(nil), r.dst[objStart:]...)
	r.dst = r.dst[:objStart]
	prev := 0
	for i, sp := range spans {
		s, e := sp.start-objStart, sp.end-objStart
		r.dst = append(r.dst, old[prev:s]...)
		if rename[i] != "" {
			r.dst = appendQuoted(r.dst, []byte(rename[i]))
		} else {
			r.dst = append(r.dst, old[s:e]...)
		}
		prev = e
	}
	r.dst = append(r.dst, old[prev:]...)
}

// key handles an object key and reports whether fn changed it. The decoded
// original key is left in r.keyBuf.
func (r *rewriter) key(depth int) (bool, error) {
	raw, err := r.scanString()
	if err != nil {
		return false, err
	}
	if r.validateOnly {
		return false, nil
	}
	r.keyBuf = r.decode(r.keyBuf[:0], raw)
	return r.emit(raw, r.keyBuf, StringContext{Depth: depth, IsKey: true}), nil
}

func (r *rewriter) str(ctx StringContext) error {
	raw, err := r.scanString()
	if err != nil {
		return err
	}
	if r.validateOnly {
		return nil
	}
	r.strBuf = r.decode(r.strBuf[:0], raw)
	r.emit(raw, r.strBuf, ctx)
	return nil
}

// emit writes the string whose source spelling is raw (without quotes) and
// decoded value is val, through fn; it reports whether fn changed it.
func (r *rewriter) emit(raw, val []byte, ctx StringContext) bool {
	if r.fn == nil {
		r.dst = appendRawOrQuoted(r.dst, raw, val)
		return false
	}
	r.outBuf = r.fn(r.outBuf[:0], val, ctx)
	if bytes.Equal(r.outBuf, val) {
		r.dst = appendRawOrQuoted(r.dst, raw, val)
		return false
	}
	r.dst = appendQuoted(r.dst, r.outBuf)
	return true
}

func appendRawOrQuoted(dst, raw, val []byte) []byte {
	if utf8.Valid(raw) {
		dst = append(dst, '"')
		dst = append(dst, raw...)
		return append(dst, '"')
	}
	return appendQuoted(dst, val)
}

// scanString checks the string starting at r.pos (at its opening quote)
// and returns its raw body, leaving r.pos after the closing quote.
func (r *rewriter) scanString() ([]byte, error) {
	r.pos++ // opening quote
	start := r.pos
	s := r.src
	for i := r.pos; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return s[start:i], nil
		case c == '\\':
			if i+1 >= len(s) {
				r.pos = i
				return nil, r.errorf("unterminated escape in a string")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(s) || !isHex4(s[i+2:i+6]) {
					r.pos = i
					return nil, r.errorf("invalid \\u escape in a string")
				}
				i += 5
			default:
				r.pos = i
				return nil, r.errorf("invalid escape in a string")
			}
		case c < 0x20:
			r.pos = i
			return nil, r.errorf("control character in a string")
		}
	}
	r.pos = len(s)
	return nil, r.errorf("unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	default:
		return rune(c-'A') + 10
	}
}

// decode appends the value of the (already checked) raw string body to
// dst. Lone surrogate escapes become U+FFFD; raw bytes are kept as they are
// (invalid UTF-8 included), so that redaction sees what the sender sent.
func (r *rewriter) decode(dst, raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(dst, raw...)
	}
	return decodeInto(dst, raw)
}

func decodeJSONString(raw []byte) []byte { return decodeInto(nil, raw) }

// decodeInto appends the value of the raw string body to dst: each escape
// as DecodeEscape reads it, every other byte as it is.
func decodeInto(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			return append(dst, raw[i:]...)
		}
		dst = append(dst, raw[i:i+j]...)
		ru, n := DecodeEscape(raw[i+j:])
		dst = utf8.AppendRune(dst, ru)
		i += j + n
	}
	return dst
}

// DecodeEscape decodes the JSON escape at the start of b (b[0] == '\\')
// and returns its rune and the number of bytes it takes. A \u escape of a
// high surrogate followed by one of a low surrogate is one rune of 12
// bytes. A lone surrogate, a bad or cut-short escape decodes to U+FFFD (of
// 2 bytes, or 6 for a \u escape), so that tools that read JSON without
// validating it first (hush scan's notebook reader) decode strings exactly
// as this package does, and can map a decoded offset back to the source.
func DecodeEscape(b []byte) (rune, int) {
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
		if len(b) < 6 || !isHex4(b[2:6]) {
			return utf8.RuneError, 2
		}
		ru := read4(b[2:])
		if !utf16.IsSurrogate(ru) {
			return ru, 6
		}
		if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' && isHex4(b[8:12]) {
			if dec := utf16.DecodeRune(ru, read4(b[8:])); dec != utf8.RuneError {
				return dec, 12
			}
		}
		return utf8.RuneError, 6
	default:
		return utf8.RuneError, 2
	}
}

func read4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// AppendString appends s as a JSON string (with quotes) to dst: ", \ and
// control characters escaped, U+2028/U+2029 escaped, no HTML escaping,
// invalid UTF-8 replaced by U+FFFD.
func AppendString(dst []byte, s []byte) []byte { return appendQuoted(dst, s) }

const hexDigits = "0123456789abcdef"

func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
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
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		ru, size := utf8.DecodeRune(s[i:])
		if ru == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if ru == '\u2028' || ru == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[ru&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// member is one top-level member of a JSON object, as raw JSON.
type member struct {
	key   string
	value []byte
}

// errNotObject is returned by splitObject for a JSON value that is valid
// but not an object.
var errNotObject = errors.New("JSON value is not an object")

// splitObject validates src as one JSON object and returns its members in
// order, with raw (undecoded) values aliasing src.
func splitObject(src []byte) ([]member, error) {
	var out []member
	err := eachMember(src, func(key, value []byte) {
		out = append(out, member{key: string(key), value: value})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachMember validates src as one JSON object and calls fn for each of its
// members in order, with the decoded key (valid only during the call) and
// the raw value (aliasing src). fn is called before the whole object is
// validated; on error, ignore what it was given.
func eachMember(src []byte, fn func(key, value []byte)) error {
	r := rewriter{src: src, validateOnly: true}
	r.skipSpace()
	if r.pos >= len(src) || src[r.pos] != '{' {
		if err := Valid(src); err != nil {
			return err
		}
		return errNotObject
	}
	r.pos++
	r.skipSpace()
	if r.pos < len(src) && src[r.pos] == '}' {
		r.pos++
	} else {
		for {
			if r.pos >= len(src) || src[r.pos] != '"' {
				return r.errorf("expected a string key in an object")
			}
			raw, err := r.scanString()
			if err != nil {
				return err
			}
			r.keyBuf = r.decode(r.keyBuf[:0], raw)
			r.skipSpace()
			if r.pos >= len(src) || src[r.pos] != ':' {
				return r.errorf("expected ':' after an object key")
			}
			r.pos++
			r.skipSpace()
			vstart := r.pos
			if err := r.value(1, nil); err != nil {
				return err
			}
			fn(r.keyBuf, src[vstart:r.pos:r.pos])
			r.skipSpace()
			if r.pos >= len(src) {
				return r.errorf("unexpected end of input in an object")
			}
			c := src[r.pos]
			r.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				r.pos--
				return r.errorf("expected ',' or '}' in an object")
			}
			r.skipSpace()
		}
	}
	r.skipSpace()
	if r.pos != len(src) {
		return r.errorf("unexpected data after the JSON value")
	}
	return nil
}

// decodeStringValue returns the decoded value of raw if it is a JSON
// string, and false otherwise.
func decodeStringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body), true
	}
	return string(decodeInto(nil, body)), true
}
