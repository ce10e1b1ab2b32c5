//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// ttyValue is the secret of the terminal tests: grep --color=always hush
// splits it with colour codes.
const ttyValue = "hush-rt-S3cret-Value-7731"

// ansi matches the terminal escape sequences a terminal would not show.
var ansi = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]`)

// termSession is the built hush run started on a pseudo-terminal the test
// owns, as a user's shell would start it: hush leads a session whose
// controlling terminal is the pty, with stdin, stdout and stderr on it.
type termSession struct {
	t         *testing.T
	ptmx, tty *os.File
	cmd       *exec.Cmd
	before    *unix.Termios
	mu        sync.Mutex
	out       bytes.Buffer
}

// startOnPTY stores ttyValue as app/db on a test server and runs
// "hush run args…" on a new 24x80 pty.
func startOnPTY(t *testing.T, args ...string) *termSession {
	t.Helper()
	return startOnPTYTo(t, nil, args...)
}

// startOnPTYTo is startOnPTY with hush's stdout redirected to stdout
// (nil: the pty too).
func startOnPTYTo(t *testing.T, stdout *os.File, args ...string) *termSession {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("SKIP: python3 not found")
	}
	bin := buildHush(t)
	serverEnv(t)
	hush(t, nil, "secrets", "create-scope", "app").ok(t)
	hush(t, nil, "secrets", "put-secret", "app", "db", "--string-value", ttyValue).ok(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	s := &termSession{t: t, ptmx: ptmx, tty: tty}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	if s.before, err = unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, append([]string{"run"}, args...)...)
	s.cmd.Env = append(os.Environ(), "LEAKY="+ttyValue, "TERM=xterm")
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = tty, tty, tty
	if stdout != nil {
		s.cmd.Stdout = stdout
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
		tty.Close() // the last slave: the reader gets EIO
		<-readDone
		ptmx.Close()
		s.assertNoLeak()
	})
	return s
}

// output returns what the terminal received so far.
func (s *termSession) output() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.out.Bytes())
}

// assertNoLeak checks the terminal's bytes and the text a terminal shows
// (escape sequences removed) for the secret.
func (s *termSession) assertNoLeak() bool {
	s.t.Helper()
	out := s.output()
	return redacttest.AssertNoSecretIn(s.t, map[string][]byte{"terminal bytes": out, "shown text": ansi.ReplaceAll(out, nil)}, []byte(ttyValue))
}

// waitFor waits until the shown text holds want.
func (s *termSession) waitFor(want string) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(string(ansi.ReplaceAll(s.output(), nil)), want) {
		if time.Now().After(deadline) {
			if s.assertNoLeak() { // print the output only when it holds no secret
				s.t.Fatalf("terminal never showed %q; it shows %q", want, s.output())
			}
			s.t.Fatalf("terminal never showed %q", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// typeKeys writes keys to the terminal as a user typing them.
func (s *termSession) typeKeys(keys string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(keys)); err != nil {
		s.t.Fatal(err)
	}
}

// termios returns the terminal's current mode.
func (s *termSession) termios() *unix.Termios {
	s.t.Helper()
	tio, err := unix.IoctlGetTermios(int(s.tty.Fd()), unix.TCGETS)
	if err != nil {
		s.t.Fatal(err)
	}
	return tio
}

// wait waits for hush to exit, checks that the terminal's mode is what it
// was before hush started, and returns hush's exit code.
func (s *termSession) wait() int {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.t.Fatal("hush run did not exit")
	}
	if after := s.termios(); *after != *s.before {
		s.t.Errorf("terminal mode not restored: lflag %#x → %#x, iflag %#x → %#x, oflag %#x → %#x",
			s.before.Lflag, after.Lflag, s.before.Iflag, after.Iflag, s.before.Oflag, after.Oflag)
	}
	return s.cmd.ProcessState.ExitCode()
}

// assertRaw checks that hush put the user's terminal in raw mode.
func (s *termSession) assertRaw() {
	s.t.Helper()
	if tio := s.termios(); tio.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 || tio.Oflag&unix.OPOST != 0 {
		s.t.Errorf("terminal not in raw mode while the child runs: lflag %#x oflag %#x", tio.Lflag, tio.Oflag)
	}
}

// TestRunOnTerminalColour: the child sees a terminal on stdin and stdout,
// and grep --color=always splitting the value with SGR codes still shows
// [REDACTED].
func TestRunOnTerminalColour(t *testing.T) {
	if _, err := exec.LookPath("grep"); err != nil {
		t.Skip("SKIP: grep not found")
	}
	s := startOnPTY(t, "--", "sh", "-c", `[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo tty-yes
printf 'DB_PASSWORD=%s\n' "$LEAKY" | grep --color=always hush; echo end-of-grep`)
	s.waitFor("end-of-grep")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	shown := string(ansi.ReplaceAll(s.output(), nil))
	if !strings.Contains(shown, "tty-yes") {
		t.Error("the child did not see a terminal")
	}
	if !strings.Contains(shown, "DB_PASSWORD=[REDACTED]") {
		t.Error("grep's coloured line did not show DB_PASSWORD=[REDACTED]")
	}
}

// TestRunOnTerminalGetpass: a password prompt written to /dev/tty holds
// the value; the prompt is redacted and the typed answer reaches the child.
func TestRunOnTerminalGetpass(t *testing.T) {
	s := startOnPTY(t, "--", "python3", "-c", `import getpass, os
p = getpass.getpass("password for " + os.environ["LEAKY"] + ": ")
print("typed", len(p), p[::-1])`)
	s.waitFor("password for [REDACTED]: ")
	s.assertRaw()
	s.typeKeys("abc\r")
	s.waitFor("typed 3 cba")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(string(s.output()), "abc") {
		t.Error("the password was echoed")
	}
}

// TestRunOnTerminalProgressBar: \r-updated progress lines holding the value
// are each redacted.
func TestRunOnTerminalProgressBar(t *testing.T) {
	s := startOnPTY(t, "--", "python3", "-c", `import os, sys, time
v = os.environ["LEAKY"]
for i in range(5):
    sys.stdout.write("\r[%-4s] %s %d%%" % ("#" * i, v, i * 25)); sys.stdout.flush(); time.sleep(0.02)
print("\ndone")`)
	s.waitFor("done")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := strings.Count(string(s.output()), "[REDACTED]"); n != 5 {
		t.Errorf("%d [REDACTED] in the progress bar, want 5", n)
	}
}

// TestRunOnTerminalWindowSize: the child sees the terminal's size, and a
// change of it (the kernel sends hush SIGWINCH) reaches the child.
func TestRunOnTerminalWindowSize(t *testing.T) {
	s := startOnPTY(t, "--", "python3", "-c", `import os, signal, threading
changed = threading.Event()
signal.signal(signal.SIGWINCH, lambda *a: changed.set())
c, r = os.get_terminal_size()
print("size %dx%d" % (c, r), flush=True)
changed.wait(20)
c, r = os.get_terminal_size()
print("now %dx%d" % (c, r), flush=True)`)
	s.waitFor("size 80x24")
	if err := pty.Setsize(s.ptmx, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	s.waitFor("now 100x40")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestRunOnTerminalCtrlC: Ctrl-C typed at the terminal interrupts the
// child through the pty's line discipline; its exit code comes back and
// the terminal's mode is restored.
func TestRunOnTerminalCtrlC(t *testing.T) {
	s := startOnPTY(t, "--", "sh", "-c", `trap 'echo got-int; exit 7' INT; echo ready; while :; do sleep 0.05; done`)
	s.waitFor("ready")
	s.assertRaw()
	s.typeKeys("\x03")
	s.waitFor("got-int")
	if code := s.wait(); code != 7 {
		t.Fatalf("exit %d, want the child's 7", code)
	}
}

// TestRunOnTerminalCtrlZ: Ctrl-Z reaches the child's line discipline as
// SIGTSTP for its process group. The child leads its own session on hush's
// pty, so its group is orphaned and the kernel discards a default stop:
// nothing hangs stopped behind a terminal in raw mode, and the child goes
// on reading keystrokes. A child that handles SIGTSTP sees it.
func TestRunOnTerminalCtrlZ(t *testing.T) {
	s := startOnPTY(t, "--", "python3", "-c", `import signal, sys
signal.signal(signal.SIGTSTP, lambda *a: print("got-tstp", flush=True))
print("ready", flush=True)
print("read", sys.stdin.readline().strip(), flush=True)
signal.signal(signal.SIGTSTP, signal.SIG_DFL)
print("default", flush=True)
print("read", sys.stdin.readline().strip(), flush=True)`)
	s.waitFor("ready")
	s.typeKeys("\x1a")
	s.waitFor("got-tstp")
	s.typeKeys("one\r")
	s.waitFor("read one")
	s.waitFor("default")
	s.typeKeys("\x1a")
	s.assertRaw()
	s.typeKeys("two\r")
	s.waitFor("read two")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestRunOnTerminalSIGTERM: hush itself getting SIGTERM forwards it, and
// the terminal's mode is restored on that way out too.
func TestRunOnTerminalSIGTERM(t *testing.T) {
	s := startOnPTY(t, "--", "sh", "-c", `echo ready; exec sleep 30`)
	s.waitFor("ready")
	s.assertRaw()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d, want %d", code, 128+int(syscall.SIGTERM))
	}
}

// TestRunOnTerminalChildKilled: the child killed by SIGKILL gives 137 and
// the terminal's mode is restored.
func TestRunOnTerminalChildKilled(t *testing.T) {
	s := startOnPTY(t, "--", "sh", "-c", `echo ready; sleep 0.2; kill -9 $$`)
	s.waitFor("ready")
	if code := s.wait(); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want %d", code, 128+int(syscall.SIGKILL))
	}
}

// TestRunOnTerminalStdoutRedirected: "hush run CMD > file" at a terminal:
// CMD's stdout is a redacted pipe to the file, its stdin and stderr are
// the pty, and a prompt it writes to /dev/tty is redacted on the terminal.
func TestRunOnTerminalStdoutRedirected(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := startOnPTYTo(t, f, "--", "sh", "-c", `[ -t 0 ] && [ ! -t 1 ] && echo in-tty-out-file >&2
printf 'x%s\n' "$LEAKY"; printf 'prompt %s\n' "$LEAKY" >/dev/tty`)
	s.waitFor("prompt [REDACTED]")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	s.waitFor("in-tty-out-file")
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if redacttest.AssertNoSecret(t, got, []byte(ttyValue)) && string(got) != "x[REDACTED]\n" {
		t.Errorf("redirected stdout %q", got)
	}
}

// TestRunNoPTY: with --no-pty the child gets pipes even at a terminal.
func TestRunNoPTY(t *testing.T) {
	s := startOnPTY(t, "--no-pty", "--", "sh", "-c", `[ -t 1 ] && echo tty-yes || echo tty-no; printf 'v=%s\n' "$LEAKY"`)
	s.waitFor("v=[REDACTED]")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(string(s.output()), "tty-no") {
		t.Error("with --no-pty the child still saw a terminal")
	}
}

// TestRunMergedStdoutStderr: with stdout and stderr the same pipe (2>&1),
// a value whose halves go to stdout and stderr is redacted as one stream.
func TestRunMergedStdoutStderr(t *testing.T) {
	bin := buildHush(t)
	serverEnv(t)
	hush(t, nil, "secrets", "create-scope", "app").ok(t)
	hush(t, nil, "secrets", "put-secret", "app", "db", "--string-value", ttyValue).ok(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--", "sh", "-c", `printf 'v=%.10s' "$LEAKY"; printf '%s\n' "${LEAKY#??????????}" >&2`)
	cmd.Env = append(os.Environ(), "LEAKY="+ttyValue)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	_, rerr := out.ReadFrom(r)
	if err := cmd.Wait(); err != nil || rerr != nil {
		t.Fatalf("run: %v %v", err, rerr)
	}
	if !redacttest.AssertNoSecret(t, out.Bytes(), []byte(ttyValue)) {
		return
	}
	if out.String() != "v=[REDACTED]\n" {
		t.Fatalf("merged output %q", out.String())
	}
}
