package redact

import (
	"bytes"
	"encoding/base64"
	"unicode/utf8"
)

// This file holds the forms of what real output does to a value beyond
// serialisation: URL paths, bytes reprs, LaTeX and minimal HTML escaping,
// base64 broken into lines, and the lines of a multi-line value.

// LineMinLength is the length, in bytes, a line of a multi-line secret
// needs to be a pattern of its own (EncodingLines). Shorter lines are the
// structure of the value rather than its secret part ("{", "}",
// `"type": "x",`), common to many values and to ordinary output; 16 bytes
// of a key line carry at least 96 bits of it.
const LineMinLength = 16

// urlQuote is Python urllib.parse.quote(s): RFC 3986 percent-encoding
// (uppercase hex) that keeps '/', its default safe character.
func urlQuote(s []byte) []byte {
	dst := make([]byte, 0, len(s))
	for _, b := range s {
		if unreserved(b) || b == '/' {
			dst = append(dst, b)
			continue
		}
		dst = append(dst, '%', upperHex[b>>4], upperHex[b&0xF])
	}
	return dst
}

// urlPathGo is Go url.PathEscape: unreserved characters and the
// sub-delimiters a path segment allows ($ & + : = @) stay; / ; , ? and
// everything else are %XX with uppercase hex.
func urlPathGo(s []byte) []byte {
	dst := make([]byte, 0, len(s))
	for _, b := range s {
		switch {
		case unreserved(b), b == '$', b == '&', b == '+', b == ':', b == '=', b == '@':
			dst = append(dst, b)
		default:
			dst = append(dst, '%', upperHex[b>>4], upperHex[b&0xF])
		}
	}
	return dst
}

// pythonBytes returns the bodies of CPython's repr(bytes) for s: with ' as
// the quote (\' escaped) and, when s holds ' and no " (so that CPython may
// quote the bytes holding it with "), with ' as it is. \ \t \n \r are
// escaped by name, other bytes below 0x20 and from 0x7f up as \xNN
// (lowercase hex).
func pythonBytes(s []byte) [][]byte {
	out := [][]byte{appendPythonBytes(nil, s, '\'')}
	if bytes.IndexByte(s, '\'') >= 0 && bytes.IndexByte(s, '"') < 0 {
		out = append(out, appendPythonBytes(nil, s, '"'))
	}
	return out
}

// appendPythonBytes appends the body of repr(bytes) quoted with quote.
func appendPythonBytes(dst, s []byte, quote byte) []byte {
	for _, c := range s {
		switch {
		case c == quote || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'x', lowerHex[c>>4], lowerHex[c&0xF])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// latex is nbconvert's escape_latex (nbconvert/filters/latex.py): each of
// & % $ # _ { } ~ ^ \ replaced by its LaTeX escape, then each run of three
// dots or more by {\ldots}. Nil for invalid UTF-8 (escape_latex takes a
// Python str).
func latex(s []byte) []byte {
	if !utf8.Valid(s) {
		return nil
	}
	dst := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '&', '%', '$', '#', '_', '{', '}':
			dst = append(dst, '\\', c)
		case '~':
			dst = append(dst, `\textasciitilde{}`...)
		case '^':
			dst = append(dst, `\^{}`...)
		case '\\':
			dst = append(dst, `\textbackslash{}`...)
		case '.':
			n := 1
			for i+n < len(s) && s[i+n] == '.' {
				n++
			}
			if n >= 3 {
				dst = append(dst, `{\ldots}`...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n - 1
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// htmlText escapes & < > only: Python html.escape(s, quote=False) and
// xml.sax.saxutils.escape(s).
func htmlText(s []byte) []byte {
	return replaceBytes(s, func(b byte) string {
		switch b {
		case '&':
			return "&amp;"
		case '<':
			return "&lt;"
		case '>':
			return "&gt;"
		}
		return ""
	})
}

// base64LineWidths are the line lengths of wrapped base64: 64 for PEM, 76
// for MIME (Python base64.encodebytes, email). Both are multiples of 4, so
// a line always ends between two 4-character groups.
var base64LineWidths = [2]int{64, 76}

// base64Wrapped returns the standard base64 runs of s (see base64Runs)
// broken into lines of 64 and of 76 characters with \n and with \r\n: for
// each byte alignment, each column where the run can start, each width and
// each end of line, the run with a line end before every character that
// starts a line. Only runs that hold a line end are returned.
func base64Wrapped(s []byte) [][]byte {
	var out [][]byte
	for k := range 3 {
		first := (8*k + 5) / 6
		end := (8*k + 8*len(s)) / 6
		if end <= first {
			continue
		}
		buf := make([]byte, k+len(s))
		copy(buf[k:], s)
		encoded := make([]byte, base64.RawStdEncoding.EncodedLen(len(buf)))
		base64.RawStdEncoding.Encode(encoded, buf)
		run := encoded[first:end]
		for _, width := range base64LineWidths {
			// The run starts at character first of some 4-character group;
			// the group starts at any multiple of 4 of the line.
			for group := 0; group < width; group += 4 {
				col := group + first
				for _, eol := range []string{"\n", "\r\n"} {
					if n := wrapAt(run, col, width, eol); n != nil {
						out = append(out, n)
					}
				}
			}
		}
	}
	return out
}

// wrapAt returns run, whose first character is at column col of a line of
// width characters, with eol before each character that starts a line; nil
// when no line starts inside it.
func wrapAt(run []byte, col, width int, eol string) []byte {
	firstBreak := (width - col%width) % width
	if firstBreak == 0 {
		firstBreak = width // a break before the first character is outside the run
	}
	if firstBreak >= len(run) {
		return nil
	}
	dst := make([]byte, 0, len(run)+len(eol)*(1+len(run)/width))
	prev := 0
	for at := firstBreak; at < len(run); at += width {
		dst = append(dst, run[prev:at]...)
		dst = append(dst, eol...)
		prev = at
	}
	return append(dst, run[prev:]...)
}

// lines returns, for a secret holding a line feed, each of its lines of
// LineMinLength bytes or more, with spaces, tabs and CRs around it trimmed
// (exports re-indent lines, and a CRLF value's lines end in CR), leaving
// out PEM armour lines, which are the same in every key.
func lines(s []byte) [][]byte {
	if bytes.IndexByte(s, '\n') < 0 {
		return nil
	}
	var out [][]byte
	for line := range bytes.SplitSeq(s, []byte("\n")) {
		line = bytes.Trim(line, " \t\r")
		if len(line) >= LineMinLength && !pemArmour(line) {
			out = append(out, line)
		}
	}
	return out
}

// pemArmour reports whether line is a PEM boundary such as
// "-----BEGIN PRIVATE KEY-----".
func pemArmour(line []byte) bool {
	return (bytes.HasPrefix(line, []byte("-----BEGIN ")) || bytes.HasPrefix(line, []byte("-----END "))) &&
		bytes.HasSuffix(line, []byte("-----"))
}
