// Package redacttest is a print-safety kit for code that puts secrets
// through hush's redactor: kernels, proxies, log shippers. From your own
// tests, assert that an output holds no secret and no derived form of one
// (AssertNoSecret; AssertNoSecretIn and AssertNoSecretInFiles for several
// outputs or files at once), ask whether and how it shows one without
// failing (Leaked, FindLeak), and drive your writer with an output split at
// every boundary to prove that chunking cannot smuggle a secret past it
// (CheckSplits).
//
// Nothing here ever prints a secret: a Leak names the secret by its index in
// the list you gave, the form it was found in, the output (by the label you
// gave) and the offset, never its bytes. Keep it that way in your own
// failure messages: report the Leak, not the output.
//
// Typical use, in the tests of code that prints through a redactor:
//
//	out := runCell(t, `print({"token": dbutils.secrets.get("s", "k")})`)
//	redacttest.AssertNoSecret(t, out, tokenValue)
//
//	err := redacttest.CheckSplits(func(w io.Writer) io.WriteCloser {
//		return myStreamFilter(w, r) // anything that ends in a redact.Writer
//	}, sampleOutput, [][]byte{tokenValue}, true)
//	if err != nil {
//		t.Fatal(err)
//	}
package redacttest

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/hush-secrets/hush/redact"
)

// DerivedMinLength is the shortest secret whose derived forms AssertNoSecret
// and CheckSplits look for; shorter secrets are looked for raw only. It is
// the redactor's default (redact.Options.DerivedMinLength), and it exists
// because the forms of a short secret are short themselves (a 2-byte
// secret owns 1- and 2-character base64 runs) and occur in any output by
// chance.
const DerivedMinLength = redact.DefaultDerivedMinLength

// Leak describes one occurrence of a secret, or of one of its derived
// forms, in an output. It holds no byte of the secret, so it is safe to
// print.
type Leak struct {
	// Secret is the index of the leaked secret in the list given.
	Secret int
	// Encoding is the form that was found: redact.EncodingRaw for the
	// secret itself, else the derived encoding.
	Encoding redact.Encoding
	// Offset is where the occurrence starts in the output, in bytes.
	Offset int
	// Length is the length of the occurrence in bytes.
	Length int
	// Output is the label of the output the occurrence is in, as the test
	// gave it to AssertNoSecretIn (or the path given to
	// AssertNoSecretInFiles); empty when a single output was checked.
	Output string
}

// String describes the leak without its value, e.g.
// "secrets[1] (base64-std form, 16 bytes) at offset 42", followed by
// " of stdout" when the leak has an Output label.
func (l *Leak) String() string {
	s := fmt.Sprintf("secrets[%d] (%s form, %d bytes) at offset %d", l.Secret, l.Encoding, l.Length, l.Offset)
	if l.Output != "" {
		s += " of " + l.Output
	}
	return s
}

// FindLeak returns the first occurrence in out of any non-empty secret or of
// any of its forms in encs (the raw secret is always looked for), or nil if
// there is none. "First" is the lowest offset, then the longest. An
// occurrence that lies entirely inside a redact.Token in out is not a leak
// (a secret such as "REDACTED" occurs in the token itself). FindLeak applies
// no length policy: pass short secrets only with encs == nil.
func FindLeak(out []byte, secrets [][]byte, encs []redact.Encoding) *Leak {
	return findLeak(out, secrets, func([]byte) []redact.Encoding { return encs })
}

// findLeak is FindLeak with the forms chosen per secret.
func findLeak(out []byte, secrets [][]byte, encsFor func(secret []byte) []redact.Encoding) *Leak {
	tokens := tokenSpans(out)
	var best *Leak
	consider := func(i int, enc redact.Encoding, needle []byte) {
		for from := 0; from+len(needle) <= len(out); {
			j := bytes.Index(out[from:], needle)
			if j < 0 {
				return
			}
			off := from + j
			if best != nil && (off > best.Offset || off == best.Offset && len(needle) <= best.Length) {
				return // later occurrences of this needle cannot win either
			}
			if !inside(tokens, off, off+len(needle)) {
				best = &Leak{Secret: i, Encoding: enc, Offset: off, Length: len(needle)}
				return
			}
			from = off + 1
		}
	}
	for i, s := range secrets {
		if len(s) == 0 {
			continue
		}
		consider(i, redact.EncodingRaw, s)
		for _, enc := range encsFor(s) {
			for _, n := range redact.Derive(enc, s) {
				consider(i, enc, n)
			}
		}
	}
	return best
}

