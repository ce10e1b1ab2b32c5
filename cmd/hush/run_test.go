package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/pyshim"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// runFetchScript fetches app/db through DATABRICKS_HOST with a tiny urllib
// client and prints it split across writes, flushes and pauses.
const runFetchScript = `
import base64, json, os, sys, time, urllib.request
req = urllib.request.Request(os.environ["DATABRICKS_HOST"] + "/api/2.0/secrets/get?scope=app&key=db",
    headers={"Authorization": "Bearer " + os.environ["DATABRICKS_TOKEN"]})
s = base64.b64decode(json.load(urllib.request.urlopen(req))["value"]).decode()
sys.stdout.write("db=" + s[:6]); sys.stdout.flush(); time.sleep(0.2)
sys.stdout.write(s[6:] + "\n"); sys.stdout.flush()
print("whole", s, file=sys.stderr)
`

func TestRunCmdRedactsFetchedAndPreloaded(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("SKIP: python3 not found")
	}
	serverEnv(t)
	hush(t, nil, "secrets", "create-scope", "app").ok(t)
	hush(t, nil, "secrets", "put-secret", "app", "db", "--string-value", "db-pass-0123456789").ok(t)
	hush(t, nil, "secrets", "put-secret", "app", "other", "--string-value", "other-value-ABCDEFG").ok(t)
	t.Setenv("LEAKY", "other-value-ABCDEFG") // reaches the child without the bridge

	r := hush(t, nil, "run", "--", "sh", "-c", `python3 -c "$1" && printf 'env=%s\n' "$LEAKY"; exit 5`, "sh", runFetchScript)
	if r.code != 5 {
		t.Fatalf("exit %d, want the child's 5\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	if r.stdout != "db=[REDACTED]\nenv=[REDACTED]\n" || r.stderr != "whole [REDACTED]\n" {
		t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
	}

	// Without pre-loading, a value the child never fetched is not known.
	r = hush(t, nil, "run", "--no-preload", "--", "sh", "-c", `printf 'env=%s\n' "$LEAKY"`)
	if r.code != 0 || r.stdout != "env=other-value-ABCDEFG\n" {
		t.Fatalf("--no-preload: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestRunCmdErrors(t *testing.T) {
	cliEnv(t)
	hush(t, nil, "run").fails(t, exitUsage, "requires at least 1 arg")
	hush(t, nil, "run", "--", "true").fails(t, exitError, "no host configured")
	serverEnv(t)
	hush(t, nil, "run", "--", "/nonexistent/command").fails(t, exitError, "/nonexistent/command")
	// Flags after the command belong to the command.
	r := hush(t, nil, "run", "--no-preload", "echo", "--profile", "x")
	if r.code != 0 || r.stdout != "--profile x\n" {
		t.Fatalf("%d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestRunCmdForwardsSignals runs the real binary and sends it SIGTERM: the
// child gets it, and its exit code comes back.
func TestRunCmdForwardsSignals(t *testing.T) {
	srv := serverEnv(t)
	bin := buildHush(t)
	cmd := exec.Command(bin, "run", "--", "sh", "-c", `trap 'echo got-term; exit 4' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Env = append(os.Environ(), "DATABRICKS_HOST="+srv.URL, "DATABRICKS_TOKEN="+srv.AdminToken)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(out)
	if line, err := rd.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(rd)
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != 4 || string(rest) != "got-term\n" {
		t.Fatalf("exit %v, rest %q", err, rest)
	}
}

// TestProxyCmd runs hush proxy in-process in front of a stand-in Jupyter
// server: secrets are pre-loaded, the bridge file is 0600 and names a
// working bridge, and the file is removed at shutdown.
func TestProxyCmd(t *testing.T) {
	serverEnv(t)
	hush(t, nil, "secrets", "create-scope", "nb").ok(t)
	hush(t, nil, "secrets", "put-secret", "nb", "k", "--string-value", "notebook-secret-987").ok(t)
	jupyter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("page with notebook-secret-987 inside"))
	}))
	defer jupyter.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	bridgeFile := filepath.Join(t.TempDir(), "state", "bridge.json")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"proxy", "--upstream", jupyter.URL, "--listen", addr, "--bridge-file", bridgeFile}, strings.NewReader(""), io.Discard, &stderr)
	}()
	var resp *http.Response
	for i := 0; ; i++ {
		if resp, err = http.Get("http://" + addr + "/tree"); err == nil {
			break
		}
		if i > 200 {
			cancel()
			t.Fatalf("proxy did not start: %v (exit %d)\n%s", err, <-done, stderr.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page with [REDACTED] inside" {
		t.Fatalf("through the proxy: %q", body)
	}
	fi, err := os.Stat(bridgeFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bridge file: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(bridgeFile)
	var info pyshim.BridgeInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", info.Host+"/api/2.0/secrets/list?scope=nb", nil)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	bresp, err := http.DefaultClient.Do(req)
	if err != nil || bresp.StatusCode != 200 {
		t.Fatalf("bridge from the bridge file: %v %v", bresp, err)
	}
	bresp.Body.Close()

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("proxy exited %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(bridgeFile); !os.IsNotExist(err) {
		t.Fatalf("bridge file left behind: %v", err)
	}
	if !redacttest.AssertNoSecret(t, stderr.Bytes(), []byte("notebook-secret-987"), []byte(info.Token)) {
		t.Fatal("a secret or the bridge token was printed")
	}
	if !strings.Contains(stderr.String(), "1 secrets of 1 scopes registered") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestProxyCmdErrors(t *testing.T) {
	serverEnv(t)
	hush(t, nil, "proxy").fails(t, exitUsage, "--upstream is required")
	hush(t, nil, "proxy", "--upstream", "ftp://x").fails(t, exitUsage, "not an http(s) URL")
	hush(t, nil, "proxy", "--upstream", "http://127.0.0.1:1", "--bridge-listen", "0.0.0.0:0", "--bridge-file", filepath.Join(t.TempDir(), "b.json")).fails(t, exitError, "not a loopback address")
}

func TestKernelInstallCmd(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	r := hush(t, nil, "kernel", "install", "--prefix", dir, "--python", "/usr/bin/python3", "--bridge-file", "/run/b.json", "--name", "hk").ok(t)
	raw, err := os.ReadFile(filepath.Join(dir, "share", "jupyter", "kernels", "hk", "kernel.json"))
	if err != nil || !strings.Contains(string(raw), `"HUSH_BRIDGE_FILE": "/run/b.json"`) || !strings.Contains(r.stdout, "Installed kernelspec hk") {
		t.Fatalf("%v %s %q", err, raw, r.stdout)
	}
	hush(t, nil, "kernel", "install", "--user", "--prefix", dir).fails(t, exitUsage, "cannot be used together")
	hush(t, nil, "kernel", "install", "--name", "a b", "--python", "/usr/bin/python3", "--prefix", dir).fails(t, exitError, "kernelspec name")
	hush(t, nil, "kernel").fails(t, exitUsage, "missing subcommand")
}
