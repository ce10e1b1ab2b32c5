package redact

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// Local benchmarks to iterate on the matcher; benchmarks/ has the official
// comparison against peers on a realistic corpus.

const benchAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// benchKeys returns n distinct API-key-like secrets of 16..48 bytes, a third
// of them with a shared "sk_live_" prefix.
func benchKeys(n int, minL, maxL int) [][]byte {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	seen := map[string]bool{}
	var out [][]byte
	for len(out) < n {
		var b []byte
		if rng.IntN(3) == 0 {
			b = append(b, "sk_live_"...)
		}
		l := minL + rng.IntN(maxL-minL+1)
		for len(b) < l {
			b = append(b, benchAlphabet[rng.IntN(len(benchAlphabet))])
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	return out
}

// benchText is notebook-like output: log lines, numbers, words.
func benchText(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields("the quick brown fox jumps over lazy dog INFO WARN epoch loss accuracy 0.9312 step Traceback File line self return None True False { } [ ] : , = \"name\" \"value\" df.head() 2024-01-01T12:00:00Z 127.0.0.1")
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(8) == 0 {
			sb.WriteByte('\n')
		} else {
			sb.WriteByte(' ')
		}
	}
	return []byte(sb.String()[:n])
}

func BenchmarkWrite(b *testing.B) {
	text := benchText(1 << 20)
	for _, keys := range []struct {
		name       string
		minL, maxL int
	}{{"long", 16, 48}, {"short", 8, 15}} {
		for _, n := range []int{100, 10000, 100000} {
			if keys.name == "short" && n > 10000 {
				continue
			}
			secrets := benchKeys(n, keys.minL, keys.maxL)
			r := New(Options{})
			for _, s := range secrets {
				if err := r.Add(s); err != nil {
					b.Fatal(err)
				}
			}
			for _, ws := range []int{4096, 256} {
				for _, planted := range []bool{false, true} {
					in := text
					if planted {
						in = append([]byte(nil), text...)
						for off := 0; off+4096 <= len(in); off += 4096 {
							s := secrets[(off/4096*7919)%len(secrets)]
							copy(in[off+1000:], s)
						}
					}
					name := fmt.Sprintf("keys=%s/n=%d/w=%d/match=%v", keys.name, n, ws, planted)
					b.Run(name, func(b *testing.B) {
						w := r.NewWriter(io.Discard)
						b.SetBytes(int64(ws))
						b.ReportAllocs()
						off := 0
						for b.Loop() {
							if off+ws > len(in) {
								off = 0
							}
							w.Write(in[off : off+ws])
							off += ws
						}
					})
				}
			}
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		secrets := benchKeys(n, 16, 48)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var ms0, ms1 runtime.MemStats
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&ms0)
				r := New(Options{})
				for _, s := range secrets {
					r.Add(s)
				}
				runtime.GC()
				runtime.ReadMemStats(&ms1)
				b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/(1<<20), "MiB-live")
				runtime.KeepAlive(r)
			}
		})
	}
}

// BenchmarkAdd measures one Add to a set of 100,000 secrets.
func BenchmarkAdd(b *testing.B) {
	secrets := benchKeys(100000, 16, 48)
	r := New(Options{})
	for _, s := range secrets {
		r.Add(s)
	}
	extra := benchKeys(200000, 16, 48)[100000:]
	i := 0
	for b.Loop() {
		r.Add(extra[i%len(extra)])
		i++
	}
}
