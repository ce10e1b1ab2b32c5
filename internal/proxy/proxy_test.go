package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

const secret = "hello-secret-4f8a2c"

// fakeJupyter stands in for jupyter_server in the proxy's unit tests (the
// real one is exercised in e2e/).
type fakeJupyter struct {
	mu       sync.Mutex
	hosts    []string
	put      []byte
	wsHeader http.Header
	wsQuery  string
	upClose  chan error // close received by the upstream websocket
}

func (f *fakeJupyter) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	record := func(r *http.Request) {
		f.mu.Lock()
		f.hosts = append(f.hosts, r.Host)
		f.mu.Unlock()
	}
	mux.HandleFunc("GET /api/contents/nb.ipynb", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json")
		http.SetCookie(w, &http.Cookie{Name: "_xsrf", Value: "x1"})
		w.Write([]byte(`{"name":"nb.ipynb","type":"notebook","format":"json","size":12345678901234567890,
			"content":{"cells":[{"cell_type":"code","execution_count":3,"source":"print(s)","outputs":[
			{"output_type":"stream","name":"stdout","text":["a ` + secret + ` b\n"]},
			{"output_type":"display_data","data":{"text/html":"<b>` + secret + `</b> & <i>","image/png":"` + base64.StdEncoding.EncodeToString([]byte("PNG.."+secret)) + `"},"metadata":{"` + secret + `":1.50}}]}],
			"metadata":{},"nbformat":4,"nbformat_minor":5}}`))
	})
	mux.HandleFunc("GET /api/contents/f.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		json.NewEncoder(w).Encode(map[string]any{"name": "f.bin", "type": "file", "format": "base64",
			"content": base64.StdEncoding.EncodeToString([]byte("\x00\x01 " + secret + " \xff"))})
	})
	mux.HandleFunc("GET /api/contents/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"content": "` + secret + `", oops`))
	})
	mux.HandleFunc("PUT /api/contents/nb.ipynb", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.put = body
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"nb.ipynb","type":"notebook"}`))
	})
	mux.HandleFunc("GET /files/x.txt", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "text/plain")
		fl := w.(http.Flusher)
		for _, part := range []string{"start ", secret[:6], secret[6:11], secret[11:], " end"} {
			w.Write([]byte(part))
			fl.Flush()
		}
	})
	mux.HandleFunc("GET /nbconvert/html/nb.ipynb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<pre>" + secret + "</pre>"))
	})
	up := websocket.Upgrader{Subprotocols: []string{"v1.kernel.websocket.jupyter.org"}}
	mux.HandleFunc("GET /terminals/websocket/1", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte(`["setup", {}]`))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if string(msg) == `["stdin", "go"]` {
				for _, part := range []string{"$ echo x\r\n" + secret[:3], secret[3:10], secret[10:] + "\r\n$ "} {
					b, _ := json.Marshal([]string{"stdout", part})
					c.WriteMessage(websocket.TextMessage, b)
				}
				c.WriteMessage(websocket.TextMessage, []byte(`["disconnect", 1]`))
			}
		}
	})
	mux.HandleFunc("GET /api/events/subscribe", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.wsHeader = r.Header.Clone()
		f.wsQuery = r.URL.RawQuery
		f.hosts = append(f.hosts, r.Host)
		f.mu.Unlock()
		c, err := up.Upgrade(w, r, http.Header{"Set-Cookie": {"sess=abc"}})
		if err != nil {
			return
		}
		defer c.Close()
		c.SetCloseHandler(func(code int, text string) error {
			f.upClose <- &websocket.CloseError{Code: code, Text: text}
			return nil
		})
		c.WriteMessage(websocket.TextMessage, []byte(`{"event":"`+secret+`"}`))
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			switch string(msg) {
			case "close-4001":
				c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"))
			default:
				c.WriteMessage(typ, append([]byte("echo:"), msg...))
			}
		}
	})
	mux.HandleFunc("GET /api/forbidden/ws", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Forbidden "+secret, http.StatusForbidden)
	})
	return mux
}

type fixture struct {
	up, px *httptest.Server
	fake   *fakeJupyter
	red    *redact.Redactor
	proxy  *Proxy
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	fx := &fixture{fake: &fakeJupyter{upClose: make(chan error, 4)}}
	fx.up = httptest.NewServer(fx.fake.handler(t))
	t.Cleanup(fx.up.Close)
	fx.red = redact.New(redact.Options{MinLength: 6, Encodings: redact.AllEncodings()})
	if err := fx.red.Add([]byte(secret)); err != nil {
		t.Fatal(err)
	}
	opts.Upstream = fx.up.URL
	opts.Redactor = fx.red
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	fx.proxy = p
	fx.px = httptest.NewServer(p)
	t.Cleanup(fx.px.Close)
	t.Cleanup(p.Close)
	return fx
}

func (fx *fixture) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fx.px.URL+path, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Range", "bytes=0-3")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestNotebookModelIsRedactedStringByString(t *testing.T) {
	fx := newFixture(t, Options{})
	resp, body := fx.get(t, "/api/contents/nb.ipynb")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if !redacttest.AssertNoSecret(t, []byte(body), []byte(secret)) {
		t.FailNow() // the notebook model is printed below
	}
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("redacted model is not JSON: %v\n%s", err, body)
	}
	if doc["size"].(json.Number).String() != "12345678901234567890" {
		t.Errorf("number changed: %v", doc["size"])
	}
	cell := doc["content"].(map[string]any)["cells"].([]any)[0].(map[string]any)
	outs := cell["outputs"].([]any)
	if got := outs[0].(map[string]any)["text"].([]any)[0]; got != "a [REDACTED] b\n" {
		t.Errorf("stream text %q", got)
	}
	data := outs[1].(map[string]any)["data"].(map[string]any)
	if data["text/html"] != "<b>[REDACTED]</b> & <i>" {
		t.Errorf("html %q (no HTML escaping may be added)", data["text/html"])
	}
	if _, ok := outs[1].(map[string]any)["metadata"].(map[string]any)["[REDACTED]"]; !ok {
		t.Errorf("object keys are not redacted: %v", outs[1])
	}
	if resp.Header.Get("Set-Cookie") == "" {
		t.Error("Set-Cookie was not passed back")
	}
	fx.fake.mu.Lock()
	host := fx.fake.hosts[0]
	fx.fake.mu.Unlock()
	if host != strings.TrimPrefix(fx.px.URL, "http://") {
		t.Errorf("upstream saw Host %q, want the proxy's", host)
	}
}

func TestBase64FileModelStaysValid(t *testing.T) {
	fx := newFixture(t, Options{})
	_, body := fx.get(t, "/api/contents/f.bin")
	var m struct{ Content string }
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(m.Content)
	if err != nil {
		t.Fatalf("content is no longer base64: %v", err)
	}
	if !redacttest.AssertNoSecret(t, raw, []byte(secret)) {
		t.FailNow() // the content is printed below
	}
	if string(raw) != "\x00\x01 [REDACTED] \xff" {
		t.Fatalf("decoded content %q", raw)
	}
}

func TestUnparsableModelFailsClosed(t *testing.T) {
	fx := newFixture(t, Options{})
	resp, body := fx.get(t, "/api/contents/bad")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !redacttest.AssertNoSecret(t, []byte(body), []byte(secret)) {
		t.FailNow() // the error answer is printed below
	}
}

func TestStreamedBodiesAreRedacted(t *testing.T) {
	fx := newFixture(t, Options{})
	resp, body := fx.get(t, "/files/x.txt")
	if !redacttest.AssertNoSecret(t, []byte(body), []byte(secret)) || body != "start [REDACTED] end" {
		t.Fatalf("body %d bytes, want %q", len(body), "start [REDACTED] end")
	}
	resp, body = fx.get(t, "/nbconvert/html/nb.ipynb")
	if !redacttest.AssertNoSecret(t, []byte(body), []byte(secret)) || body != "<pre>[REDACTED]</pre>" {
		t.Fatalf("nbconvert %d bytes, want %q", len(body), "<pre>[REDACTED]</pre>")
	}
	// The upstream's Content-Length (of the unredacted body) must not survive.
	if resp.ContentLength != -1 && resp.ContentLength != int64(len(body)) {
		t.Fatalf("stale Content-Length %d", resp.ContentLength)
	}
}

func TestRequestsPassUnchanged(t *testing.T) {
	fx := newFixture(t, Options{})
	in := `{"content":{"cells":[]},"type":"notebook","note":"` + secret + `"}`
	req, _ := http.NewRequest("PUT", fx.px.URL+"/api/contents/nb.ipynb", strings.NewReader(in))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fx.fake.mu.Lock()
	defer fx.fake.mu.Unlock()
	if string(fx.fake.put) != in {
		t.Fatalf("upstream got %q", fx.fake.put)
	}
}

func wsURL(fx *fixture, path string) string {
	return "ws" + strings.TrimPrefix(fx.px.URL, "http") + path
}

func TestTerminalIsRedactedAsAStream(t *testing.T) {
	fx := newFixture(t, Options{})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(fx, "/terminals/websocket/1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`["stdin", "go"]`))
	var stdout strings.Builder
	var kinds []string
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var m []any
		if err := json.Unmarshal(msg, &m); err != nil {
			t.Fatalf("frame %q: %v", msg, err)
		}
		kinds = append(kinds, m[0].(string))
		if m[0] == "stdout" {
			stdout.WriteString(m[1].(string))
		}
		if m[0] == "disconnect" {
			break
		}
	}
	if !redacttest.AssertNoSecret(t, []byte(stdout.String()), []byte(secret)) {
		t.FailNow() // the output is printed below
	}
	if stdout.String() != "$ echo x\r\n[REDACTED]\r\n$ " {
		t.Fatalf("terminal output %q", stdout.String())
	}
	if kinds[0] != "setup" || kinds[len(kinds)-1] != "disconnect" {
		t.Fatalf("message order %v", kinds)
	}
}

func TestTerminalStreamFailsClosed(t *testing.T) {
	fx := newFixture(t, Options{})
	ts := newTerminalStream(fx.proxy)
	for _, bad := range []string{`not json`, `[]`, `[1, 2]`, `["stdout", 5]`} {
		out := ts.process(websocket.TextMessage, []byte(bad+secret))
		if len(out) != 1 || !bytes.Equal(out[0].data, terminalNotice) {
			t.Errorf("%q: got %v", bad, out)
		}
	}
	if out := ts.process(websocket.BinaryMessage, []byte(secret)); !bytes.Equal(out[0].data, terminalNotice) {
		t.Errorf("binary frame forwarded: %v", out)
	}
	// A held partial is released, redacted as a whole, at the end.
	ts.process(websocket.TextMessage, []byte(`["stdout", "`+secret[:5]+`"]`))
	if got := ts.flush(); len(got) != 1 || string(got[0].data) != `["stdout","`+secret[:5]+`"]` {
		t.Errorf("flush %v", got)
	}
}

func TestWebsocketHandshakeAuthAndSubprotocol(t *testing.T) {
	fx := newFixture(t, Options{})
	d := websocket.Dialer{Subprotocols: []string{"v1.kernel.websocket.jupyter.org", "other"}}
	hdr := http.Header{"Authorization": {"token abc"}, "Cookie": {"username-x=login"}, "Origin": {fx.px.URL}}
	c, resp, err := d.Dial(wsURL(fx, "/api/events/subscribe?token=T1&session_id=s"), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol() != "v1.kernel.websocket.jupyter.org" {
		t.Errorf("subprotocol %q", c.Subprotocol())
	}
	if resp.Header.Get("Set-Cookie") != "sess=abc" {
		t.Errorf("handshake Set-Cookie %q", resp.Header.Get("Set-Cookie"))
	}
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != `{"event":"[REDACTED]"}` {
		t.Fatalf("event %q %v", msg, err)
	}
	fx.fake.mu.Lock()
	h, q := fx.fake.wsHeader, fx.fake.wsQuery
	fx.fake.mu.Unlock()
	if h.Get("Authorization") != "token abc" || h.Get("Cookie") != "username-x=login" || h.Get("Origin") != fx.px.URL || q != "token=T1&session_id=s" {
		t.Errorf("upstream handshake: %v %q", h, q)
	}
	// Client frames pass unchanged and in order; pings are answered.
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	c.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(5*time.Second))
	for i := range 50 {
		c.WriteMessage(websocket.TextMessage, []byte{'m', byte('0' + i%10)})
	}
	for i := range 50 {
		_, msg, err := c.ReadMessage()
		if err != nil || string(msg) != "echo:m"+string(rune('0'+i%10)) {
			t.Fatalf("message %d: %q %v", i, msg, err)
		}
	}
	select {
	case s := <-pong:
		if s != "p1" {
			t.Errorf("pong %q", s)
		}
	default:
		t.Error("ping not answered")
	}
}

func TestNoSubprotocolWhenUpstreamChoosesNone(t *testing.T) {
	fx := newFixture(t, Options{})
	d := websocket.Dialer{Subprotocols: []string{"something-else"}}
	c, _, err := d.Dial(wsURL(fx, "/api/events/subscribe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol() != "" {
		t.Fatalf("subprotocol %q chosen though upstream chose none", c.Subprotocol())
	}
}

func TestCloseCodesAreForwarded(t *testing.T) {
	fx := newFixture(t, Options{})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(fx, "/api/events/subscribe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.ReadMessage()
	c.WriteMessage(websocket.TextMessage, []byte("close-4001"))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "bye" {
		t.Fatalf("client saw %v, want close 4001 bye", err)
	}
	<-fx.fake.upClose // the client's echo of 4001, relayed back

	c2, _, err := websocket.DefaultDialer.Dial(wsURL(fx, "/api/events/subscribe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.ReadMessage()
	c2.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4002, "client done"))
	select {
	case err := <-fx.fake.upClose:
		if !errors.As(err, &ce) || ce.Code != 4002 || ce.Text != "client done" {
			t.Fatalf("upstream saw %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("upstream never saw the close")
	}
}

func TestOversizedFrameIsRefused(t *testing.T) {
	fx := newFixture(t, Options{MaxFrame: 1024})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(fx, "/api/events/subscribe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.ReadMessage()
	c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("a"), 4096))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("got %v, want close 1009", err)
	}
}

func TestRefusedHandshakeIsRelayedRedacted(t *testing.T) {
	fx := newFixture(t, Options{})
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(fx, "/api/forbidden/ws"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("err %v resp %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !redacttest.AssertNoSecret(t, body, []byte(secret)) {
		t.FailNow() // the refusal is printed below
	}
	if !strings.Contains(string(body), "Forbidden [REDACTED]") {
		t.Fatalf("body %q", body)
	}
}

func TestNewValidates(t *testing.T) {
	red := redact.New(redact.Options{})
	for _, o := range []Options{{Upstream: "http://x"}, {Upstream: "ws://x", Redactor: red}, {Upstream: "::", Redactor: red}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
