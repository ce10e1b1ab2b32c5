package scan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// tricky is a value whose derived forms all differ from it: a quote, an
// apostrophe, a backslash, HTML characters, a space, a plus, non-ASCII and
// a newline (for crlf).
const tricky = "Pa\"ss'w\u00f6rd<&>/ +\\x\nend-9Z"

func newScanner(t *testing.T, secrets ...Secret) *Scanner {
	t.Helper()
	s, err := New(Options{Secrets: secrets, Encodings: redact.AllEncodings()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scanText(t *testing.T, s *Scanner, name string, data []byte) []Finding {
	t.Helper()
	fs, _, _, err := s.ScanBuffer(name, data, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// derives reports whether needle is the raw value, one of its hush forms,
// or a needle form derives from one of them.
func derives(value []byte, form string, needle []byte) bool {
	for _, v := range handout.Forms(value) {
		if form == string(redact.EncodingRaw) && bytes.Equal(v, needle) {
			return true
		}
		for _, d := range redact.Derive(redact.Encoding(form), v) {
			if bytes.Equal(d, needle) {
				return true
			}
		}
	}
	return false
}

func TestEveryFormIsFoundAndNamed(t *testing.T) {
	value := []byte(tricky)
	s := newScanner(t, Secret{Name: "prod/db", Value: value})
	const prefix = "before "
	checked := 0
	for _, enc := range redact.AllEncodings() {
		for _, needle := range redact.Derive(enc, value) {
			data := []byte(prefix + string(needle) + " after\n")
			fs := scanText(t, s, "f.txt", data)
			var got *Finding
			for i := range fs {
				if fs[i].Offset == len(prefix) && fs[i].Length == len(needle) {
					got = &fs[i]
				}
			}
			if got == nil {
				t.Errorf("%s form: no finding covering it exactly, got %v", enc, fs)
				continue
			}
			if got.Secret != "prod/db" || !derives(value, got.Form, needle) {
				t.Errorf("%s form: finding %v names the wrong value or form", enc, got)
			}
			if got.Line != 1 || got.Column != len(prefix)+1 {
				t.Errorf("%s form: at %d:%d, want 1:%d", enc, got.Line, got.Column, len(prefix)+1)
			}
			checked++
		}
	}
	if checked < len(redact.AllEncodings()) {
		t.Fatalf("only %d needles checked for %d forms", checked, len(redact.AllEncodings()))
	}
	fs := scanText(t, s, "f.txt", []byte("x "+tricky+" y"))
	if len(fs) != 1 || fs[0].Form != "raw" {
		t.Fatalf("raw value: %v", fs)
	}
}

func TestCleanBufferHasNoFindingAndShortValuesAreNamed(t *testing.T) {
	s := newScanner(t,
		Secret{Name: "a/long", Value: []byte("correct-horse-battery")},
		Secret{Name: "a/short", Subject: "secret a/short", Value: []byte("abc")},
		Secret{Name: "a/empty", Value: nil},
	)
	if fs := scanText(t, s, "f.txt", []byte("nothing to see: abc correct-horse\n")); len(fs) != 0 {
		t.Fatalf("clean buffer: %v", fs)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	short := s.Short()
	if len(short) != 2 || short[0].Warning() != handout.TooShortWarning("secret a/short", 3, redact.DefaultMinLength) ||
		short[1].Warning() != handout.TooShortWarning("a/empty", 0, redact.DefaultMinLength) {
		t.Fatalf("Short = %+v", short)
	}
}

func TestLineAndColumnCountCodePoints(t *testing.T) {
	s := newScanner(t, Secret{Name: "s/k", Value: []byte("correct-horse-battery")})
	data := []byte("\u00e9t\u00e9\nab \u2713 correct-horse-battery \u2713 correct-horse-battery\n")
	fs := scanText(t, s, "f.txt", data)
	want := [][4]int{{2, 6, 2, 27}, {2, 30, 2, 51}}
	if len(fs) != 2 {
		t.Fatalf("findings: %v", fs)
	}
	for i, f := range fs {
		if got := [4]int{f.Line, f.Column, f.EndLine, f.EndColumn}; got != want[i] {
			t.Errorf("finding %d at %v, want %v", i, got, want[i])
		}
		if string(data[f.Offset:f.Offset+f.Length]) != "correct-horse-battery" {
			t.Errorf("finding %d: offset/length do not cover the value", i)
		}
	}
	if got := fs[0].String(); got != "f.txt:2:6: s/k (raw)" {
		t.Fatalf("String = %q", got)
	}
}

func TestSameBytesForTwoSecretsNameBoth(t *testing.T) {
	s := newScanner(t, Secret{Name: "a/one", Value: []byte("shared-value-1")}, Secret{Name: "b/two", Value: []byte("shared-value-1")})
	fs := scanText(t, s, "f", []byte("shared-value-1"))
	if len(fs) != 1 || fs[0].Secret != "a/one, b/two" {
		t.Fatalf("findings: %v", fs)
	}
}

// A redacted run that no needle explains (here: the table knows only raw
// values, while the redactor also matches hex) is still reported, as form
// "other", at the redacted position.
func TestUnexplainedRedactionIsReportedAsOther(t *testing.T) {
	value := []byte("correct-horse-battery")
	s := newScanner(t, Secret{Name: "s/k", Value: value})
	s.tableOnce.Do(func() { s.table = buildNeedleTable(s.secrets, s.minLen, s.derivedMin, nil) })
	h := hex.EncodeToString(value)
	data := []byte("raw correct-horse-battery and [REDACTED] hex " + h + " end")
	fs := scanText(t, s, "f", data)
	if len(fs) != 2 {
		t.Fatalf("findings: %v", fs)
	}
	if fs[0].Form != "raw" || fs[1].Form != FormOther || fs[1].Offset != bytes.Index(data, []byte(h)) || fs[1].Length != len(h) {
		t.Fatalf("findings: %+v", fs)
	}
	if fs[1].Secret != "an unidentified value" {
		t.Fatalf("other finding names %q", fs[1].Secret)
	}
}

func TestRedactedRunsAlignTokensInTheInput(t *testing.T) {
	data := []byte("a [REDACTED] b SECRETVALUE c SECRETVALUE")
	out := []byte("a [REDACTED] b [REDACTED] c [REDACTED]")
	got := redactedRuns(data, out)
	want := []span{{15, 26}, {29, 40}}
	if !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
}

// Nothing a finding prints holds the value or a form of it.
func TestFindingsNeverHoldTheValue(t *testing.T) {
	value := []byte(tricky)
	s := newScanner(t, Secret{Name: "prod/db", Value: value})
	var all bytes.Buffer
	for _, enc := range redact.AllEncodings() {
		for _, needle := range redact.Derive(enc, value) {
			fs := scanText(t, s, "f.txt", append([]byte("x "), needle...))
			rep := &Report{Findings: fs, Files: 1}
			for _, w := range []func() error{
				func() error { return rep.WriteText(&all) },
				func() error { return rep.WriteJSON(&all) },
				func() error { return rep.WriteSARIF(&all, "test") },
			} {
				if err := w(); err != nil {
					t.Fatal(err)
				}
			}
			fmt.Fprintln(&all, fs)
		}
	}
	if !strings.Contains(all.String(), "prod/db") {
		t.Fatal("the output does not even name the secret")
	}
	redacttest.AssertNoSecret(t, all.Bytes(), value)
}
