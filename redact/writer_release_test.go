package redact

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// This file tests what a driver that must release held bytes early uses:
// Live, FlushRedacted and Redirect.

func TestFlushRedacted(t *testing.T) {
	r := newTestRedactor(t, []string{"hello-secret"})
	for _, tc := range []struct {
		rest, want string
	}{
		// The rest of the secret continues the Token and adds nothing.
		{"secret!", "abc [REDACTED]!"},
		// Not a secret after all: over-redacted, nothing lost after it.
		{"world", "abc [REDACTED]world"},
		// A second occurrence right after is a run of its own.
		{"x hello-secret", "abc [REDACTED]x [REDACTED]"},
	} {
		var out bytes.Buffer
		w := r.NewWriter(&out)
		w.Write([]byte("abc hello-"))
		if out.String() != "abc " || w.Buffered() != 6 || w.Live() != 6 {
			t.Fatalf("before: %q, Buffered %d, Live %d", out.String(), w.Buffered(), w.Live())
		}
		if err := w.FlushRedacted(); err != nil {
			t.Fatal(err)
		}
		if out.String() != "abc [REDACTED]" || w.Buffered() != 0 {
			t.Fatalf("after FlushRedacted: %q, Buffered %d", out.String(), w.Buffered())
		}
		if err := w.FlushRedacted(); err != nil || out.String() != "abc [REDACTED]" {
			t.Fatalf("second FlushRedacted wrote %q (%v)", out.String(), err)
		}
		w.Write([]byte(tc.rest))
		w.Close()
		if out.String() != tc.want {
			t.Errorf("rest %q: got %q, want %q", tc.rest, out.String(), tc.want)
		}
	}
}

func TestFlushRedactedMergesWithRunBefore(t *testing.T) {
	// "abcd" is complete and out as a Token; "efg" continues it as the start
	// of another pattern: released redacted, it adds no second Token.
	r := newTestRedactor(t, []string{"abcd", "defgh"})
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("x abcdefg"))
	if err := w.FlushRedacted(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("h y"))
	w.Close()
	if out.String() != "x [REDACTED] y" {
		t.Fatalf("got %q", out.String())
	}
}

func TestLiveCountsReleasedBytes(t *testing.T) {
	r := newTestRedactor(t, []string{"hello-secret"})
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("hel"))
	w.Flush()
	if w.Live() != 3 || w.Buffered() != 0 {
		t.Fatalf("Live %d, Buffered %d", w.Live(), w.Buffered())
	}
	w.Write([]byte("lo-"))
	if w.Live() != 6 || w.Buffered() != 3 {
		t.Fatalf("Live %d, Buffered %d", w.Live(), w.Buffered())
	}
	w.Write([]byte("x"))
	if w.Live() != 0 || w.Buffered() != 0 || out.String() != "hello-x" {
		t.Fatalf("Live %d, Buffered %d, out %q", w.Live(), w.Buffered(), out.String())
	}
}

// naiveLive is the length of the longest suffix of s that is a proper
// prefix of a pattern.
func naiveLive(pats []string, s []byte) int {
	best := 0
	for _, p := range pats {
		for l := min(len(p)-1, len(s)); l > best; l-- {
			if string(s[len(s)-l:]) == p[:l] {
				best = l
				break
			}
		}
	}
	return best
}

func TestLiveAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		pats := randPatterns(rng, 1+rng.IntN(6), 4, 24, "abcd")
		r := newTestRedactor(t, pats)
		text := plantedText(rng, 200, pats, "abcd")
		w := r.NewWriter(io.Discard)
		for i := 0; i < len(text); {
			n := 1 + rng.IntN(min(len(text)-i, 9))
			w.Write(text[i : i+n])
			i += n
			if rng.IntN(4) == 0 {
				w.Flush()
			}
			if got, want := w.Live(), naiveLive(pats, text[:i]); got != want {
				t.Fatalf("trial %d after %d bytes: Live %d, want %d", trial, i, got, want)
			}
		}
	}
}

func TestRedirectAttributesHeldBytes(t *testing.T) {
	r := newTestRedactor(t, []string{"hello-secret"})
	for _, tc := range []struct {
		first, second string
		wantA, wantB  string
	}{
		// A Token goes where its run began.
		{"x hello-", "secret y", "x [REDACTED]", " y"},
		// Held bytes that are no secret go back where they came from.
		{"x hello-", "world", "x hello-", "world"},
		// Still held: nothing yet.
		{"x hello-", "se", "x ", ""},
	} {
		var a, b bytes.Buffer
		w := r.NewWriter(&a)
		w.Write([]byte(tc.first))
		w.Redirect(&b)
		w.Write([]byte(tc.second))
		if a.String() != tc.wantA || b.String() != tc.wantB {
			t.Errorf("%q then %q: A %q, B %q; want %q, %q", tc.first, tc.second, a.String(), b.String(), tc.wantA, tc.wantB)
		}
	}
	// FlushRedacted puts the Token where the held run began.
	var a, b bytes.Buffer
	w := r.NewWriter(&a)
	w.Write([]byte("hello-"))
	w.Redirect(&b)
	w.Write([]byte("sec"))
	w.FlushRedacted()
	w.Write([]byte("ret."))
	if a.String() != "[REDACTED]" || b.String() != "." {
		t.Fatalf("A %q, B %q", a.String(), b.String())
	}
}

