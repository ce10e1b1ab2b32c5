// Package msgredact redacts Jupyter kernel messages on their way to a
// frontend (from jupyter_server to a browser in hush proxy, from the kernel
// to any frontend in the hush kernel wrapper): every string of every
// message — known message type or not — and every binary buffer goes
// through a redact.Redactor, and a secret split over several stream
// messages is caught by holding back the live partial match of the stream,
// while the messages of the cell wait behind it, for a bounded time.
//
// One Filter serves one ordered message stream (one kernel websocket, one
// kernel's outgoing messages); FrameFilter wraps it with a wire codec for a
// proxy that deals in websocket frames.
//
// # What is redacted
//
// Every string value of content and metadata, and every object key except
// the top-level keys of content (the protocol's field names: "text", "data",
// "execution_state"…; redacting them could only break the message), at any
// depth (stream text, every mimetype of display data including nested
// application/json, error ename/evalue/traceback, execute_input code,
// input_request prompt, payloads, user_expressions, inspect/complete/history
// replies, comm data, debug replies, and anything a future protocol adds),
// the string values of the header and parent header other than the
// protocol fields msg_id, msg_type, session, date and version (which the
// kernel and jupyter_client generate and the frontend routes by; redacting
// them could only break the protocol; header keys are kept too), legacy
// extra members other than the msg_id/msg_type copies (their keys, like all
// top-level keys, are kept), and every buffer as bytes. Strings stay
// strings and no member is dropped.
//
// Keys are redacted too: display(JSON({secret: 1})) would otherwise leak.
// When redaction makes two keys of one object equal, later ones are renamed
// "[REDACTED] (2)", "[REDACTED] (3)"… (jupyter.RewriteStrings), so a
// frontend that keeps one of equal keys loses no value.
//
// # Streams across messages
//
// ipykernel flushes stdout/stderr every 200 ms and on every flush, so
// print(s[:5], end="", flush=True); time.sleep(1); print(s[5:]) puts a secret
// into two stream messages, and a display(), clear_output(), widget update
// or stderr output may come in between. The Filter matches, per cell
// (parent msg_id), two views of the stream text with redact.Writers:
//
//   - all streams of the cell in arrival order, as a terminal shows them
//     (jupyter console): a secret whose halves go to stdout and stderr is
//     caught;
//   - each stream name on its own, as a notebook output area and a saved
//     .ipynb show it: a secret split over two stdout messages is caught
//     even with stderr output in between.
//
// A stream message's text goes through the first writer, then what that
// releases, raw with its secrets marked (redact.SpanWriter), through the
// writer of its stream name (redact.Writer.WriteRedacted), so each writer
// keeps its own context. A secret found in either view is redacted; one
// split between two stream names shows a [REDACTED] in each. Output is
// attributed to the message whose text it came from (redact.Writer.Redirect;
// a token to the message where its secret began). A stream message leaves
// with the text that is out of both writers; the rest, a possible start of
// a secret, is held back (a message whose text is entirely held back is not
// forwarded yet: its header is kept to carry the text later).
//
// While stream text of a cell is held, the cell's later messages (any
// message with that parent msg_id on any channel: display_data,
// clear_output, comm_msg, execute_result, error, status, execute_reply,
// input_request, and stream messages of another name) wait behind it, so
// the order within a cell is kept. The rules, for a secret's occurrence in
// any form the Redactor knows:
//
//   - Held text goes out when the stream resolves it: the next stream
//     message of the cell completes the secret (then the held text leaves
//     as [REDACTED], in the message it came with, before the waiting
//     messages) or shows it was none (then it leaves in clear).
//   - When something waits and the live partial match (redact.Writer.Live)
//     is at most MaxClear (3) bytes long, the held text leaves in clear at
//     once: no occurrence has more than 3 bytes out, and the rest of a
//     secret that arrives later is still redacted (matching continues).
//   - A message waits at most MaxWait (250 ms) behind held text. When its
//     wait runs out, the held text leaves as [REDACTED]
//     (redact.Writer.FlushRedacted): a prefix that turns out not to be a
//     secret is over-redacted, never leaked, and the rest of a secret that
//     arrives later continues the token.
//   - A status message with execution_state restarting, dead or starting
//     (the kernel's output streams are gone), Flush and Close release every
//     held text of every cell the same way: in clear when at most 3 bytes
//     of a partial match are live, else as [REDACTED].
//
// So no more than MaxClear bytes of a secret's occurrence reach the frontend
// in clear because other messages came in between. The Filter is
// synchronous and keeps no timer: Process takes the arrival time from
// Filter.Now, Deadline says when the first waiting message must leave, and
// the driver calls Expire then (or later; Process also releases what is
// overdue first). A driver that never calls Expire still forwards every
// message, only later (when the stream resolves, at the first Process
// after the wait ran out, at Flush or Close).
//
// Writers outlive the release of their text (so the rest of a secret whose
// start was released early is still redacted, even after the cell went
// idle); cells are dropped after a kernel restart, at Close, and least
// recently used first when more than MaxStreams are in use.
//
// # Fail closed
//
// A message that cannot be parsed or redacted is never forwarded: it is
// replaced by a notice (see Notice) and Process reports the error.
package msgredact

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
)

