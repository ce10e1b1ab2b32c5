package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

const fixtureSecret = "hello-secret"

type capturedFrame struct {
	Direction string `json:"direction"`
	Type      string `json:"type"`
	Data      string `json:"data"`
}

func loadFrames(t *testing.T, path string) [][2]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var frames []capturedFrame
	if err := json.Unmarshal(raw, &frames); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out [][2]any
	for _, f := range frames {
		if f.Direction != "recv" {
			continue
		}
		if f.Type == "binary" {
			b, err := base64.StdEncoding.DecodeString(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, [2]any{websocket.BinaryMessage, b})
		} else {
			out = append(out, [2]any{websocket.TextMessage, []byte(f.Data)})
		}
	}
	return out
}

// replayKernel serves the recorded server→client frames of one scenario on
// a kernel channels websocket, then closes normally.
func replayKernel(t *testing.T, frames [][2]any) *httptest.Server {
	up := websocket.Upgrader{Subprotocols: []string{jupyter.SubprotocolV1}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for _, f := range frames {
			if err := c.WriteMessage(f[0].(int), f[1].([]byte)); err != nil {
				return
			}
		}
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"))
		c.ReadMessage() // wait for the close reply
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestCapturedKernelFramesThroughProxy replays every captured scenario of
// real jupyter_server frames, in both wire formats, through the proxy: no
// frame the client gets holds the secret, every frame decodes in the
// negotiated format, and the outputs show [REDACTED].
func TestCapturedKernelFramesThroughProxy(t *testing.T) {
	for _, format := range []string{"legacy", "v1"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "kernel", "testdata", "frames", format, "*.json"))
		if len(files) == 0 {
			t.Fatalf("no captured frames for %s", format)
		}
		for _, file := range files {
			scenario := strings.TrimSuffix(filepath.Base(file), ".json")
			t.Run(format+"/"+scenario, func(t *testing.T) {
				frames := loadFrames(t, file)
				up := replayKernel(t, frames)
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
				f := jupyter.FormatLegacy
				if format == "v1" {
					d.Subprotocols = []string{jupyter.SubprotocolV1}
					f = jupyter.FormatV1
				}
				c, _, err := d.Dial("ws"+strings.TrimPrefix(px.URL, "http")+"/api/kernels/k1/channels?session_id=s", nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var all bytes.Buffer
				n := 0
				for {
					typ, data, err := c.ReadMessage()
					if err != nil {
						var ce *websocket.CloseError
						if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
							t.Fatalf("connection ended with %v, want a normal close", err)
						}
						break
					}
					n++
					if l := redacttest.Leaked(data, []byte(fixtureSecret)); l != nil {
						t.Fatalf("frame %d leaks %v", n, l)
					}
					m, err := f.Decode(jupyter.Frame{Binary: typ == websocket.BinaryMessage, Data: data})
					if err != nil {
						t.Fatalf("frame %d does not decode as %s: %v", n, f, err)
					}
					if bytes.Contains(m.Content, []byte("could not be checked for secrets")) {
						t.Fatalf("frame %d was replaced by a notice: %s", n, m.Content)
					}
					all.Write(m.Content)
					for _, b := range m.Buffers {
						all.Write(b)
					}
				}
				if n == 0 {
					t.Fatal("no frames reached the client")
				}
				switch scenario {
				case "kernel_info", "restart", "kernel_died": // no whole secret printed
				default:
					if !bytes.Contains(all.Bytes(), []byte("[REDACTED]")) {
						t.Errorf("no [REDACTED] in the outputs of %s", scenario)
					}
				}
			})
		}
	}
}

func TestUndecodableKernelFrameBecomesNotice(t *testing.T) {
	red := redact.New(redact.Options{})
	red.Add([]byte(fixtureSecret))
	p, err := New(Options{Upstream: "http://127.0.0.1:1", Redactor: red})
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range []string{"", jupyter.SubprotocolV1} {
		ks := p.newKernelStream(sp)
		f := jupyter.FormatForSubprotocol(sp)
		for _, bad := range [][]byte{[]byte(`{"header": ` + fixtureSecret), []byte("\x00\x01" + fixtureSecret)} {
			for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
				out := ks.process(typ, bad)
				if len(out) != 1 {
					t.Fatalf("%s: got %d frames, want one notice", f, len(out))
				}
				if l := redacttest.Leaked(out[0].data, []byte(fixtureSecret)); l != nil {
					t.Fatalf("%s: the notice leaks %v", f, l)
				}
				m, err := f.Decode(jupyter.Frame{Binary: out[0].typ == websocket.BinaryMessage, Data: out[0].data})
				if err != nil || m.Type() != "stream" || !bytes.Contains(m.Content, []byte("could not be checked for secrets")) {
					t.Fatalf("%s: notice %v %s", f, err, out[0].data)
				}
			}
		}
	}
}
