package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

type wsKind int

const (
	kindKernel   wsKind = iota // jupyter kernel channels: message-aware redaction
	kindTerminal               // terminado: ["stdout", text] as one byte stream
	kindOther                  // anything else: each message redacted whole
)

// frame is one websocket data message.
type frame struct {
	typ  int
	data []byte
}

// downstream turns upstream (server→client) messages into the frames the
// client receives. flush is called once at the end and returns what is
// still held back. deadline says when frames held back must leave even
// though no message came (ok false: no such time); the pump calls expire
// then.
type downstream interface {
	process(typ int, data []byte) []frame
	deadline() (t time.Time, ok bool)
	expire(now time.Time) []frame
	flush() []frame
}

// upstreamMessage is one read from the upstream websocket.
type upstreamMessage struct {
	typ  int
	data []byte
	err  error
}

// skipHeaders are not copied to the upstream handshake: the dialer sets
// them itself.
var skipHeaders = map[string]bool{
	"Upgrade":                  true,
	"Connection":               true,
	"Sec-Websocket-Key":        true,
	"Sec-Websocket-Version":    true,
	"Sec-Websocket-Extensions": true,
	"Sec-Websocket-Protocol":   true,
	"Proxy-Connection":         true,
	"Keep-Alive":               true,
	"Te":                       true,
	"Trailer":                  true,
	"Transfer-Encoding":        true,
}

func (p *Proxy) upstreamWS(r *http.Request) string {
	u := *p.upstream
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = p.upstream.Path + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	return u.String()
}

