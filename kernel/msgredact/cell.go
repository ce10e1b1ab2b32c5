package msgredact

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
)

// cell is the output state of one parent msg_id: the stream writers that
// carry a possible secret from one stream message to the next, and the
// queue of messages that wait behind held stream text, in arrival order.
type cell struct {
	parent string
	// merged sees the text of every stream of the cell in arrival order
	// (what a terminal shows); its output, per message, feeds the writer of
	// the message's stream name (what a notebook output area shows), so a
	// secret is caught whether its parts are split between stdout and
	// stderr or between two stdout messages with stderr in between.
	merged *tracked
	names  map[string]*tracked
	// queue holds the messages not yet forwarded, in arrival order. Its
	// front, when it waits at all, is a stream message with held text.
	queue []*item
	// used orders cells by last use, for eviction.
	used uint64
}

// spanBuffer collects what the merged writer releases for one message: the
// raw bytes, flagged secret or not (redact.SpanWriter), so that the
// stream's writer sees its own stream's raw text.
type spanBuffer struct {
	data []byte
	// ends[i] is where piece i ends in data; secret[i] its flag.
	ends   []int
	secret []bool
}

// WriteSpan implements redact.SpanWriter.
func (s *spanBuffer) WriteSpan(p []byte, secret bool) error {
	if n := len(s.ends); n > 0 && s.secret[n-1] == secret {
		s.data = append(s.data, p...)
		s.ends[n-1] = len(s.data)
		return nil
	}
	s.data = append(s.data, p...)
	s.ends = append(s.ends, len(s.data))
	s.secret = append(s.secret, secret)
	return nil
}

// Write is never called: a Writer writes to a SpanWriter with WriteSpan.
func (s *spanBuffer) Write(p []byte) (int, error) {
	return 0, errNotSpans
}

var errNotSpans = errors.New("msgredact: merged writer wrote text, not spans")

func (s *spanBuffer) empty() bool { return len(s.data) == 0 }

func (s *spanBuffer) reset() {
	s.data, s.ends, s.secret = s.data[:0], s.ends[:0], s.secret[:0]
}

// tracked is a stream writer and the count of bytes written to it.
type tracked struct {
	w  *redact.Writer
	in int64
}

// released is the input offset up to which the writer's output is out.
func (t *tracked) released() int64 { return t.in - int64(t.w.Buffered()) }

// write writes p with its output going to dst.
func (t *tracked) write(dst io.Writer, p []byte) error {
	t.w.Redirect(dst)
	t.in += int64(len(p))
	_, err := t.w.Write(p)
	return err
}

// writeRedacted writes p, known to be secret, with its output going to dst.
func (t *tracked) writeRedacted(dst io.Writer, p []byte) error {
	t.w.Redirect(dst)
	t.in += int64(len(p))
	_, err := t.w.WriteRedacted(p)
	return err
}

// release releases the writer's held bytes: in clear when the live partial
// match is at most MaxClear bytes long (no occurrence can have more out), as
// a Token when force is set, else not at all.
func (t *tracked) release(force bool) error {
	switch {
	case t.w.Buffered() == 0:
		return nil
	case t.w.Live() <= MaxClear:
		return t.w.Flush()
	case force:
		return t.w.FlushRedacted()
	}
	return nil
}

// item is one queued message.
type item struct {
	// msg is the redacted message; for a stream message, the template whose
	// text is replaced by the released text.
	msg     *jupyter.Message
	arrived time.Time
	stream  bool
	name    string
	// mid receives the merged writer's output for this message's text
	// (raw, flagged), the input of its stream's writer; final receives
	// that writer's output, the text to forward.
	mid   spanBuffer
	final bytes.Buffer
	// mergedEnd and nameEnd are the input offsets, in the merged and the
	// stream writer, just after this message's text.
	mergedEnd, nameEnd int64
	// sent says whether msg's header has been forwarded (released text
	// sent later then goes out under a msg_id of its own).
	sent bool
}

func newCell(r *redact.Redactor, parent string) *cell {
	c := &cell{parent: parent, names: make(map[string]*tracked)}
	c.merged = &tracked{w: r.NewWriter(nil)}
	return c
}

