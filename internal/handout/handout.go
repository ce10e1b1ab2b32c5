// Package handout is hush's one rule for handing a secret value to code that
// may print it: register it with the redactor first, in every form a hush
// client hands it out in. Both places that hand out values use it: the
// dbutils.secrets cache of Go kernels (runtime/dbutils) and the loopback
// secrets bridge behind the Python shim, "hush run" and "hush proxy"
// (internal/bridge).
//
// The policy, in full:
//
//   - Every form of the value (Forms) is added to the redactor before the
//     value is handed out. The forms are the raw bytes, and the bytes that
//     printing what the Python shim returns would write when they differ
//     from the raw bytes: the UTF-8 of the string dbutils.secrets.get
//     decodes (invalid UTF-8 replaced by U+FFFD), and the body of the
//     bytes literal print(dbutils.secrets.getBytes(...)) shows.
//   - A value shorter than the redactor's minimum cannot be redacted (it
//     would match ordinary output by chance). It is still handed out, as
//     Databricks does, and one warning (TooShortWarning) names the secret,
//     its length and the minimum, never the value. An empty value is
//     treated the same way: it is 0 bytes, shorter than any minimum, so it
//     is handed out with the same warning.
//   - Any other failure to register means the value must be withheld.
package handout

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/hush-secrets/hush/redact"
)

// Registrar is where values are registered; *redact.Redactor satisfies it.
// Add returns an error wrapping redact.ErrTooShort for a value too short to
// redact. A Registrar that also has a MinLength() int method (as
// *redact.Redactor does) has its minimum named in warnings.
type Registrar interface {
	Add(secret []byte) error
}

// Register adds every form of value (Forms) to r, so that the caller may
// then hand value out. A value too short to redact, empty included, is not
// registered: warn (if not nil) receives TooShortWarning for it and
// Register returns nil, since the value is still handed out. Any other
// error is returned, wrapped with scope and key (never the value), and the
// caller must withhold the value.
func Register(r Registrar, scope, key string, value []byte, warn func(string)) error {
	if r == nil {
		return fmt.Errorf("register %s/%s for redaction: no redactor", scope, key)
	}
	forms := Forms(value)
	if err := r.Add(forms[0]); err != nil {
		if !errors.Is(err, redact.ErrTooShort) {
			return fmt.Errorf("register %s/%s for redaction: %w", scope, key, err)
		}
		if warn != nil {
			warn(TooShortWarning("secret "+scope+"/"+key, len(value), minLength(r)))
		}
		return nil
	}
	// The other forms are never shorter than the raw value; a Registrar
	// that refuses one as too short has nothing more to say about it.
	for _, f := range forms[1:] {
		if err := r.Add(f); err != nil && !errors.Is(err, redact.ErrTooShort) {
			return fmt.Errorf("register %s/%s for redaction: %w", scope, key, err)
		}
	}
	return nil
}

// TooShortWarning is the one wording of "this value will not be redacted
// because it is too short", for a value of n bytes against a minimum of
// minimum bytes (0 or less: unknown). subject names the value without
// showing it: "secret prod/db", "--secret #2". An empty value (n == 0) gets
// the same sentence. The text has no prefix; callers add theirs
// ("hush: warning: ").
func TooShortWarning(subject string, n, minimum int) string {
	limit := "the redactor's minimum"
	if minimum > 0 {
		limit = "the minimum of " + byteCount(minimum)
	}
	return fmt.Sprintf("%s is %s, shorter than %s: it cannot be redacted and will show in output", subject, byteCount(n), limit)
}

// byteCount is "1 byte" or "n bytes".
func byteCount(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// minLength is r's minimum when it says, else 0.
func minLength(r Registrar) int {
	if m, ok := r.(interface{ MinLength() int }); ok {
		return m.MinLength()
	}
	return 0
}

// Forms returns the distinct byte forms in which a hush client hands value
// out, raw value first:
//
//   - the raw bytes (dbutils.GetBytes and Get in Go, getBytes in Python);
//   - PythonStr(value), what print(dbutils.secrets.get(...)) writes, when
//     value is not valid UTF-8;
//   - PythonBytesRepr(value), what print(dbutils.secrets.getBytes(...))
//     shows between the quotes of b'...', when it differs from the raw
//     bytes (a byte outside printable ASCII, a quote or a backslash).
//
// Derived encodings (JSON, HTML, ...) of each form are the redactor's
// business: it derives them from every form added.
func Forms(value []byte) [][]byte {
	forms := [][]byte{value}
	if !utf8.Valid(value) {
		forms = append(forms, PythonStr(value))
	}
	if r := PythonBytesRepr(value); string(r) != string(value) {
		forms = append(forms, r)
	}
	return forms
}

// PythonStr returns the UTF-8 encoding of Python's
// value.decode("utf-8", errors="replace"), the string the shim's
// dbutils.secrets.get returns: each maximal invalid subpart of value (an
// invalid byte, or the start of a sequence cut short) becomes one U+FFFD,
// as Python (and the Unicode standard's recommended practice) decodes it.
// Go's own conversions differ: they replace each invalid byte separately.
func PythonStr(value []byte) []byte {
	out := make([]byte, 0, len(value)+8)
	for i := 0; i < len(value); {
		r, size := utf8.DecodeRune(value[i:])
		if r != utf8.RuneError || size > 1 {
			out = append(out, value[i:i+size]...)
			i += size
			continue
		}
		out = utf8.AppendRune(out, utf8.RuneError)
		i += maximalSubpart(value[i:])
	}
	return out
}

// maximalSubpart returns the length (1 to 3) of the invalid sequence at the
// start of b: its first byte and as many following bytes as could still
// begin a well-formed UTF-8 sequence with it.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	need := 0                        // continuation bytes the lead byte wants
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}

// PythonBytesRepr returns what Python's repr(value) of a bytes object shows
// between its quotes: printable ASCII as is, \t \n \r, \\ and an escaped
// quote, and \xhh for every other byte. The quote is ' unless value holds '
// and no ", as in Python.
func PythonBytesRepr(value []byte) []byte {
	const hex = "0123456789abcdef"
	quote := byte('\'')
	if bytes.IndexByte(value, '\'') >= 0 && bytes.IndexByte(value, '"') < 0 {
		quote = '"'
	}
	out := make([]byte, 0, len(value)+8)
	for _, c := range value {
		switch {
		case c == quote || c == '\\':
			out = append(out, '\\', c)
		case c == '\t':
			out = append(out, '\\', 't')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c < ' ' || c >= 0x7f:
			out = append(out, '\\', 'x', hex[c>>4], hex[c&0xF])
		default:
			out = append(out, c)
		}
	}
	return out
}
