package redact

import "slices"

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

// escView is a buffer's escape sequences and, for one window of the
// buffer at a time, its visible bytes (the window without its escape
// sequences) and where they came from.
type escView struct {
	escs []span // the escape sequences of the buffer, in order
	tail int    // the start of an escape sequence the buffer ends inside, or len(buffer)

	// The current window (see window).
	text   []byte // its visible bytes
	lo     int    // its start in the buffer
	k0     int    // the index in escs of its first escape sequence
	textAt []int  // textAt[i]: the number of visible bytes before escs[k0+i]
}

// build finds the escape sequences of b, reusing v's memory. With final, b
// is the whole rest of the stream: a sequence cut off at its end is
// ordinary bytes; without, tail says where it starts.
func (v *escView) build(b []byte, final bool) {
	v.escs = v.escs[:0]
	v.tail = len(b)
	for i := 0; i < len(b); {
		j := indexESC(b[i:])
		if j < 0 {
			return
		}
		i += j
		switch n := escapeLen(b[i:], final); {
		case n > 0:
			v.escs = append(v.escs, span{i, i + n})
			i += n
		case n < 0:
			v.tail = i
			return
		default:
			i++
		}
	}
}

// window makes b[lo:hi], which holds exactly the escape sequences
// escs[k0:k1], the current window: text is its visible bytes.
func (v *escView) window(b []byte, lo, hi, k0, k1 int) {
	v.text, v.textAt = v.text[:0], v.textAt[:0]
	v.lo, v.k0 = lo, k0
	at := lo
	for _, e := range v.escs[k0:k1] {
		v.text = append(v.text, b[at:e.start]...)
		v.textAt = append(v.textAt, len(v.text))
		at = e.end
	}
	v.text = append(v.text, b[at:hi]...)
}

// orig returns the offset in the buffer of the visible byte text[t] of the
// current window.
func (v *escView) orig(t int) int {
	// k: the number of the window's escape sequences before text[t].
	k, _ := slices.BinarySearchFunc(v.textAt, t, func(at, t int) int {
		if at <= t {
			return -1
		}
		return 1
	})
	if k == 0 {
		return v.lo + t
	}
	return v.escs[v.k0+k-1].end + t - v.textAt[k-1]
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

// scanView appends to ivs, in offsets of buffer b, each run of
// occurrences in the visible text of b (occurrences merged by the
// union-merge-adjacent rule, each run spanning from its first byte to its
// last in b), v holding b's escape sequences. The raw bytes are scanned by
// the caller, and an occurrence in the visible text that spans no escape
// sequence is one in the raw bytes too; one that spans some lies within
// maxLen-1 bytes of them. So only windows around the escape sequences are
// scanned: escape sequences less than maxLen bytes apart share a window,
// which reaches maxLen-1 bytes beyond its first and last. scratch is
// reused for the text's spans and returned for reuse. With live, it also
// returns the offset in b of the longest suffix of the visible text that
// spans an escape sequence or ends at an unfinished one and is a proper
// prefix of a pattern (len(b) when none; the others are the raw scan's).
func (s *set) scanView(v *escView, b []byte, ivs, scratch []span, live bool) ([]span, []span, int) {
	liveAt := len(b)
	reach := max(s.maxLen-1, 0)
	// The sequences, and the unfinished one as an empty one at tail.
	n := len(v.escs)
	at := func(k int) span {
		if k < n {
			return v.escs[k]
		}
		return span{v.tail, v.tail}
	}
	last := n
	if v.tail == len(b) {
		last = n - 1 // no unfinished sequence
	}
	for k := 0; k <= last; {
		k1 := k + 1
		for k1 <= last && at(k1).start-at(k1-1).end < s.maxLen {
			k1++
		}
		lo := max(0, at(k).start-reach)
		hi := min(v.tail, at(k1-1).end+reach)
		v.window(b, lo, hi, k, min(k1, n))
		scanLive := live && hi == v.tail
		sivs, liveText := s.scan(v.text, scratch[:0], scanLive)
		sivs = mergeSpans(sivs)
		for _, r := range sivs {
			ivs = append(ivs, span{v.orig(r.start), v.orig(r.end-1) + 1})
		}
		if scanLive && liveText < len(v.text) {
			liveAt = v.orig(liveText)
		}
		scratch = sivs
		k = k1
	}
	return ivs, scratch, liveAt
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
