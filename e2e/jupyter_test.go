package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// The secrets the Jupyter tests hide. lateSecret is put after hush proxy
// started, so it is redacted only because the bridge registered it when the
// kernel fetched it; earlySecret is never fetched through the bridge and is
// redacted only because the proxy pre-loaded it. Both hold characters that
// JSON, HTML and Python escape.
const (
	lateSecret  = `Hush-E2E-late-"q"<&>-ü-9Z7x`
	earlySecret = "hush-e2e-early-Wq81-preloaded"
	v1Protocol  = "v1.kernel.websocket.jupyter.org"
)

// needE2E skips (or, with HUSH_REQUIRE_E2E=1, fails) when a dependency of
// the end-to-end tests is missing.
func needE2E(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("HUSH_REQUIRE_E2E") == "1" {
		t.Fatalf("HUSH_REQUIRE_E2E=1 and %s", msg)
	}
	t.Skipf("SKIP (set HUSH_REQUIRE_E2E=1 to fail instead): %s", msg)
}

// systemPython is the interpreter the Debian Jupyter packages run on.
const systemPython = "/usr/bin/python3"

func requireJupyter(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("jupyter-server")
	if err != nil {
		needE2E(t, "jupyter-server is not installed (apt-get install jupyter-server python3-ipykernel python3-nbclassic)")
	}
	if err := exec.Command(systemPython, "-c", "import ipykernel, jupyter_server").Run(); err != nil {
		needE2E(t, "%s cannot import ipykernel and jupyter_server: %v", systemPython, err)
	}
	return bin
}

// hushBinary builds cmd/hush (or uses $HUSH_BIN).
func hushBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("HUSH_BIN"); b != "" {
		return b
	}
	out := filepath.Join(t.TempDir(), "hush")
	// Built in the main module, with its own go.mod and go.sum.
	cmd := exec.Command("go", "build", "-o", out, "./cmd/hush")
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hush: %v\n%s", err, b)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// process is a child process started by a test, stopped at cleanup.
type process struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startProcess(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{log: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Dir = t.TempDir() // nothing a kernel writes lands in the repository
	p.cmd.Stdout = &lockedBuffer{b: p.log}
	p.cmd.Stderr = p.cmd.Stdout
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its kernels die with it
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", name, p.cmd.Stdout.(*lockedBuffer).String())
		}
	})
	return p
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, what, u string, p *process) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if p.cmd.ProcessState != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not become ready at %s\n%s", what, redactURL(u), p.cmd.Stdout.(*lockedBuffer).String())
}

func redactURL(u string) string {
	if i := strings.Index(u, "token="); i >= 0 {
		return u[:i] + "token=…"
	}
	return u
}

// stack is hush serve + jupyter_server + hush proxy, all on loopback.
type stack struct {
	hush      string
	secrets   *secretsServer
	root      string // the notebook root directory
	token     string // jupyter_server's token
	jupyter   string // direct URL of jupyter_server
	proxy     string // URL of hush proxy
	env       []string
	jupyterPr *process
}

