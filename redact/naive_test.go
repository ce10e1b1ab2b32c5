package redact

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// This file holds the naive reference the fast matcher is checked against:
// mark every byte covered by any occurrence found by trying every pattern at
// every position, then replace each maximal marked run by one Token. It is
// slow and obviously right.

// naiveMarks marks the bytes of s covered by an occurrence of a pattern.
func naiveMarks(pats []string, s []byte) []bool {
	marked := make([]bool, len(s))
	for _, p := range pats {
		if p == "" {
			continue
		}
		for i := 0; i+len(p) <= len(s); i++ {
			if string(s[i:i+len(p)]) == p {
				for k := i; k < i+len(p); k++ {
					marked[k] = true
				}
			}
		}
	}
	return marked
}

// naiveRedact is the union-merge-adjacent rule written out directly.
func naiveRedact(pats []string, s []byte) []byte {
	marked := naiveMarks(pats, s)
	var out []byte
	for i := 0; i < len(s); i++ {
		if !marked[i] {
			out = append(out, s[i])
			continue
		}
		out = append(out, Token...)
		for i+1 < len(s) && marked[i+1] {
			i++
		}
	}
	return out
}

// naiveHeld is how many bytes a minimal streaming redactor must hold back
// after the stream s: from the first unmarked byte at or after the start of
// the longest suffix of s that is a proper prefix of some pattern.
func naiveHeld(pats []string, s []byte) int {
	live := len(s)
	for st := 0; st < len(s) && live == len(s); st++ {
		for _, p := range pats {
			if len(p) > len(s)-st && strings.HasPrefix(p, string(s[st:])) {
				live = st
				break
			}
		}
	}
	marked := naiveMarks(pats, s)
	h := live
	for h < len(s) && marked[h] {
		h++
	}
	return len(s) - h
}

// naiveOccurrences lists every (start, end) of every pattern in s, sorted.
func naiveOccurrences(pats []string, s []byte) []span {
	var out []span
	for _, p := range pats {
		for i := 0; p != "" && i+len(p) <= len(s); i++ {
			if string(s[i:i+len(p)]) == p {
				out = append(out, span{i, i + len(p)})
			}
		}
	}
	slices.SortFunc(out, compareSpan)
	return slices.Compact(out)
}

func compareSpan(a, b span) int {
	if a.start != b.start {
		return a.start - b.start
	}
	return a.end - b.end
}

// newTestRedactor returns a Redactor with MinLength 1 holding pats (empty
// ones skipped).
func newTestRedactor(t testing.TB, pats []string) *Redactor {
	t.Helper()
	r := New(Options{MinLength: 1})
	for _, p := range pats {
		if p == "" {
			continue
		}
		if err := r.Add([]byte(p)); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	return r
}

// streamCheck writes input to a fresh Writer of r in pieces cut at the
// given sorted split points and checks, after every Write, that the output
// so far is a prefix of want and that exactly the minimal tail is held (as
// computed by naiveHeld over pats), then that Close completes want.
func streamCheck(t testing.TB, r *Redactor, pats []string, input []byte, splits []int, want []byte) {
	t.Helper()
	var out bytes.Buffer
	w := r.NewWriter(&out)
	prev := 0
	for _, sp := range append(slices.Clone(splits), len(input)) {
		chunk := input[prev:sp]
		n, err := w.Write(chunk)
		if err != nil || n != len(chunk) {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
		if !bytes.HasPrefix(want, out.Bytes()) {
			t.Fatalf("splits %v: after writing %q output %q is not a prefix of %q", splits, input[:sp], out.Bytes(), want)
		}
		if pats != nil {
			if got, wantHeld := w.Buffered(), naiveHeld(pats, input[:sp]); got != wantHeld {
				t.Fatalf("splits %v: after writing %q Buffered() = %d, want %d", splits, input[:sp], got, wantHeld)
			}
		}
		prev = sp
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("splits %v of %q: got %q, want %q", splits, input, out.Bytes(), want)
	}
	if w.Buffered() != 0 {
		t.Fatalf("Buffered after Close = %d", w.Buffered())
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// randomSplits returns sorted distinct split points in (0, n).
func randomSplits(rng *rand.Rand, n int) []int {
	if n < 2 {
		return nil
	}
	k := rng.IntN(min(n, 12))
	var s []int
	for range k {
		s = append(s, 1+rng.IntN(n-1))
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// oneByteSplits splits at every byte.
func oneByteSplits(n int) []int {
	s := make([]int, 0, n)
	for i := 1; i < n; i++ {
		s = append(s, i)
	}
	return s
}

var _ io.Writer = (*Writer)(nil)
