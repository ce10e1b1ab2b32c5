package msgredact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

const secret = "hello-secret"

func newRedactor(t testing.TB, secrets ...string) *redact.Redactor {
	t.Helper()
	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	for _, s := range secrets {
		if err := r.Add([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// msg builds a message the way jupyter_server sends it on iopub.
func msg(msgType, id, parent, content string) *jupyter.Message {
	ph := `{}`
	if parent != "" {
		ph = fmt.Sprintf(`{"msg_id": %q, "msg_type": "execute_request", "session": "s", "username": "u", "date": "d", "version": "5.3"}`, parent)
	}
	return &jupyter.Message{
		Channel:      jupyter.ChannelIOPub,
		Header:       []byte(fmt.Sprintf(`{"msg_id": %q, "msg_type": %q, "username": "u", "session": "s", "date": "d", "version": "5.3"}`, id, msgType)),
		ParentHeader: []byte(ph),
		Metadata:     []byte(`{}`),
		Content:      []byte(content),
	}
}

func streamMsg(id, parent, name, text string) *jupyter.Message {
	return msg("stream", id, parent, fmt.Sprintf(`{"name": %q, "text": %s}`, name, jupyter.AppendString(nil, []byte(text))))
}

func idle(id, parent string) *jupyter.Message {
	return msg("status", id, parent, `{"execution_state": "idle"}`)
}

// summary is a readable form of a message for assertions:
// "type[id]:text" for streams, "type[id]" otherwise.
func summary(t *testing.T, m *jupyter.Message) string {
	t.Helper()
	h, err := jupyter.ParseHeader(m.Header)
	if err != nil {
		t.Fatal(err)
	}
	if h.MsgType == "stream" {
		name, _ := jupyter.StringMember(m.Content, "name")
		text, _ := jupyter.StringMember(m.Content, "text")
		return fmt.Sprintf("stream[%s]%s:%s", h.MsgID, name, text)
	}
	return fmt.Sprintf("%s[%s]", h.MsgType, h.MsgID)
}

func process(t *testing.T, f *Filter, in ...*jupyter.Message) []string {
	t.Helper()
	var out []string
	for _, m := range in {
		msgs, err := f.Process(m)
		if err != nil {
			t.Fatalf("Process: %v", err)
		}
		for _, o := range msgs {
			out = append(out, summary(t, o))
		}
	}
	return out
}

func summaries(t *testing.T, msgs []*jupyter.Message) []string {
	t.Helper()
	var out []string
	for _, o := range msgs {
		out = append(out, summary(t, o))
	}
	return out
}

// fakeClock is the Filter's clock in tests: time moves only when told.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

// newClocked returns a Filter on a fake clock, redacting secrets.
func newClocked(t testing.TB, secrets ...string) (*Filter, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: replayStart}
	f := New(newRedactor(t, secrets...))
	f.Now = clock.Now
	return f, clock
}

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestEveryStringOfEveryPartIsRedacted(t *testing.T) {
	f := New(newRedactor(t, secret))
	m := msg("future_type", "m1", "p1", `{"data": {"text/plain": "'hello-secret'", "text/html": "<b>hello-secret</b>",
		"application/json": {"hello-secret": ["x hello-secret", 1.5e300, 12345678901234567890, null, true, {"deep": "hello-secret"}]}},
		"traceback": ["\u001b[31mValueError: hello-secret"], "escaped": "hello\u002dsecret", "json": "{\"k\": \"hello-secret\"}",
		"b64": "aGVsbG8tc2VjcmV0"}`)
	m.Metadata = []byte(`{"hello-secret": {"note": "hello-secret"}}`)
	m.Header = []byte(`{"msg_id": "m1", "msg_type": "future_type", "username": "hello-secret", "session": "s", "date": "d", "version": "5.3", "subshell": "hello-secret"}`)
	m.Buffers = [][]byte{[]byte("raw hello-secret bytes"), {0, 1, 2}}
	m.Extra = []jupyter.Member{{Key: "msg_id", Value: []byte(`"m1"`)}, {Key: "note", Value: []byte(`"hello-secret"`)}}
	out, err := f.Process(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("got %d messages", len(out))
	}
	o := out[0]
	fr, err := jupyter.EncodeLegacy(o)
	if err != nil {
		t.Fatal(err)
	}
	if !redacttest.AssertNoSecret(t, fr.Data, []byte(secret)) {
		t.FailNow()
	}
	wantContent := `{"data": {"text/plain": "'[REDACTED]'", "text/html": "<b>[REDACTED]</b>",
		"application/json": {"[REDACTED]": ["x [REDACTED]", 1.5e300, 12345678901234567890, null, true, {"deep": "[REDACTED]"}]}},
		"traceback": ["\u001b[31mValueError: [REDACTED]"], "escaped": "[REDACTED]", "json": "{\"k\": \"[REDACTED]\"}",
		"b64": "[REDACTED]"}`
	if string(o.Content) != wantContent {
		t.Errorf("content\n got %s\nwant %s", o.Content, wantContent)
	}
	if string(o.Metadata) != `{"[REDACTED]": {"note": "[REDACTED]"}}` {
		t.Errorf("metadata %s", o.Metadata)
	}
	if string(o.Header) != `{"msg_id": "m1", "msg_type": "future_type", "username": "[REDACTED]", "session": "s", "date": "d", "version": "5.3", "subshell": "[REDACTED]"}` {
		t.Errorf("header %s", o.Header)
	}
	if string(o.Buffers[0]) != "raw [REDACTED] bytes" || !bytes.Equal(o.Buffers[1], []byte{0, 1, 2}) {
		t.Errorf("buffers %q", o.Buffers)
	}
	if string(o.Extra[1].Value) != `"[REDACTED]"` || string(o.Extra[0].Value) != `"m1"` {
		t.Errorf("extra %+v", o.Extra)
	}
	// The input is untouched.
	if !bytes.Contains(m.Content, []byte(secret)) || !bytes.Contains(m.Buffers[0], []byte(secret)) {
		t.Error("Process modified its input")
	}
}

func TestProtocolHeaderFieldsAreKept(t *testing.T) {
	// A (too) short secret that happens to equal protocol values must not
	// break routing: msg_id, msg_type, session, date, version and the
	// header's and content's top-level keys are kept.
	f := New(newRedactor(t, "idle", "m1-id", "sess", "execution"))
	m := msg("status", "m1-id", "m1-id", `{"execution_state": "idle"}`)
	m.Header = []byte(`{"msg_id": "m1-id", "msg_type": "status", "session": "sess", "date": "d", "version": "5.3"}`)
	out, err := f.Process(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(out[0].Header) != string(m.Header) || out[0].ParentID() != "m1-id" {
		t.Fatalf("header changed: %s / %s", out[0].Header, out[0].ParentHeader)
	}
	// Content is data and is redacted even so.
	if string(out[0].Content) != `{"execution_state": "[REDACTED]"}` {
		t.Fatalf("content %s", out[0].Content)
	}
}

func TestRedactedKeysStayUnique(t *testing.T) {
	f := New(newRedactor(t, secret))
	m := msg("display_data", "d", "p", `{"data": {"application/json": {"hello-secret": 1, "[REDACTED]": 2, "x hello-secret": 3}}}`)
	out, err := f.Process(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data": {"application/json": {"[REDACTED]": 1, "[REDACTED] (2)": 2, "x [REDACTED]": 3}}}`
	if string(out[0].Content) != want {
		t.Fatalf("got  %s\nwant %s", out[0].Content, want)
	}
	var v map[string]map[string]map[string]int
	if err := json.Unmarshal(out[0].Content, &v); err != nil || len(v["data"]["application/json"]) != 3 {
		t.Fatalf("members lost: %v %v", v, err)
	}
}

func TestSecretSplitAcrossStreamMessages(t *testing.T) {
	f := New(newRedactor(t, secret))
	got := process(t, f,
		streamMsg("a", "p", "stdout", "hel"),
		streamMsg("b", "p", "stdout", "lo-se"),
		streamMsg("c", "p", "stdout", "cret\n"),
		idle("i", "p"))
	eq(t, got, "stream[c]stdout:[REDACTED]\n", "status[i]")
	if f.Held() != 0 {
		t.Fatalf("%d bytes still held", f.Held())
	}
}

func TestHeldTextWaitsThenLeavesRedactedWithOwnMsgID(t *testing.T) {
	f, clock := newClocked(t, secret)
	got := process(t, f,
		streamMsg("a", "p", "stdout", "abc hello-"),
		idle("i", "p"))
	eq(t, got, "stream[a]stdout:abc ")
	d, ok := f.Deadline()
	if !ok || !d.Equal(clock.now.Add(MaxWait)) {
		t.Fatalf("Deadline %v %v, want %v", d, ok, clock.now.Add(MaxWait))
	}
	eq(t, summaries(t, f.Expire(d.Add(-time.Nanosecond))))
	eq(t, summaries(t, f.Expire(d)), "stream[a-hush1]stdout:[REDACTED]", "status[i]")
	if _, ok := f.Deadline(); ok || f.Held() != 0 || f.Waiting() != 0 {
		t.Fatalf("after Expire: deadline %v, held %d, waiting %d", ok, f.Held(), f.Waiting())
	}
}

func TestOtherMessagesOfTheParentWaitBehindHeldText(t *testing.T) {
	for _, mt := range []string{"execute_result", "error", "display_data", "clear_output", "execute_reply", "comm_msg", "input_request"} {
		f, clock := newClocked(t, secret)
		got := process(t, f,
			streamMsg("a", "p", "stdout", "hello-"),
			msg(mt, "x", "p", `{}`))
		eq(t, got)
		// The rest arrives in time: the whole secret is one token, in the
		// message where it began, and the order is kept.
		clock.advance(MaxWait - time.Millisecond)
		got = process(t, f, streamMsg("b", "p", "stdout", "secret\n"), idle("i", "p"))
		eq(t, got, "stream[a]stdout:[REDACTED]", mt+"[x]", "stream[b]stdout:\n", "status[i]")

		// The rest arrives late: the held start went out as a token when
		// the wait ran out, and the rest continues it.
		f, clock = newClocked(t, secret)
		eq(t, process(t, f, streamMsg("a", "p", "stdout", "hello-"), msg(mt, "x", "p", `{}`)))
		clock.advance(MaxWait)
		eq(t, summaries(t, f.Expire(clock.now)), "stream[a]stdout:[REDACTED]", mt+"[x]")
		clock.advance(time.Second)
		eq(t, process(t, f, streamMsg("b", "p", "stdout", "secret\n")), "stream[b]stdout:\n")
	}
}

func TestShortPartialMatchLeavesInClearAtOnce(t *testing.T) {
	// Three bytes that may begin the secret: released in clear as soon as
	// something waits (MaxClear), and the rest is still caught.
	f, _ := newClocked(t, secret)
	got := process(t, f,
		streamMsg("a", "p", "stdout", "x hel"),
		msg("display_data", "d", "p", `{}`),
		streamMsg("b", "p", "stdout", "lo-secret\n"))
	eq(t, got, "stream[a]stdout:x ", "stream[a-hush1]stdout:hel", "display_data[d]", "stream[b]stdout:[REDACTED]\n")
	// Four bytes wait.
	f, _ = newClocked(t, secret)
	eq(t, process(t, f, streamMsg("a", "p", "stdout", "x hell"), msg("display_data", "d", "p", `{}`)), "stream[a]stdout:x ")
}

func TestOtherParentsAndStreamsDoNotRelease(t *testing.T) {
	f := New(newRedactor(t, secret))
	got := process(t, f,
		streamMsg("a", "p", "stdout", "hello-"),
		streamMsg("b", "p", "stderr", "warning\n"),
		msg("display_data", "d", "q", `{}`),
		idle("iq", "q"),
		streamMsg("c", "p", "stdout", "secret done\n"),
		idle("ip", "p"))
	// Other cells pass; the stderr output of the cell waits behind the
	// held stdout text, and comes out in order once it is resolved.
	eq(t, got, "display_data[d]", "status[iq]", "stream[a]stdout:[REDACTED]", "stream[b]stderr:warning\n", "stream[c]stdout: done\n", "status[ip]")
}

func TestReleaseOrderFollowsArrival(t *testing.T) {
	f, clock := newClocked(t, secret)
	got := process(t, f,
		streamMsg("a", "p", "stderr", "hello-s"),
		streamMsg("b", "p", "stdout", "hello-"),
		idle("i", "p"))
	eq(t, got)
	clock.advance(MaxWait)
	eq(t, summaries(t, f.Expire(clock.now)), "stream[a]stderr:[REDACTED]", "stream[b]stdout:[REDACTED]", "status[i]")
}

func TestKernelRestartReleasesEveryStream(t *testing.T) {
	for _, state := range []string{"restarting", "dead", "starting"} {
		f := New(newRedactor(t, secret))
		got := process(t, f,
			streamMsg("a", "p", "stdout", "hello-s"),
			streamMsg("b", "q", "stdout", "hello-se"),
			msg("status", "r", "", fmt.Sprintf(`{"execution_state": %q}`, state)))
		eq(t, got, "stream[a]stdout:[REDACTED]", "stream[b]stdout:[REDACTED]", "status[r]")
	}
	// At most MaxClear live bytes leave in clear.
	f := New(newRedactor(t, secret))
	got := process(t, f, streamMsg("a", "p", "stdout", "x hel"), msg("status", "r", "", `{"execution_state": "dead"}`))
	eq(t, got, "stream[a]stdout:x ", "stream[a-hush1]stdout:hel", "status[r]")
}

func TestFlushAndClose(t *testing.T) {
	f := New(newRedactor(t, secret))
	eq(t, process(t, f, streamMsg("a", "p", "stdout", "x hello-")), "stream[a]stdout:x ")
	var got []string
	for _, m := range f.Flush() {
		got = append(got, summary(t, m))
	}
	eq(t, got, "stream[a-hush1]stdout:[REDACTED]")
	// The stream's context survives Flush: the rest of the secret is still
	// caught (it continues the token).
	eq(t, process(t, f, streamMsg("b", "p", "stdout", "secret!")), "stream[b]stdout:!")
	eq(t, process(t, f, streamMsg("c", "p", "stdout", "hello")))
	got = nil
	for _, m := range f.Close() {
		got = append(got, summary(t, m))
	}
	eq(t, got, "stream[c]stdout:[REDACTED]")
	if len(f.Close()) != 0 || f.Held() != 0 {
		t.Fatal("Close left something behind")
	}
}

func TestSecretAddedWhileHeld(t *testing.T) {
	r := newRedactor(t, "other-secret-value")
	f := New(r)
	eq(t, process(t, f, streamMsg("a", "p", "stdout", "other-")))
	if err := r.Add([]byte("other-token-42")); err != nil {
		t.Fatal(err)
	}
	eq(t, process(t, f, streamMsg("b", "p", "stdout", "token-42\n"), idle("i", "p")), "stream[b]stdout:[REDACTED]\n", "status[i]")
}

// Invariant 3: however output is split into stream messages, the text that
// reaches the client equals redacting the whole at once.
func TestChunkingDoesNotMatter(t *testing.T) {
	r := newRedactor(t, secret, "tok_4f9Q2xZ7kL0pW3v8")
	whole := []byte("start hello-secret mid hello-hello-secret tok_4f9Q2xZ7kL0pW3v8hello-secret end hello-sec.")
	want := string(r.Redact(nil, whole))
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		f := New(r)
		var got strings.Builder
		collect := func(msgs []*jupyter.Message) {
			for _, m := range msgs {
				if m.Type() == "stream" {
					s, _ := jupyter.StringMember(m.Content, "text")
					got.WriteString(s)
				}
			}
		}
		rest := whole
		for i := 0; len(rest) > 0; i++ {
			n := 1 + rng.IntN(min(len(rest), 15))
			out, err := f.Process(streamMsg(fmt.Sprint(i), "p", "stdout", string(rest[:n])))
			if err != nil {
				t.Fatal(err)
			}
			collect(out)
			rest = rest[n:]
		}
		out, err := f.Process(idle("i", "p"))
		if err != nil {
			t.Fatal(err)
		}
		collect(out)
		if got.String() != want {
			t.Fatalf("trial %d: got %q want %q", trial, got.String(), want)
		}
	}
}

func TestMaxStreamsEvictsOldest(t *testing.T) {
	f := New(newRedactor(t, secret))
	f.MaxStreams = 2
	eq(t, process(t, f, streamMsg("a", "p1", "stdout", "hello-")))
	eq(t, process(t, f, streamMsg("b", "p2", "stdout", "hello-")))
	eq(t, process(t, f, streamMsg("c", "p3", "stdout", "hello-")), "stream[a]stdout:[REDACTED]")
	if f.Held() != 2*len("hello-") {
		t.Fatalf("held %d", f.Held())
	}
}

func TestFailClosed(t *testing.T) {
	f := New(newRedactor(t, secret))
	// Held text is released first; the broken message becomes a notice in
	// the same cell; nothing of it leaks.
	eq(t, process(t, f, streamMsg("a", "p", "stdout", "hello-")))
	bad := msg("display_data", "d", "p", `{"data": {"text/plain": "hello-secret"`)
	out, err := f.Process(bad)
	if err == nil {
		t.Fatal("no error for broken content")
	}
	if !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte(secret)) {
		t.FailNow()
	}
	if len(out) != 0 {
		t.Fatalf("got %d messages while text is held", len(out))
	}
	// The notice waits in its cell like the message it replaces.
	out = f.Flush()
	if len(out) != 2 || summary(t, out[0]) != "stream[a]stdout:[REDACTED]" {
		t.Fatalf("got %d messages", len(out))
	}
	n := out[1]
	if n.Type() != "stream" || n.ParentID() != "p" || n.Channel != jupyter.ChannelIOPub {
		t.Fatalf("notice %s %s %s", n.Type(), n.ParentID(), n.Channel)
	}
	if text, _ := jupyter.StringMember(n.Content, "text"); text != NoticeText {
		t.Fatalf("notice text %q", text)
	}
	for _, fmtx := range []jupyter.Format{jupyter.FormatLegacy, jupyter.FormatV1} {
		fr, err := fmtx.Encode(n)
		if err != nil {
			t.Fatal(err)
		}
		redacttest.AssertNoSecret(t, fr.Data, []byte(secret))
		if _, err := fmtx.Decode(fr); err != nil {
			t.Fatalf("%s notice does not decode: %v", fmtx, err)
		}
	}

	// A broken reply still answers its request, with an error status.
	reply := msg("execute_reply", "r", "p", `{"status": "ok", "x": [hello-secret]}`)
	reply.Channel = jupyter.ChannelShell
	out, err = f.Process(reply)
	if err == nil || len(out) != 1 {
		t.Fatalf("broken reply: %v, %d messages", err, len(out))
	}
	if out[0].Type() != "execute_reply" || out[0].Channel != jupyter.ChannelShell || out[0].ParentID() != "p" {
		t.Fatalf("reply notice %s on %s", out[0].Type(), out[0].Channel)
	}
	if st, _ := jupyter.StringMember(out[0].Content, "status"); st != "error" {
		t.Fatalf("reply notice status %q", st)
	}

	// A broken input_request still asks for input.
	ir := msg("input_request", "in", "p", `{"prompt": "hello-secret`)
	ir.Channel = jupyter.ChannelStdin
	out, _ = f.Process(ir)
	if len(out) != 1 || out[0].Type() != "input_request" || out[0].Channel != jupyter.ChannelStdin {
		t.Fatalf("input notice %v", out)
	}

	// A broken header: no parent is known; still a notice.
	bh := msg("stream", "x", "p", `{"name": "stdout", "text": "hello-secret"}`)
	bh.Header = []byte(`{"msg_id": `)
	out, err = f.Process(bh)
	if err == nil || len(out) != 1 || out[0].Type() != "stream" {
		t.Fatalf("broken header: %v %v", err, out)
	}
	text, _ := jupyter.StringMember(out[0].Content, "text")
	if text != NoticeText {
		t.Fatalf("broken header notice text %q", text)
	}
	// A part that is valid JSON but not an object.
	arr := msg("display_data", "d", "p", `["hello-secret"]`)
	if out, err = f.Process(arr); err == nil || len(out) != 1 {
		t.Fatalf("array content: %v %d", err, len(out))
	}
	assertNoSecretMsgs(t, out)
}

func TestFrameFilter(t *testing.T) {
	r := newRedactor(t, secret)
	for _, format := range []jupyter.Format{jupyter.FormatLegacy, jupyter.FormatV1} {
		ff := NewFrameFilter(format, r)
		enc := func(m *jupyter.Message) jupyter.Frame {
			fr, err := format.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			return fr
		}
		out, err := ff.Process(enc(streamMsg("a", "p", "stdout", "x hello-")))
		if err != nil || len(out) != 1 {
			t.Fatalf("%s: %v %d", format, err, len(out))
		}
		garbage := jupyter.Frame{Binary: true, Data: []byte("\x00\x00\x00\x07hello-secret garbage")}
		out, err = ff.Process(garbage)
		if err == nil || len(out) != 0 {
			t.Fatalf("%s garbage: %v %d (the notice waits behind the held text of its cell)", format, err, len(out))
		}
		if !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte(secret)) {
			t.FailNow()
		}
		out = ff.Close()
		if len(out) != 2 {
			t.Fatalf("%s: Close released %d frames", format, len(out))
		}
		m, _ := format.Decode(out[0])
		if text, _ := jupyter.StringMember(m.Content, "text"); text != "[REDACTED]" {
			t.Fatalf("%s: released %q", format, text)
		}
		m, derr := format.Decode(out[1])
		if derr != nil || m.Type() != "stream" {
			t.Fatalf("%s: notice frame does not decode: %v", format, derr)
		}
		if m.ParentID() != "p" {
			t.Fatalf("%s: notice for an undecodable frame not in the running cell (parent %q)", format, m.ParentID())
		}
		if text, _ := jupyter.StringMember(m.Content, "text"); text != NoticeText {
			t.Fatalf("%s: notice text %q", format, text)
		}
		redacttest.AssertNoSecret(t, out[1].Data, []byte(secret))
		if ff.Filter() == nil || len(ff.Flush()) != 0 {
			t.Fatal("Filter/Flush")
		}
	}
}

// assertNoSecretMsgs encodes msgs as legacy frames and checks them for the
// secret with redacttest, labelling each by its index.
func assertNoSecretMsgs(t testing.TB, msgs []*jupyter.Message) {
	t.Helper()
	frames := make(map[string][]byte, len(msgs))
	for i, m := range msgs {
		fr, err := jupyter.EncodeLegacy(m)
		if err != nil {
			t.Fatal(err)
		}
		frames[fmt.Sprintf("message %d", i)] = fr.Data
	}
	redacttest.AssertNoSecretIn(t, frames, []byte(secret))
}

func TestContextSurvivesIdle(t *testing.T) {
	f := New(newRedactor(t, secret))
	got := process(t, f,
		streamMsg("a", "p", "stdout", "hello-"),
		idle("i", "p"))
	eq(t, got)
	eq(t, summaries(t, f.Flush()), "stream[a]stdout:[REDACTED]", "status[i]")
	eq(t, process(t, f, streamMsg("b", "p", "stdout", "secret\n")), "stream[b]stdout:\n")
}

func TestRestartForgetsStreams(t *testing.T) {
	f := New(newRedactor(t, secret))
	process(t, f, streamMsg("a", "p", "stdout", "hello-"),
		msg("status", "r", "", `{"execution_state": "restarting"}`))
	if len(f.cells) != 0 {
		t.Fatalf("%d cells kept after a restart", len(f.cells))
	}
}

// jupyter_client packs with errors="surrogateescape", so a kernel can send
// strings that are not UTF-8; what leaves the filter always is.
func TestOutputIsValidUTF8(t *testing.T) {
	f := New(newRedactor(t, secret))
	m := msg("display_data", "d", "p", "{\"data\": {\"text/plain\": \"caf\xe9 \xff hello-secret\"}, \"k\xfe\": \"\\udc80\"}")
	m.Header = []byte("{\"msg_id\": \"d\", \"msg_type\": \"display_data\", \"username\": \"\xc3\"}")
	m.Metadata = []byte("{\"x\": \"\xf0\x9f\"}")
	m.Extra = []jupyter.Member{{Key: "note", Value: []byte("\"\xed\xa0\x80\"")}}
	out, err := f.Process(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []jupyter.Format{jupyter.FormatLegacy, jupyter.FormatV1} {
		fr, err := format.Encode(out[0])
		if err != nil {
			t.Fatal(err)
		}
		body := fr.Data
		if format == jupyter.FormatV1 {
			body = body[8*7:] // after the offset table: channel and JSON parts only
		}
		if !utf8.Valid(body) {
			t.Fatalf("%s output is not valid UTF-8: %q", format, body)
		}
	}
	if !bytes.Contains(out[0].Content, []byte(`caf\ufffd \ufffd [REDACTED]`)) {
		t.Fatalf("content %q", out[0].Content)
	}
}

// A driver whose timer is late loses nothing: Process first releases what
// is overdue, in order, before the new message.
func TestProcessReleasesOverdueFirst(t *testing.T) {
	f, clock := newClocked(t, secret)
	eq(t, process(t, f, streamMsg("a", "p", "stdout", "hello-"), msg("display_data", "d", "p", `{}`)))
	if f.Waiting() != 2 {
		t.Fatalf("Waiting %d, want 2", f.Waiting())
	}
	clock.advance(time.Second)
	eq(t, process(t, f, msg("display_data", "e", "q", `{}`)), "stream[a]stdout:[REDACTED]", "display_data[d]", "display_data[e]")
}

func TestDeadlineIsTheEarliestAcrossCells(t *testing.T) {
	f, clock := newClocked(t, secret)
	start := clock.now
	eq(t, process(t, f, streamMsg("a", "p", "stdout", "hello-"), streamMsg("b", "q", "stdout", "hello-s")))
	if _, ok := f.Deadline(); ok {
		t.Fatal("a deadline while nothing waits")
	}
	clock.advance(100 * time.Millisecond)
	eq(t, process(t, f, idle("iq", "q")))
	clock.advance(100 * time.Millisecond)
	eq(t, process(t, f, idle("ip", "p")))
	d, ok := f.Deadline()
	if !ok || !d.Equal(start.Add(100*time.Millisecond+MaxWait)) {
		t.Fatalf("Deadline %v, want q's", d.Sub(start))
	}
	eq(t, summaries(t, f.Expire(d)), "stream[b]stdout:[REDACTED]", "status[iq]")
	d, _ = f.Deadline()
	if !d.Equal(start.Add(200*time.Millisecond + MaxWait)) {
		t.Fatalf("Deadline %v, want p's", d.Sub(start))
	}
	eq(t, summaries(t, f.Expire(d)), "stream[a]stdout:[REDACTED]", "status[ip]")
}