func startStack(t *testing.T) *stack {
	t.Helper()
	jupyterBin := requireJupyter(t)
	s := &stack{hush: hushBinary(t), token: randomHex(16)}
	s.secrets = startSecretsServer(t)
	s.secrets.createScope(t, "e2e")
	s.secrets.put(t, "e2e", "early", earlySecret)

	tmp := t.TempDir()
	s.root = filepath.Join(tmp, "root")
	dirs := map[string]string{
		"HOME":                filepath.Join(tmp, "home"),
		"JUPYTER_DATA_DIR":    filepath.Join(tmp, "data"),
		"JUPYTER_CONFIG_DIR":  filepath.Join(tmp, "config"),
		"JUPYTER_RUNTIME_DIR": filepath.Join(tmp, "runtime"),
		"IPYTHONDIR":          filepath.Join(tmp, "ipython"),
		"XDG_CONFIG_HOME":     filepath.Join(tmp, "xdgconfig"),
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "JUPYTER_PLATFORM_DIRS=0"}
	for k, v := range dirs {
		if err := os.MkdirAll(v, 0o700); err != nil {
			t.Fatal(err)
		}
		env = append(env, k+"="+v)
	}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = env
	bridgeFile := filepath.Join(tmp, "home", "bridge.json")

	out, err := s.hushCmd("kernel", "install", "--python", systemPython, "--bridge-file", bridgeFile).CombinedOutput()
	if err != nil {
		t.Fatalf("hush kernel install: %v\n%s", err, out)
	}

	jport := freePort(t)
	s.jupyter = fmt.Sprintf("http://127.0.0.1:%d", jport)
	s.jupyterPr = startProcess(t, "jupyter-server", env, jupyterBin,
		"--ServerApp.ip=127.0.0.1", fmt.Sprintf("--ServerApp.port=%d", jport), "--ServerApp.port_retries=0",
		"--ServerApp.token="+s.token, "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
		"--ServerApp.root_dir="+s.root, "--ServerApp.password=")
	waitHTTP(t, "jupyter-server", s.jupyter+"/api/status?token="+s.token, s.jupyterPr)

	pport := freePort(t)
	s.proxy = fmt.Sprintf("http://127.0.0.1:%d", pport)
	penv := append(append([]string{}, env...), "DATABRICKS_HOST="+s.secrets.url, "DATABRICKS_TOKEN="+s.secrets.token)
	ppr := startProcess(t, "hush proxy", penv, s.hush, "proxy", "--upstream", s.jupyter,
		"--listen", fmt.Sprintf("127.0.0.1:%d", pport), "--bridge-file", bridgeFile)
	waitHTTP(t, "hush proxy", s.proxy+"/api/status?token="+s.token, ppr)

	// Put after the proxy started: only the bridge can register this one.
	s.secrets.put(t, "e2e", "late", lateSecret)
	return s
}

func (s *stack) hushCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(s.hush, args...)
	cmd.Env = s.env
	return cmd
}

// api calls the Jupyter REST API through base (the proxy or jupyter direct).
func (s *stack) api(t *testing.T, base, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// hidden returns the secrets the Jupyter tests hide, for redacttest:
// secrets[0] is lateSecret, secrets[1] earlySecret. redacttest looks for
// them raw and in every form the proxy redacts, and names a leak by index,
// form and offset, never by value.
func hidden() [][]byte {
	return [][]byte{[]byte(lateSecret), []byte(earlySecret)}
}

func mustJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(b.String())
}

// secretsServer is a real hush serve (in-process, bolt store in a temp dir).
type secretsServer struct {
	url, token string
}

func startSecretsServer(t *testing.T) *secretsServer {
	t.Helper()
	srv := servertest.Start(t)
	return &secretsServer{url: srv.URL, token: srv.AdminToken}
}

