package redact

import (
	"bytes"
	"slices"
)

// This file holds matching through terminal escape sequences. Coloured
// output (grep --color=always, ls --color, IPython tracebacks) puts ANSI
// control sequences inside a value, which every terminal and browser then
// shows whole: "hush\x1b[m\x1b[K-rt-S3cret" reads as "hush-rt-S3cret".
//
// The rule, on top of union-merge-adjacent: the patterns are also matched
// against the visible text, the stream with its complete escape sequences
// removed. An occurrence there marks its bytes in the stream from its
// first byte to its last, escape sequences between them included. Then
// every stretch of unmarked bytes that all belong to escape sequences and
// lies between two marked bytes is marked too, so a run of secret bytes
// interrupted only by escape sequences is one Token. Escape sequences
// before the first byte or after the last byte of a run stay, so the
// colour around a Token is kept. The raw bytes are matched as before, so
// a value inside an escape sequence (a window title, a hyperlink's
// address), or one that a broken sequence runs into, is still redacted.
//
// The escape sequences recognised (ECMA-48), each at most maxEscapeLen
// bytes long (a longer one is ordinary bytes):
//
//   - CSI: ESC [, parameter and intermediate bytes 0x20-0x3F, a final
//     byte 0x40-0x7E (colours, cursor movement, erase);
//   - OSC, DCS, SOS, PM, APC: ESC ] (or P, X, ^, _), any bytes but BEL and
//     ESC, then BEL or ST (ESC \) (titles, hyperlinks);
//   - nF: ESC, intermediate bytes 0x20-0x2F, a final byte 0x30-0x7E
//     (ESC ( B, which tput sgr0 writes);
//   - two-byte escapes: ESC and a byte 0x30-0x7E (ESC 7, ESC M, ESC c).
//
// Anything else after an ESC (a control byte, a CSI with a byte out of
// range) makes the ESC an ordinary byte. A Writer holds back a sequence
// that its input ends in the middle of, until it completes or cannot.

// escByte is ESC, the byte that starts every escape sequence.
const escByte = 0x1b

// maxEscapeLen bounds the length of an escape sequence, so that a stray
// ESC ] cannot make a Writer hold back unbounded output: an OSC that
// carries a long hyperlink fits, a sequence longer than this is ordinary
// bytes.
const maxEscapeLen = 1024

// escapeLen returns the length of the escape sequence that b starts with
// (b[0] is ESC): 0 when b does not start one, and -1 when b ends before the
// sequence could end and final is false (more input may complete it). With
// final, a sequence cut off by the end of b is not one (0).
func escapeLen(b []byte, final bool) int {
	cutOff := -1
	if final {
		cutOff = 0
	}
	if len(b) < 2 {
		return cutOff
	}
	var n int
	switch c := b[1]; {
	case c == '[':
		n = csiLen(b)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		n = stringSeqLen(b)
	case c >= 0x20 && c <= 0x2f:
		n = nfLen(b)
	case c >= 0x30 && c <= 0x7e:
		return 2
	default:
		return 0
	}
	switch {
	case n > maxEscapeLen:
		return 0
	case n < 0 && len(b) >= maxEscapeLen:
		return 0 // whatever follows, it would be too long
	case n < 0:
		return cutOff
	}
	return n
}

// csiLen returns the length of the CSI sequence b starts with, 0 if it is
// not one, -1 if b ends first.
func csiLen(b []byte) int {
	for i := 2; i < len(b) && i < maxEscapeLen; i++ {
		switch x := b[i]; {
		case x >= 0x20 && x <= 0x3f:
		case x >= 0x40 && x <= 0x7e:
			return i + 1
		default:
			return 0
		}
	}
	return -1
}

// stringSeqLen returns the length of the OSC (or DCS, SOS, PM, APC)
// sequence b starts with, ended by BEL or ESC \; 0 if another ESC
// interrupts it, -1 if b ends first.
func stringSeqLen(b []byte) int {
	for i := 2; i < len(b) && i < maxEscapeLen; i++ {
		switch b[i] {
		case 0x07:
			return i + 1
		case escByte:
			if i+1 == len(b) {
				return -1
			}
			if b[i+1] == '\\' {
				return i + 2
			}
			return 0
		}
	}
	return -1
}

// nfLen returns the length of the nF sequence b starts with (ESC, bytes
// 0x20-0x2F, a final 0x30-0x7E), 0 if it is not one, -1 if b ends first.
func nfLen(b []byte) int {
	for i := 2; i < len(b) && i < maxEscapeLen; i++ {
		switch x := b[i]; {
		case x >= 0x20 && x <= 0x2f:
		case x >= 0x30 && x <= 0x7e:
			return i + 1
		default:
			return 0
		}
	}
	return -1
}

// escView is a buffer seen as a terminal shows it: its visible bytes (the
// buffer without its complete escape sequences) and where they came from.
type escView struct {
	text []byte // the visible bytes
	escs []span // the escape sequences, in order
	// textAt[k] is the number of visible bytes before escs[k]: the index
	// in text of the byte that follows it.
	textAt []int
	tail   int // the start of an escape sequence the buffer ends inside, or len(buffer)
}

