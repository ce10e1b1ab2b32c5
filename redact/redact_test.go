package redact

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cloudflare/ahocorasick"
)

// randPatterns returns n distinct patterns of lengths in [minL, maxL] over
// alphabet, some sharing prefixes and some nested in others, so that the
// overlap, merge and prefix cases are common.
func randPatterns(rng *rand.Rand, n, minL, maxL int, alphabet string) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		l := minL + rng.IntN(maxL-minL+1)
		var b []byte
		if len(out) > 0 && rng.IntN(4) == 0 {
			// Share a prefix with an earlier pattern.
			prev := out[rng.IntN(len(out))]
			b = append(b, prev[:rng.IntN(len(prev))]...)
		}
		for len(b) < l {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		s := string(b[:l])
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// plantedText returns random text over alphabet with patterns planted,
// sometimes overlapping, touching or truncated.
func plantedText(rng *rand.Rand, n int, pats []string, alphabet string) []byte {
	var b []byte
	for len(b) < n {
		switch k := rng.IntN(10); {
		case k < 3 && len(pats) > 0:
			p := pats[rng.IntN(len(pats))]
			b = append(b, p...)
		case k == 3 && len(pats) > 0:
			p := pats[rng.IntN(len(pats))]
			b = append(b, p[:rng.IntN(len(p))]...) // a prefix that fails
		case k == 4 && len(pats) > 0 && len(b) > 0:
			// Overlap: start a pattern inside the previous bytes.
			p := pats[rng.IntN(len(pats))]
			cut := rng.IntN(min(len(b), len(p)) + 1)
			b = append(b[:len(b)-cut], p...)
		default:
			for range 1 + rng.IntN(20) {
				b = append(b, alphabet[rng.IntN(len(alphabet))])
			}
		}
	}
	return b
}

// TestRandomAgainstNaive compares Redact, the Writer at random splits (with
// the exact hold-back) and the raw occurrence list against the naive
// reference, over sets covering every length class.
func TestRandomAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		n, minL, maxL int
		alphabet      string
	}{
		{5, 1, 4, "ab"},
		{8, 1, 9, "abc"},
		{20, 4, 20, "abcd"},
		{30, 8, 40, "ab"},
		{50, 16, 70, "abc"},
		{200, 1, 60, "abcdefgh"},
	}
	for ci, c := range cases {
		for iter := range 30 {
			pats := randPatterns(rng, c.n, c.minL, c.maxL, c.alphabet)
			r := newTestRedactor(t, pats)
			text := plantedText(rng, 50+rng.IntN(400), pats, c.alphabet)
			want := naiveRedact(pats, text)
			if got := r.Redact(nil, text); !bytes.Equal(got, want) {
				t.Fatalf("case %d/%d: Redact(%q) with %q = %q, want %q", ci, iter, text, pats, got, want)
			}
			ivs, _ := r.set.scan(text, nil, false)
			slices.SortFunc(ivs, compareSpan)
			if occ := naiveOccurrences(pats, text); !slices.Equal(ivs, occ) {
				t.Fatalf("case %d/%d: occurrences %v, want %v", ci, iter, ivs, occ)
			}
			for range 3 {
				streamCheck(t, r, pats, text, randomSplits(rng, len(text)), want)
			}
		}
	}
}

// TestAgainstAhoCorasick checks which patterns occur against an independent
// implementation, cloudflare/ahocorasick, on larger sets than the naive
// reference can afford to run often.
func TestAgainstAhoCorasick(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 5 {
		// cloudflare/ahocorasick takes about 4 KiB per pattern byte: keep
		// the set small enough for CI.
		pats := randPatterns(rng, 300, 4, 30, "abcdefghij")
		r := newTestRedactor(t, pats)
		m := ahocorasick.NewStringMatcher(pats)
		text := plantedText(rng, 20000, pats[:50], "abcdefghij")
		ivs, _ := r.set.scan(text, nil, false)
		found := map[string]bool{}
		for _, v := range ivs {
			found[string(text[v.start:v.end])] = true
		}
		var got, want []string
		for p := range found {
			got = append(got, p)
		}
		for _, i := range m.Match(text) {
			want = append(want, pats[i])
		}
		slices.Sort(got)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iter %d: %d patterns occur, ahocorasick says %d", iter, len(got), len(want))
		}
		if len(got) == 0 {
			t.Fatal("test input holds no pattern")
		}
	}
}

