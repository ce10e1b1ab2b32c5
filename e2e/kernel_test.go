package e2e

// End-to-end tests of the wrapped kernel (`hush kernel run`, issue 11):
// every Jupyter frontend that starts a kernel from its kernelspec gets
// [REDACTED], with no hush proxy anywhere. Each test installs the wrapped
// kernelspecs with `hush kernel install --hush <built binary>` into a
// private Jupyter data directory, with a hush profile (`hush configure`)
// pointing at a real hush serve, then drives the kernel with a real
// frontend: nbconvert, jupyter console, jupyter_server, jupyter_client.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// binSecret is a value that is not valid UTF-8: dbutils.secrets.get hands
// notebook code its decoded form (invalid bytes become U+FFFD), getBytes
// the bytes; both must be redacted.
var binSecret = []byte("\xff\xfehush-e2e-bin-\x80-Qx7k2\xc3")

// splitSecret is printed in parts with other messages in between; its
// characters are rare enough that any four of them in a row in an output
// are a leaked fragment, not a coincidence.
const splitSecret = "Zq9~Vx3!Kp7^Wm2;Jd5"

// pythonReplace decodes b as Python's bytes.decode("utf-8", "replace") does
// for binSecret: one U+FFFD per invalid byte.
func pythonReplace(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		s.WriteRune(r) // utf8.RuneError is U+FFFD
		b = b[n:]
	}
	return s.String()
}

// pythonBytesRepr is what Python's repr(b) shows between b' and ': the
// form print(dbutils.secrets.getBytes(...)) writes, from which the value is
// read back exactly, so it must be redacted like the value.
func pythonBytesRepr(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		switch {
		case c == '\\' || c == '\'':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == '\t':
			s.WriteString(`\t`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\r':
			s.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&s, `\x%02x`, c)
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// kernelSecrets are every value a wrapped-kernel test must never show, in
// every form a decoder would turn back into it.
func kernelSecrets() [][]byte {
	return [][]byte{[]byte(lateSecret), []byte(earlySecret), binSecret, []byte(pythonReplace(binSecret)),
		[]byte(pythonBytesRepr(binSecret)),
		[]byte(splitSecret), []byte(freshSecret)}
}

// kernelFixture is hush serve, a hush profile pointing at it, and a private
// Jupyter data directory holding the wrapped kernelspecs: what a user has
// after the README's setup, without hush proxy.
type kernelFixture struct {
	hush    string
	secrets *secretsServer
	work    string   // scratch directory for notebooks and files cells read
	env     []string // the environment every Jupyter command of the test runs with
}

// setupKernels starts hush serve with the e2e scope (early, late, bin),
// configures the profile and installs hush-python3.
func setupKernels(t *testing.T) *kernelFixture {
	t.Helper()
	requireJupyter(t)
	f := &kernelFixture{hush: hushBinary(t)}
	f.secrets = startSecretsServer(t)
	f.secrets.createScope(t, "e2e")
	f.secrets.put(t, "e2e", "early", earlySecret)
	f.secrets.put(t, "e2e", "late", lateSecret)
	f.secrets.putBytes(t, "e2e", "bin", binSecret)
	f.secrets.put(t, "e2e", "split", splitSecret)

	tmp := t.TempDir()
	f.work = filepath.Join(tmp, "work")
	f.env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "JUPYTER_PLATFORM_DIRS=0",
		"PYDEVD_DISABLE_FILE_VALIDATION=1"} // ipykernel's debugger warning on stderr
	for k, dir := range map[string]string{
		"HOME": "home", "JUPYTER_DATA_DIR": "data", "JUPYTER_CONFIG_DIR": "config",
		"JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython", "XDG_CONFIG_HOME": "xdgconfig",
		"XDG_DATA_HOME": "xdgdata", "XDG_RUNTIME_DIR": "xdgrun",
	} {
		p := filepath.Join(tmp, dir)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		f.env = append(f.env, k+"="+p)
	}
	if err := os.MkdirAll(f.work, 0o755); err != nil {
		t.Fatal(err)
	}
	configure := f.hushCmd("configure", "--token", "--host", f.secrets.url)
	configure.Stdin = strings.NewReader(f.secrets.token + "\n")
	if out, err := configure.CombinedOutput(); err != nil {
		t.Fatalf("hush configure: %v\n%s", err, out)
	}
	f.hushOK(t, "kernel", "install", "--hush", f.hush, "--python", systemPython)
	return f
}

// requireTool skips (or with HUSH_REQUIRE_E2E=1 fails) when the program at
// path, from the Debian package pkg, is missing.
func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		needE2E(t, "%s is not installed (apt-get install %s)", path, pkg)
	}
}

