package benchmarks

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"unicode/utf8"
)

// occurrences returns every offset of data where some secret of the set
// starts, sorted. It indexes the secrets by their first 8 bytes (every secret
// is at least MinShortSecret long), behind a bitmap of hashed first 4 bytes,
// so checking 100,000 secrets against the 2 MiB corpus costs about one table
// probe per byte (fast enough under -race), not 100,000 searches.
func occurrences(t *testing.T, data []byte, secrets [][]byte) []int {
	t.Helper()
	const bits = 22
	hash4 := func(b []byte) uint32 { return (binary.LittleEndian.Uint32(b) * 0x9E3779B1) >> (32 - bits) }
	filter := make([]uint64, 1<<bits/64)
	byPrefix := make(map[uint64][]int, len(secrets))
	for i, s := range secrets {
		if len(s) < 8 {
			t.Fatalf("secret %d is %d bytes, shorter than the 8 this check needs", i, len(s))
		}
		h := hash4(s)
		filter[h/64] |= 1 << (h % 64)
		k := binary.LittleEndian.Uint64(s)
		byPrefix[k] = append(byPrefix[k], i)
	}
	var at []int
	for off := 0; off+8 <= len(data); off++ {
		if h := hash4(data[off:]); filter[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, i := range byPrefix[binary.LittleEndian.Uint64(data[off:])] {
			if bytes.HasPrefix(data[off:], secrets[i]) {
				at = append(at, off)
				break
			}
		}
	}
	return at
}

func TestCorpusIsDeterministic(t *testing.T) {
	const size = 256 << 10
	a := NotebookOutput(size, DefaultSeed)
	b := NotebookOutput(size, DefaultSeed)
	if len(a) != size {
		t.Fatalf("NotebookOutput(%d) returned %d bytes", size, len(a))
	}
	if !bytes.Equal(a, b) {
		t.Fatal("NotebookOutput with the same seed returned different bytes")
	}
	if bytes.Equal(a, NotebookOutput(size, DefaultSeed+1)) {
		t.Fatal("NotebookOutput ignores its seed")
	}
	// A longer corpus starts with the shorter one: sizes only cut.
	if long := NotebookOutput(2*size, DefaultSeed); !bytes.Equal(long[:size], a) {
		t.Fatal("NotebookOutput of a larger size does not extend the smaller one")
	}

	k1, k2 := APIKeys(50, DefaultSeed), APIKeys(500, DefaultSeed)
	for i := range k1 {
		if !bytes.Equal(k1[i], k2[i]) {
			t.Fatalf("APIKeys is not nested: key %d differs between n=50 and n=500", i)
		}
	}
	s1, s2 := ShortSecrets(50, DefaultSeed), ShortSecrets(500, DefaultSeed)
	for i := range s1 {
		if !bytes.Equal(s1[i], s2[i]) {
			t.Fatalf("ShortSecrets is not nested: secret %d differs between n=50 and n=500", i)
		}
	}
}

// TestCorpus checks the benchmark corpus itself (generated once: it is the
// slow part of this package's tests under -race): it has every kind of
// output the README claims, and the two inputs are what the table says.
func TestCorpus(t *testing.T) {
	corpus := NotebookOutput(DefaultCorpusSize, DefaultSeed)
	t.Run("looks like notebook output", func(t *testing.T) { checkLooksLikeNotebookOutput(t, corpus) })
	t.Run("inputs", func(t *testing.T) { checkInputs(t, corpus) })
}

func checkLooksLikeNotebookOutput(t *testing.T, c []byte) {
	// Everything but a rune cut at the very end is valid UTF-8.
	trimmed := c
	for len(trimmed) > 0 && !utf8.Valid(trimmed) && len(c)-len(trimmed) < utf8.UTFMax {
		trimmed = trimmed[:len(trimmed)-1]
	}
	if !utf8.Valid(trimmed) {
		t.Fatal("corpus is not valid UTF-8")
	}
	for _, want := range []struct{ what, marker string }{
		{"pandas table", " rows x 7 columns]\n"},
		{"log line", "2026-11-28 "},
		{"compact or indented JSON", "{\"request_id\":"},
		{"IPython traceback with ANSI colours", "\x1b[0;31m---"},
		{"Python traceback", "Traceback (most recent call last):\n  File \""},
		{"tqdm-like progress redraw", "it/s]\r"},
		{"progress bar block", "█"},
		{"accents", "Größe"},
		{"CJK", "模型训练完成"},
		{"emoji", "🎉"},
		{"base64 display data", "{\"image/png\": \"iVBORw0KGg"},
		{"hex dump", "\n00000010: "},
	} {
		if !bytes.Contains(c, []byte(want.marker)) {
			t.Errorf("corpus has no %s (marker %q)", want.what, want.marker)
		}
	}
}

func TestSecretSets(t *testing.T) {
	for _, set := range []struct {
		name     string
		secrets  [][]byte
		min, max int
	}{
		{"APIKeys", APIKeys(20000, DefaultSeed), MinLongSecret, 64},
		{"ShortSecrets", ShortSecrets(20000, DefaultSeed), MinShortSecret, MaxShortSecret},
	} {
		seen := make(map[string]bool, len(set.secrets))
		for i, s := range set.secrets {
			if len(s) < set.min || len(s) > set.max {
				t.Errorf("%s: secret %d is %d bytes, want %d..%d", set.name, i, len(s), set.min, set.max)
			}
			if seen[string(s)] {
				t.Errorf("%s: secret %d is a duplicate", set.name, i)
			}
			seen[string(s)] = true
		}
	}
	// The long set has the advertised kinds of keys.
	keys := APIKeys(200, DefaultSeed)
	for _, prefix := range []string{"sk_live_", "ghp_", "AKIA", "dapi", "xoxb-"} {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.HasPrefix(k, []byte(prefix)) }) {
			t.Errorf("APIKeys(200) has no %q key", prefix)
		}
	}
}