// TestNoPatternSurvives is the safety property: for random inputs with
// planted secrets, streamed at random splits, no raw or derived pattern
// appears in the output.
func TestNoPatternSurvives(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := New(Options{Encodings: AllEncodings()})
	var secrets []string
	for range 30 {
		s := make([]byte, 8+rng.IntN(30))
		for i := range s {
			s[i] = byte(32 + rng.IntN(95))
		}
		secrets = append(secrets, string(s))
		if err := r.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	var pats []string
	for _, s := range secrets {
		pats = append(pats, s)
		for _, e := range AllEncodings() {
			for _, d := range Derive(e, []byte(s)) {
				if len(d) >= DefaultMinLength {
					pats = append(pats, string(d))
				}
			}
		}
	}
	for iter := range 50 {
		text := plantedText(rng, 2000, pats, "abc xyz\n\"'<>&%=+/")
		var out bytes.Buffer
		w := r.NewWriter(&out)
		prev := 0
		for _, sp := range append(randomSplits(rng, len(text)), len(text)) {
			if _, err := w.Write(text[prev:sp]); err != nil {
				t.Fatal(err)
			}
			prev = sp
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, p := range pats {
			if bytes.Contains(out.Bytes(), []byte(p)) {
				t.Fatalf("iter %d: pattern #%d of %d bytes survives in the output", iter, slices.Index(pats, p), len(p))
			}
		}
		if !bytes.Equal(out.Bytes(), r.Redact(nil, text)) {
			t.Fatalf("iter %d: stream differs from Redact", iter)
		}
	}
}

func TestAddPolicy(t *testing.T) {
	r := New(Options{})
	err := r.Add([]byte("abc"))
	if !errors.Is(err, ErrTooShort) {
		t.Fatalf("Add of 3 bytes: %v, want ErrTooShort", err)
	}
	if strings.Contains(err.Error(), "abc") || !strings.Contains(err.Error(), "3 bytes") {
		t.Fatalf("error %q should name the length, never the value", err)
	}
	if r.Len() != 0 {
		t.Fatalf("Len after refused Add = %d", r.Len())
	}
	if err := r.Add(nil); !errors.Is(err, ErrTooShort) {
		t.Fatalf("Add(nil): %v", err)
	}
	if err := r.Add([]byte("abcd")); err != nil {
		t.Fatal(err)
	}
	if err := r.Add([]byte("abcd")); err != nil || r.Len() != 1 {
		t.Fatalf("duplicate Add: %v, Len %d", err, r.Len())
	}

	// Derived forms only for secrets of DerivedMinLength or more, and only
	// derived needles of MinLength or more.
	d := New(Options{MinLength: 4, DerivedMinLength: 8, Encodings: []Encoding{EncodingHexLower, EncodingBase64Std}})
	if err := d.Add([]byte("short12")); err != nil || d.Len() != 1 {
		t.Fatalf("7-byte secret: %v, Len %d, want raw only", err, d.Len())
	}
	secret := []byte("s3cr3t-p4ss")
	if err := d.Add(secret); err != nil {
		t.Fatal(err)
	}
	want := 2 + len(Derive(EncodingHexLower, secret)) + len(Derive(EncodingBase64Std, secret))
	if d.Len() != want {
		t.Fatalf("Len = %d, want %d", d.Len(), want)
	}
	got := d.Redact(nil, []byte("Authorization: Basic YWxpY2U6czNjcjN0LXA0c3M= hex 73336372337420703473 "+"733363723374"+"2d7034737373"))
	if bytes.Contains(got, []byte("czNjcjN0LXA0c3")) || !bytes.Contains(got, []byte("YWxpY2U6"+Token)) {
		t.Fatalf("base64 form not redacted: %q", got)
	}

	// With MinLength 1 a derived needle of 1..3 bytes is still skipped
	// below MinLength only.
	one := New(Options{MinLength: 6, DerivedMinLength: 1, Encodings: []Encoding{EncodingBase64Std}})
	if err := one.Add([]byte("abcdef")); err != nil {
		t.Fatal(err)
	}
	for _, p := range one.set.index.pats {
		if len(p) < 6 {
			t.Fatalf("needle of %d bytes below MinLength 6 was added", len(p))
		}
	}
}

// TestFlush checks that Flush outputs exactly what Redact gives for the
// input so far, and that matching continues across the flush point.
func TestFlush(t *testing.T) {
	r := newTestRedactor(t, []string{"ipsum dolor", "abc", "cde", "xyzw", "yz"})
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("Lorem ipsum dol"))
	if out.String() != "Lorem " || w.Buffered() != 9 {
		t.Fatalf("before Flush: %q, Buffered %d", out.String(), w.Buffered())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Lorem ipsum dol" || w.Buffered() != 0 {
		t.Fatalf("after Flush: %q, Buffered %d", out.String(), w.Buffered())
	}
	// The rest of the secret still goes: "or" completes "ipsum dolor".
	w.Write([]byte("or! "))
	if out.String() != "Lorem ipsum dol"+Token+"! " {
		t.Fatalf("after the flush point: %q", out.String())
	}

	// A held marked run is redacted by Flush, and a run reaching the flush
	// point merges with one continuing after it.
	out.Reset()
	w.Write([]byte("xyz"))
	if out.String() != "" || w.Buffered() != 3 {
		t.Fatalf("xyz: %q, Buffered %d", out.String(), w.Buffered())
	}
	w.Flush()
	if out.String() != "x"+Token {
		t.Fatalf("Flush of x+yz = %q", out.String())
	}
	out.Reset()
	w.Write([]byte(" abc"))
	w.Flush()
	w.Write([]byte("de."))
	w.Close()
	if out.String() != " "+Token+"." {
		t.Fatalf("run across Flush: %q", out.String())
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestMinimalHoldBack: text that cannot start a secret leaves in the same
// Write; a live partial match is held and released by the next Write.
func TestMinimalHoldBack(t *testing.T) {
	r := newTestRedactor(t, []string{"tok_4f9Q2xZ7kL0pW3v8"})
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("hello world\n"))
	if out.String() != "hello world\n" || w.Buffered() != 0 {
		t.Fatalf("%q, Buffered %d", out.String(), w.Buffered())
	}
	w.Write([]byte("value=tok_4f9Q"))
	if out.String() != "hello world\nvalue=" || w.Buffered() != 8 {
		t.Fatalf("%q, Buffered %d", out.String(), w.Buffered())
	}
	w.Write([]byte("!"))
	if out.String() != "hello world\nvalue=tok_4f9Q!" || w.Buffered() != 0 {
		t.Fatalf("%q, Buffered %d", out.String(), w.Buffered())
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, io.ErrClosedPipe
	}
	f.n--
	return len(p), nil
}

func TestUnderlyingError(t *testing.T) {
	r := newTestRedactor(t, []string{"secret-value"})
	w := r.NewWriter(&failWriter{n: 1})
	if _, err := w.Write([]byte("ok ")); err != nil {
		t.Fatal(err)
	}
	_, err := w.Write([]byte("then secret-value"))
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write error = %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error mentions the data: %v", err)
	}
	if _, err2 := w.Write([]byte("more")); !errors.Is(err2, io.ErrClosedPipe) {
		t.Fatalf("later Write = %v, want the sticky error", err2)
	}
}

// TestAddWhileWriting adds secrets while goroutines write (run with -race)
// and checks that once Add returns, writes redact the new secret.
func TestAddWhileWriting(t *testing.T) {
	r := New(Options{Encodings: []Encoding{EncodingBase64Std}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.NewWriter(io.Discard)
			line := []byte(fmt.Sprintf("goroutine %d prints secret-%04d and secret-%04d\n", g, g, g+100))
			for {
				select {
				case <-stop:
					w.Close()
					return
				default:
				}
				if _, err := w.Write(line); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 300 {
		s := []byte(fmt.Sprintf("secret-%04d", i))
		if err := r.Add(s); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		w := r.NewWriter(&out)
		w.Write([]byte("x " + string(s) + " y"))
		w.Close()
		if out.String() != "x "+Token+" y" {
			t.Fatalf("after Add(%d): %q", i, out.String())
		}
	}
	close(stop)
	wg.Wait()
}

// TestManyPatternsGrowth adds enough patterns to force several rebuilds of
// every table, checking matches along the way.
func TestManyPatternsGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	r := New(Options{})
	pats := randPatterns(rng, 20000, 4, 40, "0123456789abcdefghijklmnopqrstuvwxyz")
	for i, p := range pats {
		if err := r.Add([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if i%997 == 0 {
			probe := pats[rng.IntN(i+1)]
			got := r.Redact(nil, []byte("<"+probe+">"))
			if string(got) != "<"+Token+">" {
				t.Fatalf("after %d adds, pattern %d not redacted: %q", i+1, i, got)
			}
		}
	}
	if r.Len() != len(pats) {
		t.Fatalf("Len = %d, want %d", r.Len(), len(pats))
	}
}

// TestWriteAllocs: 0 allocations per Write in steady state.
func TestWriteAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	pats := randPatterns(rng, 1000, 16, 40, "abcdefghijklmnopqrstuvwxyz0123456789")
	r := newTestRedactor(t, pats)
	w := r.NewWriter(io.Discard)
	chunk := plantedText(rng, 4096, pats[:10], "abcdefghij klmnop\n")[:4096]
	w.Write(chunk)
	w.Write(chunk)
	if a := testing.AllocsPerRun(100, func() { w.Write(chunk) }); a != 0 {
		t.Fatalf("Write allocates %.1f times per call", a)
	}
}

// FuzzWriter compares the Writer at fuzzer-chosen split points and Redact
// against the naive references: the escape-aware one (escape_test.go) for
// the default Redactor, the plain one, with the exact hold-back, for a
// Binary one. patterns is a '|'-separated list.
func FuzzWriter(f *testing.F) {
	f.Add("ab|bc|cd", []byte("xabcdey abd"), []byte{1, 3})
	f.Add("aab", []byte("xaaab"), []byte{3})
	f.Add("abcabd|ca", []byte("xabcabcabd"), []byte{6, 1})
	f.Add("ipsum dolor|um do|dolor sit", []byte("Lorem ipsum dolor sit amet"), []byte{15, 2, 3})
	f.Add("abcdefgh|cde", []byte("xabcdefXh"), []byte{4})
	f.Add("aaaaaaaaaaaaaaaaaaaab|aaaaaaaab", []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaab"), []byte{9, 9, 1})
	f.Add("tok_4f9Q2xZ7kL0pW3v8|4f9Q2xZ7", []byte("atok_4f9Q2xZ7kL0pW3v8tok_4f9Q2xZ7kL0pW3v8b"), []byte{21, 5})
	f.Add("hush-rt-S3cret", []byte("PW=\x1b[01;31m\x1b[Khush\x1b[m\x1b[K-rt-S3cret\n"), []byte{14, 3, 9})
	f.Add("abcd|cdef", []byte("ab\x1b]0;t\x07cd\x1b[mef\x1b(Bx\x1b"), []byte{3, 1, 1, 8})
	f.Add("ab[m", []byte("xab\x1b[mab[m\x1b[3"), []byte{2, 2, 2})
	f.Fuzz(func(t *testing.T, patterns string, text []byte, cuts []byte) {
		if len(text) > 2000 || len(patterns) > 500 {
			return
		}
		var pats []string
		for _, p := range strings.Split(patterns, "|") {
			if p != "" {
				pats = append(pats, p)
			}
		}
		var splits []int
		pos := 0
		for _, c := range cuts {
			pos += int(c)
			if pos > 0 && pos < len(text) && (len(splits) == 0 || pos > splits[len(splits)-1]) {
				splits = append(splits, pos)
			}
		}
		r := newTestRedactor(t, pats)
		want := naiveEscRedact(pats, text)
		if got := r.Redact(nil, text); !bytes.Equal(got, want) {
			t.Fatalf("Redact = %q, want %q", got, want)
		}
		var heldPats []string // the exact hold-back is the plain rule's
		if bytes.IndexByte(text, escByte) < 0 {
			heldPats = pats
		}
		streamCheck(t, r, heldPats, text, splits, want)

		bin := New(Options{MinLength: 1, Binary: true})
		for _, p := range pats {
			if err := bin.Add([]byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		want = naiveRedact(pats, text)
		if got := bin.Redact(nil, text); !bytes.Equal(got, want) {
			t.Fatalf("binary: Redact = %q, want %q", got, want)
		}
		streamCheck(t, bin, pats, text, splits, want)
	})
}

// TestAddCoversHeldBytes pins the documented choice for secrets added
// mid-stream: a Write scans the bytes still held back with the new set, so
// a new secret starting in them is redacted too (the vectors only require
// occurrences from the next chunk on; redacting more is the safe side).
func TestAddCoversHeldBytes(t *testing.T) {
	r := newTestRedactor(t, []string{"abcdef"})
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("xxabc"))
	if out.String() != "xx" || w.Buffered() != 3 {
		t.Fatalf("%q, Buffered %d", out.String(), w.Buffered())
	}
	if err := r.Add([]byte("bcQQ")); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("QQ!"))
	w.Close()
	if out.String() != "xxa"+Token+"!" {
		t.Fatalf("got %q", out.String())
	}
}