func (s *secretsServer) putBytes(t *testing.T, scope, key string, value []byte) {
	b64 := base64.StdEncoding.EncodeToString(value)
	s.post(t, dbapi.PathSecretsPut, dbapi.PutSecretRequest{Scope: scope, Key: key, BytesValue: &b64})
}

func (f *kernelFixture) hushCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(f.hush, args...)
	cmd.Env = f.env
	cmd.Dir = f.work
	return cmd
}

// hushOK runs hush and fails the test when it fails; it returns stdout.
func (f *kernelFixture) hushOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := f.hushCmd(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hush %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// run runs a command of the Jupyter tool set with the fixture's environment
// and a deadline; it returns stdout, stderr and the error.
func (f *kernelFixture) run(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = f.env
	cmd.Dir = f.work
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish in %v: %w", name, timeout, ctx.Err())
	}
	return stdout.String(), stderr.String(), err
}

// noSecret fails the test when out shows a secret in any form; what names
// out in the message (never the value).
func noSecret(t *testing.T, what string, out []byte) {
	t.Helper()
	if l := redacttest.FindLeak(out, kernelSecrets(), redact.AllEncodings()); l != nil {
		t.Errorf("%s (%d bytes) leaks %s", what, len(out), l)
	}
}

// noFragment fails the test when text holds four or more consecutive bytes
// of splitSecret in clear: issue 11 allows at most 3 bytes of an occurrence
// to get out when other messages come between its parts.
func noFragment(t *testing.T, what, text string) {
	t.Helper()
	if i := fragmentAt(text); i >= 0 {
		t.Errorf("%s shows bytes %d..%d of a secret in clear", what, i, i+4)
	}
}

// fragmentAt is the offset in splitSecret of the first 4-byte piece of it
// that text holds, or -1.
func fragmentAt(text string) int {
	for i := 0; i+4 <= len(splitSecret); i++ {
		if strings.Contains(text, splitSecret[i:i+4]) {
			return i
		}
	}
	return -1
}

// safe quotes s for a failure message, unless it shows a secret (whole, in
// a derived form, or a fragment of splitSecret): then only its length.
func safe(s string) string {
	if redacttest.FindLeak([]byte(s), kernelSecrets(), redact.AllEncodings()) != nil || fragmentAt(s) >= 0 {
		return fmt.Sprintf("<%d bytes showing a secret>", len(s))
	}
	return fmt.Sprintf("%q", s)
}

// safeLog is a log for a failure message as it is, unless it shows a secret.
func safeLog(s string) string {
	if safe(s)[0] == '<' {
		return safe(s)
	}
	return s
}

// notebookCell is one code cell of the executed-notebook test and what its
// outputs must show.
type notebookCell struct {
	source string
	check  func(t *testing.T, outputs []map[string]any)
}

// streamOf joins the text of the stream outputs called name.
func streamOf(outputs []map[string]any, name string) string {
	var b strings.Builder
	for _, o := range outputs {
		if o["output_type"] == "stream" && o["name"] == name {
			b.WriteString(joinText(o["text"]))
		}
	}
	return b.String()
}

// joinText reads nbformat multiline text: a string or a list of strings.
func joinText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		var b strings.Builder
		for _, e := range t {
			b.WriteString(fmt.Sprint(e))
		}
		return b.String()
	}
	return ""
}

func outputOf(outputs []map[string]any, typ string) map[string]any {
	for _, o := range outputs {
		if o["output_type"] == typ {
			return o
		}
	}
	return nil
}

// mimeOf is data[mime] of the first output that has it, as text (JSON
// data as its JSON encoding).
func mimeOf(outputs []map[string]any, mime string) string {
	for _, o := range outputs {
		d, _ := o["data"].(map[string]any)
		switch v := d[mime].(type) {
		case string, []any:
			return joinText(v)
		case map[string]any:
			return string(mustMarshal(v))
		}
	}
	return ""
}

func wantText(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %s, want %q", what, safe(got), want)
	}
}

func wantContains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s: %s does not contain %q", what, safe(got), want)
	}
}
