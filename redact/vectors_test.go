package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// redactVector is one vector of the shared file (exact or encoded).
type redactVector struct {
	Name            string   `json:"name"`
	Secrets         []string `json:"secrets"`
	Chunks          []string `json:"chunks"`
	Expected        string   `json:"expected"`
	BytesEncoding   string   `json:"bytes_encoding"`
	AlsoAllSplits   bool     `json:"also_test_all_splits"`
	DerivedNeedles  []string `json:"derived_needles"`
	DerivedPatterns []string `json:"derived_patterns"`
	SecretAdditions []struct {
		BeforeChunk int      `json:"before_chunk"`
		Secrets     []string `json:"secrets"`
	} `json:"secret_additions"`
}

type redactVectorFile struct {
	Exact   []redactVector `json:"exact"`
	Encoded []redactVector `json:"encoded"`
}

// vectorsData returns the redaction vectors file: testdata/redact-vectors.json,
// a copy of the shared vectors (shared/vectors/redact-vectors.json) kept in
// the repository so a clone tests on its own. When the shared folder sits
// next to the repository, the copy must equal it: a drift fails here.
func vectorsData(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "redact-vectors.json"))
	if err != nil {
		t.Fatalf("read the redaction vectors: %v", err)
	}
	shared, err := os.ReadFile(filepath.Join("..", "..", "shared", "vectors", "redact-vectors.json"))
	if err == nil && !bytes.Equal(shared, data) {
		t.Fatal("redact/testdata/redact-vectors.json differs from ../shared/vectors/redact-vectors.json: copy the shared file over it")
	}
	return data
}

// readRedactVectors parses the vectors file.
func readRedactVectors(t *testing.T) redactVectorFile {
	t.Helper()
	var f redactVectorFile
	if err := json.Unmarshal(vectorsData(t), &f); err != nil {
		t.Fatalf("parse the redaction vectors: %v", err)
	}
	if len(f.Exact) == 0 || len(f.Encoded) == 0 {
		t.Fatal("the redaction vectors have no exact or no encoded vectors")
	}
	return f
}

// decode returns the bytes of a vector string field.
func (v *redactVector) decode(t *testing.T, s string) string {
	t.Helper()
	if v.BytesEncoding != "base64" {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: bad base64 field: %v", v.Name, err)
	}
	return string(b)
}

func (v *redactVector) decodeAll(t *testing.T, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = v.decode(t, s)
	}
	return out
}

// The vectors include 1- to 3-byte secrets (the peers' own tests use them),
// so they run with MinLength 1: the rule itself has no minimum length; the
// minimum is a policy on top of it, tested separately.

func TestVectorsExact(t *testing.T) {
	f := readRedactVectors(t)
	for _, v := range f.Exact {
		t.Run(v.Name, func(t *testing.T) { runVector(t, &v, v.decodeAll(t, v.Secrets)) })
	}
}

// TestVectorsEncoded runs the encoded vectors that are fully described by
// their derived needles (no regex patterns), with every needle registered as
// a raw secret: the matcher's side of those vectors. Derive is checked
// against the same needles in encode_test.go.
func TestVectorsEncoded(t *testing.T) {
	f := readRedactVectors(t)
	ran := 0
	for _, v := range f.Encoded {
		if len(v.DerivedPatterns) > 0 {
			continue
		}
		ran++
		t.Run(v.Name, func(t *testing.T) { runVector(t, &v, v.decodeAll(t, v.DerivedNeedles)) })
	}
	if ran == 0 {
		t.Fatal("no encoded vector without derived_patterns")
	}
}

func runVector(t *testing.T, v *redactVector, pats []string) {
	chunks := v.decodeAll(t, v.Chunks)
	input := []byte(strings.Join(chunks, ""))
	want := []byte(v.decode(t, v.Expected))

	if len(v.SecretAdditions) > 0 {
		runVectorWithAdditions(t, v, pats, chunks, want)
		return
	}

	r := newTestRedactor(t, pats)
	if got := r.Redact(nil, input); !bytes.Equal(got, want) {
		t.Fatalf("Redact = %q, want %q", got, want)
	}
	if got := r.Redact([]byte("pre:"), input); string(got) != "pre:"+string(want) {
		t.Fatalf("Redact with a non-empty dst = %q", got)
	}
	// Reference check: the naive rule agrees with the vector.
	if got := naiveRedact(pats, input); !bytes.Equal(got, want) {
		t.Fatalf("naive reference = %q, want %q (vector or reference wrong)", got, want)
	}

	// The held-back check runs the naive reference after every write: keep
	// it to inputs where that is cheap.
	heldPats := pats
	if len(input)*len(pats) > 20000 || len(input) > 1000 {
		heldPats = nil
	}
	// The given chunks.
	var given []int
	pos := 0
	for _, c := range chunks[:len(chunks)-1] {
		pos += len(c)
		given = append(given, pos)
	}
	streamCheck(t, r, heldPats, input, given, want)
	// No split, every 1-split (sampled for very long inputs), 1-byte chunks.
	streamCheck(t, r, heldPats, input, nil, want)
	step := 1
	if len(input) > 4096 {
		step = len(input)/1000 + 1
	}
	for i := 1; i < len(input); i += step {
		streamCheck(t, r, nil, input, []int{i}, want)
	}
	if len(input) <= 4096 {
		streamCheck(t, r, heldPats, input, oneByteSplits(len(input)), want)
	} else {
		// A Writer rescans its held-back bytes on every Write, so tiny
		// writes inside a very long secret cost quadratic time: use
		// 61-byte chunks for long inputs.
		var s []int
		for i := 61; i < len(input); i += 61 {
			s = append(s, i)
		}
		streamCheck(t, r, heldPats, input, s, want)
	}
	if v.AlsoAllSplits {
		for i := 1; i < len(input); i++ {
			for j := i + 1; j < len(input); j++ {
				streamCheck(t, r, heldPats, input, []int{i, j}, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(len(input)), 7))
	for range 20 {
		streamCheck(t, r, heldPats, input, randomSplits(rng, len(input)), want)
	}
}

// runVectorWithAdditions writes the given chunks, adding secrets before the
// chunks the vector names. Such vectors are only defined for their chunks.
func runVectorWithAdditions(t *testing.T, v *redactVector, pats, chunks []string, want []byte) {
	r := newTestRedactor(t, pats)
	var out bytes.Buffer
	w := r.NewWriter(&out)
	for i, c := range chunks {
		for _, a := range v.SecretAdditions {
			if a.BeforeChunk != i {
				continue
			}
			for _, s := range v.decodeAll(t, a.Secrets) {
				if err := r.Add([]byte(s)); err != nil {
					t.Fatalf("Add: %v", err)
				}
			}
		}
		if _, err := w.Write([]byte(c)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("got %q, want %q", out.Bytes(), want)
	}
}
