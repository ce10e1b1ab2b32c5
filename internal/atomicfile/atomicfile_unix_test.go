//go:build unix

package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteModeIgnoresUmask: the mode asked for is the mode given, even
// when the process umask would narrow or widen it.
func TestWriteModeIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "kernel.json")
	if err := Write(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, []byte("{}"), 0o644)
}

// childEnv names the variable that makes the test binary act as the child
// of TestWriteFileTooLarge.
const childEnv = "HUSH_TEST_ATOMICFILE_CHILD"

// TestWriteFileTooLarge makes the write itself fail in the kernel: a child
// process limited to 1 KiB files (RLIMIT_FSIZE, which binds root too)
// replaces a file with 64 KiB. The write fails with EFBIG, the old file is
// intact and no temporary file is left.
func TestWriteFileTooLarge(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		writeTooLargeChild(path)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := Write(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFileTooLarge$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "write failed: file too large") {
		t.Fatalf("child did not see the write fail:\n%s", out)
	}
	assertFile(t, path, []byte("old"), 0o600)
	onlyTarget(t, dir, "f")
}

// writeTooLargeChild runs in the child: it limits file sizes and writes,
// reporting on stdout; it exits non-zero when something else happened.
func writeTooLargeChild(path string) {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(1)
	}
	signal.Ignore(syscall.SIGXFSZ) // EFBIG instead of death
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 1024, Max: 1024}); err != nil {
		fail("setrlimit: %v", err)
	}
	err := Write(path, bytes.Repeat([]byte("n"), 64<<10), 0o600)
	if !errors.Is(err, syscall.EFBIG) {
		fail("err = %v, want EFBIG", err)
	}
	fmt.Println("write failed: file too large")
	os.Exit(0)
}
