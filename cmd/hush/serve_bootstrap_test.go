package main

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveOnce starts hush serve on a fresh data directory until it listens,
// stops it, and returns the data directory and what it wrote on stderr.
func serveOnce(t *testing.T, logFormat, bootstrapToken string) (dataDir, stderr string) {
	t.Helper()
	t.Setenv(envMasterKey, "")
	t.Setenv(envBootstrapToken, bootstrapToken)
	o := serveOptions{data: t.TempDir(), addr: "127.0.0.1:0", logFormat: logFormat, maxScopes: -1, maxSecrets: -1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, o, &out, &errb) }()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for !strings.Contains(out.String(), "listening on") {
		select {
		case err := <-done:
			t.Fatalf("hush serve stopped: %v", err)
		case <-ticker.C:
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("hush serve: %v", err)
	}
	return o.data, errb.String()
}

// Issue 13, item 7: when stderr is not a terminal (a log stream), the
// bootstrap token is never printed, in either log format, whether hush
// generated it or the operator supplied it; the log says where the file is.
func TestBootstrapTokenNotPrintedToALogStream(t *testing.T) {
	for _, c := range []struct{ format, supplied string }{
		{"text", ""}, {"json", ""}, {"json", "dapi0123456789abcdef0123456789abcdef"},
	} {
		t.Run(c.format+"/supplied="+boolWord(c.supplied != ""), func(t *testing.T) {
			data, stderr := serveOnce(t, c.format, c.supplied)
			path := filepath.Join(data, bootstrapFileName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("bootstrap token file: %v", err)
			}
			tok := strings.TrimSpace(string(b))
			if len(tok) < 36 || strings.Contains(stderr, tok) {
				t.Fatalf("the bootstrap token was printed on stderr (%d bytes of log)", len(stderr))
			}
			if !strings.Contains(stderr, path) {
				t.Errorf("the log does not say where the bootstrap token is:\n%s", stderr)
			}
		})
	}
}

func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Issue 13, item 7: on a terminal, a token hush generated is shown once;
// one the operator supplied is not (they have it).
func TestBootstrapTokenShownOnATerminal(t *testing.T) {
	master, slave := openPty(t)
	defer master.Close()
	defer slave.Close()
	log := slog.New(slog.DiscardHandler)
	const tok = "dapi00112233445566778899aabbccddeeff"
	announceBootstrap(log, slave, "/data/bootstrap-token", tok, false)
	announceBootstrap(log, slave, "/data/bootstrap-token", tok, true)
	if _, err := slave.Write([]byte("END\n")); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	r := bufio.NewReader(master)
	for !strings.Contains(seen.String(), "END") {
		line, err := r.ReadString('\n')
		seen.WriteString(line)
		if err != nil {
			t.Fatalf("read the terminal: %v", err)
		}
	}
	if n := strings.Count(seen.String(), tok); n != 1 {
		t.Fatalf("the generated token appeared %d times on the terminal, want 1", n)
	}
}

// Client item "the bootstrap token's format": hush serve --help states it.
func TestServeHelpStatesTokenFormat(t *testing.T) {
	r := hush(t, nil, "serve", "--help")
	r.ok(t)
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), `"dapi" followed by 32 to 64 lower-case hex digits`) {
		t.Fatalf("hush serve --help does not state the bootstrap token's format:\n%s", r.stdout)
	}
}