func (s *secretsServer) post(t *testing.T, path string, body any) {
	t.Helper()
	req, err := http.NewRequest("POST", s.url+path, bytes.NewReader(mustMarshal(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
}

func (s *secretsServer) createScope(t *testing.T, scope string) {
	s.post(t, dbapi.PathScopesCreate, dbapi.CreateScopeRequest{Scope: scope})
}

func (s *secretsServer) put(t *testing.T, scope, key, value string) {
	s.post(t, dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: scope, Key: key, StringValue: &value})
}

// ---- a minimal Jupyter kernel websocket client, both wire formats ----

type kmsg struct {
	Channel      string         `json:"channel"`
	Header       map[string]any `json:"header"`
	ParentHeader map[string]any `json:"parent_header"`
	Metadata     map[string]any `json:"metadata"`
	Content      map[string]any `json:"content"`
	Buffers      []any          `json:"buffers,omitempty"`
	raw          []byte         // the frame as received
}

func (m *kmsg) msgType() string { s, _ := m.Header["msg_type"].(string); return s }
func (m *kmsg) parentID() string {
	s, _ := m.ParentHeader["msg_id"].(string)
	return s
}

type kernelClient struct {
	t       *testing.T
	c       *websocket.Conn
	v1      bool
	session string
	frames  [][]byte // every frame received, for the leak check
}

func dialKernel(t *testing.T, base, token, kernelID string, v1 bool) *kernelClient {
	t.Helper()
	session := randomHex(16)
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/kernels/" + kernelID + "/channels?session_id=" + session
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	if v1 {
		d.Subprotocols = []string{v1Protocol}
	}
	hdr := http.Header{"Authorization": {"token " + token}, "Origin": {base}}
	c, resp, err := d.Dial(u, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial kernel channels (v1=%v): %v (HTTP %d)", v1, err, status)
	}
	if v1 && c.Subprotocol() != v1Protocol {
		t.Fatalf("subprotocol %q negotiated, want %s", c.Subprotocol(), v1Protocol)
	}
	if !v1 && c.Subprotocol() != "" {
		t.Fatalf("subprotocol %q negotiated for a legacy client", c.Subprotocol())
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.Close() })
	return &kernelClient{t: t, c: c, v1: v1, session: session}
}

func (k *kernelClient) send(channel, msgType string, content map[string]any) string {
	k.t.Helper()
	id := randomHex(16)
	header := map[string]any{"msg_id": id, "msg_type": msgType, "username": "e2e", "session": k.session,
		"date": time.Now().UTC().Format(time.RFC3339Nano), "version": "5.3"}
	var err error
	if k.v1 {
		parts := [][]byte{mustMarshal(header), []byte("{}"), []byte("{}"), mustMarshal(content)}
		err = k.c.WriteMessage(websocket.BinaryMessage, encodeV1(channel, parts))
	} else {
		err = k.c.WriteMessage(websocket.TextMessage, mustMarshal(map[string]any{
			"channel": channel, "header": header, "parent_header": map[string]any{}, "metadata": map[string]any{},
			"content": content, "buffers": []any{}}))
	}
	if err != nil {
		k.t.Fatalf("send %s: %v", msgType, err)
	}
	return id
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// encodeV1 writes v1.kernel.websocket.jupyter.org framing: a little-endian
// offset count, the offsets, the channel, the parts.
func encodeV1(channel string, parts [][]byte) []byte {
	n := 2 + len(parts) // channel start, each part start, the end
	offsets := make([]uint64, 0, n)
	off := uint64(8 * (1 + n))
	offsets = append(offsets, off)
	off += uint64(len(channel))
	offsets = append(offsets, off)
	for _, p := range parts {
		off += uint64(len(p))
		offsets = append(offsets, off)
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(offsets)))
	for _, o := range offsets {
		binary.Write(&b, binary.LittleEndian, o)
	}
	b.WriteString(channel)
	for _, p := range parts {
		b.Write(p)
	}
	return b.Bytes()
}

func decodeFrame(v1 bool, typ int, data []byte) (*kmsg, error) {
	m := &kmsg{raw: data}
	if v1 {
		if len(data) < 8 {
			return nil, errors.New("short v1 frame")
		}
		n := binary.LittleEndian.Uint64(data)
		if n < 6 || 8*(n+1) > uint64(len(data)) {
			return nil, fmt.Errorf("bad v1 offset count %d", n)
		}
		offs := make([]uint64, n)
		for i := range offs {
			offs[i] = binary.LittleEndian.Uint64(data[8*(i+1):])
			if offs[i] > uint64(len(data)) || (i > 0 && offs[i] < offs[i-1]) {
				return nil, errors.New("bad v1 offsets")
			}
		}
		m.Channel = string(data[offs[0]:offs[1]])
		targets := []any{&m.Header, &m.ParentHeader, &m.Metadata, &m.Content}
		for i, tgt := range targets {
			if err := json.Unmarshal(data[offs[i+1]:offs[i+2]], tgt); err != nil {
				return nil, fmt.Errorf("v1 part %d: %w", i, err)
			}
		}
		return m, nil
	}
	if typ == websocket.BinaryMessage {
		// Legacy binary: big-endian uint32 count, offsets, JSON message first.
		if len(data) < 8 {
			return nil, errors.New("short legacy binary frame")
		}
		nb := binary.BigEndian.Uint32(data)
		if nb == 0 || 4*(nb+1) > uint32(len(data)) {
			return nil, errors.New("bad legacy buffer count")
		}
		start := binary.BigEndian.Uint32(data[4:])
		end := uint32(len(data))
		if nb > 1 {
			end = binary.BigEndian.Uint32(data[8:])
		}
		if start > end || end > uint32(len(data)) {
			return nil, errors.New("bad legacy offsets")
		}
		data = data[start:end]
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return m, nil
}

// collect reads messages until both the idle status of parent and its
// shell reply of type replyType have arrived (iopub and shell are not
// ordered with each other), answering an input_request with reply. It fails
// the test on any frame that shows a secret.
func (k *kernelClient) collect(parent, replyType, reply string) []*kmsg {
	k.t.Helper()
	var out []*kmsg
	_ = k.c.SetReadDeadline(time.Now().Add(90 * time.Second))
	idle, replied := false, false
	for {
		typ, data, err := k.c.ReadMessage()
		if err != nil {
			k.t.Fatalf("read kernel frame: %v", err)
		}
		k.frames = append(k.frames, data)
		m, err := decodeFrame(k.v1, typ, data)
		if err != nil {
			k.t.Fatalf("frame from the proxy does not decode: %v", err)
		}
		if l := redacttest.Leaked(data, hidden()...); l != nil {
			k.t.Fatalf("a %s frame (%s) leaks %v", m.msgType(), m.Channel, l)
		}
		if l := redacttest.Leaked([]byte(allStrings(m.Content)+allStrings(m.Metadata)), hidden()...); l != nil {
			k.t.Fatalf("a decoded %s message leaks %v", m.msgType(), l)
		}
		if m.parentID() != parent {
			continue
		}
		out = append(out, m)
		if m.msgType() == "input_request" {
			k.send("stdin", "input_reply", map[string]any{"value": reply})
		}
		if m.msgType() == "status" && m.Content["execution_state"] == "idle" {
			idle = true
		}
		if m.msgType() == replyType {
			replied = true
		}
		if idle && replied {
			return out
		}
	}
}

// allStrings concatenates every string inside v, keys included.
func allStrings(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			b.WriteString(t)
			b.WriteByte(0)
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			for k, e := range t {
				b.WriteString(k)
				b.WriteByte(0)
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

func (k *kernelClient) execute(code string) []*kmsg {
	k.t.Helper()
	id := k.send("shell", "execute_request", map[string]any{"code": code, "silent": false, "store_history": true,
		"user_expressions": map[string]any{}, "allow_stdin": true, "stop_on_error": false})
	return k.collect(id, "execute_reply", "typed")
}

func streamText(msgs []*kmsg, name string) string {
	var b strings.Builder
	for _, m := range msgs {
		if m.msgType() == "stream" && m.Content["name"] == name {
			b.WriteString(fmt.Sprint(m.Content["text"]))
		}
	}
	return b.String()
}

func find(msgs []*kmsg, typ string) *kmsg {
	for _, m := range msgs {
		if m.msgType() == typ {
			return m
		}
	}
	return nil
}

// clearRunWindows are the runs of 4 bytes of each secret: an output with
// none of them shows no more than 3 bytes of a secret in clear.
func clearRunWindows() [][]byte {
	var out [][]byte
	for _, sec := range []string{lateSecret, earlySecret} {
		for i := 0; i+4 <= len(sec); i++ {
			out = append(out, []byte(sec[i:i+4]))
		}
	}
	return out
}

// assertNoClearRun checks the stream text of msgs as a notebook shows it
// (each stream on its own) and as a terminal does (all streams in order):
// no 4 bytes of a secret in clear.
func assertNoClearRun(t *testing.T, msgs []*kmsg, what string) {
	t.Helper()
	var all strings.Builder
	for _, m := range msgs {
		if m.msgType() == "stream" {
			all.WriteString(fmt.Sprint(m.Content["text"]))
		}
	}
	for name, text := range map[string]string{"stdout": streamText(msgs, "stdout"), "stderr": streamText(msgs, "stderr"), "all streams": all.String()} {
		if l := redacttest.FindLeak([]byte(text), clearRunWindows(), nil); l != nil {
			t.Errorf("%s: %s shows more than 3 bytes of a secret in clear (%s)", what, name, l)
		}
	}
}

// assertSplitOutput checks the output of print(s[:-1], end="",
// flush=True); <between>; print(s[-1:]): the secret shows as [REDACTED]
// before the message in between, the newline after it.
func assertSplitOutput(t *testing.T, msgs []*kmsg, between string) {
	t.Helper()
	assertNoClearRun(t, msgs, between)
	var before, after strings.Builder
	seen := false
	for _, m := range msgs {
		switch m.msgType() {
		case "display_data", "clear_output", "comm_open", "comm_msg":
			seen = true
		case "stream":
			if seen {
				after.WriteString(fmt.Sprint(m.Content["text"]))
			} else {
				before.WriteString(fmt.Sprint(m.Content["text"]))
			}
		}
	}
	if !seen || before.String() != "[REDACTED]" || after.String() != "\n" {
		t.Errorf("%s: stdout %q, then the message in between (seen %v), then %q", between, before.String(), seen, after.String())
	}
}

// ---- the tests ----

func TestJupyterThroughProxyNeverShowsSecrets(t *testing.T) {
	s := startStack(t)

	status, body := s.api(t, s.proxy, "POST", "/api/kernels", map[string]any{"name": "hush-python3"})
	if status != 201 {
		t.Fatalf("start kernel through the proxy: %d %s", status, body)
	}
	var kernel struct{ ID, Name string }
	if err := json.Unmarshal(body, &kernel); err != nil || kernel.Name != "hush-python3" {
		t.Fatalf("kernel %s: %v", body, err)
	}
	t.Cleanup(func() { s.api(t, s.jupyter, "DELETE", "/api/kernels/"+kernel.ID, nil) })
	// The file the kernel will read the pre-loaded secret from.
	if err := os.WriteFile(filepath.Join(s.root, "early.txt"), []byte(earlySecret), 0o600); err != nil {
		t.Fatal(err)
	}

	var outputs []map[string]any // nbformat outputs, as the browser got them
	for _, v1 := range []bool{false, true} {
		name := map[bool]string{false: "legacy", true: "v1"}[v1]
		t.Run(name, func(t *testing.T) {
			k := dialKernel(t, s.proxy, s.token, kernel.ID, v1)
			k.t = t

			msgs := k.execute(`s = dbutils.secrets.get(scope="e2e", key="late")
print(s)`)
			if got := streamText(msgs, "stdout"); got != "[REDACTED]\n" {
				t.Errorf("whole print: stdout %q", got)
			}
			outputs = append(outputs, map[string]any{"output_type": "stream", "name": "stdout", "text": streamText(msgs, "stdout")})

			msgs = k.execute(`import sys, time
for i in range(0, len(s), 4):
    sys.stdout.write(s[i:i+4]); sys.stdout.flush(); time.sleep(0.25)
sys.stderr.write("x" + s[:9]); sys.stderr.flush(); time.sleep(0.3)
sys.stderr.write(s[9:] + "y\n"); sys.stderr.flush()
print()`)
			if got := streamText(msgs, "stdout"); got != "[REDACTED]\n" {
				t.Errorf("split print: stdout %q", got)
			}
			if got := streamText(msgs, "stderr"); got != "x[REDACTED]y\n" {
				t.Errorf("split print: stderr %q", got)
			}
			if n := len(k.frames); n < 4 {
				t.Errorf("only %d frames: the split was not exercised", n)
			}

			// Issue 11 point 4: other messages between the parts of a
			// secret release no prefix of it, and the order is kept.
			for _, between := range []string{
				`from IPython.display import display; display("between")`,
				`from IPython.display import clear_output; clear_output()`,
				// A widget update: comm_open and comm_msg (no ipywidgets
				// needed; the client ignores the comm).
				`from ipykernel.comm import Comm; Comm(target_name="hush-e2e").send({"value": 1})`,
			} {
				msgs = k.execute(`print(s[:-1], end="", flush=True)
` + between + `
print(s[-1:])`)
				assertSplitOutput(t, msgs, between)
			}
			msgs = k.execute(`import sys
print(s[:8], end="", flush=True)
print(s[8:], file=sys.stderr, flush=True)`)
			assertNoClearRun(t, msgs, "halves on stdout and stderr")
			// Each stream shows a token for its part of the secret.
			if got := streamText(msgs, "stdout") + "|" + streamText(msgs, "stderr"); got != "[REDACTED]|[REDACTED]\n" {
				t.Errorf("halves on stdout and stderr: stdout|stderr %q", got)
			}

			msgs = k.execute(`raise ValueError("bad value " + s)`)
			errMsg := find(msgs, "error")
			if errMsg == nil || !strings.Contains(fmt.Sprint(errMsg.Content["evalue"]), "bad value [REDACTED]") {
				t.Errorf("exception: %v", errMsg)
			} else {
				outputs = append(outputs, map[string]any{"output_type": "error", "ename": errMsg.Content["ename"],
					"evalue": errMsg.Content["evalue"], "traceback": errMsg.Content["traceback"]})
			}

			msgs = k.execute(`s`)
			res := find(msgs, "execute_result")
			if res == nil || !strings.Contains(fmt.Sprint(res.Content["data"]), "[REDACTED]") {
				t.Errorf("execute_result: %v", res)
			} else {
				outputs = append(outputs, map[string]any{"output_type": "execute_result", "execution_count": res.Content["execution_count"],
					"data": res.Content["data"], "metadata": map[string]any{}})
			}

			msgs = k.execute(`from IPython.display import HTML, display
display(HTML("<b>" + s + "</b>"))`)
			disp := find(msgs, "display_data")
			if disp == nil || disp.Content["data"].(map[string]any)["text/html"] != "<b>[REDACTED]</b>" {
				t.Errorf("display_data: %v", disp)
			} else {
				outputs = append(outputs, map[string]any{"output_type": "display_data", "data": disp.Content["data"], "metadata": map[string]any{}})
			}

			msgs = k.execute(`answer = input("type " + s + ": ")
print("got", answer)`)
			req := find(msgs, "input_request")
			if req == nil || req.Content["prompt"] != "type [REDACTED]: " {
				t.Errorf("input_request: %v", req)
			}
			if got := streamText(msgs, "stdout"); got != "got typed\n" {
				t.Errorf("input reply did not reach the kernel: %q", got)
			}

			id := k.send("shell", "inspect_request", map[string]any{"code": "s", "cursor_pos": 1, "detail_level": 0})
			msgs = k.collect(id, "inspect_reply", "")
			insp := find(msgs, "inspect_reply")
			if insp == nil || insp.Content["found"] != true || !strings.Contains(allStrings(insp.Content["data"]), "[REDACTED]") {
				t.Errorf("inspect_reply: %v", insp)
			}

			msgs = k.execute(`print(open(` + strconv.Quote(filepath.Join(s.root, "early.txt")) + `).read())`)
			if got := streamText(msgs, "stdout"); got != "[REDACTED]\n" {
				t.Errorf("pre-loaded secret read from a file: stdout %q stderr %q error %v", got, streamText(msgs, "stderr"), find(msgs, "error"))
			}

			// The kernel leaves the secret in a file: fetched through the
			// proxy, it is redacted.
			k.execute(`open(` + strconv.Quote(filepath.Join(s.root, "leak.txt")) + `, "w").write("file: " + s)`)
		})
	}
	if t.Failed() {
		return
	}

	for _, path := range []string{"/files/leak.txt", "/api/contents/leak.txt", "/api/contents/leak.txt?format=base64&type=file"} {
		status, body := s.api(t, s.proxy, "GET", path, nil)
		if !redacttest.AssertNoSecretIn(t, map[string][]byte{"GET " + path: body}, hidden()...) {
			continue // the body is not printed
		}
		if status != 200 || !bytes.Contains(body, []byte("[REDACTED]")) && !strings.Contains(path, "base64") {
			t.Errorf("GET %s through the proxy: %d %.300q", path, status, body)
		}
	}

	// Save the notebook the browser saw through the proxy, read it back
	// through the proxy, and read the file itself.
	nb := map[string]any{"type": "notebook", "content": map[string]any{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": "hush-python3", "display_name": "Python 3 (hush)", "language": "python"}},
		"cells": []any{map[string]any{"cell_type": "code", "id": "c1", "execution_count": 1, "metadata": map[string]any{},
			"source": `print(dbutils.secrets.get(scope="e2e", key="late"))`, "outputs": outputs}},
	}}
	if status, body := s.api(t, s.proxy, "PUT", "/api/contents/saved.ipynb", nb); status != 200 && status != 201 {
		t.Fatalf("save notebook: %d %s", status, body)
	}
	status, body = s.api(t, s.proxy, "GET", "/api/contents/saved.ipynb", nil)
	if redacttest.AssertNoSecretIn(t, map[string][]byte{"the notebook read through the proxy": body}, hidden()...) &&
		(status != 200 || !bytes.Contains(body, []byte("[REDACTED]"))) {
		t.Errorf("notebook read through the proxy: %d %.300q", status, body)
	}
	disk, err := os.ReadFile(filepath.Join(s.root, "saved.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if redacttest.AssertNoSecretIn(t, map[string][]byte{"the saved notebook on disk": disk}, hidden()...) &&
		!bytes.Contains(disk, []byte("[REDACTED]")) {
		t.Errorf("the saved notebook on disk has no outputs: %.500s", disk)
	}

	// A notebook written with the secret by another path is redacted when
	// served, as a model and through nbconvert.
	raw := bytes.ReplaceAll(disk, []byte("[REDACTED]"), []byte(strings.Trim(mustJSON(lateSecret), `"`)))
	if err := os.WriteFile(filepath.Join(s.root, "raw.ipynb"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/contents/raw.ipynb", "/files/raw.ipynb", "/nbconvert/html/raw.ipynb?download=false"} {
		status, body := s.api(t, s.proxy, "GET", path, nil)
		if strings.HasPrefix(path, "/nbconvert") && status >= 400 {
			t.Logf("nbconvert unavailable here (%d); skipped", status)
			continue
		}
		redacttest.AssertNoSecretIn(t, map[string][]byte{"GET " + path: body}, hidden()...)
		if status != 200 {
			t.Errorf("GET %s through the proxy: %d", path, status)
		}
	}
	// Sanity: straight to jupyter_server the raw notebook does show it, so
	// the checks above test the proxy, not the fixture.
	if _, body := s.api(t, s.jupyter, "GET", "/api/contents/raw.ipynb", nil); redacttest.Leaked(body, hidden()...) == nil {
		t.Error("fixture: the raw notebook does not hold the secret")
	}
}

// TestProxyPassesJupyterAuth checks that the proxy adds no access: without
// jupyter's token it is refused, like jupyter_server itself.
func TestProxyPassesJupyterAuth(t *testing.T) {
	s := startStack(t)
	resp, err := http.Get(s.proxy + "/api/kernels")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated /api/kernels through the proxy: %d", resp.StatusCode)
	}
	_, _, err = websocket.DefaultDialer.DialContext(context.Background(),
		"ws"+strings.TrimPrefix(s.proxy, "http")+"/api/kernels/x/channels", nil)
	if err == nil {
		t.Fatal("an unauthenticated kernel websocket was accepted")
	}
}

// lockedBuffer collects a child's output written from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
