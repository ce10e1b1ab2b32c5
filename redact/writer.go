package redact

import (
	"errors"
	"fmt"
	"io"
)

// ErrClosed is returned by Write and Flush on a closed Writer.
var ErrClosed = errors.New("redact: Writer is closed")

// Writer redacts a stream: it writes to an underlying io.Writer the redacted
// form of everything written to it. For every way of splitting the input
// into writes (without Flush in between), the concatenated output equals
// Redactor.Redact of the whole input. It holds back only a live partial
// match: the bytes from the start of the longest suffix of the input that is
// a proper prefix of a pattern; everything before it leaves in the same
// Write, in one call to the underlying writer. In text mode (the default,
// see Options.Binary) it also holds an escape sequence the input ends
// inside, and escape sequences that directly follow a redacted run, until
// the next visible byte shows whether the run goes on.
//
// Each Write uses the Redactor's set as it is when the Write starts, applied
// to the held-back bytes too: a secret added between two writes is redacted
// wherever it starts in the bytes not yet released.
//
// Each Write rescans the held-back bytes with the new ones, so a Write costs
// time in proportion to the bytes held plus the bytes written: feeding a
// very long secret (kilobytes) a few bytes per Write is quadratic in its
// length. Ordinary output and secrets of API-key size are unaffected.
//
// A driver that must release held bytes before the stream goes on (another
// message is waiting behind them) has two ways: Flush writes them as they
// are, FlushRedacted writes them as a Token. Live says how long the partial
// match is, so the driver can choose (a short prefix is harmless, a long one
// is not), and Redirect sends the output of later input elsewhere, so
// output can be attributed to the writes it came from.
//
// A Writer is not safe for concurrent use; the Redactor behind it is. Close
// flushes but does not close the underlying writer.
type Writer struct {
	r *Redactor
	// routes say where output goes: routes[i].dst receives the output of
	// the input from routes[i].from on, up to routes[i+1].from. The last
	// route is the current destination; earlier ones are kept while input
	// they cover is held back.
	routes []route
	// n counts the input bytes written so far: buf ends at input offset n.
	n int64

	// buf holds the matching context: the stream from the start of the
	// longest suffix that is a proper prefix of a pattern (empty when there
	// is none; then Write scans its argument in place). buf[:hold] has
	// already been written out; buf[hold:] is held back.
	buf  []byte
	hold int
	// inRun reports whether the last byte written out was marked, so a run
	// continuing into the next bytes merges with its Token.
	inRun bool

	// carry holds the marked runs of buf[:hold] (already written out), so
	// that a run continuing after escape sequences is known to touch them.
	carry []span
	// extra is how many bytes at the start of buf are kept only as context
	// for escape sequences after a run (the run's last byte and escapes):
	// they are not part of the live partial match (see Live).
	extra int

	ivs  []span  // scratch: spans of the current scan
	sivs []span  // scratch: spans in the visible text (escape path)
	view escView // scratch: the visible text of buf (escape path)
	out  []byte  // scratch: output being assembled
	err  error   // sticky: ErrClosed or the first error of the underlying writer
}

// SpanWriter is a destination that takes a Writer's output as the input
// bytes themselves, each piece flagged secret or not, instead of as redacted
// text. A Writer whose destination (NewWriter, Redirect) implements
// SpanWriter calls WriteSpan instead of Write, with the bytes it releases,
// in order, cut where the marking changes: a secret piece is what Write
// would have replaced by a Token (or merged into the Token before it).
// Unlike a plain destination, it gets every byte routed to it, including
// those continuing a run whose Token went to an earlier destination.
// A driver that feeds the output of one Writer to another (one over the
// interleaved text of several streams, one per stream) uses it so the
// second still sees the raw bytes, with the first's secrets given to it
// by WriteRedacted.
type SpanWriter interface {
	// WriteSpan takes the next released input bytes. p is only valid
	// during the call.
	WriteSpan(p []byte, secret bool) error
}

// route is a destination for the output of the input from offset from on.
type route struct {
	from int64
	dst  io.Writer
}

// NewWriter returns a Writer that writes the redacted stream to w.
func (r *Redactor) NewWriter(w io.Writer) *Writer {
	return &Writer{r: r, routes: []route{{0, w}}}
}

// Redirect makes dst the destination of the output of every byte written
// from now on. The output of bytes already written and still held back
// still goes to the destination that was current when they were written:
// the redacted form of each input byte goes where its Write sent it, and a
// Token goes where the first byte of its run was sent, even when the run
// continues into later writes (the rest of the run then adds nothing to
// the later destination). A driver that writes one message's text after
// another, redirecting before each, thus learns which output belongs to
// which message however the held bytes are resolved.
func (w *Writer) Redirect(dst io.Writer) {
	last := &w.routes[len(w.routes)-1]
	switch {
	case last.dst == dst:
	case last.from == w.n || w.Buffered() == 0 && len(w.routes) == 1:
		// Nothing written or held for the current destination.
		last.from, last.dst = w.n, dst
	default:
		w.routes = append(w.routes, route{w.n, dst})
	}
}