// tokenSpans returns the [start, end) spans of the redaction tokens in out.
func tokenSpans(out []byte) [][2]int {
	var spans [][2]int
	tok := []byte(redact.Token)
	for from := 0; ; {
		j := bytes.Index(out[from:], tok)
		if j < 0 {
			return spans
		}
		spans = append(spans, [2]int{from + j, from + j + len(tok)})
		from += j + len(tok)
	}
}

// inside reports whether [start, end) lies within one of spans.
func inside(spans [][2]int, start, end int) bool {
	for _, sp := range spans {
		if sp[0] <= start && end <= sp[1] {
			return true
		}
	}
	return false
}

// policyEncodings is the forms AssertNoSecret and CheckSplits look for: all
// derived forms for secrets of at least DerivedMinLength bytes, none for
// shorter ones.
func policyEncodings(secret []byte) []redact.Encoding {
	if len(secret) < DerivedMinLength {
		return nil
	}
	return redact.AllEncodings()
}

// Leaked returns the first occurrence in out of any of the secrets or, for
// secrets of at least DerivedMinLength bytes, of any derived form of one
// (the policy of AssertNoSecret), or nil if there is none. Use it where a
// test must know whether and how an output shows a secret without failing
// right away: a fixture's sanity check ("the unfiltered path does leak"), a
// precondition, or a failure that adds its own context. The Leak holds no
// byte of the secret; print it, never out.
func Leaked(out []byte, secrets ...[]byte) *Leak {
	return findLeak(out, secrets, policyEncodings)
}

// AssertNoSecret marks t failed if out contains any of the secrets or, for
// secrets of at least DerivedMinLength bytes, any derived form of one
// (redact.AllEncodings), and reports whether out is clean. The failure
// message names the secret's index, the form and the offset, never the
// value. This matches a redactor built with the default options and all
// encodings; for another policy, call FindLeak with the forms that policy
// redacts. Callers that go on to print out on a later failure should stop
// when it returns false (if !AssertNoSecret(...) { t.FailNow() }).
func AssertNoSecret(t testing.TB, out []byte, secrets ...[]byte) bool {
	t.Helper()
	if l := Leaked(out, secrets...); l != nil {
		t.Errorf("redacttest: output (%d bytes) leaks %s", len(out), l)
		return false
	}
	return true
}

// AssertNoSecretIn is AssertNoSecret over several outputs, each under a
// label the test chooses ("stdout", "GET /files/x", "frame 3"): it marks t
// failed once for each output that leaks, naming its label, in the order
// of the labels, and reports whether all are clean. Labels are printed, so
// they must not hold a secret.
func AssertNoSecretIn(t testing.TB, outputs map[string][]byte, secrets ...[]byte) bool {
	t.Helper()
	clean := true
	for _, label := range slices.Sorted(maps.Keys(outputs)) {
		if l := Leaked(outputs[label], secrets...); l != nil {
			l.Output = label
			t.Errorf("redacttest: output (%d bytes) leaks %s", len(outputs[label]), l)
			clean = false
		}
	}
	return clean
}

// AssertNoSecretInFiles is AssertNoSecretIn over the contents of files
// (a database, a saved notebook, a log), each labelled by its path as
// given. A file that cannot be read fails t too: a check that could not
// run is no pass. It reports whether every file was read and is clean.
func AssertNoSecretInFiles(t testing.TB, paths []string, secrets ...[]byte) bool {
	t.Helper()
	outputs := make(map[string][]byte, len(paths))
	readable := true
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("redacttest: %v", err)
			readable = false
			continue
		}
		outputs[p] = b
	}
	return AssertNoSecretIn(t, outputs, secrets...) && readable
}

