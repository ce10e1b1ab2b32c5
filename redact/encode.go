package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Encoding names one derived form of a secret: a transformation that
// notebook code commonly applies to a value before printing it (JSON
// serialisation, repr, HTML escaping, percent-encoding, base64, hex…). A
// redactor that knows a secret also watches for its derived forms, so that
// print(json.dumps(cfg)) or an Authorization: Basic header does not leak it.
//
// The names and their exact definitions are those of
// meta.encoding_definitions in the shared redaction vectors
// (vectors/redact-vectors.json).
type Encoding string

// The derived forms hush knows. Each one is produced by one small function
// below; adding a form is one more function and one more entry in forms.
const (
	// EncodingRaw is the secret bytes themselves. It is always a pattern,
	// so it is not part of AllEncodings and Derive returns nil for it; it
	// exists so that command lines and reports can name it.
	EncodingRaw Encoding = "raw"

	// EncodingJSONGo is the body of a Go encoding/json string (HTML-safe:
	// < > & as \u003c \u003e \u0026; U+2028/U+2029 and control characters
	// escaped; invalid UTF-8 bytes written as \ufffd, as Go does).
	EncodingJSONGo Encoding = "json-go"
	// EncodingJSONGoNoHTML is EncodingJSONGo with SetEscapeHTML(false).
	EncodingJSONGoNoHTML Encoding = "json-go-nohtml"
	// EncodingJSONPython is the body of Python json.dumps with
	// ensure_ascii=True: every non-ASCII character (and DEL) as \uXXXX,
	// astral characters as a surrogate pair.
	EncodingJSONPython Encoding = "json-python"
	// EncodingJSONPythonUTF8 is the body of Python json.dumps with
	// ensure_ascii=False: only ", \ and control characters escaped.
	EncodingJSONPythonUTF8 Encoding = "json-python-utf8"
	// EncodingPythonRepr is the body of repr(str) without its quotes: what
	// IPython shows for a string inside a container or as a cell's value.
	EncodingPythonRepr Encoding = "python-repr"
	// EncodingHTMLPython is Python html.escape(s, quote=True).
	EncodingHTMLPython Encoding = "html-python"
	// EncodingHTMLGo is Go html.EscapeString (&#39; and &#34; for quotes).
	EncodingHTMLGo Encoding = "html-go"
	// EncodingURLPercent is RFC 3986 percent-encoding of every byte except
	// the unreserved characters, with uppercase hex (%20 for space).
	EncodingURLPercent Encoding = "url-percent"
	// EncodingURLPercentLower is EncodingURLPercent with lowercase hex.
	EncodingURLPercentLower Encoding = "url-percent-lower"
	// EncodingURLQuery is application/x-www-form-urlencoded (space as '+'),
	// the same as Go url.QueryEscape and Python urllib.parse.quote_plus.
	EncodingURLQuery Encoding = "url-query"
	// EncodingBase64Std is the standard base64 alphabet, at all three byte
	// alignments of the secret inside a larger base64 stream.
	EncodingBase64Std Encoding = "base64-std"
	// EncodingBase64URL is EncodingBase64Std with the URL-safe alphabet.
	EncodingBase64URL Encoding = "base64-url"
	// EncodingHexLower is the lowercase hex of the secret bytes.
	EncodingHexLower Encoding = "hex-lower"
	// EncodingHexUpper is the uppercase hex of the secret bytes.
	EncodingHexUpper Encoding = "hex-upper"
	// EncodingCRLF is the secret with every LF written as CRLF, as a
	// terminal in cooked mode prints it (only for secrets that contain LF).
	EncodingCRLF Encoding = "crlf"

	// EncodingURLQuote is Python urllib.parse.quote(s) with its default
	// safe="/": EncodingURLPercent except that '/' stays as it is.
	EncodingURLQuote Encoding = "url-quote"
	// EncodingURLPathGo is Go url.PathEscape: unreserved characters and
	// $ & + : = @ stay, everything else is %XX (uppercase hex).
	EncodingURLPathGo Encoding = "url-path-go"
	// EncodingPythonBytes is the body of Python repr(bytes) without the
	// b'' : \\ \t \n \r by name, other controls and bytes from 0x7f as
	// \xNN (lowercase). Both quote styles: with ' escaped as \' (the
	// bytes are quoted with ') and, for a value holding ' and no ", with '
	// as it is (CPython quotes such bytes with ").
	EncodingPythonBytes Encoding = "python-bytes"
	// EncodingLaTeX is nbconvert's escape_latex: & % $ # _ { } as \& \%
	// \$ \# \_ \{ \}, ~ ^ \ as \textasciitilde{} \^{} \textbackslash{},
	// then every run of three dots or more as {\ldots}.
	EncodingLaTeX Encoding = "latex"
	// EncodingHTMLText is HTML/XML escaping of & < > only: Python
	// html.escape(s, quote=False), xml.sax.saxutils.escape, pandas to_html.
	EncodingHTMLText Encoding = "html-text"
	// EncodingBase64Wrapped is EncodingBase64Std broken into lines of 64
	// (PEM) or 76 (MIME, base64.encodebytes) characters, with \n or \r\n,
	// at every byte alignment and every column where the secret's run can
	// start: only the needles that hold at least one line break (the
	// unbroken ones are EncodingBase64Std's).
	EncodingBase64Wrapped Encoding = "base64-wrapped"
	// EncodingLines is, for a secret holding line breaks, each of its lines
	// of LineMinLength bytes or more (spaces, tabs and a CR around it
	// trimmed; PEM armour lines such as -----BEGIN PRIVATE KEY----- left
	// out), as a pattern of its own. The Redactor derives each such line
	// again with its other encodings.
	EncodingLines Encoding = "lines"
)