// NoticeText is the text shown in place of a message that could not be
// checked for secrets.
const NoticeText = "[hush] a kernel message could not be checked for secrets and was dropped\n"

// DefaultMaxStreams bounds the number of cells (parent msg_ids) whose
// stream state a Filter keeps; beyond it the least recently used is
// released early.
const DefaultMaxStreams = 1024

// MaxWait is how long a message may wait behind held stream text of its
// cell before the held text is released as [REDACTED].
const MaxWait = 250 * time.Millisecond

// MaxClear is the most bytes of a secret's occurrence that may leave in
// clear because other messages came in between: held text whose live
// partial match is no longer than this is released in clear at once
// instead of making messages wait.
const MaxClear = 3

// Filter redacts the kernel→client messages of one kernel connection. It is
// not safe for concurrent use: feed it from the goroutine that forwards the
// connection's messages, in order, and call Deadline and Expire from that
// goroutine too. The Redactor behind it may gain secrets concurrently; each
// message uses the set as it is when it is processed.
type Filter struct {
	r *redact.Redactor
	// MaxStreams bounds the number of cells whose stream state is kept at
	// once; zero means DefaultMaxStreams.
	MaxStreams int
	// Now is the clock arrival times are read from; nil means time.Now.
	// Tests set a fake clock.
	Now func() time.Time

	cells map[string]*cell
	// waiting holds the cells in which a message waits behind held text.
	waiting map[*cell]struct{}
	spare   []*item // stream items kept for reuse
	seq     uint64  // orders cell use
	nextID  uint64  // numbers msg_ids of messages that carry released text
}

// New returns a Filter redacting with r.
func New(r *redact.Redactor) *Filter {
	return &Filter{r: r, cells: make(map[string]*cell), waiting: make(map[*cell]struct{})}
}

