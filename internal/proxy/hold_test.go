package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// liveKernel is an upstream kernel websocket that sends the frames the test
// hands it, when it hands them, and closes when the channel closes.
func liveKernel(t *testing.T, frames <-chan jupyter.Frame) *httptest.Server {
	up := websocket.Upgrader{Subprotocols: []string{jupyter.SubprotocolV1}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for fr := range frames {
			typ := websocket.TextMessage
			if fr.Binary {
				typ = websocket.BinaryMessage
			}
			if err := c.WriteMessage(typ, fr.Data); err != nil {
				return
			}
		}
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"))
		c.ReadMessage()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func iopub(id, msgType, content string) *jupyter.Message {
	return &jupyter.Message{
		Channel:      jupyter.ChannelIOPub,
		Header:       []byte(fmt.Sprintf(`{"msg_id": %q, "msg_type": %q, "username": "u", "session": "s", "date": "d", "version": "5.3"}`, id, msgType)),
		ParentHeader: []byte(`{"msg_id": "cell-1", "msg_type": "execute_request", "session": "s", "username": "u", "date": "d", "version": "5.3"}`),
		Metadata:     []byte(`{}`),
		Content:      []byte(content),
	}
}

// TestHeldTextReleasedByTimer: the kernel prints the start of a secret,
// displays something and then stays silent. The proxy's timer releases the
// display (with the held start as [REDACTED] before it) without any further
// message from the kernel; the rest of the secret, sent later, continues
// the token. Both wire formats.
func TestHeldTextReleasedByTimer(t *testing.T) {
	for _, sp := range []string{"", jupyter.SubprotocolV1} {
		format := jupyter.FormatForSubprotocol(sp)
		t.Run(format.String(), func(t *testing.T) {
			frames := make(chan jupyter.Frame)
			up := liveKernel(t, frames)
			red := redact.New(redact.Options{Encodings: redact.AllEncodings()})
			if err := red.Add([]byte(fixtureSecret)); err != nil {
				t.Fatal(err)
			}
			p, err := New(Options{Upstream: up.URL, Redactor: red})
			if err != nil {
				t.Fatal(err)
			}
			px := httptest.NewServer(p)
			defer px.Close()
			d := websocket.Dialer{}
			if sp != "" {
				d.Subprotocols = []string{sp}
			}
			c, _, err := d.Dial("ws"+strings.TrimPrefix(px.URL, "http")+"/api/kernels/k1/channels?session_id=s", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			send := func(m *jupyter.Message) {
				fr, err := format.Encode(m)
				if err != nil {
					t.Fatal(err)
				}
				frames <- fr
			}
			// recv reads the next frame; the deadline only stops a hung
			// test, it measures nothing.
			recv := func() string {
				t.Helper()
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				typ, data, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				redacttest.AssertNoSecret(t, data, []byte(fixtureSecret))
				m, err := format.Decode(jupyter.Frame{Binary: typ == websocket.BinaryMessage, Data: data})
				if err != nil {
					t.Fatal(err)
				}
				text, _ := jupyter.StringMember(m.Content, "text")
				return m.Type() + ":" + text
			}
			send(iopub("a", "stream", `{"name": "stdout", "text": "token: hello-"}`))
			if got := recv(); got != "stream:token: " {
				t.Fatalf("got %q", got)
			}
			send(iopub("x", "display_data", `{"data": {"text/plain": "42"}, "metadata": {}}`))
			// Nothing more from the kernel: the timer releases both.
			if got := recv(); got != "stream:[REDACTED]" {
				t.Fatalf("got %q", got)
			}
			if got := recv(); got != "display_data:" {
				t.Fatalf("got %q", got)
			}
			send(iopub("b", "stream", `{"name": "stdout", "text": "secret\n"}`))
			if got := recv(); got != "stream:\n" {
				t.Fatalf("got %q", got)
			}
			close(frames)
		})
	}
}
