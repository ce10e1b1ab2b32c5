package redact

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestAddAllAgainstNaive runs the random differential test of
// TestRandomAgainstNaive on sets built by AddAll, in one batch and in
// batches on top of patterns added one by one, so that the bulk path (each
// table grown once, its new entries indexed together) is held to the same
// reference as Add.
func TestAddAllAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		n, minL, maxL int
		alphabet      string
	}{
		{8, 1, 9, "abc"},
		{50, 16, 70, "abc"},
		{300, 1, 60, "abcdefgh"},
		{3000, 4, 40, "abcdefghijklmnop"},
	}
	for ci, c := range cases {
		for iter := range 10 {
			pats := randPatterns(rng, c.n, c.minL, c.maxL, c.alphabet)
			r := New(Options{MinLength: 1})
			// Some one by one first, the rest in one or more batches,
			// with duplicates.
			cut := rng.IntN(len(pats) + 1)
			for _, p := range pats[:cut] {
				if err := r.Add([]byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			rest := pats[cut:]
			for len(rest) > 0 {
				k := 1 + rng.IntN(len(rest))
				batch := make([][]byte, 0, k+2)
				for _, p := range rest[:k] {
					batch = append(batch, []byte(p))
				}
				batch = append(batch, []byte(pats[rng.IntN(len(pats))])) // a duplicate
				if err := r.AddAll(batch); err != nil {
					t.Fatal(err)
				}
				rest = rest[k:]
			}
			if r.Len() != len(pats) {
				t.Fatalf("case %d/%d: Len = %d, want %d", ci, iter, r.Len(), len(pats))
			}
			text := plantedText(rng, 50+rng.IntN(2000), pats, c.alphabet)
			want := naiveRedact(pats, text)
			if got := r.Redact(nil, text); !bytes.Equal(got, want) {
				t.Fatalf("case %d/%d: Redact(%q) = %q, want %q", ci, iter, text, got, want)
			}
			streamCheck(t, r, pats, text, randomSplits(rng, len(text)), want)
		}
	}
}

// TestAddAllEveryPattern builds a set large enough for every table to
// grow, in one AddAll, and checks that each pattern is redacted.
func TestAddAllEveryPattern(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pats := randPatterns(rng, 30000, 4, 48, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	secrets := make([][]byte, len(pats))
	for i, p := range pats {
		secrets[i] = []byte(p)
	}
	r := New(Options{})
	if err := r.AddAll(secrets); err != nil {
		t.Fatal(err)
	}
	for i, p := range pats {
		if got := r.Redact(nil, []byte("<"+p+">")); string(got) != "<"+Token+">" {
			t.Fatalf("pattern %d not redacted: %q", i, got)
		}
	}
}

// TestAddAllPolicy: derived forms come with their secrets as with Add, a
// secret too short is skipped with an error that counts and locates it
// without showing it, and the others are added all the same.
func TestAddAllPolicy(t *testing.T) {
	opts := Options{Encodings: AllEncodings()}
	one, all := New(opts), New(opts)
	secrets := [][]byte{[]byte("s3cr3t-p4ssw0rd"), []byte("abc"), []byte("tok_Z9y8X7w6"), []byte("xy")}
	for _, s := range secrets {
		if len(s) >= DefaultMinLength {
			if err := one.Add(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := all.AddAll(secrets)
	if !errors.Is(err, ErrTooShort) {
		t.Fatalf("AddAll error = %v, want ErrTooShort", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "2 of 4") || !strings.Contains(msg, "index 1") || strings.Contains(msg, "abc") {
		t.Fatalf("AddAll error %q: want the count and the index of the first, never the value", msg)
	}
	if one.Len() != all.Len() {
		t.Fatalf("AddAll made %d patterns, Add %d", all.Len(), one.Len())
	}
	in := []byte(`{"password": "s3cr3t-p4ssw0rd", "b64": "czNjcjN0LXA0c3N3MHJk", "t": "tok_Z9y8X7w6"}`)
	if got, want := all.Redact(nil, in), one.Redact(nil, in); !bytes.Equal(got, want) {
		t.Fatalf("AddAll redacts %q, Add %q", got, want)
	}
	if err := New(Options{}).AddAll(nil); err != nil {
		t.Fatalf("AddAll(nil) = %v", err)
	}
}
