package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

const (
	secret    = "hello-secret-0123456789"
	fileValue = "file-only-value-987654"
	upToken   = "dapi-run-test-token"
)

// upstream is a minimal Secrets API with two secrets in scope "prod".
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	values := map[string]string{"db": secret, "other": fileValue}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+upToken {
			w.WriteHeader(401)
			w.Write([]byte(`{"error_code":"UNAUTHENTICATED","message":"bad token"}`))
			return
		}
		switch r.URL.Path {
		case "/api/2.0/secrets/scopes/list":
			w.Write([]byte(`{"scopes":[{"name":"prod","backend_type":"DATABRICKS"}]}`))
		case "/api/2.0/secrets/list":
			w.Write([]byte(`{"secrets":[{"key":"db","last_updated_timestamp":1},{"key":"other","last_updated_timestamp":1}]}`))
		case "/api/2.0/secrets/get":
			v, ok := values[r.URL.Query().Get("key")]
			if !ok {
				w.WriteHeader(404)
				w.Write([]byte(`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Secret does not exist"}`))
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"key": r.URL.Query().Get("key"), "value": base64.StdEncoding.EncodeToString([]byte(v))})
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("HUSH_REQUIRE_E2E") == "1" {
			t.Fatal("python3 not found (HUSH_REQUIRE_E2E=1)")
		}
		t.Skip("SKIP: python3 not found")
	}
	return p
}

func newBridge(t *testing.T, red *redact.Redactor, warn func(string)) *bridge.Bridge {
	t.Helper()
	b, err := bridge.New(bridge.Options{Upstream: upstream(t).URL, Token: upToken, Redactor: red, Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The test: a secret fetched through the bridge with the dbutils
// shim (importable because Run puts it on PYTHONPATH) and printed split
// across writes, flushes and pauses, on both streams.
func TestSecretSplitAcrossWritesIsRedacted(t *testing.T) {
	python(t)
	red := redact.New(redact.Options{MinLength: 8})
	b := newBridge(t, red, nil)
	script := `
import sys, time
from hush_dbutils import dbutils
s = dbutils.secrets.get(scope="prod", key="db")
for stream in (sys.stdout, sys.stderr):
    stream.write("before " + s[:4]); stream.flush(); time.sleep(0.15)
    stream.write(s[4:9]); stream.flush(); time.sleep(0.15)
    stream.write(s[9:] + " after\n"); stream.flush()
print("whole:", s)
print("len", len(s))
`
	var out, errb bytes.Buffer
	code, err := Run(context.Background(), Options{
		Args:     []string{"sh", "-c", `python3 -c "$1"`, "sh", script},
		Env:      append(os.Environ(), "DATABRICKS_CONFIG_PROFILE=prod", "DATABRICKS_HOST=https://elsewhere.example", "PYTHONPATH=/nonexistent"),
		Stdout:   &out,
		Stderr:   &errb,
		Redactor: red,
		Bridge:   b,
	})
	// The tail of the secret would show a redaction that started too late.
	if !redacttest.AssertNoSecretIn(t, map[string][]byte{"stdout": out.Bytes(), "stderr": errb.Bytes()}, []byte(secret), []byte(secret[4:])) {
		t.FailNow() // the outputs are printed below
	}
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v\nstdout %s\nstderr %s", code, err, out.String(), errb.String())
	}
	for name, got := range map[string]string{"stdout": out.String(), "stderr": errb.String()} {
		if !strings.Contains(got, "before [REDACTED] after\n") {
			t.Errorf("%s = %q, want the split secret redacted in place", name, got)
		}
	}
	if !strings.Contains(out.String(), "whole: [REDACTED]\nlen 23\n") {
		t.Errorf("stdout = %q", out.String())
	}
}

// Preloading registers values the child obtains another way.
func TestPreloadRedactsValuesNotFetched(t *testing.T) {
	red := redact.New(redact.Options{MinLength: 8})
	b := newBridge(t, red, nil)
	file := filepath.Join(t.TempDir(), "v")
	os.WriteFile(file, []byte(fileValue), 0o600)
	var out bytes.Buffer
	code, err := Run(context.Background(), Options{
		Args:     []string{"sh", "-c", `cat "$1"; echo; echo "host=$DATABRICKS_HOST profile=${DATABRICKS_CONFIG_PROFILE-unset}"`, "sh", file},
		Env:      append(os.Environ(), "DATABRICKS_CONFIG_PROFILE=prod"),
		Stdout:   &out,
		Redactor: red,
		Bridge:   b,
		Preload:  true,
	})
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v", code, err)
	}
	if !redacttest.AssertNoSecret(t, out.Bytes(), []byte(fileValue)) {
		t.FailNow()
	}
	if !strings.HasPrefix(out.String(), "[REDACTED]\nhost=http://127.0.0.1:") {
		t.Fatalf("stdout = %q", out.String())
	}
	if !strings.Contains(out.String(), "profile=unset") {
		t.Fatalf("DATABRICKS_CONFIG_PROFILE reached the child: %q", out.String())
	}
}

func TestExitCodePassesThrough(t *testing.T) {
	red := redact.New(redact.Options{})
	for script, want := range map[string]int{"exit 0": 0, "exit 7": 7, "kill -9 $$": 128 + 9} {
		code, err := Run(context.Background(), Options{Args: []string{"sh", "-c", script}, Redactor: red})
		if err != nil || code != want {
			t.Errorf("%q: code %d err %v, want %d", script, code, err, want)
		}
	}
	if _, err := Run(context.Background(), Options{Args: []string{"/nonexistent/cmd"}, Redactor: red}); err == nil {
		t.Error("a missing command is not an error")
	}
	if _, err := Run(context.Background(), Options{Redactor: red}); err == nil {
		t.Error("an empty command line is not an error")
	}
}

// notifyWriter reports when a marker has been written.
type notifyWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	once   sync.Once
}