// TestRedirectAgainstNaive writes random text in random pieces, each to a
// destination of its own, and checks every destination against the naive
// marking of the whole text: a destination gets the unmarked bytes of its
// piece and a Token for each run that begins in it.
func TestRedirectAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		pats := randPatterns(rng, 1+rng.IntN(6), 4, 20, "abc")
		r := newTestRedactor(t, pats)
		text := plantedText(rng, 150, pats, "abc")
		var dsts []*bytes.Buffer
		var cuts []int
		w := r.NewWriter(io.Discard)
		for i := 0; i < len(text); {
			n := 1 + rng.IntN(min(len(text)-i, 12))
			dsts = append(dsts, &bytes.Buffer{})
			cuts = append(cuts, i)
			w.Redirect(dsts[len(dsts)-1])
			w.Write(text[i : i+n])
			i += n
		}
		w.Close()
		marked := naiveMarks(pats, text)
		for k := range dsts {
			end := len(text)
			if k+1 < len(cuts) {
				end = cuts[k+1]
			}
			var want strings.Builder
			for i := cuts[k]; i < end; i++ {
				switch {
				case !marked[i]:
					want.WriteByte(text[i])
				case i == 0 || !marked[i-1]:
					want.WriteString(Token)
				}
			}
			if dsts[k].String() != want.String() {
				t.Fatalf("trial %d piece %d [%d,%d): got %q, want %q", trial, k, cuts[k], end, dsts[k].String(), want.String())
			}
		}
	}
}

func TestWriteRedacted(t *testing.T) {
	r := newTestRedactor(t, []string{"hello-secret"})
	for _, tc := range []struct {
		before, secret, after string
		want                  string
	}{
		// Known-secret bytes leave as a token; the stream's context keeps
		// them, so the rest of an occurrence that began in them continues
		// the token.
		{"x ", "hello-", "secret y", "x [REDACTED] y"},
		// Held bytes before them that run into them are marked with them.
		{"x hel", "lo-", "secret y", "x [REDACTED] y"},
		// Held bytes that cannot run into them leave in clear.
		{"x hel", "zzz", " y", "x hel[REDACTED] y"},
		// Nothing after: the token stands.
		{"a ", "b", "", "a [REDACTED]"},
	} {
		var out bytes.Buffer
		w := r.NewWriter(&out)
		w.Write([]byte(tc.before))
		if n, err := w.WriteRedacted([]byte(tc.secret)); err != nil || n != len(tc.secret) {
			t.Fatalf("WriteRedacted: %d, %v", n, err)
		}
		if w.Buffered() != 0 {
			t.Fatalf("%q: %d bytes held after WriteRedacted", tc.before+tc.secret, w.Buffered())
		}
		w.Write([]byte(tc.after))
		w.Close()
		if out.String() != tc.want {
			t.Errorf("%q + redacted %q + %q: got %q, want %q", tc.before, tc.secret, tc.after, out.String(), tc.want)
		}
	}
}

// spans records what a Writer hands a SpanWriter.
type spans struct{ got []string }

func (s *spans) Write(p []byte) (int, error) { panic("Write called on a SpanWriter") }

func (s *spans) WriteSpan(p []byte, secret bool) error {
	if secret {
		s.got = append(s.got, "<"+string(p)+">")
	} else {
		s.got = append(s.got, string(p))
	}
	return nil
}

func TestSpanWriter(t *testing.T) {
	r := newTestRedactor(t, []string{"hello-secret", "abcd"})
	var a bytes.Buffer
	sp := &spans{}
	w := r.NewWriter(&a)
	w.Write([]byte("x hello-"))
	w.Redirect(sp)
	w.Write([]byte("secret y abcdhello-sec"))
	w.FlushRedacted()
	w.Write([]byte("ret z"))
	w.Close()
	// The Token of the run that began before the redirect is the first
	// destination's; a SpanWriter gets every byte, raw and flagged, the
	// rest of that run included.
	if a.String() != "x [REDACTED]" {
		t.Fatalf("first destination %q", a.String())
	}
	want := []string{"<secret>", " y ", "<abcd>", "<hello-sec>", "<ret>", " z"}
	if strings.Join(sp.got, "|") != strings.Join(want, "|") {
		t.Fatalf("spans %q, want %q", sp.got, want)
	}
}