func (f *Filter) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Process redacts m and returns the messages to forward now, in order. The
// result may be empty (m waits behind held stream text, or is a stream
// message whose text is held back) or hold several messages (messages
// whose wait ran out, held stream text released ahead of m, messages that
// waited behind it). m itself is not modified; returned messages share
// nothing with it.
//
// On error the returned slice is still what to forward, with a notice in
// place of m (see Notice); the error says why (it never contains message
// text).
func (f *Filter) Process(m *jupyter.Message) ([]*jupyter.Message, error) {
	now := f.now()
	out := f.expire(nil, now)
	hdr, err := jupyter.ParseHeader(m.Header)
	if err != nil {
		return f.failClosed(m, out, nil, now, fmt.Errorf("msgredact: %w", err))
	}
	parent, err := jupyter.ParseHeader(m.ParentHeader)
	if err != nil {
		return f.failClosed(m, out, nil, now, fmt.Errorf("msgredact: %s message: parent %w", hdr.MsgType, err))
	}
	if hdr.MsgType == "stream" {
		if name, text, ok := streamFields(m.Content); ok {
			return f.processStream(m, out, parent.MsgID, name, text, now)
		}
	}
	if hdr.MsgType == "status" {
		state, _ := jupyter.StringMember(m.Content, "execution_state")
		switch state {
		case "restarting", "dead", "starting":
			// The kernel process is gone: release everything and forget
			// its streams.
			out = f.releaseAll(out)
			f.forgetAll()
		}
	}
	red, err := f.redactMessage(m)
	if err != nil {
		return f.failClosed(m, out, f.cells[parent.MsgID], now, fmt.Errorf("msgredact: %s message: %w", hdr.MsgType, err))
	}
	return f.enqueue(out, f.cells[parent.MsgID], &item{msg: red, arrived: now}), nil
}

// processNotice forwards a notice in place of a message that could not even
// be decoded, in the cell of like's parent (nil: none), in order.
func (f *Filter) processNotice(like *jupyter.Message) []*jupyter.Message {
	now := f.now()
	out := f.expire(nil, now)
	var c *cell
	if like != nil {
		c = f.cells[like.ParentID()]
	}
	return f.enqueue(out, c, &item{msg: Notice(like, ""), arrived: now})
}

// enqueue forwards it now when nothing of its cell is queued, else queues
// it and forwards what may leave.
func (f *Filter) enqueue(out []*jupyter.Message, c *cell, it *item) []*jupyter.Message {
	if c == nil || len(c.queue) == 0 {
		return append(out, it.msg)
	}
	c.queue = append(c.queue, it)
	return f.drain(out, c, it.arrived, false)
}

// Deadline reports when the earliest waiting message must be released; ok
// is false when nothing waits. The driver calls Expire at or after that
// time (it is recomputed after every Process and Expire).
func (f *Filter) Deadline() (t time.Time, ok bool) {
	for c := range f.waiting {
		if d, has := c.deadline(); has && (!ok || d.Before(t)) {
			t, ok = d, true
		}
	}
	return t, ok
}

// Expire releases, in order, every message whose wait has run out by now;
// held text that could still be the start of a secret leaves as
// [REDACTED]. It returns nil when nothing is due.
func (f *Filter) Expire(now time.Time) []*jupyter.Message {
	return f.expire(nil, now)
}

// expire appends to out what leaves of the cells whose first waiting
// message is due at now, earliest deadline first.
func (f *Filter) expire(out []*jupyter.Message, now time.Time) []*jupyter.Message {
	if len(f.waiting) == 0 {
		return out
	}
	type due struct {
		c *cell
		t time.Time
	}
	var ds []due
	for c := range f.waiting {
		if t, ok := c.deadline(); ok && !now.Before(t) {
			ds = append(ds, due{c, t})
		}
	}
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].t.Equal(ds[j].t) {
			return ds[i].t.Before(ds[j].t)
		}
		return ds[i].c.used < ds[j].c.used // deterministic between cells
	})
	for _, d := range ds {
		out = f.drain(out, d.c, now, false)
	}
	return out
}

// Flush releases all held stream text now, and every message waiting
// behind it, without forgetting the cells' matching context. Held text
// whose live partial match is longer than MaxClear leaves as [REDACTED].
func (f *Filter) Flush() []*jupyter.Message {
	return f.releaseAll(nil)
}

// Close releases all held stream text and waiting messages as Flush does
// (call it when the connection closes) and forgets every cell. The Filter
// may be used again afterwards.
func (f *Filter) Close() []*jupyter.Message {
	out := f.Flush()
	f.forgetAll()
	return out
}

