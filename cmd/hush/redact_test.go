package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// runRedactCmd runs "hush <args>" in-process with input on stdin.
func runRedactCmd(t *testing.T, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(input), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRedactCmdRedacts(t *testing.T) {
	const s1, s2 = "hunter2-hunter2", "a,b,c-comma-secret"
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + s1))
	input := "pw=" + s1 + " other=" + s2 + "\nAuthorization: Basic " + basic + "\n"

	code, out, errOut := runRedactCmd(t, input, "redact", "--secret", s1, "--secret", s2)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := "pw=[REDACTED] other=[REDACTED]\nAuthorization: Basic YWxpY2U6[REDACTED]\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	redacttest.AssertNoSecret(t, []byte(out), []byte(s1), []byte(s2))

	// --encodings raw: the base64 form passes, the raw value does not.
	code, out, _ = runRedactCmd(t, input, "redact", "--encodings", "raw", "--secret", s1, "--secret", s2)
	if l := redacttest.FindLeak([]byte(out), [][]byte{[]byte(s1), []byte(s2)}, nil); l != nil {
		t.Errorf("--encodings raw: output leaks %v", l)
	}
	if code != 0 || !strings.Contains(out, basic) {
		t.Errorf("--encodings raw: exit %d, the base64 form did not pass unchanged", code)
	}
	// A list of forms.
	hexInput := "digest " + "68756e746572322d68756e74657232" + "\n"
	code, out, _ = runRedactCmd(t, hexInput, "redact", "--encodings", "hex-lower,base64-std", "--secret", s1)
	if code != 0 || out != "digest [REDACTED]\n" {
		t.Errorf("--encodings hex-lower,base64-std: exit %d, output %q", code, out)
	}
}

func TestRedactCmdSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(file, []byte(`["file-secret-1", "zq", "file \"quoted\" two"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUSH_TEST_DB_PASS", "env-db-pass-99")
	t.Setenv("HUSH_TEST_UNSET", "")
	os.Unsetenv("HUSH_TEST_UNSET") // restored by t.Setenv's cleanup

	input := "a file-secret-1 b env-db-pass-99 c file \"quoted\" two d zq e flag-secret-x\n"
	code, out, errOut := runRedactCmd(t, input, "redact",
		"--secret", "flag-secret-x", "--secret", "ab",
		"--env", "HUSH_TEST_DB_PASS", "--env", "HUSH_TEST_UNSET",
		"--secrets-json", file)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if want := "a [REDACTED] b [REDACTED] c [REDACTED] d zq e [REDACTED]\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	for _, w := range []string{
		"--secret #2 is 2 bytes, shorter than the minimum of 4 bytes",
		"--env HUSH_TEST_UNSET: the variable is not set",
		file + " item 2 is 2 bytes, shorter than the minimum of 4 bytes",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	// " ab", not "ab": "variable" is in the warnings.
	if !redacttest.AssertNoSecret(t, []byte(errOut), []byte("zq"), []byte(" ab")) {
		t.FailNow() // stderr is printed below
	}
	if n := strings.Count(errOut, "\n"); n != 3 {
		t.Errorf("want 3 warnings, got %d:\n%s", n, errOut)
	}
}

func TestRedactCmdMinLength(t *testing.T) {
	code, out, errOut := runRedactCmd(t, "x secret-8 y\n", "redact", "--min-length", "10", "--secret", "secret-8")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out != "x secret-8 y\n" {
		t.Errorf("output %q: a value under --min-length was redacted", out)
	}
	if redacttest.AssertNoSecret(t, []byte(errOut), []byte("secret-8")) &&
		(!strings.Contains(errOut, "--secret #1 is 8 bytes, shorter than the minimum of 10 bytes") ||
			!strings.Contains(errOut, "no secrets to redact")) {
		t.Errorf("stderr:\n%s", errOut)
	}
	code, out, _ = runRedactCmd(t, "x abc y\n", "redact", "--min-length", "3", "--secret", "abc")
	if code != 0 || out != "x [REDACTED] y\n" {
		t.Errorf("--min-length 3: exit %d, output %q", code, out)
	}
}

func TestRedactCmdNoSecrets(t *testing.T) {
	input := "nothing secret here\n\x00\xff binary too"
	code, out, errOut := runRedactCmd(t, input, "redact")
	if code != 0 || out != input {
		t.Errorf("exit %d, output %q", code, out)
	}
	if !strings.Contains(errOut, "warning: no secrets to redact; copying the input unchanged") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestRedactCmdUsageErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badJSON := write("bad.json", `["sup3r-secret-value", oops]`)
	object := write("object.json", `{"k": "sup3r-secret-value"}`)
	notString := write("mixed.json", `["sup3r-secret-value", 42]`)
	empty := write("empty.json", " \n")
	unreadable := filepath.Join(dir, "missing.json")

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"redact", "--min-length", "abc"}, `invalid argument "abc" for "--min-length"`},
		{[]string{"redact", "--min-length", "0"}, "--min-length must be at least 1, got 0"},
		{[]string{"redact", "--encodings", "rot13"}, `--encodings: unknown encoding "rot13"`},
		{[]string{"redact", "--encodings", ""}, "--encodings is empty"},
		{[]string{"redact", "--secrets-json", unreadable}, "no such file"},
		{[]string{"redact", "--secrets-json", badJSON}, "invalid JSON at byte 24 (line 1)"},
		{[]string{"redact", "--secrets-json", object}, "holds a JSON object, want a JSON array of strings"},
		{[]string{"redact", "--secrets-json", notString}, "item 2 is not a string"},
		{[]string{"redact", "--secrets-json", empty}, "the file is empty"},
		{[]string{"redact", "--env", ""}, "not an environment variable name"},
		{[]string{"redact", "stray-argument"}, "unknown command"},
		{[]string{"redact", "--no-such-flag"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			code, out, errOut := runRedactCmd(t, "sup3r-secret-value\n", tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %q", code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("wrote output %q before failing", out)
			}
			// Fragments: quoting part of the secrets file leaks too.
			redacttest.AssertNoSecret(t, []byte(errOut), []byte("sup3r"), []byte("oops"))
		})
	}
}

func TestRedactCmdHelp(t *testing.T) {
	code, out, _ := runRedactCmd(t, "", "redact", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{"Examples:", "--secrets-json", "--env NAME", "--encodings", "--min-length", "--binary", "base64-wrapped", "url-quote", "[REDACTED]"} {
		if !strings.Contains(out, w) {
			t.Errorf("help lacks %q", w)
		}
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRedactCmdIOErrors(t *testing.T) {
	var errb bytes.Buffer
	code := run(t.Context(), []string{"redact", "--secret", "hunter2-hunter2"}, strings.NewReader("some output\n"), failingWriter{}, &errb)
	if code != exitError || !strings.Contains(errb.String(), "write output: ") || !strings.Contains(errb.String(), "disk full") {
		t.Errorf("write failure: exit %d, stderr %q", code, errb.String())
	}

	errb.Reset()
	var out bytes.Buffer
	in := io.MultiReader(strings.NewReader("before "), iotest.ErrReader(errors.New("device gone")))
	code = run(t.Context(), []string{"redact", "--secret", "hunter2-hunter2"}, in, &out, &errb)
	if code != exitError || !strings.Contains(errb.String(), "read input: device gone") {
		t.Errorf("read failure: exit %d, stderr %q", code, errb.String())
	}
	if out.String() != "before " {
		t.Errorf("what was read before the failure was not written: %q", out.String())
	}
}

// TestRedactCmdInterrupted: a cancelled context ends a read that would
// block for ever, and releases what the writer held.
func TestRedactCmdInterrupted(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"redact", "--secret", "hunter2-hunter2"}, pr, &out, &errb)
	}()
	// The second Write returns only once the first chunk went through the
	// redactor (hush reads again only then), so the first is certainly in.
	for _, chunk := range []string{"partial hunter", "2-h"} {
		if _, err := pw.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitError || !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("exit %d, stderr %q", code, errb.String())
		}
		if got := out.String(); got != "partial hunter" && got != "partial hunter2-h" {
			t.Errorf("output %q, want what was read, with the held partial match released", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("hush redact did not stop when its context was cancelled")
	}
}

// builtHush is the hush binary the tests of this package share: built once,
// on first use, into a directory removed when the package's tests end.
var builtHush struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the shared binary's directory after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtHush.dir != "" {
		os.RemoveAll(builtHush.dir)
	}
	os.Exit(code)
}

// buildHush returns the path of the hush binary built from this package,
// compiling it on the first call only.
func buildHush(t *testing.T) string {
	t.Helper()
	builtHush.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			builtHush.err = fmt.Errorf("the go tool is not on PATH (go test puts GOROOT/bin there): %w", err)
			return
		}
		if builtHush.dir, err = os.MkdirTemp("", "hush-test-bin-"); err != nil {
			builtHush.err = err
			return
		}
		bin := filepath.Join(builtHush.dir, "hush")
		if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
			builtHush.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		builtHush.bin = bin
	})
	if builtHush.err != nil {
		t.Fatal(builtHush.err)
	}
	return builtHush.bin
}

// TestRedactCmdRealPipe runs the hush binary as a filter between two real
// pipes and writes a secret in two chunks: the text before the secret must
// come out before the second chunk is written (hush redact does not wait
// for a newline or EOF), the start of the secret must not, and the end
// result holds [REDACTED] and never the secret.
func TestRedactCmdRealPipe(t *testing.T) {
	bin := buildHush(t)
	const secret = "tok_4f9Q2xZ7kL0pW3v8"
	const before = "step 1 ok; token="

	cmd := exec.CommandContext(t.Context(), bin, "redact", "--secret", secret)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	reads := make(chan []byte)
	go func() {
		defer close(reads)
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				reads <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	var got []byte
	// readUntil collects output until done(got) or the output ends; the
	// deadline only guards against a hang, it measures nothing.
	readUntil := func(what string, done func([]byte) bool) {
		t.Helper()
		deadline := time.After(2 * time.Minute)
		for !done(got) {
			select {
			case b, ok := <-reads:
				if !ok {
					t.Fatalf("output ended while waiting for %s; got %q; stderr %q", what, got, stderr.String())
				}
				got = append(got, b...)
			case <-deadline:
				t.Fatalf("no %s after 2 minutes; got %q", what, got)
			}
		}
	}

	// Chunk 1: text, then the first 7 bytes of the secret. No newline.
	if _, err := io.WriteString(stdin, before+secret[:7]); err != nil {
		t.Fatal(err)
	}
	readUntil("text before the secret", func(b []byte) bool { return len(b) >= len(before) })
	if string(got) != before {
		t.Fatalf("before the second chunk, output is %q, want exactly %q (the partial secret must be held)", got, before)
	}

	// Chunk 2: the rest of the secret, more text, then EOF.
	if _, err := io.WriteString(stdin, secret[7:]+" done"); err != nil {
		t.Fatal(err)
	}
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Minute)
collect:
	for {
		select {
		case b, ok := <-reads:
			if !ok {
				break collect
			}
			got = append(got, b...)
		case <-deadline:
			t.Fatalf("output did not end after 2 minutes; got %q", got)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hush redact: %v; stderr %q", err, stderr.String())
	}
	if want := before + "[REDACTED] done"; string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
	redacttest.AssertNoSecret(t, got, []byte(secret))
	if stderr.Len() != 0 {
		t.Errorf("stderr %q", stderr.String())
	}
}

// TestNewRedactorDerivedMinimum pins the policy every redacting command
// shares: a lowered --min-length lowers the raw minimum only; derived forms
// still need 8 bytes, or the hex of a 4-byte value would eat ordinary output.
func TestNewRedactorDerivedMinimum(t *testing.T) {
	r := newRedactor(4, redact.AllEncodings())
	for _, s := range []string{"abcd", "abcdefgh"} {
		if err := r.Add([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	got := string(r.Redact(nil, []byte("raw abcd, hex 61626364, hex 6162636465666768")))
	want := "raw [REDACTED], hex 61626364, hex [REDACTED]"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// formsVector is one vector of redact/testdata/forms-vectors.json.
type formsVector struct {
	Name      string   `json:"name"`
	Secrets   []string `json:"secrets"`
	Encodings []string `json:"encodings"`
	Binary    bool     `json:"binary"`
	Input     string   `json:"input"`
	Expected  string   `json:"expected"`
}

// vectorSeparator ends each copy of a vector's input in the stream of
// TestRedactCmdFormsVectors: no pattern holds a NUL byte, so no occurrence
// and no run crosses it.
const vectorSeparator = "\x00--next split--\x00\n"

// TestRedactCmdFormsVectors runs the hush binary over a real pipe on every
// vector of redact/testdata/forms-vectors.json, split at every point: one
// process per vector reads the input once per split point, each copy
// written in two chunks. Before the second chunk is written, the test
// waits for what the redactor releases after the first (the output so far
// must equal the library Writer's), so the split is a real read boundary of
// hush redact whenever anything is released there.
func TestRedactCmdFormsVectors(t *testing.T) {
	bin := buildHush(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "redact", "testdata", "forms-vectors.json"))
	if err != nil {
		t.Fatalf("read the forms vectors: %v", err)
	}
	var f struct {
		Vectors []formsVector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil || len(f.Vectors) == 0 {
		t.Fatalf("parse the forms vectors: %v (%d vectors)", err, len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) { runFormsVectorPipe(t, bin, v) })
	}
}

// runFormsVectorPipe is TestRedactCmdFormsVectors for one vector.
func runFormsVectorPipe(t *testing.T, bin string, v formsVector) {
	secretsFile := filepath.Join(t.TempDir(), "secrets.json")
	js, err := json.Marshal(v.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretsFile, js, 0o600); err != nil {
		t.Fatal(err)
	}
	encodings := "raw"
	if len(v.Encodings) > 0 {
		encodings = strings.Join(v.Encodings, ",")
	}
	args := []string{"redact", "--secrets-json", secretsFile, "--encodings", encodings}
	if v.Binary {
		args = append(args, "--binary")
	}
	// The library Writer, as hush redact builds it, fed the same stream.
	encs, err := parseRedactEncodings(encodings)
	if err != nil {
		t.Fatal(err)
	}
	lib := newRedactorOptions(4, encs, v.Binary)
	var secrets [][]byte
	for _, s := range v.Secrets {
		secrets = append(secrets, []byte(s))
	}
	if err := lib.AddAll(secrets); err != nil {
		t.Fatal(err)
	}
	var libOut bytes.Buffer
	libW := lib.NewWriter(&libOut)

	p := startFilter(t, bin, args...)
	in := []byte(v.Input)
	var want []byte
	for i := 0; i <= len(in); i++ {
		p.write(in[:i])
		libW.Write(in[:i])
		p.readUntil(libOut.Bytes())
		rest := append(slices.Clone(in[i:]), vectorSeparator...)
		p.write(rest)
		libW.Write(rest)
		want = append(want, v.Expected+vectorSeparator...)
	}
	got := p.finish()
	if !bytes.Equal(got, want) {
		t.Fatalf("hush redact output differs from the expected at byte %d of %d", firstDiffAt(got, want), len(want))
	}
	if !v.Binary {
		redacttest.AssertNoSecret(t, got, secrets...)
	}
}

// filterProc is a hush process between two real pipes.
type filterProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	reads  chan []byte
	got    []byte
	stderr *bytes.Buffer
}

// startFilter starts the hush binary with args, its stdin and stdout pipes.
func startFilter(t *testing.T, bin string, args ...string) *filterProc {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &filterProc{t: t, cmd: cmd, stdin: stdin, reads: make(chan []byte, 64), stderr: new(bytes.Buffer)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		defer close(p.reads)
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				p.reads <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// write writes b (if any) to the process's stdin.
func (p *filterProc) write(b []byte) {
	p.t.Helper()
	if len(b) == 0 {
		return
	}
	if _, err := p.stdin.Write(b); err != nil {
		p.t.Fatalf("write to hush redact: %v", err)
	}
}

// readUntil reads the output until it is as long as want, and checks that
// it equals want; the deadline only guards against a hang.
func (p *filterProc) readUntil(want []byte) {
	p.t.Helper()
	deadline := time.After(2 * time.Minute)
	for len(p.got) < len(want) {
		select {
		case b, ok := <-p.reads:
			if !ok {
				p.t.Fatalf("output ended at %d bytes, want %d; stderr %q", len(p.got), len(want), p.stderr.String())
			}
			p.got = append(p.got, b...)
		case <-deadline:
			p.t.Fatalf("no output after 2 minutes (%d of %d bytes)", len(p.got), len(want))
		}
	}
	if !bytes.Equal(p.got, want) {
		p.t.Fatalf("output so far differs from the library Writer's at byte %d", firstDiffAt(p.got, want))
	}
}

// finish closes stdin, collects the rest of the output and waits for the
// process to exit successfully.
func (p *filterProc) finish() []byte {
	p.t.Helper()
	if err := p.stdin.Close(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case b, ok := <-p.reads:
			if !ok {
				if err := p.cmd.Wait(); err != nil {
					p.t.Fatalf("hush redact: %v; stderr %q", err, p.stderr.String())
				}
				return p.got
			}
			p.got = append(p.got, b...)
		case <-deadline:
			p.t.Fatalf("output did not end after 2 minutes")
		}
	}
}

// firstDiffAt returns the first offset where a and b differ.
func firstDiffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestRedactCmdBinaryFlag: --binary matches only contiguous bytes; without
// it a value cut by colour codes is redacted, codes and all.
func TestRedactCmdBinaryFlag(t *testing.T) {
	const secret = "hush-rt-S3cret-Value-7731"
	in := "DB_PASSWORD=\x1b[01;31m\x1b[Khush\x1b[m\x1b[K-rt-S3cret-Value-7731\n"
	code, out, errOut := runRedactCmd(t, in, "redact", "--secret", secret)
	if code != 0 || out != "DB_PASSWORD=\x1b[01;31m\x1b[K[REDACTED]\n" {
		t.Errorf("text: exit %d, output %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runRedactCmd(t, in, "redact", "--binary", "--secret", secret)
	if code != 0 || out != in {
		t.Errorf("--binary: exit %d, output %q, want the input unchanged", code, out)
	}
}
