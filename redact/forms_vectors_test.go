package redact_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// formsVector is one vector of testdata/forms-vectors.json: hush's own
// vectors for the derived forms and the escape-sequence rule of issue 12.
type formsVector struct {
	Name      string   `json:"name"`
	Note      string   `json:"note"`
	Secrets   []string `json:"secrets"`
	Encodings []string `json:"encodings"`
	Binary    bool     `json:"binary"`
	Input     string   `json:"input"`
	Expected  string   `json:"expected"`
}

// readFormsVectors reads testdata/forms-vectors.json.
func readFormsVectors(t *testing.T) []formsVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "forms-vectors.json"))
	if err != nil {
		t.Fatalf("read the forms vectors: %v", err)
	}
	var f struct {
		Vectors []formsVector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse the forms vectors: %v", err)
	}
	if len(f.Vectors) < 10 {
		t.Fatalf("only %d forms vectors", len(f.Vectors))
	}
	return f.Vectors
}

// redactorFor builds the Redactor a vector describes.
func redactorFor(t *testing.T, v formsVector) (*redact.Redactor, []redact.Encoding, [][]byte) {
	t.Helper()
	var encs []redact.Encoding
	for _, name := range v.Encodings {
		e, err := redact.ParseEncoding(name)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		encs = append(encs, e)
	}
	r := redact.New(redact.Options{Encodings: encs, Binary: v.Binary})
	var secrets [][]byte
	for _, s := range v.Secrets {
		secrets = append(secrets, []byte(s))
	}
	if err := r.AddAll(secrets); err != nil {
		t.Fatalf("%s: AddAll: %v", v.Name, err)
	}
	return r, encs, secrets
}

// TestFormsVectors runs every vector through Redact and through a Writer
// split at every point (and one byte at a time), and checks that no secret
// nor any of its forms of the vector is left, in the output or in what a
// terminal shows of it.
func TestFormsVectors(t *testing.T) {
	for _, v := range readFormsVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			r, encs, secrets := redactorFor(t, v)
			in, want := []byte(v.Input), []byte(v.Expected)
			if got := r.Redact(nil, in); !bytes.Equal(got, want) {
				t.Fatalf("Redact = %q, want %q", got, want)
			}
			for i := 0; i <= len(in); i++ {
				if got := writeSplit(t, r, in, i); !bytes.Equal(got, want) {
					t.Fatalf("Writer split at %d = %q, want %q", i, got, want)
				}
			}
			var out bytes.Buffer
			w := r.NewWriter(&out)
			for i := range in {
				w.Write(in[i : i+1])
			}
			w.Close()
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("one byte at a time = %q, want %q", out.Bytes(), want)
			}
			if v.Binary {
				return // the vector shows what binary mode leaves
			}
			if l := redacttest.FindLeak(want, secrets, encs); l != nil {
				t.Fatalf("expected output leaks %s", l)
			}
			if l := redacttest.FindLeak(stripEscapes(want), secrets, encs); l != nil {
				t.Fatalf("what a terminal shows of the expected output leaks %s", l)
			}
		})
	}
}

// writeSplit writes in to a fresh Writer of r in two writes, split at i.
func writeSplit(t *testing.T, r *redact.Redactor, in []byte, i int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := r.NewWriter(&out)
	if _, err := w.Write(in[:i]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(in[i:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// stripEscapes removes CSI sequences and BEL-terminated OSC strings, the
// escape sequences of the vectors, from b.
func stripEscapes(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0x1b || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		j := i + 2
		switch b[i+1] {
		case '[':
			for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) {
				j++
			}
		case ']':
			for j < len(b) && b[j] != 0x07 {
				j++
			}
		default:
			j = i + 1
		}
		i = min(j, len(b)-1)
	}
	return out
}
