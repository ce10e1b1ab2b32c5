package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// readmeBlock returns the shell code of the fenced block that follows the
// marker <!-- walkthrough:name --> in the repository's README.md.
func readmeBlock(t *testing.T, readme, name string) string {
	t.Helper()
	re := regexp.MustCompile("(?s)<!-- walkthrough:" + regexp.QuoteMeta(name) + " -->\\s*```sh\\n(.*?)```")
	m := re.FindStringSubmatch(readme)
	if m == nil {
		t.Fatalf("README.md has no ```sh block after <!-- walkthrough:%s -->", name)
	}
	return m[1]
}

// TestREADMEWalkthrough runs the README's "From nothing to [REDACTED]" walk
// and its curl flow exactly as written: the server block in the background,
// then the client and curl blocks in bash, with the real binary on PATH, a fresh HOME, and the
// README's port 8300 swapped for a free one. A README edit that breaks the
// walk breaks this test.
func TestREADMEWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skipf("SKIPPED: the README walkthrough needs python3 on PATH: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatalf("read README.md: %v", err)
	}
	readme := string(raw)
	port := freePort(t)
	addr := "127.0.0.1:" + port
	swap := func(s string) string { return strings.ReplaceAll(s, "127.0.0.1:8300", addr) }
	serverScript := swap(readmeBlock(t, readme, "server"))
	clientScript := swap(readmeBlock(t, readme, "client"))
	curlScript := swap(readmeBlock(t, readme, "curl"))

	bin := buildHush(t)
	home := t.TempDir()
	work := t.TempDir()
	env := []string{
		"HOME=" + home,
		"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HUSH_ADDR=" + addr,
		"LANG=C.UTF-8",
	}
	// Keep the developer's own configuration and pyenv out, but let python3 be found.
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYENV") {
			env = append(env, kv)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	server := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", serverScript)
	server.Dir, server.Env = work, env
	var serverOut bytes.Buffer
	server.Stdout, server.Stderr = &serverOut, &serverOut
	server.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	server.Cancel = func() error { return syscall.Kill(-server.Process.Pid, syscall.SIGTERM) }
	server.WaitDelay = 10 * time.Second
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-server.Process.Pid, syscall.SIGTERM)
		_ = server.Wait()
	})
	waitHealthy(t, ctx, "http://"+addr+"/healthz", &serverOut)

	client := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", clientScript)
	client.Dir, client.Env = work, env
	out, err := client.CombinedOutput()
	if !redacttest.AssertNoSecret(t, out, []byte("correct-horse-battery-staple")) {
		t.FailNow() // the output is printed below
	}
	if err != nil {
		t.Fatalf("the README's client block failed: %v\n%s\nserver:\n%s", err, out, serverOut.String())
	}
	if !strings.Contains(string(out), "connecting with password [REDACTED]") {
		t.Errorf("the walkthrough did not end with the redacted line:\n%s", out)
	}

	// The curl block: every call must succeed (curl -f) and show what the
	// README says it shows.
	curl := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", curlScript)
	curl.Dir, curl.Env = work, env
	out, err = curl.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's curl block failed: %v\n%s\nserver:\n%s", err, out, serverOut.String())
	}
	for _, want := range []string{`"name":"etl"`, `"value":"` + base64.StdEncoding.EncodeToString([]byte("AKIAEXAMPLEEXAMPLE42")) + `"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the curl block's output lacks %s:\n%s", want, out)
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// waitHealthy polls url until it answers 200 or ctx ends.
func waitHealthy(t *testing.T, ctx context.Context, url string, log fmt.Stringer) {
	t.Helper()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server did not become healthy at %s:\n%s", url, log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
