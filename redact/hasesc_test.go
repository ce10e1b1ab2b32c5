package redact

import (
	"bytes"
	"testing"
)

// TestIndexESC checks indexESC and containsESC for every length up to 600,
// with no ESC and with the first ESC at every position (a second one after
// it), at every alignment.
func TestIndexESC(t *testing.T) {
	buf := bytes.Repeat([]byte("abcdefgh\x1a\x1c\x9b"), 70)
	for off := range 8 {
		for n := 0; n+off <= 600; n++ {
			b := buf[off : off+n]
			if indexESC(b) != -1 || containsESC(b) {
				t.Fatalf("ESC found in %d bytes without one", n)
			}
			for i := range b {
				b[i] = escByte
				j := min(n-1, i+1+i%40)
				saved := b[j]
				b[j] = escByte
				if got := indexESC(b); got != i || !containsESC(b) {
					t.Fatalf("ESC at %d of %d bytes (offset %d): indexESC = %d", i, n, off, got)
				}
				b[j] = saved
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