// Write redacts p and writes out everything that can no longer be part of
// an occurrence. It returns len(p) on success: all of p is consumed, though
// a tail may be held back (see Buffered). After an error of the underlying
// writer, the Writer fails every later call with that error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// With no context held, scan p in place (the common case: no copy).
	b := p
	base := w.n - int64(len(w.buf)) // input offset of b[0]
	w.n += int64(len(p))
	if len(w.buf) > 0 {
		w.buf = append(w.buf, p...)
		b = w.buf
	}

	ivs, live, v := w.scan(b, false)
	if v != nil {
		live = undecidedFrom(ivs, v.escs, live)
	}
	from := w.hold
	cut := firstUnmarked(ivs, max(live, from))
	if err := w.writeOut(b, base, ivs, from, cut); err != nil {
		return 0, err
	}
	// Keep the context from the live prefix on, and the marked byte just
	// before it, if any: escape sequences that follow it may yet turn out
	// to be inside a run. keep is where the buffer parses as from its
	// start.
	keep := live
	if keep > 0 && markedAt(ivs, keep-1) {
		keep--
		if v != nil {
			keep = v.tokenStart(keep)
		}
	}
	w.carry = clipSpans(w.carry[:0], ivs, keep, cut)
	// b may be w.buf itself: append moves the bytes with memmove, which
	// allows the overlap.
	w.buf = append(w.buf[:0], b[keep:]...)
	w.hold = cut - keep
	w.extra = live - keep
	return len(p), nil
}

// scan returns the merged spans of b (the held context and the new
// bytes) and the start of what is live: the longest suffix that is a
// proper prefix of a pattern (in the raw bytes or, when b holds escape
// sequences, in the visible text), or an escape sequence b ends inside.
// The visible text is computed only when the Redactor matches through
// escape sequences and b holds an ESC byte;
// it is returned then (nil otherwise). With final, b is the end of the
// input so far (Flush).
func (w *Writer) scan(b []byte, final bool) ([]span, int, *escView) {
	var v *escView
	w.r.mu.RLock()
	ivs, live := w.r.set.scan(b, w.ivs[:0], !final)
	// The test for ESC comes after the scan, which has brought b into the
	// core's cache: before it, it would pay the cache misses the scan
	// hides behind its work.
	if w.r.escapes && containsESC(b) {
		v = &w.view
		v.build(b, final)
		var liveText int
		ivs, w.sivs, liveText = w.r.set.scanView(v, b, ivs, w.sivs, !final)
		live = min(v.tokenStart(live), liveText, v.tail)
	}
	w.r.mu.RUnlock()
	ivs = mergeSpans(append(ivs, w.carry...))
	if v != nil {
		ivs = fillEscapes(ivs, v.escs)
	}
	w.ivs = ivs
	return ivs, live, v
}

// writeOut writes the redacted form of b[from:to] (b[0] is at input offset
// base) to the destinations of its routes, one call per route (none for a
// route whose part adds no output), and drops the routes that no held byte
// needs any more.
func (w *Writer) writeOut(b []byte, base int64, ivs []span, from, to int) error {
	if to <= from {
		return nil
	}
	for i := 0; from < to; i++ {
		end := to
		if i+1 < len(w.routes) {
			next := w.routes[i+1].from - base
			if next <= int64(from) {
				continue // the route ends before from
			}
			end = min(to, int(next))
		}
		if err := w.writeRoute(w.routes[i].dst, b, ivs, from, end); err != nil {
			return err
		}
		from = end
	}
	// Drop the routes before the one that b[to] (the first byte not yet
	// written out) belongs to.
	k := 0
	for k+1 < len(w.routes) && w.routes[k+1].from <= base+int64(to) {
		k++
	}
	if k > 0 {
		w.routes = append(w.routes[:0], w.routes[k:]...)
	}
	return nil
}

// writeRoute writes the redacted form of b[from:to] to dst.
func (w *Writer) writeRoute(dst io.Writer, b []byte, ivs []span, from, to int) error {
	if sw, ok := dst.(SpanWriter); ok {
		return w.writeSpans(sw, b, ivs, from, to)
	}
	var out []byte
	if touches(ivs, from, to) {
		w.out, w.inRun = emit(w.out[:0], b, ivs, from, to, w.inRun)
		out = w.out
	} else {
		out = b[from:to]
		w.inRun = false
	}
	if len(out) == 0 {
		return nil // the part continues a run whose Token is out
	}
	n, err := dst.Write(out)
	if err == nil && n < len(out) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("redact: write redacted output: %w", err)
		return w.err
	}
	return nil
}