// name returns the writer of stream name, creating it.
func (c *cell) name(r *redact.Redactor, name string) *tracked {
	t := c.names[name]
	if t == nil {
		t = &tracked{w: r.NewWriter(nil)}
		c.names[name] = t
	}
	return t
}

// held returns the number of input bytes the cell's writers hold back.
func (c *cell) held() int {
	n := c.merged.w.Buffered()
	for _, t := range c.names {
		n += t.w.Buffered()
	}
	return n
}

// settled reports whether none of it's text is held back any more.
func (c *cell) settled(it *item) bool {
	if !it.stream {
		return true
	}
	if c.merged.released() < it.mergedEnd {
		return false
	}
	t := c.names[it.name]
	return t == nil || t.released() >= it.nameEnd
}

// pump feeds what the merged writer released for each queued stream
// message to the writer of its stream name: raw, what the merged writer
// found secret marked so (redact.Writer.WriteRedacted), so each stream's
// writer keeps its own stream's context.
func (c *cell) pump(r *redact.Redactor) error {
	for _, it := range c.queue {
		if !it.stream || it.mid.empty() {
			continue
		}
		t := c.name(r, it.name)
		start := 0
		for i, end := range it.mid.ends {
			var err error
			if it.mid.secret[i] {
				err = t.writeRedacted(&it.final, it.mid.data[start:end])
			} else {
				err = t.write(&it.final, it.mid.data[start:end])
			}
			if err != nil {
				return err
			}
			start = end
		}
		it.mid.reset()
		it.nameEnd = t.in
	}
	return nil
}

// waiter returns the first queued message that waits behind the held text
// of the front: any message after it other than stream messages of the
// same name that directly follow it (those continue its text). It returns
// nil when the front is not held or nothing waits.
func (c *cell) waiter() *item {
	if len(c.queue) < 2 || !c.queue[0].stream || c.settled(c.queue[0]) {
		return nil
	}
	front := c.queue[0]
	for _, it := range c.queue[1:] {
		if !it.stream || it.name != front.name {
			return it
		}
	}
	return nil
}

// deadline returns when the first waiting message must be released.
func (c *cell) deadline() (time.Time, bool) {
	w := c.waiter()
	if w == nil {
		return time.Time{}, false
	}
	return w.arrived.Add(MaxWait), true
}

// releaseFront releases the held text of the front message because
// something waits behind it: in clear while the live partial match is at
// most MaxClear bytes, as a Token when force is set (the wait ran out),
// otherwise it keeps waiting. The merged writer goes first: what it
// releases may still be held by the stream's writer.
func (c *cell) releaseFront(r *redact.Redactor, force bool) error {
	front := c.queue[0]
	if c.merged.released() < front.mergedEnd {
		if err := c.merged.release(force); err != nil {
			return err
		}
		if err := c.pump(r); err != nil {
			return err
		}
		if c.merged.released() < front.mergedEnd {
			return nil
		}
	}
	if t := c.names[front.name]; t != nil && t.released() < front.nameEnd {
		return t.release(force)
	}
	return nil
}

// releaseAll releases every held byte of the cell (the stream is over: the
// kernel restarted, the connection closes, or the cell is evicted): short
// partial matches in clear, longer ones as a Token.
func (c *cell) releaseAll(r *redact.Redactor) error {
	if err := c.merged.release(true); err != nil {
		return err
	}
	if err := c.pump(r); err != nil {
		return err
	}
	for _, t := range c.names {
		if err := t.release(true); err != nil {
			return err
		}
	}
	return nil
}

// pop removes the front of the queue. A queue emptied from one message
// keeps its array, so the common case (one message at a time) does not
// allocate.
func (c *cell) pop() {
	c.queue[0] = nil
	if len(c.queue) == 1 {
		c.queue = c.queue[:0]
		return
	}
	c.queue = c.queue[1:]
}

// reset makes it ready for reuse, keeping its buffers' memory.
func (it *item) reset() {
	it.mid.reset()
	it.final.Reset()
	it.msg, it.arrived, it.stream, it.name, it.sent = nil, time.Time{}, false, "", false
	it.mergedEnd, it.nameEnd = 0, 0
}

// close closes the cell's writers.
func (c *cell) close() {
	_ = c.merged.w.Close()
	for _, t := range c.names {
		_ = t.w.Close()
	}
}
