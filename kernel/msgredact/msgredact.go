// Package msgredact redacts Jupyter kernel messages on their way from
// jupyter_server to a browser: every string of every message — known
// message type or not — and every binary buffer goes through a
// redact.Redactor, and a secret split over consecutive stream messages is
// caught by holding back the live partial match of each stream.
//
// One Filter serves one kernel websocket connection (one ordered message
// stream); FrameFilter wraps it with a wire codec for a proxy that deals in
// websocket frames.
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
// extra members other than the
// msg_id/msg_type copies (their keys, like all top-level keys, are kept),
// and every buffer as bytes. Strings stay strings
// and no member is dropped.
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
// into two stream messages. The Filter keeps one redact.Writer per (parent
// msg_id, stream name); a stream message's text is written to it and the
// message leaves with the text the writer released. A message whose text is
// entirely held back is not forwarded (its header is kept to carry the held
// text later). Held text is released — as a stream message of that stream,
// redacted as far as the stream allows — by:
//
//   - the next stream message of the same parent and name (as part of it);
//   - any non-stream message with the same parent msg_id (status idle,
//     execute_result, error, execute_reply, display_data…), emitted before
//     it, so output order within a cell is kept;
//   - a status message with execution_state restarting, dead or starting
//     (the kernel's output streams are gone): every stream is released;
//   - Flush or Close (connection close).
//
// A writer outlives the release of its text (so the rest of a secret whose
// start was released early is still redacted, as a token of its own, even
// after the cell went idle); writers are dropped after a kernel restart, at
// Close, and least recently used first when more than MaxStreams are in use.
//
// Stream messages of a different name (stdout vs stderr) do not release each
// other, so a secret split on stdout is still caught when stderr output comes
// in between; the held part may therefore appear after that stderr output.
//
// # Fail closed
//
// A message that cannot be parsed or redacted is never forwarded: it is
// replaced by a notice (see Notice) and Process reports the error.
package msgredact