// form is one derived encoding: its name and the function that computes its
// needles from a secret.
type form struct {
	enc    Encoding
	derive func(secret []byte) [][]byte
}

// forms lists the derived encodings in the order of AllEncodings. It is
// read-only after initialisation.
var forms = []form{
	{EncodingJSONGo, one(jsonGo)},
	{EncodingJSONGoNoHTML, one(jsonGoNoHTML)},
	{EncodingJSONPython, one(jsonPython)},
	{EncodingJSONPythonUTF8, one(jsonPythonUTF8)},
	{EncodingPythonRepr, one(pythonRepr)},
	{EncodingHTMLPython, one(htmlPython)},
	{EncodingHTMLGo, one(htmlGo)},
	{EncodingURLPercent, one(urlPercent)},
	{EncodingURLPercentLower, one(urlPercentLower)},
	{EncodingURLQuery, one(urlQuery)},
	{EncodingBase64Std, base64Std},
	{EncodingBase64URL, base64URL},
	{EncodingHexLower, one(hexLower)},
	{EncodingHexUpper, one(hexUpper)},
	{EncodingCRLF, one(crlf)},
	{EncodingURLQuote, one(urlQuote)},
	{EncodingURLPathGo, one(urlPathGo)},
	{EncodingPythonBytes, pythonBytes},
	{EncodingLaTeX, one(latex)},
	{EncodingHTMLText, one(htmlText)},
	{EncodingBase64Wrapped, base64Wrapped},
	{EncodingLines, lines},
}

// one adapts a form with a single needle to the shape of form.derive.
func one(f func([]byte) []byte) func([]byte) [][]byte {
	return func(s []byte) [][]byte {
		if n := f(s); n != nil {
			return [][]byte{n}
		}
		return nil
	}
}

// AllEncodings returns every derived encoding hush knows, in a stable order
// (EncodingRaw is not among them: the raw secret is always a pattern). The
// slice is fresh on each call; the caller may modify it.
func AllEncodings() []Encoding {
	out := make([]Encoding, len(forms))
	for i, f := range forms {
		out[i] = f.enc
	}
	return out
}

