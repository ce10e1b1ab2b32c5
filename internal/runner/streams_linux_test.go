package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// TestMergedStdoutStderrFile: stdout and stderr the same real file (2>&1):
// halves of a value written to each are redacted as one stream, in order.
func TestMergedStdoutStderrFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	red := redact.New(redact.Options{MinLength: 8})
	red.Add([]byte(secret))
	code, err := Run(context.Background(), Options{
		Args:     []string{"sh", "-c", `printf 'a=%s' "${V%???????????}"; printf '%s;\n' "${V#????????????}" >&2; echo tail >&2`},
		Env:      append(os.Environ(), "V="+secret),
		Stdout:   f,
		Stderr:   SyncWriter(f), // as hush run passes its stderr
		Redactor: red,
	})
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v", code, err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !redacttest.AssertNoSecret(t, got, []byte(secret)) {
		t.FailNow()
	}
	if string(got) != "a=[REDACTED];\ntail\n" {
		t.Fatalf("merged file %q", got)
	}
}

// ptyBuffer collects what a test terminal receives.
type ptyBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *ptyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *ptyBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunOnPTY runs the child in-process on hush's pty, with the test's
// own pty as the user's terminal: the child sees a terminal, its /dev/tty
// output is redacted, keystrokes reach it, and the mode is restored.
func TestRunOnPTY(t *testing.T) {
	userM, userS, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer userM.Close()
	defer userS.Close()
	before, err := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	var shown ptyBuffer
	go func() { _, _ = shown.ReadFromPTY(userM) }()

	red := redact.New(redact.Options{MinLength: 8})
	red.Add([]byte(secret))
	resize := make(chan os.Signal, 1)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Run(context.Background(), Options{
			Args:     []string{"sh", "-c", `[ -t 0 ] && [ -t 1 ] && echo tty; printf 'x%sy\n' "$V" >/dev/tty; read -r line; echo "got $line"`},
			Env:      append(os.Environ(), "V="+secret),
			Stdin:    userS,
			Stdout:   userS,
			Stderr:   SyncWriter(userS),
			Redactor: red,
			PTY:      true,
			Resize:   resize,
		})
		done <- result{code, err}
	}()
	waitShown(t, &shown, "x[REDACTED]y")
	if tio, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS); tio.Lflag&unix.ICANON != 0 {
		t.Error("the user's terminal is not in raw mode")
	}
	resize <- unix.SIGWINCH
	if _, err := userM.Write([]byte("typed\r")); err != nil {
		t.Fatal(err)
	}
	waitShown(t, &shown, "got typed")
	r := <-done
	if r.err != nil || r.code != 0 {
		t.Fatalf("code %d err %v", r.code, r.err)
	}
	if !strings.Contains(shown.String(), "tty") {
		t.Error("the child did not see a terminal")
	}
	redacttest.AssertNoSecret(t, []byte(shown.String()), []byte(secret))
	if after, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS); *after != *before {
		t.Error("terminal mode not restored")
	}
}

// ReadFromPTY copies m into b until m fails (EIO once the slave closes).
func (b *ptyBuffer) ReadFromPTY(m *os.File) (int64, error) {
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := m.Read(buf)
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
}

func waitShown(t *testing.T, b *ptyBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			if redacttest.Leaked([]byte(b.String()), []byte(secret)) == nil {
				t.Fatalf("terminal never showed %q: %q", want, b.String())
			}
			t.Fatalf("terminal never showed %q", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