func (n *notifyWriter) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf.Write(p)
	if strings.Contains(n.buf.String(), n.marker) {
		n.once.Do(func() { close(n.seen) })
	}
	return len(p), nil
}

func (n *notifyWriter) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.buf.String()
}

func TestSignalsAreForwarded(t *testing.T) {
	red := redact.New(redact.Options{})
	for name, sig := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "HUP": syscall.SIGHUP, "INT": syscall.SIGINT} {
		out := &notifyWriter{marker: "ready\n", seen: make(chan struct{})}
		sigs := make(chan os.Signal, 1)
		done := make(chan struct{})
		var code int
		var err error
		go func() {
			defer close(done)
			code, err = Run(context.Background(), Options{
				Args:     []string{"sh", "-c", `trap 'echo "got $1"; exit 3' $1; echo ready; while :; do sleep 0.05; done`, "sh", name},
				Stdout:   out,
				Redactor: red,
				Signals:  sigs,
			})
		}()
		<-out.seen
		sigs <- sig
		<-done
		if err != nil || code != 3 || !strings.Contains(out.String(), "got "+name) {
			t.Errorf("%v: code %d err %v out %q", sig, code, err, out.String())
		}
	}
}

func TestContextCancelTerminatesChild(t *testing.T) {
	red := redact.New(redact.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	out := &notifyWriter{marker: "ready\n", seen: make(chan struct{})}
	done := make(chan int)
	go func() {
		code, _ := Run(ctx, Options{Args: []string{"sh", "-c", "echo ready; exec sleep 60"}, Stdout: out, Redactor: red})
		done <- code
	}()
	<-out.seen
	cancel()
	if code := <-done; code != 128+int(syscall.SIGTERM) {
		t.Fatalf("code %d, want death by SIGTERM", code)
	}
}

// A background process holding stdout must not keep Run waiting forever.
func TestLingeringGrandchildDoesNotBlock(t *testing.T) {
	red := redact.New(redact.Options{})
	var out bytes.Buffer
	code, err := Run(context.Background(), Options{Args: []string{"sh", "-c", "echo hi; (sleep 30 &) ; exit 4"}, Stdout: &out, Redactor: red})
	if err != nil || code != 4 || out.String() != "hi\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
}

func TestChildEnv(t *testing.T) {
	got := ChildEnv([]string{"PATH=/bin", "DATABRICKS_CONFIG_PROFILE=x", "databricks_token=y", "DATABRICKS_CLIENT_SECRET=z", "HOME=/h"}, "http://127.0.0.1:1", "tok")
	want := []string{"PATH=/bin", "HOME=/h", "DATABRICKS_HOST=http://127.0.0.1:1", "DATABRICKS_TOKEN=tok", "DATABRICKS_AUTH_TYPE=pat"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ChildEnv = %q", got)
	}
}

func TestBrokenStdoutStopsChild(t *testing.T) {
	red := redact.New(redact.Options{})
	code, err := Run(context.Background(), Options{
		Args:     []string{"sh", "-c", "while :; do echo y || exit 9; done"},
		Stdout:   failWriter{},
		Redactor: red,
	})
	if err == nil || (code != 9 && code != 128+int(syscall.SIGPIPE)) {
		t.Fatalf("code %d err %v", code, err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

func TestWithPythonPath(t *testing.T) {
	got := withPythonPath([]string{"A=1", "PYTHONPATH=/x:/y", "B=2"}, "/shim")
	want := []string{"A=1", "B=2", "PYTHONPATH=/shim:/x:/y"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := withPythonPath([]string{"A=1"}, "/shim"); strings.Join(got, " ") != "A=1 PYTHONPATH=/shim" {
		t.Errorf("without PYTHONPATH: got %q", got)
	}
}