// ParseEncoding returns the Encoding named s ("json-go", "base64-std", …,
// or "raw"). Unknown names are an error that lists the known ones.
func ParseEncoding(s string) (Encoding, error) {
	if Encoding(s) == EncodingRaw {
		return EncodingRaw, nil
	}
	for _, f := range forms {
		if string(f.enc) == s {
			return f.enc, nil
		}
	}
	names := make([]string, 0, len(forms)+1)
	names = append(names, string(EncodingRaw))
	for _, f := range forms {
		names = append(names, string(f.enc))
	}
	return "", fmt.Errorf("unknown encoding %q (known: %s)", s, strings.Join(names, ", "))
}

// Derive returns the needles that encoding enc turns secret into: usually
// one, three for the base64 forms (one per byte alignment), two for
// python-bytes (one per quote style), dozens for base64-wrapped (one per
// alignment, line width, end of line and column), one per long line for
// lines. The raw secret
// itself is never among them (a form that leaves the secret unchanged adds
// nothing), needles are distinct and non-empty, and the result is nil when
// there is none, when enc is EncodingRaw or unknown, or when the form does
// not apply to this secret.
//
// Secrets that are not valid UTF-8: the Go JSON forms write each invalid
// byte as \ufffd, exactly as encoding/json does; the Python forms
// (json-python, json-python-utf8, python-repr, html-python, latex) give
// nothing, because a Python str cannot hold such a value (Python code
// holding it has bytes, which python-bytes describes); the byte-oriented
// forms (html-go, html-text, url-*, python-bytes, base64-*, hex-*, crlf,
// lines) apply unchanged.
//
// Derive applies no length policy: very short secrets give very short
// needles (a 1-byte secret has 1-character base64 runs). Choosing which
// needles are long enough to redact safely is the Redactor's job.
func Derive(enc Encoding, secret []byte) [][]byte {
	for _, f := range forms {
		if f.enc != enc {
			continue
		}
		var out [][]byte
		seen := map[string]bool{}
		for _, n := range f.derive(secret) {
			if len(n) == 0 || bytes.Equal(n, secret) || seen[string(n)] {
				continue
			}
			seen[string(n)] = true
			out = append(out, n)
		}
		return out
	}
	return nil
}

// containsNeedle reports whether list holds n.
func containsNeedle(list [][]byte, n []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, n) {
			return true
		}
	}
	return false
}

