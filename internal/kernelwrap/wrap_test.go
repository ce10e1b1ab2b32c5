package kernelwrap

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
)

// frontendFile writes a frontend connection file on free loopback ports.
func frontendFile(t *testing.T) string {
	t.Helper()
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	ci := ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: ports[0], IOPubPort: ports[1], StdinPort: ports[2],
		ControlPort: ports[3], HBPort: ports[4], Key: "frontend-key", SignatureScheme: "hmac-sha256"}
	b, _ := json.Marshal(ci)
	path := filepath.Join(t.TempDir(), "kernel-front.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer safe for the kernel's output goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRedactor(t *testing.T, secrets ...string) *redact.Redactor {
	t.Helper()
	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	for _, s := range secrets {
		if err := r.Add([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestRunInnerConnectionFileAndExitStatus runs a shell as the "kernel": it
// gets a private connection file of mode 0600 on loopback with a key of its
// own, its output is redacted, its exit status is the wrapper's, and the
// file is gone afterwards.
func TestRunInnerConnectionFileAndExitStatus(t *testing.T) {
	var out, errOut syncBuffer
	front := frontendFile(t)
	script := `stat -c %a "$1"; echo "$1"; cat "$1"; echo "pw kw-unit-secret-123"; exit 3`
	code, err := Run(context.Background(), Options{
		ConnectionFile: front,
		Argv:           []string{"sh", "-c", script, "sh", ConnectionFilePlaceholder},
		Env:            []string{"PATH=" + os.Getenv("PATH"), "DATABRICKS_CONFIG_PROFILE=prod", "HUSH_BRIDGE_FILE=/x"},
		Redactor:       newRedactor(t, "kw-unit-secret-123"),
		Stdout:         &out,
		Stderr:         &errOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Fatalf("exit code %d, want the kernel's 3", code)
	}
	lines := strings.SplitN(out.String(), "\n", 3)
	if len(lines) < 3 || lines[0] != "600" {
		t.Fatalf("inner connection file mode: %q", lines[0])
	}
	if _, err := os.Stat(lines[1]); !os.IsNotExist(err) {
		t.Fatalf("inner connection file still there after exit: %v", err)
	}
	var inner ConnectionInfo
	if err := json.NewDecoder(strings.NewReader(lines[2])).Decode(&inner); err != nil {
		t.Fatalf("inner connection file: %v", err)
	}
	if inner.IP != "127.0.0.1" || inner.Transport != "tcp" || len(inner.Key) != 64 || inner.Key == "frontend-key" {
		t.Fatalf("inner connection: ip %s transport %s, key of %d chars", inner.IP, inner.Transport, len(inner.Key))
	}
	if !strings.Contains(out.String(), "pw [REDACTED]\n") {
		t.Fatal("the kernel's own stdout is not redacted")
	}
}

// TestRunEnvironmentWithoutBridge: with no bridge the kernel gets no
// DATABRICKS_* at all (a profile could otherwise bypass the redactor) and
// no HUSH_BRIDGE_FILE.
func TestRunEnvironmentWithoutBridge(t *testing.T) {
	var out syncBuffer
	code, err := Run(context.Background(), Options{
		ConnectionFile: frontendFile(t),
		Argv:           []string{"sh", "-c", `env | grep -E '^(DATABRICKS|HUSH_BRIDGE)' ; echo done`},
		Env:            []string{"PATH=" + os.Getenv("PATH"), "DATABRICKS_CONFIG_PROFILE=prod", "DATABRICKS_TOKEN=x", "HUSH_BRIDGE_FILE=/x"},
		Redactor:       newRedactor(t),
		Stdout:         &out,
	})
	if err != nil || code != 0 {
		t.Fatalf("run: code %d, %v", code, err)
	}
	if out.String() != "done\n" {
		t.Fatalf("kernel environment has DATABRICKS_* or HUSH_BRIDGE_FILE: %q", out.String())
	}
}

// TestRunForwardsSIGINTToTheKernel: a SIGINT given to the wrapper reaches
// the kernel (its trap runs), and the wrapper keeps running until the
// kernel exits.
func TestRunForwardsSIGINTToTheKernel(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	sigs := make(chan os.Signal, 1)
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		code, err := Run(context.Background(), Options{
			ConnectionFile: frontendFile(t),
			Argv:           []string{"sh", "-c", `trap 'echo interrupted; exit 5' INT; touch "$1"; while :; do sleep 0.05; done`, "sh", ready},
			Env:            []string{"PATH=" + os.Getenv("PATH")},
			Redactor:       newRedactor(t),
			Stdout:         &out,
			Signals:        sigs,
		})
		if err != nil {
			t.Error(err)
		}
		done <- code
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kernel did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sigs <- syscall.SIGINT
	select {
	case code := <-done:
		if code != 5 || out.String() != "interrupted\n" {
			t.Fatalf("after SIGINT: code %d, output %q", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the wrapper did not exit after the kernel's trap")
	}
}

func TestRunBadInput(t *testing.T) {
	r := newRedactor(t)
	if _, err := Run(context.Background(), Options{ConnectionFile: frontendFile(t), Redactor: r}); err == nil {
		t.Error("no argv accepted")
	}
	if _, err := Run(context.Background(), Options{ConnectionFile: filepath.Join(t.TempDir(), "missing.json"), Argv: []string{"true"}, Redactor: r}); err == nil {
		t.Error("missing connection file accepted")
	}
	if _, err := Run(context.Background(), Options{ConnectionFile: frontendFile(t), Argv: []string{"/nonexistent/kernel"}, Redactor: r}); err == nil {
		t.Error("missing kernel binary accepted")
	}
}

func TestReadConnectionFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.json", `{"shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5,"key":"secret-key-value"}`)
	ci, err := ReadConnectionFile(ok)
	if err != nil || ci.Transport != "tcp" || ci.IP != "127.0.0.1" || ci.endpoint(ci.ShellPort) != "tcp://127.0.0.1:1" {
		t.Fatalf("defaults: %+v %v", ci.endpoint(1), err)
	}
	ipc := ConnectionInfo{Transport: "ipc", IP: "/tmp/k"}
	if e := ipc.endpoint(7); e != "ipc:///tmp/k-7" {
		t.Fatalf("ipc endpoint %q", e)
	}
	for name, doc := range map[string]string{
		"json.json":      `{"shell_port":1,`,
		"port.json":      `{"shell_port":0,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5,"key":"secret-key-value"}`,
		"transport.json": `{"transport":"udp","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5,"key":"secret-key-value"}`,
	} {
		_, err := ReadConnectionFile(write(name, doc))
		if err == nil {
			t.Errorf("%s accepted", name)
		} else if strings.Contains(err.Error(), "secret-key-value") {
			t.Errorf("%s: the error shows the key", name)
		}
	}
}

func TestInnerArgv(t *testing.T) {
	got := innerArgv([]string{"py", "-f", "/run/front.json", "--cf={connection_file}", "x/run/front.jsonx"}, "/run/front.json", "/tmp/inner.json")
	want := []string{"py", "-f", "/tmp/inner.json", "--cf=/tmp/inner.json", "x/tmp/inner.jsonx"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("innerArgv = %q", got)
	}
}

// TestRoutes: a reply released late finds its request's identities by its
// msg_id, a notice in its place by channel and parent; each only once.
func TestRoutes(t *testing.T) {
	var rs routes
	reply := &jupyter.Message{Channel: "shell", Header: []byte(`{"msg_id":"r1"}`), ParentHeader: []byte(`{"msg_id":"req1"}`)}
	rs.add(inbound{channel: "shell", idents: [][]byte{[]byte("client-a")}, msg: reply})
	rs.add(inbound{channel: "stdin", idents: [][]byte{[]byte("client-b")}, msg: &jupyter.Message{
		Channel: "stdin", Header: []byte(`{"msg_id":"i1"}`), ParentHeader: []byte(`{"msg_id":"req2"}`)}})
	if ids, ok := rs.take(reply); !ok || string(ids[0]) != "client-a" {
		t.Fatalf("by msg_id: %q %v", ids, ok)
	}
	if _, ok := rs.take(reply); ok {
		t.Fatal("a route was used twice")
	}
	notice := &jupyter.Message{Channel: "stdin", Header: []byte(`{"msg_id":"hush-notice"}`), ParentHeader: []byte(`{"msg_id":"req2"}`)}
	if ids, ok := rs.take(notice); !ok || string(ids[0]) != "client-b" {
		t.Fatalf("by parent: %q %v", ids, ok)
	}
	if len(rs.byID) != 0 || len(rs.byParent) != 0 {
		t.Fatalf("routes left behind: %d, %d", len(rs.byID), len(rs.byParent))
	}
}

// TestHeartbeatFollowsTheInnerKernel: pings reach a REP heartbeat (the
// IRkernel kind) and its answers are recorded; the frontend's pings are
// answered while the kernel starts and while it beats, not after it fell
// silent for hbTolerance.
func TestHeartbeatFollowsTheInnerKernel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	ep := ConnectionInfo{Transport: "tcp", IP: "127.0.0.1"}.endpoint(ports[0])
	rep := zmq4.NewRep(ctx)
	defer rep.Close()
	if err := rep.Listen(ep); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			m, err := rep.Recv()
			if err != nil {
				return
			}
			if rep.Send(m) != nil {
				return
			}
		}
	}()
	var beat innerBeat
	now := time.Now()
	if !beat.alive(now) {
		t.Fatal("a starting kernel must look alive")
	}
	done := make(chan struct{})
	go func() { defer close(done); pingInner(ctx, ep, &beat, t.Logf) }()
	deadline := time.Now().Add(20 * time.Second)
	for beat.last.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no answer from the REP heartbeat")
		}
		time.Sleep(20 * time.Millisecond)
	}
	last := time.Unix(0, beat.last.Load())
	if !beat.alive(last.Add(hbTolerance/2)) || beat.alive(last.Add(hbTolerance)) {
		t.Fatal("alive does not follow the inner heartbeat")
	}
	cancel()
	<-done
}

// TestRunContextDoneTerminatesThenKills: when ctx is done the kernel's
// process group gets SIGTERM, and SIGKILL after TermGrace when it ignores
// that; the wrapper returns the kernel's status.
func TestRunContextDoneTerminatesThenKills(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		code, err := Run(ctx, Options{
			ConnectionFile: frontendFile(t),
			Argv:           []string{"sh", "-c", `trap '' TERM; touch "$1"; while :; do sleep 0.05; done`, "sh", ready},
			Env:            []string{"PATH=" + os.Getenv("PATH")},
			Redactor:       newRedactor(t),
		})
		if err != nil {
			t.Error(err)
		}
		done <- code
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kernel did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case code := <-done:
		if code != 128+int(syscall.SIGKILL) || time.Since(start) < TermGrace {
			t.Fatalf("code %d after %s, want SIGKILL's after %s", code, time.Since(start), TermGrace)
		}
	case <-time.After(TermGrace + 20*time.Second):
		t.Fatal("the wrapper did not end the kernel")
	}
}