// checkInputs checks what the benchmark table claims about its two inputs:
// the corpus contains no secret of any set the benchmarks use (the largest
// sets contain all smaller ones), and the planted input contains exactly one
// occurrence per 4 KiB block, at the recorded offsets, and no other.
func checkInputs(t *testing.T, corpus []byte) {
	for _, set := range []struct {
		name    string
		secrets [][]byte
	}{
		{"long", APIKeys(100000, DefaultSeed)},
		{"short", ShortSecrets(10000, DefaultSeed)},
	} {
		if at := occurrences(t, corpus, set.secrets); len(at) != 0 {
			t.Fatalf("%s: the no-match corpus contains secrets at %v", set.name, at[:min(len(at), 5)])
		}
		planted, plants := PlantEvery(corpus, set.secrets, PlantPeriod, DefaultSeed)
		if len(planted) != len(corpus) {
			t.Fatalf("%s: planting changed the length from %d to %d", set.name, len(corpus), len(planted))
		}
		if len(plants) != len(corpus)/PlantPeriod {
			t.Fatalf("%s: %d plants in %d bytes, want one per %d bytes", set.name, len(plants), len(corpus), PlantPeriod)
		}
		want := make([]int, len(plants))
		distinct := map[int]bool{}
		for k, p := range plants {
			s := set.secrets[p.Secret]
			if p.Offset < k*PlantPeriod || p.Offset+len(s) > (k+1)*PlantPeriod {
				t.Fatalf("%s: plant %d at %d is outside its block", set.name, k, p.Offset)
			}
			if !bytes.Equal(planted[p.Offset:p.Offset+len(s)], s) {
				t.Fatalf("%s: plant %d is not at its recorded offset %d", set.name, k, p.Offset)
			}
			want[k] = p.Offset
			distinct[p.Secret] = true
		}
		if got := occurrences(t, planted, set.secrets); !slices.Equal(got, want) {
			t.Fatalf("%s: planted input has %d occurrences, want exactly the %d plants", set.name, len(got), len(want))
		}
		if len(distinct) < len(plants)/2 {
			t.Errorf("%s: only %d distinct secrets planted in %d blocks", set.name, len(distinct), len(plants))
		}
		// Smaller sets plant only their own secrets.
		_, small := PlantEvery(corpus, set.secrets[:10], PlantPeriod, DefaultSeed)
		for _, p := range small {
			if p.Secret >= 10 {
				t.Fatalf("%s: a set of 10 planted secret %d", set.name, p.Secret)
			}
		}
	}
}