// SplitError is what CheckSplits reports: the write boundaries of the
// failing run and what went wrong. Like Leak, it holds no secret.
type SplitError struct {
	// Splits are the offsets in the input where one Write ended and the
	// next began; empty for the unsplit run.
	Splits []int
	// Leak is set when the output leaked a secret.
	Leak *Leak
	// Diff is the first byte offset where the output differs from the
	// unsplit output, or -1.
	Diff int
	// GotLen and WantLen are the lengths of this output and of the unsplit
	// output, when Diff >= 0.
	GotLen, WantLen int
	// Err is an error returned by the writer, if any.
	Err error
}

// Error describes the failure by positions and lengths only.
func (e *SplitError) Error() string {
	where := "unsplit input"
	switch {
	case len(e.Splits) == 0:
	case len(e.Splits) > 8:
		where = fmt.Sprintf("input written in %d chunks", len(e.Splits)+1)
	default:
		where = fmt.Sprintf("input split at %v", e.Splits)
	}
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%s: writer failed: %v", where, e.Err)
	case e.Leak != nil:
		return fmt.Sprintf("%s: output leaks %s", where, e.Leak)
	default:
		return fmt.Sprintf("%s: output differs from the unsplit output at byte %d (got %d bytes, unsplit %d)",
			where, e.Diff, e.GotLen, e.WantLen)
	}
}

// Unwrap returns the writer's error, if any.
func (e *SplitError) Unwrap() error { return e.Err }

// CheckSplits drives writers made by newWriter with input, first in one
// Write, then split into two Writes at every boundary, then (if pairs) into
// three Writes at every pair of boundaries, then one byte per Write; each
// writer is closed after its last Write. It returns a *SplitError for the
// first run whose output leaks a secret (by the policy of AssertNoSecret),
// differs from the unsplit output, or fails; nil when all agree.
//
// A run costs O(len(input)), so single splits cost O(n²) and pairs O(n³):
// keep inputs short (a few hundred bytes) when pairs is true.
func CheckSplits(newWriter func(io.Writer) io.WriteCloser, input []byte, secrets [][]byte, pairs bool) error {
	want, err := writeSplit(newWriter, input, nil)
	if err != nil {
		return &SplitError{Err: err, Diff: -1}
	}
	if l := findLeak(want, secrets, policyEncodings); l != nil {
		return &SplitError{Leak: l, Diff: -1}
	}
	check := func(splits []int) error {
		got, err := writeSplit(newWriter, input, splits)
		if err != nil {
			return &SplitError{Splits: slices.Clone(splits), Err: err, Diff: -1}
		}
		if l := findLeak(got, secrets, policyEncodings); l != nil {
			return &SplitError{Splits: slices.Clone(splits), Leak: l, Diff: -1}
		}
		if !bytes.Equal(got, want) {
			return &SplitError{Splits: slices.Clone(splits), Diff: firstDiff(got, want), GotLen: len(got), WantLen: len(want)}
		}
		return nil
	}
	n := len(input)
	for i := 1; i < n; i++ {
		if err := check([]int{i}); err != nil {
			return err
		}
	}
	if pairs {
		for i := 1; i < n; i++ {
			for j := i + 1; j < n; j++ {
				if err := check([]int{i, j}); err != nil {
					return err
				}
			}
		}
	}
	if n > 2 {
		every := make([]int, 0, n-1)
		for i := 1; i < n; i++ {
			every = append(every, i)
		}
		if err := check(every); err != nil {
			return err
		}
	}
	return nil
}

// writeSplit writes input to a fresh writer in the chunks that splits
// delimit, closes it, and returns what it wrote.
func writeSplit(newWriter func(io.Writer) io.WriteCloser, input []byte, splits []int) ([]byte, error) {
	var out bytes.Buffer
	w := newWriter(&out)
	prev := 0
	for _, cut := range append(slices.Clone(splits), len(input)) {
		chunk := input[prev:cut]
		prev = cut
		n, err := w.Write(chunk)
		if err != nil {
			return nil, fmt.Errorf("write of bytes [%d,%d): %w", cut-len(chunk), cut, err)
		}
		if n != len(chunk) {
			return nil, fmt.Errorf("write of bytes [%d,%d) returned n=%d", cut-len(chunk), cut, n)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	return out.Bytes(), nil
}

// firstDiff returns the first offset where a and b differ (the shorter
// length if one is a prefix of the other).
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