// Held returns the number of bytes of stream text currently held back.
func (f *Filter) Held() int {
	n := 0
	for _, c := range f.cells {
		n += c.held()
	}
	return n
}

// Waiting returns the number of messages queued behind held stream text
// (stream messages whose text is held included).
func (f *Filter) Waiting() int {
	n := 0
	for _, c := range f.cells {
		n += len(c.queue)
	}
	return n
}

// streamFields returns the name and text of stream content.
func streamFields(content []byte) (name, text string, ok bool) {
	ms, err := jupyter.Members(content)
	if err != nil {
		return "", "", false
	}
	var haveText bool
	for _, mem := range ms {
		switch mem.Key {
		case "name":
			name, _ = jupyter.StringValue(mem.Value)
		case "text":
			text, haveText = jupyter.StringValue(mem.Value)
		}
	}
	return name, text, haveText
}

// processStream queues a stream message in its cell, writes its text
// through the cell's writers and forwards what may leave.
func (f *Filter) processStream(m *jupyter.Message, out []*jupyter.Message, parent, name, text string, now time.Time) ([]*jupyter.Message, error) {
	c := f.cells[parent]
	if c == nil {
		out = f.evictIfFull(out)
		c = newCell(f.r, parent)
		f.cells[parent] = c
	}
	f.seq++
	c.used = f.seq
	// Redact the message's other strings first: the template must be
	// clean whatever happens to the text.
	red, err := f.redactMessage(m)
	if err != nil {
		return f.failClosed(m, out, c, now, fmt.Errorf("msgredact: stream message: %w", err))
	}
	it := f.newItem()
	it.msg, it.arrived, it.stream, it.name = red, now, true, name
	c.queue = append(c.queue, it)
	err = c.merged.write(&it.mid, []byte(text))
	it.mergedEnd = c.merged.in
	if err == nil {
		err = c.pump(f.r)
	}
	if err != nil {
		// Cannot happen with writers into buffers; never forward raw.
		c.queue = c.queue[:len(c.queue)-1]
		return f.failClosed(m, out, c, now, fmt.Errorf("msgredact: stream message: %w", err))
	}
	return f.drain(out, c, now, false), nil
}

// drain forwards the messages of c that may leave at now, in order: the
// front leaves when it is not a stream message or its text is out; a held
// front releases its text when something waits behind it (see the package
// doc for when: force releases unconditionally, as at Flush).
func (f *Filter) drain(out []*jupyter.Message, c *cell, now time.Time, force bool) []*jupyter.Message {
	for len(c.queue) > 0 {
		front := c.queue[0]
		if front.stream && !c.settled(front) {
			if w := c.waiter(); w != nil || force {
				due := force || !now.Before(w.arrived.Add(MaxWait))
				if err := c.releaseFront(f.r, due); err != nil {
					// Cannot happen with writers into buffers; drop what
					// the front carries rather than forward it raw.
					front.final.Reset()
					out = append(out, Notice(front.msg, "stream"))
					c.pop()
					continue
				}
			}
		}
		if !c.settled(front) {
			out = f.emitText(out, front)
			break
		}
		c.pop()
		if !front.stream {
			out = append(out, front.msg)
			continue
		}
		if len(c.queue) > 0 && c.queue[0].stream && c.queue[0].name == front.name && !c.queue[0].sent {
			// The next message continues this stream: its text carries
			// this one's rest, under its own header.
			next := c.queue[0]
			rest := append(front.final.Bytes(), next.final.Bytes()...)
			next.final.Reset()
			next.final.Write(rest)
			f.recycle(front)
			continue
		}
		out = f.emitText(out, front)
		f.recycle(front)
	}
	if _, ok := c.deadline(); ok {
		f.waiting[c] = struct{}{}
	} else {
		delete(f.waiting, c)
	}
	return out
}

// maxSpare bounds the stream items a Filter keeps for reuse.
const maxSpare = 8