// build computes the view of b, reusing v's memory. With final, b is the
// whole rest of the stream: a sequence cut off at its end is ordinary
// bytes; without, it is left out of the view and tail says where it
// starts.
func (v *escView) build(b []byte, final bool) {
	v.text, v.escs, v.textAt = v.text[:0], v.escs[:0], v.textAt[:0]
	v.tail = len(b)
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], escByte)
		if j < 0 {
			v.text = append(v.text, b[i:]...)
			return
		}
		v.text = append(v.text, b[i:i+j]...)
		i += j
		switch n := escapeLen(b[i:], final); {
		case n > 0:
			v.escs = append(v.escs, span{i, i + n})
			v.textAt = append(v.textAt, len(v.text))
			i += n
		case n < 0:
			v.tail = i
			return
		default:
			v.text = append(v.text, escByte)
			i++
		}
	}
}

// orig returns the offset in the buffer of the visible byte text[t].
func (v *escView) orig(t int) int {
	// k: the number of escape sequences before text[t].
	k, _ := slices.BinarySearchFunc(v.textAt, t, func(at, t int) int {
		if at <= t {
			return -1
		}
		return 1
	})
	if k == 0 {
		return t
	}
	return v.escs[k-1].end + t - v.textAt[k-1]
}

// tokenStart returns the start of the escape sequence holding offset o,
// or o when o is not inside one: the nearest place at or before o from
// which the buffer parses as it does from its start.
func (v *escView) tokenStart(o int) int {
	if o >= v.tail {
		return v.tail
	}
	if e, ok := escAt(v.escs, o); ok && e.start < o {
		return e.start
	}
	return o
}

// escAt returns the escape sequence of escs holding offset o, if any.
func escAt(escs []span, o int) (span, bool) {
	k := firstEscEndingAfter(escs, o)
	if k < len(escs) && escs[k].start <= o {
		return escs[k], true
	}
	return span{}, false
}

// firstEscEndingAfter returns the index of the first of escs that ends
// after offset o.
func firstEscEndingAfter(escs []span, o int) int {
	k, _ := slices.BinarySearchFunc(escs, o, func(e span, o int) int {
		if e.end <= o {
			return -1
		}
		return 1
	})
	return k
}

// scanView appends to ivs, in offsets of the buffer, each run of
// occurrences in the visible text of view v (occurrences merged by the
// union-merge-adjacent rule, each run spanning from its first byte to its
// last in the buffer); n is the buffer's length. The raw bytes are scanned
// by the caller. scratch is reused for the text's spans and returned for
// reuse. With live, it also returns the offset in the buffer of the longest
// suffix of the visible text that is a proper prefix of a pattern (n when
// none).
func (s *set) scanView(v *escView, n int, ivs, scratch []span, live bool) ([]span, []span, int) {
	sivs, liveText := s.scan(v.text, scratch[:0], live)
	sivs = mergeSpans(sivs)
	for _, r := range sivs {
		ivs = append(ivs, span{v.orig(r.start), v.orig(r.end-1) + 1})
	}
	liveAt := n
	if liveText < len(v.text) {
		liveAt = v.orig(liveText)
	}
	return ivs, sivs, liveAt
}

// fillEscapes merges, in the merged and sorted spans ivs, each two
// neighbours whose gap holds only bytes of the escape sequences escs: a run
// interrupted only by escape sequences is one run.
func fillEscapes(ivs, escs []span) []span {
	if len(ivs) < 2 || len(escs) == 0 {
		return ivs
	}
	out := ivs[:1]
	for _, v := range ivs[1:] {
		last := &out[len(out)-1]
		if onlyEscapes(escs, last.end, v.start) {
			last.end = v.end
			continue
		}
		out = append(out, v)
	}
	return out
}

// onlyEscapes reports whether every byte of [from, to) belongs to one of
// the escape sequences escs.
func onlyEscapes(escs []span, from, to int) bool {
	k := firstEscEndingAfter(escs, from)
	at := from
	for ; k < len(escs) && at < to; k++ {
		if escs[k].start > at {
			return false
		}
		at = escs[k].end
	}
	return at >= to
}

// undecidedFrom returns where the bytes that the rest of the stream may
// still mark begin, given live, the start of the live partial matches and
// of an unfinished escape sequence: live itself, or, when live is preceded
// by unmarked escape sequences preceded in turn by a marked byte, the start
// of those sequences (a run continuing at live would take them in).
func undecidedFrom(ivs, escs []span, live int) int {
	m := 0 // the end of the last marked run before live
	for k := len(ivs) - 1; k >= 0; k-- {
		if ivs[k].start < live {
			m = ivs[k].end
			break
		}
	}
	if m == 0 || m >= live || !onlyEscapes(escs, m, live) {
		return live
	}
	return m
}

// markedAt reports whether offset o is covered by the merged, sorted spans
// ivs (searched from the end: o is near the end of the buffer).
func markedAt(ivs []span, o int) bool {
	for k := len(ivs) - 1; k >= 0; k-- {
		if ivs[k].start <= o {
			return o < ivs[k].end
		}
	}
	return false
}

// clipSpans appends to dst the parts of the merged, sorted spans ivs that
// lie in [from, to), shifted by -from.
func clipSpans(dst, ivs []span, from, to int) []span {
	for _, v := range ivs {
		if v.end <= from {
			continue
		}
		if v.start >= to {
			break
		}
		dst = append(dst, span{max(v.start, from) - from, min(v.end, to) - from})
	}
	return dst
}