func (p *Proxy) serveWebsocket(w http.ResponseWriter, r *http.Request, kind wsKind) {
	hdr := http.Header{}
	for k, vs := range r.Header {
		if skipHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		hdr[k] = vs
	}
	hdr.Set("Host", r.Host)
	d := *p.dialer
	d.Subprotocols = websocket.Subprotocols(r)
	up, resp, err := d.DialContext(r.Context(), p.upstreamWS(r), hdr)
	if err != nil {
		p.refuseHandshake(w, r, resp, err)
		return
	}
	respHdr := http.Header{}
	if sp := up.Subprotocol(); sp != "" {
		respHdr.Set("Sec-Websocket-Protocol", sp)
	}
	if resp != nil {
		for _, c := range resp.Header.Values("Set-Cookie") {
			respHdr.Add("Set-Cookie", c)
		}
	}
	upgrader := websocket.Upgrader{
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 64 << 10,
		// jupyter_server checked the Origin against the Host we preserved.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	client, err := upgrader.Upgrade(w, r, respHdr)
	if err != nil {
		// Upgrade has answered the client already.
		up.Close()
		return
	}
	if !p.track(client) {
		client.Close()
		up.Close()
		return
	}
	defer p.untrack(client)
	client.SetReadLimit(p.maxFrame)
	up.SetReadLimit(p.maxFrame)

	var ds downstream
	switch kind {
	case kindKernel:
		ds = p.newKernelStream(up.Subprotocol())
	case kindTerminal:
		ds = newTerminalStream(p)
	default:
		ds = wholeMessages{p}
	}
	p.pump(client, up, ds)
}

// refuseHandshake relays a failed upstream handshake (403 from a bad token
// or origin, 404 for an unknown kernel) with its body redacted.
func (p *Proxy) refuseHandshake(w http.ResponseWriter, r *http.Request, resp *http.Response, err error) {
	if resp == nil {
		p.logf("hush proxy: websocket %s: %v", r.URL.Path, err)
		http.Error(w, "hush proxy: cannot reach the upstream Jupyter server", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	for _, k := range []string{"Content-Type", "Set-Cookie", "Www-Authenticate"} {
		for _, v := range resp.Header.Values(k) {
			w.Header().Add(k, v)
		}
	}
	status := resp.StatusCode
	if status < 400 {
		status = http.StatusBadGateway
	}
	w.WriteHeader(status)
	_, _ = w.Write(p.red.Redact(nil, body))
}

// pump runs both directions until either side closes, forwarding the
// close code and text to the other side.
func (p *Proxy) pump(client, up *websocket.Conn, ds downstream) {
	errc := make(chan struct{}, 2)
	// client → upstream: unchanged, in order.
	go func() {
		defer func() { errc <- struct{}{} }()
		for {
			typ, data, err := client.ReadMessage()
			if err != nil {
				forwardClose(up, err)
				return
			}
			if err := up.WriteMessage(typ, data); err != nil {
				forwardClose(client, err)
				return
			}
		}
	}()
	// upstream → client: redacted, in order.
	go func() {
		defer func() { errc <- struct{}{} }()
		downstreamLoop(client, up, ds)
	}()
	<-errc
	timer := time.AfterFunc(closeGrace, func() {
		client.Close()
		up.Close()
	})
	<-errc
	timer.Stop()
	client.Close()
	up.Close()
}

// downstreamLoop forwards upstream messages to the client through ds, in
// order, until either side fails. Between messages it sleeps until ds's
// deadline, if any, and sends what ds releases then, so a frame held back
// behind a partial secret waits no longer than ds allows even when the
// kernel sends nothing more. Only this goroutine touches ds.
func downstreamLoop(client, up *websocket.Conn, ds downstream) {
	msgs := make(chan upstreamMessage)
	done := make(chan struct{})
	defer close(done)
	go func() {
		// Ends at the first read error: pump closes up when a direction
		// ends, which fails a pending read.
		for {
			typ, data, err := up.ReadMessage()
			select {
			case msgs <- upstreamMessage{typ, data, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	send := func(frames []frame) bool {
		for _, f := range frames {
			if err := client.WriteMessage(f.typ, f.data); err != nil {
				forwardClose(up, err)
				return false
			}
		}
		return true
	}
	for {
		var due <-chan time.Time
		timer.Stop()
		if t, ok := ds.deadline(); ok {
			timer.Reset(time.Until(t))
			due = timer.C
		}
		select {
		case m := <-msgs:
			if m.err != nil {
				for _, f := range ds.flush() {
					if client.WriteMessage(f.typ, f.data) != nil {
						break
					}
				}
				forwardClose(client, m.err)
				return
			}
			if !send(ds.process(m.typ, m.data)) {
				return
			}
		case now := <-due:
			if !send(ds.expire(now)) {
				return
			}
		}
	}
}

// forwardClose sends to c the close frame matching err: the peer's code
// and text when err is a close frame, 1009 for an oversized message,
// 1011 otherwise.
func forwardClose(c *websocket.Conn, err error) {
	var ce *websocket.CloseError
	var msg []byte
	switch {
	case errors.As(err, &ce):
		if ce.Code == websocket.CloseAbnormalClosure || ce.Code == websocket.CloseTLSHandshake {
			msg = websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
		} else {
			msg = websocket.FormatCloseMessage(ce.Code, ce.Text)
		}
	case errors.Is(err, websocket.ErrReadLimit):
		msg = websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "message too big for hush proxy")
	default:
		msg = websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	}
	_ = c.WriteControl(websocket.CloseMessage, msg, deadlineSoon())
}

// wholeMessages redacts each server message on its own (events, LSP...).
type wholeMessages struct{ p *Proxy }

func (w wholeMessages) process(typ int, data []byte) []frame {
	return []frame{{typ, w.p.red.Redact(nil, data)}}
}

func (wholeMessages) flush() []frame { return nil }

func (wholeMessages) deadline() (time.Time, bool) { return time.Time{}, false }

func (wholeMessages) expire(time.Time) []frame { return nil }

// terminalStream redacts terminado's ["stdout", text] messages as one
// continuous byte stream, so a secret split across messages is caught; a
// live partial match is held until the next output or the end.
type terminalStream struct {
	p   *Proxy
	buf bytes.Buffer
	w   interface {
		Write([]byte) (int, error)
		Flush() error
	}
}

func newTerminalStream(p *Proxy) *terminalStream {
	t := &terminalStream{p: p}
	t.w = p.red.NewWriter(&t.buf)
	return t
}

// terminalNotice replaces a terminal message that cannot be redacted.
var terminalNotice = []byte(`["stdout", "\r\n[hush: terminal output that could not be redacted was dropped]\r\n"]`)

func (t *terminalStream) process(typ int, data []byte) []frame {
	if typ != websocket.TextMessage {
		return []frame{{websocket.TextMessage, terminalNotice}}
	}
	var msg []json.RawMessage
	if err := json.Unmarshal(data, &msg); err != nil || len(msg) == 0 {
		return []frame{{websocket.TextMessage, terminalNotice}}
	}
	var kind string
	if err := json.Unmarshal(msg[0], &kind); err != nil {
		return []frame{{websocket.TextMessage, terminalNotice}}
	}
	if kind == "stdout" && len(msg) == 2 {
		var text string
		if err := json.Unmarshal(msg[1], &text); err != nil {
			return []frame{{websocket.TextMessage, terminalNotice}}
		}
		if _, err := io.WriteString(t.w, text); err != nil {
			return []frame{{websocket.TextMessage, terminalNotice}}
		}
		return t.take()
	}
	// Any other message: release held output first to keep the order, then
	// the message itself redacted whole.
	out := t.flush()
	return append(out, frame{websocket.TextMessage, t.p.red.Redact(nil, data)})
}

// deadline: terminal output is held only until the next output, as a
// terminal would show it.
func (t *terminalStream) deadline() (time.Time, bool) { return time.Time{}, false }

func (t *terminalStream) expire(time.Time) []frame { return nil }

func (t *terminalStream) take() []frame {
	if t.buf.Len() == 0 {
		return nil
	}
	text := strings.ToValidUTF8(t.buf.String(), "\uFFFD")
	t.buf.Reset()
	doc, err := json.Marshal([]string{"stdout", text})
	if err != nil {
		return []frame{{websocket.TextMessage, terminalNotice}}
	}
	return []frame{{websocket.TextMessage, doc}}
}

func (t *terminalStream) flush() []frame {
	if err := t.w.Flush(); err != nil {
		return []frame{{websocket.TextMessage, terminalNotice}}
	}
	return t.take()
}