// newItem returns an empty stream item, reusing a spare one (and its
// buffers) when there is one: the hot path, one stream message after
// another, then allocates no buffers.
func (f *Filter) newItem() *item {
	if n := len(f.spare); n > 0 {
		it := f.spare[n-1]
		f.spare[n-1] = nil
		f.spare = f.spare[:n-1]
		return it
	}
	return &item{}
}

// recycle keeps it, a stream item out of every queue whose text is out of
// every writer (no writer routes output to it any more), for reuse.
func (f *Filter) recycle(it *item) {
	if len(f.spare) < maxSpare {
		it.reset()
		f.spare = append(f.spare, it)
	}
}

// emitText forwards the text of stream message it released so far, if any,
// as a stream message: under its own header the first time, under a msg_id
// of its own (see renumber) afterwards.
func (f *Filter) emitText(out []*jupyter.Message, it *item) []*jupyter.Message {
	if it.final.Len() == 0 {
		return out
	}
	msg, err := withText(it.msg, it.final.Bytes())
	if err == nil && it.sent {
		f.nextID++
		err = renumber(msg, f.nextID)
	}
	it.final.Reset()
	if err != nil {
		// Cannot happen with a template from redactMessage; never forward
		// the bytes raw if it does.
		msg = Notice(it.msg, "stream")
	}
	it.sent = true
	return append(out, msg)
}

// releaseAll releases every held text and every waiting message of every
// cell, the cell whose queue began first first.
func (f *Filter) releaseAll(out []*jupyter.Message) []*jupyter.Message {
	var cs []*cell
	for _, c := range f.cells {
		if c.held() > 0 || len(c.queue) > 0 {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].used < cs[j].used })
	now := f.now()
	for _, c := range cs {
		out = f.releaseCell(out, c, now)
	}
	return out
}

// releaseCell releases all held text of c and forwards its whole queue.
func (f *Filter) releaseCell(out []*jupyter.Message, c *cell, now time.Time) []*jupyter.Message {
	if err := c.releaseAll(f.r); err != nil {
		// Cannot happen with writers into buffers; force the queue out
		// as notices rather than forward raw text.
		for _, it := range c.queue {
			it.final.Reset()
		}
	}
	return f.drain(out, c, now, true)
}

// forgetAll closes and drops every cell; call releaseAll first.
func (f *Filter) forgetAll() {
	for k, c := range f.cells {
		c.close()
		delete(f.cells, k)
	}
	clear(f.waiting)
}

// evictIfFull releases and forgets the least recently used cell when the
// Filter holds MaxStreams of them.
func (f *Filter) evictIfFull(out []*jupyter.Message) []*jupyter.Message {
	max := f.MaxStreams
	if max <= 0 {
		max = DefaultMaxStreams
	}
	for len(f.cells) >= max {
		var oldest *cell
		for _, c := range f.cells {
			if oldest == nil || c.used < oldest.used {
				oldest = c
			}
		}
		out = f.releaseCell(out, oldest, f.now())
		oldest.close()
		delete(f.cells, oldest.parent)
		delete(f.waiting, oldest)
	}
	return out
}

// withText returns a copy of the redacted stream message red whose
// top-level content "text" is text (already redacted by a stream writer).
func withText(red *jupyter.Message, text []byte) (*jupyter.Message, error) {
	content, err := jupyter.RewriteStrings(make([]byte, 0, len(red.Content)+len(text)), red.Content, func(dst, s []byte, ctx jupyter.StringContext) []byte {
		if ctx.Depth == 1 && !ctx.IsKey && string(ctx.Key) == "text" {
			return append(dst, text...)
		}
		return append(dst, s...)
	})
	if err != nil {
		return nil, err
	}
	shallow := *red
	shallow.Content = nil // replaced: not worth copying
	msg := shallow.Clone()
	msg.Content = content
	return msg, nil
}