import (
	"bytes"
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

// DefaultMaxStreams bounds the number of (parent, stream) writers a Filter
// keeps; beyond it the oldest is released early.
const DefaultMaxStreams = 1024

// Filter redacts the kernel→client messages of one kernel connection. It is
// not safe for concurrent use: feed it from the goroutine that forwards the
// connection's messages, in order. The Redactor behind it may gain secrets
// concurrently; each message uses the set as it is when it is processed.
type Filter struct {
	r *redact.Redactor
	// MaxStreams bounds the number of stream writers kept at once; zero
	// means DefaultMaxStreams.
	MaxStreams int

	streams map[streamKey]*stream
	seq     uint64 // orders stream creation and hold starts
	nextID  uint64 // numbers msg_ids of messages that carry released text
}

type streamKey struct {
	parent string
	name   string
}

// stream is the state of one (parent msg_id, stream name).
type stream struct {
	w   *redact.Writer
	out bytes.Buffer
	// used orders streams by last use, for eviction.
	used uint64
	// heldSince orders streams by when their held text began (0: none).
	heldSince uint64
	// template is the (redacted) stream message whose header and other
	// content members carry held text when it is released; templateSent
	// says whether that header has already been forwarded once.
	template     *jupyter.Message
	templateSent bool
}

// New returns a Filter redacting with r.
func New(r *redact.Redactor) *Filter {
	return &Filter{r: r, streams: make(map[streamKey]*stream)}
}

// Process redacts m and returns the messages to forward now, in order. The
// result may be empty (a stream message whose text is held back) or hold
// several messages (held stream text released ahead of m). m itself is not
// modified; returned messages share nothing with it.
//
// On error the returned slice is still what to forward: any released held
// text followed by a notice in place of m (see Notice); the error says why
// (it never contains message text).
func (f *Filter) Process(m *jupyter.Message) ([]*jupyter.Message, error) {
	hdr, err := jupyter.ParseHeader(m.Header)
	if err != nil {
		return f.failClosed(m, nil, fmt.Errorf("msgredact: %w", err))
	}
	parent, err := jupyter.ParseHeader(m.ParentHeader)
	if err != nil {
		return f.failClosed(m, nil, fmt.Errorf("msgredact: %s message: parent %w", hdr.MsgType, err))
	}
	if hdr.MsgType == "stream" {
		if name, text, ok := streamFields(m.Content); ok {
			return f.processStream(m, hdr, streamKey{parent.MsgID, name}, text)
		}
	}
	var out []*jupyter.Message
	if hdr.MsgType == "status" {
		state, _ := jupyter.StringMember(m.Content, "execution_state")
		switch state {
		case "restarting", "dead", "starting":
			// The kernel process is gone: release everything and forget
			// its streams.
			out = f.release(out, func(streamKey) bool { return true })
			f.forget(func(streamKey) bool { return true })
		default:
			out = f.releaseParent(out, parent.MsgID)
		}
	} else {
		out = f.releaseParent(out, parent.MsgID)
	}
	red, err := f.redactMessage(m)
	if err != nil {
		return f.failClosed(m, out, fmt.Errorf("msgredact: %s message: %w", hdr.MsgType, err))
	}
	return append(out, red), nil
}

// Flush releases all held stream text now, as stream messages, without
// forgetting the streams' matching context.
func (f *Filter) Flush() []*jupyter.Message {
	return f.release(nil, func(streamKey) bool { return true })
}

// Close releases all held stream text (call it when the connection closes)
// and forgets every stream. The Filter may be used again afterwards.
func (f *Filter) Close() []*jupyter.Message {
	out := f.Flush()
	f.forget(func(streamKey) bool { return true })
	return out
}

// Held returns the number of bytes of stream text currently held back.
func (f *Filter) Held() int {
	n := 0
	for _, s := range f.streams {
		n += s.w.Buffered()
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

func (f *Filter) processStream(m *jupyter.Message, hdr jupyter.Header, key streamKey, text string) ([]*jupyter.Message, error) {
	// Anything of another stream of this parent that is held stays held;
	// other parents are not affected either.
	s := f.streams[key]
	var out []*jupyter.Message
	if s == nil {
		out = f.evictIfFull(out)
		s = &stream{}
		s.w = f.r.NewWriter(&s.out)
		f.streams[key] = s
	}
	f.seq++
	s.used = f.seq
	// Redact the message's other strings first: the template must be
	// clean whatever happens to the text.
	red, err := f.redactMessage(m)
	if err != nil {
		return f.failClosed(m, out, fmt.Errorf("msgredact: stream message: %w", err))
	}
	s.out.Reset()
	if _, err := s.w.Write([]byte(text)); err != nil {
		return f.failClosed(m, out, fmt.Errorf("msgredact: stream message: %w", err))
	}
	released := s.out.Bytes()
	if s.w.Buffered() > 0 {
		if s.heldSince == 0 {
			f.seq++
			s.heldSince = f.seq
		}
	} else {
		s.heldSince = 0
	}
	if len(released) == 0 {
		// Entirely held back (or empty): keep the header to carry it.
		s.template, s.templateSent = red, false
		return out, nil
	}
	msg, err := withText(red, released)
	if err != nil {
		return f.failClosed(m, out, fmt.Errorf("msgredact: stream message: %w", err))
	}
	s.template, s.templateSent = red, true
	return append(out, msg), nil
}

// evictIfFull releases and forgets the least recently used stream when the
// Filter holds MaxStreams of them.
func (f *Filter) evictIfFull(out []*jupyter.Message) []*jupyter.Message {
	max := f.MaxStreams
	if max <= 0 {
		max = DefaultMaxStreams
	}
	for len(f.streams) >= max {
		var oldest streamKey
		var oldestSeq uint64
		for k, s := range f.streams {
			if oldestSeq == 0 || s.used < oldestSeq {
				oldest, oldestSeq = k, s.used
			}
		}
		out = f.release(out, func(k streamKey) bool { return k == oldest })
		_ = f.streams[oldest].w.Close()
		delete(f.streams, oldest)
	}
	return out
}

// releaseParent releases the held text of every stream of parent.
func (f *Filter) releaseParent(out []*jupyter.Message, parent string) []*jupyter.Message {
	return f.release(out, func(k streamKey) bool { return k.parent == parent })
}

// forget closes and drops the streams selected by match; call release
// first.
func (f *Filter) forget(match func(streamKey) bool) {
	for k, s := range f.streams {
		if match(k) {
			_ = s.w.Close()
			delete(f.streams, k)
		}
	}
}

// release flushes the writers of the streams selected by match that hold
// text, in the order their held text began, and appends a stream message
// with each released text to out.
func (f *Filter) release(out []*jupyter.Message, match func(streamKey) bool) []*jupyter.Message {
	type held struct {
		key streamKey
		s   *stream
	}
	var hs []held
	for k, s := range f.streams {
		if s.w.Buffered() > 0 && match(k) {
			hs = append(hs, held{k, s})
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].s.heldSince < hs[j].s.heldSince })
	for _, h := range hs {
		s := h.s
		s.out.Reset()
		err := s.w.Flush()
		s.heldSince = 0
		if s.out.Len() == 0 {
			continue
		}
		var msg *jupyter.Message
		if err == nil && s.template != nil {
			msg, err = withText(s.template, s.out.Bytes())
			if err == nil && s.templateSent {
				f.nextID++
				err = renumber(msg, f.nextID)
			}
		}
		if err != nil || s.template == nil {
			// Cannot happen with a template from redactMessage; never
			// forward the bytes raw if it does.
			msg = Notice(s.template, "stream")
		}
		s.templateSent = true
		out = append(out, msg)
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

// failClosed appends a notice in place of m to out and returns err.
func (f *Filter) failClosed(m *jupyter.Message, out []*jupyter.Message, err error) ([]*jupyter.Message, error) {
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
	return append(out, Notice(safe, msgType)), err
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
