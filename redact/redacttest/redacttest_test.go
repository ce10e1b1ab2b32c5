package redacttest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/redact"
)

func TestFindLeak(t *testing.T) {
	s0 := []byte("hunter2-hunter2")
	s1 := []byte("s3cr3t-p4ss-word")
	basic := base64.StdEncoding.EncodeToString(append([]byte("alice:"), s1...))
	tests := []struct {
		name    string
		out     string
		secrets [][]byte
		encs    []redact.Encoding
		want    *Leak
	}{
		{"clean", "nothing to see [REDACTED] here", [][]byte{s0, s1}, redact.AllEncodings(), nil},
		{"raw", "pw: hunter2-hunter2!", [][]byte{s0, s1}, nil,
			&Leak{Secret: 0, Encoding: redact.EncodingRaw, Offset: 4, Length: len(s0)}},
		{"base64 in a Basic header", "Authorization: Basic " + basic, [][]byte{s0, s1}, redact.AllEncodings(),
			&Leak{Secret: 1, Encoding: redact.EncodingBase64Std, Offset: 21 + 8, Length: 21}},
		{"derived forms not asked for", "Authorization: Basic " + basic, [][]byte{s0, s1}, nil, nil},
		{"earliest occurrence wins", "x s3cr3t-p4ss-word hunter2-hunter2 x", [][]byte{s0, s1}, nil,
			&Leak{Secret: 1, Encoding: redact.EncodingRaw, Offset: 2, Length: len(s1)}},
		{"longest at the same offset wins", `{"k": "a\"b-secret"}`, [][]byte{[]byte(`a"b-secret`)}, redact.AllEncodings(),
			&Leak{Secret: 0, Encoding: redact.EncodingJSONGo, Offset: 7, Length: 11}},
		{"inside the token is not a leak", "a [REDACTED] b", [][]byte{[]byte("REDACTED")}, nil, nil},
		{"outside the token is", "a [REDACTED] REDACTED", [][]byte{[]byte("REDACTED")}, nil,
			&Leak{Secret: 0, Encoding: redact.EncodingRaw, Offset: 13, Length: 8}},
		{"empty secret is ignored", "anything", [][]byte{nil, {}}, redact.AllEncodings(), nil},
		{"hex", "digest 68756e746572322d68756e74657232", [][]byte{s0}, redact.AllEncodings(),
			&Leak{Secret: 0, Encoding: redact.EncodingHexLower, Offset: 7, Length: 2 * len(s0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FindLeak([]byte(tt.out), tt.secrets, tt.encs)
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Fatalf("FindLeak = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLeakStringHasNoValue(t *testing.T) {
	secret := []byte("???>>>~~~secret-9") // its base64 has + and /, so the URL form differs
	out := []byte("log: " + base64.URLEncoding.EncodeToString(secret))
	l := FindLeak(out, [][]byte{[]byte("other-secret"), secret}, redact.AllEncodings())
	if l == nil {
		t.Fatal("no leak found")
	}
	msg := l.String()
	if msg != "secrets[1] (base64-url form, 22 bytes) at offset 5" {
		t.Errorf("String() = %q", msg)
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func TestAssertNoSecret(t *testing.T) {
	secret := []byte(`pa"ss<word>-1234`)
	short := []byte("abc")

	var r recorder
	AssertNoSecret(&r, []byte("all clean [REDACTED]"), secret, short)
	if len(r.msgs) != 0 {
		t.Fatalf("clean output failed: %q", r.msgs)
	}

	r = recorder{}
	AssertNoSecret(&r, []byte(`{"password":"pa\"ss\u003cword\u003e-1234"}`), short, secret)
	if len(r.msgs) != 1 {
		t.Fatalf("JSON form not reported: %q", r.msgs)
	}
	if !strings.Contains(r.msgs[0], "secrets[1] (json-go form") {
		t.Errorf("message does not name the secret and form: %q", r.msgs[0])
	}
	for _, part := range []string{string(secret), "pa\\\"ss", "word"} {
		if strings.Contains(r.msgs[0], part) {
			t.Errorf("message contains part of the secret %q: %q", part, r.msgs[0])
		}
	}

	// Short secrets: raw is checked, derived forms are not (the hex of
	// "abc" is too likely to occur by chance).
	r = recorder{}
	AssertNoSecret(&r, []byte("616263 YWJj"), short)
	if len(r.msgs) != 0 {
		t.Errorf("derived form of a short secret reported: %q", r.msgs)
	}
	AssertNoSecret(&r, []byte("xabcx"), short)
	if len(r.msgs) != 1 {
		t.Errorf("raw short secret not reported: %q", r.msgs)
	}
}

func TestLeaked(t *testing.T) {
	long := []byte("s3cr3t-p4ss-word")
	short := []byte("abc")
	basic := base64.StdEncoding.EncodeToString(long)
	if l := Leaked([]byte("Basic "+basic), short, long); l == nil || l.Secret != 1 || l.Encoding != redact.EncodingBase64Std || l.Offset != 6 {
		t.Errorf("Leaked = %v, want secrets[1] in base64 at offset 6", l)
	}
	// A short secret is looked for raw only, as AssertNoSecret does.
	if l := Leaked([]byte("616263 YWJj [REDACTED]"), short); l != nil {
		t.Errorf("derived form of a short secret reported: %v", l)
	}
	if l := Leaked([]byte("xabcx"), short); l == nil || l.Encoding != redact.EncodingRaw || l.Offset != 1 {
		t.Errorf("Leaked = %v, want the raw short secret at offset 1", l)
	}
	if l := Leaked([]byte("nothing here"), long, short); l != nil {
		t.Errorf("clean output: Leaked = %v", l)
	}
}

func TestAssertNoSecretReturnsWhetherClean(t *testing.T) {
	secret := []byte("tok_4f9Q2xZ7kL0pW3v8")
	var r recorder
	if !AssertNoSecret(&r, []byte("[REDACTED]"), secret) || len(r.msgs) != 0 {
		t.Errorf("clean output: false or messages %q", r.msgs)
	}
	if AssertNoSecret(&r, []byte("t="+string(secret)), secret) || len(r.msgs) != 1 {
		t.Errorf("leaking output: true or messages %q", r.msgs)
	}
}

func TestAssertNoSecretIn(t *testing.T) {
	s0 := []byte("first-secret-0001")
	s1 := []byte("second-secret-0002")
	hexed := fmt.Sprintf("%x", s1)
	var r recorder
	clean := AssertNoSecretIn(&r, map[string][]byte{
		"stdout": []byte("ok [REDACTED]"),
		"stderr": []byte("warn: " + hexed),
		"log":    []byte("x " + string(s0)),
		"empty":  nil,
	}, s0, s1)
	if clean {
		t.Error("AssertNoSecretIn = true for leaking outputs")
	}
	want := []string{
		"redacttest: output (19 bytes) leaks secrets[0] (raw form, 17 bytes) at offset 2 of log",
		"redacttest: output (42 bytes) leaks secrets[1] (hex-lower form, 36 bytes) at offset 6 of stderr",
	}
	if strings.Join(r.msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages\n%q\nwant\n%q", r.msgs, want)
	}
	for _, m := range r.msgs {
		if strings.Contains(m, "secret-000") || strings.Contains(m, hexed[:10]) {
			t.Errorf("message holds part of a secret: %q", m)
		}
	}
	r = recorder{}
	if !AssertNoSecretIn(&r, map[string][]byte{"a": []byte("a"), "b": []byte("[REDACTED]")}, s0, s1) || len(r.msgs) != 0 {
		t.Errorf("clean outputs: messages %q", r.msgs)
	}
}

func TestAssertNoSecretInFiles(t *testing.T) {
	secret := []byte("on-disk-secret-42")
	dir := t.TempDir()
	clean := dir + "/clean"
	dirty := dir + "/dirty"
	if err := os.WriteFile(clean, []byte("[REDACTED]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dirty, append([]byte("v="), base64.RawURLEncoding.EncodeToString(secret)...), 0o600); err != nil {
		t.Fatal(err)
	}
	var r recorder
	if !AssertNoSecretInFiles(&r, []string{clean}, secret) || len(r.msgs) != 0 {
		t.Errorf("clean file: messages %q", r.msgs)
	}
	if AssertNoSecretInFiles(&r, []string{clean, dirty}, secret) || len(r.msgs) != 1 ||
		!strings.HasSuffix(r.msgs[0], "at offset 2 of "+dirty) {
		t.Errorf("leaking file: messages %q", r.msgs)
	}
	r = recorder{}
	if AssertNoSecretInFiles(&r, []string{clean, dir + "/missing"}, secret) || len(r.msgs) != 1 ||
		!strings.Contains(r.msgs[0], "missing") {
		t.Errorf("missing file: messages %q, want one failure naming it", r.msgs)
	}
}

// replacerWriter is the classic broken redactor: it replaces secrets in
// each Write on its own, so a secret split across two writes goes through.
type replacerWriter struct {
	w io.Writer
	r *strings.Replacer
}

func (rw replacerWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(rw.w, rw.r.Replace(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (replacerWriter) Close() error { return nil }

func TestCheckSplitsCatchesPerWriteReplacer(t *testing.T) {
	secret := []byte("tok_4f9Q2xZ7kL0pW3v8")
	input := []byte("login ok, token=tok_4f9Q2xZ7kL0pW3v8 expires soon\n")
	newWriter := func(w io.Writer) io.WriteCloser {
		return replacerWriter{w, strings.NewReplacer(string(secret), redact.Token)}
	}
	err := CheckSplits(newWriter, input, [][]byte{secret}, false)
	var se *SplitError
	if !errors.As(err, &se) {
		t.Fatalf("CheckSplits = %v, want a *SplitError", err)
	}
	start := bytes.Index(input, secret)
	if se.Leak == nil || len(se.Splits) != 1 || se.Splits[0] <= start || se.Splits[0] >= start+len(secret) {
		t.Fatalf("want a leak at a single split inside the secret [%d,%d), got %+v", start, start+len(secret), se)
	}
	// Each half passes the per-write replacer untouched, and the halves
	// meet again in the output: the whole raw secret is there.
	if se.Leak.Encoding != redact.EncodingRaw || se.Leak.Offset != start {
		t.Errorf("leak = %v, want the raw secret at offset %d", se.Leak, start)
	}
	if strings.Contains(err.Error(), string(secret)) || strings.Contains(err.Error(), "tok_") {
		t.Errorf("error message contains the secret: %v", err)
	}
	t.Logf("caught: %v", err)
}

func TestCheckSplitsReportsDivergenceAndErrors(t *testing.T) {
	input := []byte("abcdef")
	// Marks every Write boundary: no leak, but chunk-dependent output.
	marking := func(w io.Writer) io.WriteCloser { return &markWriter{w: w} }
	err := CheckSplits(marking, input, nil, false)
	var se *SplitError
	if !errors.As(err, &se) || se.Leak != nil || se.Diff != 1 || !equalInts(se.Splits, []int{1}) {
		t.Fatalf("CheckSplits = %+v, want a divergence at byte 1 for split [1]", err)
	}

	failing := func(w io.Writer) io.WriteCloser { return &failWriter{} }
	err = CheckSplits(failing, input, nil, false)
	if !errors.Is(err, errBroken) {
		t.Fatalf("CheckSplits = %v, want the writer's error", err)
	}

	// A leak in the unsplit output is reported with no splits.
	passthrough := func(w io.Writer) io.WriteCloser { return nopCloser{w} }
	err = CheckSplits(passthrough, []byte("xx secret-value-9 yy"), [][]byte{[]byte("secret-value-9")}, false)
	if !errors.As(err, &se) || se.Leak == nil || len(se.Splits) != 0 || se.Leak.Offset != 3 {
		t.Fatalf("CheckSplits = %+v, want a leak of the unsplit output at offset 3", err)
	}
}

// TestCheckSplitsCatchesPairOnlyBug shows what pairs adds: a writer that
// holds back at most one earlier chunk is fooled only by a secret spread
// over three writes.
func TestCheckSplitsCatchesPairOnlyBug(t *testing.T) {
	secret := []byte("0123456789abcdef")
	input := append([]byte("<<"), append(secret, ">>"...)...)
	newWriter := func(w io.Writer) io.WriteCloser {
		return &twoChunkWriter{w: w, r: strings.NewReplacer(string(secret), redact.Token)}
	}
	if err := CheckSplits(newWriter, input, [][]byte{secret}, false); err != nil {
		// Single splits and 1-byte chunks... 1-byte chunks spread the secret
		// over 16 writes, so this writer fails there too.
		var se *SplitError
		if !errors.As(err, &se) || len(se.Splits) != len(input)-1 {
			t.Fatalf("single splits: %v, want only the 1-byte-chunk run to fail", err)
		}
	} else {
		t.Fatal("1-byte chunks did not catch the two-chunk writer")
	}
	err := CheckSplits(newWriter, input, [][]byte{secret}, true)
	var se *SplitError
	if !errors.As(err, &se) || len(se.Splits) != 2 {
		t.Fatalf("pairs: %v, want a failure at a pair of splits", err)
	}
}

func TestCheckSplitsPassesRedactWriter(t *testing.T) {
	secrets := [][]byte{
		[]byte("tok_4f9Q2xZ7kL0pW3v8"),
		[]byte(`pa"ss<word>-1234`),
		[]byte("short9"),
	}
	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	for _, s := range secrets {
		if err := r.Add(s); err != nil {
			t.Fatalf("Add secrets[%d]: %v", len(s), err)
		}
	}
	input := []byte("a tok_4f9Q2xZ7kL0pW3v8 b tok_4f9Q2 " +
		base64.StdEncoding.EncodeToString([]byte("user:tok_4f9Q2xZ7kL0pW3v8")) +
		` {"p":"pa\"ss\u003cword\u003e-1234"} short9short9 short` + "\n")
	newWriter := func(w io.Writer) io.WriteCloser { return r.NewWriter(w) }
	if err := CheckSplits(newWriter, input, secrets, true); err != nil {
		t.Fatalf("redact.Writer failed the split check: %v", err)
	}
	// And the output really is redacted (CheckSplits compared it to itself).
	var out bytes.Buffer
	w := r.NewWriter(&out)
	if _, err := w.Write(input); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	AssertNoSecret(t, out.Bytes(), secrets...)
	want := `a [REDACTED] b tok_4f9Q2 dXNlcjp[REDACTED]A== {"p":"[REDACTED]"} [REDACTED] short` + "\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

type markWriter struct{ w io.Writer }

func (m *markWriter) Write(p []byte) (int, error) {
	if _, err := m.w.Write(append(append([]byte(nil), p...), '|')); err != nil {
		return 0, err
	}
	return len(p), nil
}
func (m *markWriter) Close() error { return nil }

var errBroken = errors.New("broken writer")

type failWriter struct{}

func (*failWriter) Write(p []byte) (int, error) { return 0, errBroken }
func (*failWriter) Close() error                { return nil }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// twoChunkWriter redacts the concatenation of the previous and the current
// Write, then emits the part that belongs to the previous one: a secret
// split across two writes is caught, across three is not.
type twoChunkWriter struct {
	w    io.Writer
	r    *strings.Replacer
	prev []byte
}

func (c *twoChunkWriter) Write(p []byte) (int, error) {
	joined := append(append([]byte(nil), c.prev...), p...)
	red := c.r.Replace(string(joined))
	if red != string(joined) {
		// A match: emit everything redacted, keep nothing.
		c.prev = nil
		_, err := io.WriteString(c.w, red)
		return len(p), err
	}
	_, err := c.w.Write(c.prev)
	c.prev = append([]byte(nil), p...)
	return len(p), err
}

func (c *twoChunkWriter) Close() error {
	_, err := c.w.Write(c.prev)
	c.prev = nil
	return err
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