const (
	lowerHex = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

// jsonGo is the body of the JSON string Go's encoding/json writes for s
// (HTML-safe by default).
func jsonGo(s []byte) []byte { return appendJSONGo(nil, s, true) }

// jsonGoNoHTML is jsonGo as written by a json.Encoder with
// SetEscapeHTML(false): < > & stay as they are.
func jsonGoNoHTML(s []byte) []byte { return appendJSONGo(nil, s, false) }

// appendJSONGo follows encoding/json's appendString: ", \ and the control
// characters escaped (\b \f \n \r \t by name, the rest as \u00xx), < > &
// as \u00xx when escapeHTML, invalid UTF-8 bytes as \ufffd, U+2028 and
// U+2029 always escaped.
func appendJSONGo(dst, s []byte, escapeHTML bool) []byte {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b == '\b':
				dst = append(dst, '\\', 'b')
			case b == '\f':
				dst = append(dst, '\\', 'f')
			case b == '\n':
				dst = append(dst, '\\', 'n')
			case b == '\r':
				dst = append(dst, '\\', 'r')
			case b == '\t':
				dst = append(dst, '\\', 't')
			case b < 0x20 || escapeHTML && (b == '<' || b == '>' || b == '&'):
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[b>>4], lowerHex[b&0xF])
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', lowerHex[r&0xF])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// jsonPython is the body of Python json.dumps(s) (ensure_ascii=True):
// printable ASCII except " and \ as is, \" \\ \b \f \n \r \t by name,
// everything else (other controls, DEL, non-ASCII) as lowercase \uxxxx,
// astral characters as a UTF-16 surrogate pair. Nil for invalid UTF-8.
func jsonPython(s []byte) []byte {
	if !utf8.Valid(s) {
		return nil
	}
	var dst []byte
	for _, r := range string(s) {
		if e, ok := pythonJSONShortEscape(r); ok {
			dst = append(dst, e...)
			continue
		}
		switch {
		case r >= 0x20 && r <= 0x7e:
			dst = append(dst, byte(r))
		case r < 0x10000:
			dst = appendU4(dst, r)
		default:
			hi, lo := utf16.EncodeRune(r)
			dst = appendU4(appendU4(dst, hi), lo)
		}
	}
	return dst
}

// jsonPythonUTF8 is the body of Python json.dumps(s, ensure_ascii=False):
// only ", \ and C0 controls escaped; everything else, DEL and non-ASCII
// included, as is. Nil for invalid UTF-8.
func jsonPythonUTF8(s []byte) []byte {
	if !utf8.Valid(s) {
		return nil
	}
	var dst []byte
	for _, r := range string(s) {
		if e, ok := pythonJSONShortEscape(r); ok {
			dst = append(dst, e...)
			continue
		}
		if r < 0x20 {
			dst = appendU4(dst, r)
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// pythonJSONShortEscape is Python json's ESCAPE_DCT for the characters
// that have a two-character escape.
func pythonJSONShortEscape(r rune) (string, bool) {
	switch r {
	case '"':
		return `\"`, true
	case '\\':
		return `\\`, true
	case '\b':
		return `\b`, true
	case '\f':
		return `\f`, true
	case '\n':
		return `\n`, true
	case '\r':
		return `\r`, true
	case '\t':
		return `\t`, true
	}
	return "", false
}

// appendU4 appends \uxxxx (lowercase hex) for a BMP code unit.
func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		lowerHex[r>>12&0xF], lowerHex[r>>8&0xF], lowerHex[r>>4&0xF], lowerHex[r&0xF])
}

// pythonRepr is the body of CPython's repr(s) without the quotes. Python
// quotes with ' unless s contains ' and no ", so ' is escaped (\') only
// when s contains both quote characters, and " never is. \ \t \n \r are
// escaped by name, other controls and DEL as \xNN, non-printable non-ASCII
// characters as \xNN, \uNNNN or \UNNNNNNNN (lowercase hex); printable
// characters stay as they are. "Printable" is Go's unicode.IsPrint, the
// same definition as Python's str.isprintable (not categories C* and Z*
// except the ASCII space), up to the Unicode versions of the two runtimes.
// Nil for invalid UTF-8.
func pythonRepr(s []byte) []byte {
	if !utf8.Valid(s) {
		return nil
	}
	escapeQuote := bytes.IndexByte(s, '\'') >= 0 && bytes.IndexByte(s, '"') >= 0
	var dst []byte
	for _, r := range string(s) {
		switch {
		case r == '\'' && escapeQuote, r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r < 0x20 || r == 0x7f:
			dst = append(dst, '\\', 'x', lowerHex[r>>4], lowerHex[r&0xF])
		case r < 0x7f || unicode.IsPrint(r):
			dst = utf8.AppendRune(dst, r)
		case r <= 0xff:
			dst = append(dst, '\\', 'x', lowerHex[r>>4], lowerHex[r&0xF])
		case r <= 0xffff:
			dst = appendU4(dst, r)
		default:
			dst = append(dst, '\\', 'U')
			for shift := 28; shift >= 0; shift -= 4 {
				dst = append(dst, lowerHex[r>>shift&0xF])
			}
		}
	}
	return dst
}

// htmlPython is Python html.escape(s, quote=True): & < > " ' as &amp;
// &lt; &gt; &quot; &#x27;. Nil for invalid UTF-8.
func htmlPython(s []byte) []byte {
	if !utf8.Valid(s) {
		return nil
	}
	return replaceBytes(s, func(b byte) string {
		switch b {
		case '&':
			return "&amp;"
		case '<':
			return "&lt;"
		case '>':
			return "&gt;"
		case '"':
			return "&quot;"
		case '\'':
			return "&#x27;"
		}
		return ""
	})
}

// htmlGo is Go html.EscapeString: & ' < > " as &amp; &#39; &lt; &gt; &#34;.
func htmlGo(s []byte) []byte {
	return replaceBytes(s, func(b byte) string {
		switch b {
		case '&':
			return "&amp;"
		case '\'':
			return "&#39;"
		case '<':
			return "&lt;"
		case '>':
			return "&gt;"
		case '"':
			return "&#34;"
		}
		return ""
	})
}

// replaceBytes copies s, writing repl(b) instead of each byte b for which
// repl returns a non-empty string.
func replaceBytes(s []byte, repl func(b byte) string) []byte {
	dst := make([]byte, 0, len(s))
	for _, b := range s {
		if r := repl(b); r != "" {
			dst = append(dst, r...)
		} else {
			dst = append(dst, b)
		}
	}
	return dst
}

// unreserved reports whether b is an RFC 3986 unreserved character
// (ALPHA / DIGIT / "-" / "." / "_" / "~"), which percent-encoding keeps.
func unreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

// percentEncode writes every byte that is not unreserved as %XX with the
// given hex digits; when plusSpace, a space is written as '+'.
func percentEncode(s []byte, digits string, plusSpace bool) []byte {
	dst := make([]byte, 0, len(s))
	for _, b := range s {
		switch {
		case unreserved(b):
			dst = append(dst, b)
		case b == ' ' && plusSpace:
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', digits[b>>4], digits[b&0xF])
		}
	}
	return dst
}

// urlPercent is RFC 3986 percent-encoding with uppercase hex (Python
// urllib.parse.quote(s, safe="")).
func urlPercent(s []byte) []byte { return percentEncode(s, upperHex, false) }

// urlPercentLower is urlPercent with lowercase hex.
func urlPercentLower(s []byte) []byte { return percentEncode(s, lowerHex, false) }

// urlQuery is form encoding, space as '+': Go url.QueryEscape, Python
// urllib.parse.quote_plus.
func urlQuery(s []byte) []byte { return percentEncode(s, upperHex, true) }

// base64Std is base64Runs with the standard alphabet.
func base64Std(s []byte) [][]byte { return base64Runs(base64.RawStdEncoding, s) }

// base64URL is base64Runs with the URL-safe alphabet.
func base64URL(s []byte) [][]byte { return base64Runs(base64.RawURLEncoding, s) }

// base64Runs returns, for each alignment k in 0, 1, 2 (the number of bytes
// before the secret in its 3-byte group of a longer base64 stream), the run
// of base64 characters whose 6 bits all come from secret bytes. The
// characters at the edges, which mix secret bits with bits of the
// neighbouring bytes, and any padding are not part of the run, so the run
// is found whatever surrounds the secret. Secret bits occupy [8k, 8k+8n) of
// the stream; character i covers bits [6i, 6i+6).
func base64Runs(enc *base64.Encoding, s []byte) [][]byte {
	var out [][]byte
	for k := range 3 {
		first := (8*k + 5) / 6      // ceil(8k/6)
		end := (8*k + 8*len(s)) / 6 // floor((8k+8n)/6)
		if end <= first {
			continue
		}
		buf := make([]byte, k+len(s))
		copy(buf[k:], s)
		encoded := make([]byte, enc.EncodedLen(len(buf)))
		enc.Encode(encoded, buf)
		out = append(out, encoded[first:end])
	}
	return out
}

// hexLower is the lowercase hex of the secret bytes.
func hexLower(s []byte) []byte { return hex.AppendEncode(nil, s) }

// hexUpper is the uppercase hex of the secret bytes.
func hexUpper(s []byte) []byte { return bytes.ToUpper(hex.AppendEncode(nil, s)) }

// crlf is the secret with each LF written as CRLF (an existing CR before it
// stays, as a cooked-mode terminal leaves it); nil when s has no LF.
func crlf(s []byte) []byte {
	if bytes.IndexByte(s, '\n') < 0 {
		return nil
	}
	return bytes.ReplaceAll(s, []byte("\n"), []byte("\r\n"))
}