// renumber gives msg (a copy of an already forwarded message carrying held
// text) a msg_id of its own, in the header and the legacy msg_id copy.
func renumber(msg *jupyter.Message, n uint64) error {
	suffix := fmt.Sprintf("-hush%d", n)
	set := func(dst, s []byte, ctx jupyter.StringContext) []byte {
		if ctx.Depth == 1 && !ctx.IsKey && string(ctx.Key) == "msg_id" {
			return append(append(dst, s...), suffix...)
		}
		return append(dst, s...)
	}
	h, err := jupyter.RewriteStrings(nil, msg.Header, set)
	if err != nil {
		return err
	}
	msg.Header = h
	for i, e := range msg.Extra {
		if e.Key == "msg_id" {
			v, err := jupyter.RewriteStrings(nil, e.Value, func(dst, s []byte, _ jupyter.StringContext) []byte {
				return append(append(dst, s...), suffix...)
			})
			if err != nil {
				return err
			}
			msg.Extra[i].Value = v
		}
	}
	return nil
}

// protocolHeaderFields are the header strings the protocol routes by; they
// are generated by jupyter_client, never derived from output, and are not
// redacted.
func isProtocolHeaderField(key []byte) bool {
	switch string(key) {
	case "msg_id", "msg_type", "session", "date", "version":
		return true
	}
	return false
}