// writeSpans hands b[from:to] to sw in pieces, secret or not by ivs.
func (w *Writer) writeSpans(sw SpanWriter, b []byte, ivs []span, from, to int) error {
	put := func(i, j int, secret bool) error {
		w.inRun = secret
		if err := sw.WriteSpan(b[i:j], secret); err != nil {
			w.err = fmt.Errorf("redact: write redacted output: %w", err)
			return w.err
		}
		return nil
	}
	pos := from
	for _, v := range ivs {
		if v.end <= from {
			continue
		}
		if v.start >= to {
			break
		}
		st := max(v.start, from)
		if st > pos {
			if err := put(pos, st, false); err != nil {
				return err
			}
		}
		pos = min(v.end, to)
		if err := put(st, pos, true); err != nil {
			return err
		}
	}
	if pos < to {
		return put(pos, to, false)
	}
	return nil
}

// Flush writes out the held-back bytes, redacting what is certain: the
// output so far is then exactly what Redact would produce if the input ended
// here. A secret whose start is released this way can no longer be recalled,
// but matching continues across the flush point, so the rest of it is still
// redacted when it arrives (as a Token of its own), and a run of secret
// bytes that reached the flush point merges with one continuing after it.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.hold == len(w.buf) {
		return nil
	}
	b := w.buf
	ivs, _, _ := w.scan(b, true)
	if err := w.writeOut(b, w.n-int64(len(b)), ivs, w.hold, len(b)); err != nil {
		return err
	}
	w.carry = clipSpans(w.carry[:0], ivs, 0, len(b))
	w.hold = len(b)
	return nil
}

// FlushRedacted writes out the held-back bytes as one Token, as if they
// were the start of a secret (or merged with the run before them when that
// run reached them), without waiting to see whether they are: a driver
// that cannot wait any longer for the rest of a possible secret uses it to
// release the stream without leaking the start of one. It redacts too much
// when the held bytes turn out not to begin a secret, never too little.
// Matching continues across the flush point: when the rest of a secret
// arrives, it continues the Token and adds nothing to the output.
func (w *Writer) FlushRedacted() error {
	if w.err != nil {
		return w.err
	}
	if w.hold == len(w.buf) {
		return nil
	}
	b := w.buf
	ivs := mergeSpans(append(append(w.ivs[:0], w.carry...), span{w.hold, len(b)}))
	w.ivs = ivs
	if err := w.writeOut(b, w.n-int64(len(b)), ivs, w.hold, len(b)); err != nil {
		return err
	}
	w.carry = clipSpans(w.carry[:0], ivs, 0, len(b))
	w.hold = len(b)
	return nil
}

// WriteRedacted writes p as bytes known to be secret: they leave at once,
// as one Token (nothing when they continue a run whose Token is out), and
// so do the bytes held back before them: in clear when they cannot be part
// of an occurrence running into p, else within the Token. p stays in the
// matching context, so an occurrence that began in it is still completed by
// later writes (and continues the Token). A driver that learned from
// elsewhere that some input is secret (another Writer over an interleaving
// of streams this one sees part of) uses it to redact that input without
// losing this stream's context.
func (w *Writer) WriteRedacted(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	b := p
	base := w.n - int64(len(w.buf))
	start := len(w.buf) // where p begins in b
	w.n += int64(len(p))
	if len(w.buf) > 0 {
		w.buf = append(w.buf, p...)
		b = w.buf
	}
	ivs, live, v := w.scan(b, false)
	if v != nil {
		live = undecidedFrom(ivs, v.escs, live)
	}
	// A partial match that runs into p may be the start of the same
	// secret: mark it with p.
	ivs = mergeSpans(append(ivs, span{max(min(live, start), w.hold), len(b)}))
	w.ivs = ivs
	if err := w.writeOut(b, base, ivs, w.hold, len(b)); err != nil {
		return 0, err
	}
	w.carry = clipSpans(w.carry[:0], ivs, live, len(b))
	w.buf = append(w.buf[:0], b[live:]...)
	w.hold = len(w.buf)
	w.extra = 0
	return len(p), nil
}

// Live returns the length of the live partial match: the longest suffix of
// the input so far that is a proper prefix of a pattern, counting the bytes
// of it already written out by Flush or FlushRedacted as well as the held
// ones (Buffered). However the input was split, no occurrence of a pattern
// that the input could still complete has more than Live bytes written so
// far; so a driver that releases held bytes in clear only while Live is at
// most n lets at most n bytes of any one occurrence out before it is
// complete.
func (w *Writer) Live() int {
	return len(w.buf) - w.extra
}

// Close flushes the Writer; later calls to Write and Flush fail with
// ErrClosed. It does not close the underlying writer. Closing twice is a
// no-op.
func (w *Writer) Close() error {
	if errors.Is(w.err, ErrClosed) {
		return nil
	}
	err := w.Flush()
	if err == nil {
		w.err = ErrClosed
	}
	w.buf, w.ivs, w.out, w.carry, w.sivs = nil, nil, nil, nil, nil
	w.view = escView{}
	w.hold, w.extra = 0, 0
	w.routes = w.routes[len(w.routes)-1:]
	return err
}

// Buffered returns the number of input bytes currently held back.
func (w *Writer) Buffered() int {
	return len(w.buf) - w.hold
}
