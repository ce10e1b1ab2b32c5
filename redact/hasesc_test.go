package redact

import (
	"bytes"
	"testing"
)

// TestContainsESC checks containsESC against bytes.IndexByte for every
// length up to 600 and the ESC at every position, at every alignment.
func TestContainsESC(t *testing.T) {
	buf := bytes.Repeat([]byte("abcdefgh\x1a\x1c\x9b"), 70)
	for off := range 8 {
		for n := 0; n+off <= 600; n++ {
			b := buf[off : off+n]
			if containsESC(b) {
				t.Fatalf("ESC found in %d bytes without one", n)
			}
			for i := range b {
				b[i] = escByte
				if !containsESC(b) {
					t.Fatalf("ESC at %d of %d bytes (offset %d) not found", i, n, off)
				}
				b[i] = 'z'
			}
		}
	}
}

func BenchmarkContainsESC(b *testing.B) {
	buf := bytes.Repeat([]byte("abcdefgh"), 512)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if containsESC(buf) {
			b.Fatal("found")
		}
	}
}