// redactMessage returns a redacted copy of m sharing nothing with it.
func (f *Filter) redactMessage(m *jupyter.Message) (*jupyter.Message, error) {
	all := func(dst, s []byte, _ jupyter.StringContext) []byte { return f.r.Redact(dst, s) }
	content := func(dst, s []byte, ctx jupyter.StringContext) []byte {
		if ctx.Depth == 1 && ctx.IsKey {
			return append(dst, s...) // protocol field names
		}
		return f.r.Redact(dst, s)
	}
	header := func(dst, s []byte, ctx jupyter.StringContext) []byte {
		if ctx.Depth == 1 && (ctx.IsKey || isProtocolHeaderField(ctx.Key)) {
			return append(dst, s...)
		}
		return f.r.Redact(dst, s)
	}
	out := m.Derive()
	parts := []struct {
		name string
		src  []byte
		dst  *[]byte
		fn   jupyter.StringFunc
	}{
		{"header", m.Header, (*[]byte)(&out.Header), header},
		{"parent_header", m.ParentHeader, (*[]byte)(&out.ParentHeader), header},
		{"metadata", m.Metadata, (*[]byte)(&out.Metadata), all},
		{"content", m.Content, (*[]byte)(&out.Content), content},
	}
	for _, p := range parts {
		if len(p.src) == 0 {
			continue // an absent part is written as {}
		}
		if firstNonSpace(p.src) != '{' {
			return nil, fmt.Errorf("%s is not a JSON object", p.name)
		}
		red, err := jupyter.RewriteStrings(make([]byte, 0, len(p.src)+32), p.src, p.fn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		*p.dst = red
	}
	if m.Extra != nil {
		out.Extra = make([]jupyter.Member, len(m.Extra))
		for i, e := range m.Extra {
			fn := all
			if e.Key == "msg_id" || e.Key == "msg_type" {
				fn = nil
			}
			v, err := jupyter.RewriteStrings(nil, e.Value, fn)
			if err != nil {
				return nil, fmt.Errorf("member %d: %w", i, err)
			}
			out.Extra[i] = jupyter.Member{Key: e.Key, Value: v}
		}
	}
	if m.Buffers != nil {
		out.Buffers = make([][]byte, len(m.Buffers))
		for i, b := range m.Buffers {
			out.Buffers[i] = f.r.Redact(make([]byte, 0, len(b)), b)
		}
	}
	return out, nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// failClosed puts a notice in place of m, in the queue of m's cell c (nil
// if none) like any message of the cell, and returns err.
func (f *Filter) failClosed(m *jupyter.Message, out []*jupyter.Message, c *cell, now time.Time, err error) ([]*jupyter.Message, error) {
	msgType := ""
	if h, herr := jupyter.ParseHeader(m.Header); herr == nil {
		msgType = h.MsgType
	}
	var safe *jupyter.Message
	// Keep what can be kept clean (header, parent header, channel) so the
	// notice lands in the right cell and a reply still answers its request.
	if jupyter.Valid(m.Header) == nil && jupyter.Valid(m.ParentHeader) == nil {
		s := &jupyter.Message{Channel: m.Channel, Extra: m.Extra}
		s.Header, s.ParentHeader = m.Header, m.ParentHeader
		if red, rerr := f.redactMessage(s); rerr == nil {
			safe = red
		}
	}
	return f.enqueue(out, c, &item{msg: Notice(safe, msgType), arrived: now}), err
}

// Notice returns a well-formed message to forward in place of one that could
// not be checked for secrets. like is a (redacted, trusted) message whose
// channel, header and parent header are reused when set; msgType is the
// dropped message's type. The notice is:
//
//   - for a reply on shell or control (msg_type ending in _reply): the same
//     reply with content {"status": "error", "ename": "HushRedactionError",
//     "evalue": NoticeText, "traceback": [NoticeText]}, so the request is
//     still answered;
//   - for an input_request: an input_request whose prompt is NoticeText
//     (the kernel is waiting for an answer);
//   - otherwise: an iopub stream message to stderr with NoticeText, under
//     the same parent, so it shows in the cell.
func Notice(like *jupyter.Message, msgType string) *jupyter.Message {
	n := &jupyter.Message{Channel: jupyter.ChannelIOPub, ParentHeader: []byte("{}"), Metadata: []byte("{}")}
	var h jupyter.Header
	if like != nil {
		h, _ = jupyter.ParseHeader(like.Header)
		if len(like.ParentHeader) > 0 && jupyter.Valid(like.ParentHeader) == nil {
			n.ParentHeader = like.ParentHeader
		}
	}
	text := jupyter.AppendString(nil, []byte(NoticeText))
	isReply := len(msgType) > len("_reply") && msgType[len(msgType)-len("_reply"):] == "_reply"
	switch {
	case like != nil && isReply && (like.Channel == jupyter.ChannelShell || like.Channel == jupyter.ChannelControl):
		n.Channel = like.Channel
		n.Content = []byte(`{"status": "error", "ename": "HushRedactionError", "evalue": ` + string(text) +
			`, "traceback": [` + string(text) + `]}`)
	case like != nil && msgType == "input_request" && like.Channel == jupyter.ChannelStdin:
		n.Channel = like.Channel
		n.Content = []byte(`{"prompt": ` + string(text) + `, "password": false}`)
	default:
		msgType = "stream"
		n.Content = []byte(`{"name": "stderr", "text": ` + string(text) + `}`)
	}
	session, username, version := h.Session, h.Username, h.Version
	if session == "" {
		session = "hush"
	}
	if username == "" {
		username = "hush"
	}
	if version == "" {
		version = "5.3"
	}
	id := newMsgID()
	n.Header = fmt.Appendf(nil, `{"msg_id": %s, "msg_type": %s, "username": %s, "session": %s, "date": %s, "version": %s}`,
		jupyter.AppendString(nil, []byte(id)), jupyter.AppendString(nil, []byte(msgType)),
		jupyter.AppendString(nil, []byte(username)), jupyter.AppendString(nil, []byte(session)),
		jupyter.AppendString(nil, []byte(time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))),
		jupyter.AppendString(nil, []byte(version)))
	n.Extra = []jupyter.Member{
		{Key: "msg_id", Value: jupyter.AppendString(nil, []byte(id))},
		{Key: "msg_type", Value: jupyter.AppendString(nil, []byte(msgType))},
	}
	return n
}

func newMsgID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("hush-notice-%d", time.Now().UnixNano())
	}
	return "hush-" + hex.EncodeToString(b[:])
}
