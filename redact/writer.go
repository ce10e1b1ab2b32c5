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
// A Writer is not safe for concurrent use; the Redactor behind it is. Close
// flushes but does not close the underlying writer.
type Writer struct {
	r *Redactor
	w io.Writer

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

	ivs  []span  // scratch: spans of the current scan
	sivs []span  // scratch: spans in the visible text (escape path)
	view escView // scratch: the visible text of buf (escape path)
	out  []byte  // scratch: output being assembled
	err  error   // sticky: ErrClosed or the first error of the underlying writer
}

// NewWriter returns a Writer that writes the redacted stream to w.
func (r *Redactor) NewWriter(w io.Writer) *Writer {
	return &Writer{r: r, w: w}
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
	if err := w.writeOut(b, ivs, from, cut); err != nil {
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
	return len(p), nil
}

// scan returns the merged spans of b (the held context and the new
// bytes) and the start of what is live: the longest suffix that is a
// proper prefix of a pattern (in the raw bytes or, when b holds escape
// sequences, in the visible text), or an escape sequence b ends inside. The visible text is computed only when
// the Redactor matches through escape sequences and b holds an ESC byte;
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

// writeOut writes the redacted form of b[from:to] to the underlying writer.
func (w *Writer) writeOut(b []byte, ivs []span, from, to int) error {
	if to <= from {
		return nil
	}
	var out []byte
	if touches(ivs, from, to) {
		w.out, w.inRun = emit(w.out[:0], b, ivs, from, to, w.inRun)
		out = w.out
	} else {
		out = b[from:to]
		w.inRun = false
	}
	n, err := w.w.Write(out)
	if err == nil && n < len(out) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("redact: write redacted output: %w", err)
		return w.err
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
	if err := w.writeOut(b, ivs, w.hold, len(b)); err != nil {
		return err
	}
	w.carry = clipSpans(w.carry[:0], ivs, 0, len(b))
	w.hold = len(b)
	return nil
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
	w.hold = 0
	return err
}

// Buffered returns the number of input bytes currently held back.
func (w *Writer) Buffered() int {
	return len(w.buf) - w.hold
}
