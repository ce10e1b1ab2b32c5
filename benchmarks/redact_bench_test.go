package benchmarks

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cloudflare/ahocorasick"

	"github.com/hush-secrets/hush/redact"
)

// The benchmarks in this file are named so benchmarks/cmd/benchtable can
// read them back:
//
//	BenchmarkRedactWrite/keys=long|short/n=N/w=BYTES/in=none|4k/impl=NAME
//	BenchmarkRedactCopy/w=BYTES/in=none|4k
//	BenchmarkRedactBuild/keys=long/n=N/impl=NAME
//	BenchmarkRedactAdd/keys=long/n=N/op=add|add+write
//
// One op of a Write benchmark is one Write of w bytes (so allocs/op is per
// Write), cycling through the 2 MiB corpus; MB/s counts input bytes per
// wall-clock second, cpu-MB/s per CPU second of the process.

// writeSizes are the Write sizes measured: 4 KiB (a pipe buffer, a typical
// stream flush) and 256 bytes (line-at-a-time output).
var writeSizes = []int{4096, 256}

// longSetSizes and shortSetSizes are the numbers of secrets measured.
var (
	longSetSizes  = []int{1, 10, 100, 1000, 10000, 100000}
	shortSetSizes = []int{1, 100, 10000}
)

// redacted is the token the peers replace secrets with, as hush does.
const redacted = "[REDACTED]"

// cloudflareNodeBytes is the size of one cloudflare/ahocorasick trie node
// (two [256]*node tables plus bookkeeping, on 64-bit). The library
// preallocates one node per pattern byte, so its build needs about
// (total pattern bytes + 1) * cloudflareNodeBytes of memory.
const cloudflareNodeBytes = 4168

// peerMemLimit is how much memory a peer's build may take before its rows
// are skipped (HUSH_BENCH_PEER_MAX_GIB, default 4 GiB: the machine is shared).
func peerMemLimit(tb testing.TB) int64 {
	gib := 4.0
	if v := os.Getenv("HUSH_BENCH_PEER_MAX_GIB"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			tb.Fatalf("HUSH_BENCH_PEER_MAX_GIB=%q: want a positive number of GiB", v)
		}
		gib = f
	}
	return int64(gib * (1 << 30))
}

// input is one benchmark input: the corpus, or the corpus with one planted
// secret per 4 KiB.
type input struct {
	name   string
	data   []byte
	plants []Plant
}

// streamFunc starts one output stream to w: write is called once per
// Write, end once at the end of the stream.
type streamFunc func(w io.Writer) (write func([]byte) error, end func() error)

// prepareFunc builds an implementation for one secret set and checks, on the
// whole inputs, that it does the work it is timed for. It returns a
// non-empty reason instead when the build is infeasible on this machine.
type prepareFunc func(tb testing.TB, secrets [][]byte, inputs []input) (stream streamFunc, skip string)

// impl is one implementation under test.
type impl struct {
	name    string
	prepare prepareFunc
}

// impls lists the implementations under test, hush first.
func impls() []impl {
	return []impl{
		{"hush", prepareHush(nil)},
		{"hush-all", prepareHush(redact.AllEncodings())},
		{"replacer", prepareReplacer},
		{"cloudflare", prepareCloudflare},
	}
}

// wantsImpl says which implementations run for which set: every peer runs
// everywhere it is feasible; hush with all derived encodings is an extra row
// at 100 and 10,000 API keys.
func wantsImpl(name, keys string, n int) bool {
	if name == "hush-all" {
		return keys == "long" && (n == 100 || n == 10000)
	}
	return true
}

// newHush builds a hush redactor of secrets with the given derived
// encodings (nil: raw only, which measures the matcher itself).
func newHush(tb testing.TB, secrets [][]byte, enc []redact.Encoding) *redact.Redactor {
	r := redact.New(redact.Options{Encodings: enc})
	for i, s := range secrets {
		if err := r.Add(s); err != nil {
			tb.Fatalf("hush: Add secret %d: %v", i, err)
		}
	}
	return r
}

// prepareHush returns the preparation of hush's Writer with the given
// derived encodings.
func prepareHush(enc []redact.Encoding) prepareFunc {
	return func(tb testing.TB, secrets [][]byte, inputs []input) (streamFunc, string) {
		r := newHush(tb, secrets, enc)
		stream := func(w io.Writer) (func([]byte) error, func() error) {
			hw := r.NewWriter(w)
			return func(p []byte) error { _, err := hw.Write(p); return err }, hw.Close
		}
		// The streamed output at every write size is exactly the input with
		// each (merged) planted occurrence replaced by one token.
		for _, in := range inputs {
			want := expectRedacted(in.data, secrets, in.plants)
			for _, size := range writeSizes {
				var out bytes.Buffer
				write, end := stream(&out)
				for off := 0; off < len(in.data); off += size {
					if err := write(in.data[off : off+size]); err != nil {
						tb.Fatalf("hush: write: %v", err)
					}
				}
				if err := end(); err != nil {
					tb.Fatalf("hush: close: %v", err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					tb.Fatalf("hush (%d secrets, input %s, %d-byte writes): output differs from the expected redaction at byte %d (got %d bytes, want %d)",
						len(secrets), in.name, size, firstDiff(out.Bytes(), want), out.Len(), len(want))
				}
			}
		}
		return stream, ""
	}
}

// expectRedacted is data with every planted occurrence replaced by the
// token, occurrences that overlap or touch merged into one (the
// union-merge-adjacent rule).
func expectRedacted(data []byte, secrets [][]byte, plants []Plant) []byte {
	var out []byte
	prev := 0
	for i := 0; i < len(plants); {
		start, end := plants[i].Offset, plants[i].Offset+len(secrets[plants[i].Secret])
		i++
		for i < len(plants) && plants[i].Offset <= end {
			end = max(end, plants[i].Offset+len(secrets[plants[i].Secret]))
			i++
		}
		out = append(out, data[prev:start]...)
		out = append(out, redacted...)
		prev = end
	}
	return append(out, data[prev:]...)
}

// firstDiff returns the first offset where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// bytesString views p as a string without copying, so the string-based
// peer pays no conversion hush does not pay either. p is not modified while
// the string is in use.
func bytesString(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	return unsafe.String(&p[0], len(p))
}

// prepareReplacer builds a strings.Replacer of every secret to the token.
// It is applied to each Write on its own: it keeps no state between calls,
// so a secret split across two writes leaks (it is a speed baseline, not a
// streaming redactor).
func prepareReplacer(tb testing.TB, secrets [][]byte, inputs []input) (streamFunc, string) {
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, string(s), redacted)
	}
	rep := strings.NewReplacer(pairs...)
	for _, in := range inputs {
		got := strings.Count(rep.Replace(string(in.data)), redacted)
		if got != len(in.plants) {
			tb.Fatalf("replacer (%d secrets, input %s): %d replacements, want %d", len(secrets), in.name, got, len(in.plants))
		}
	}
	return func(w io.Writer) (func([]byte) error, func() error) {
		return func(p []byte) error {
			_, err := rep.WriteString(w, bytesString(p))
			return err
		}, func() error { return nil }
	}, ""
}

// prepareCloudflare builds a cloudflare/ahocorasick matcher of the secrets.
// Match only reports which patterns occur in one buffer; it keeps no state
// between calls and writes nothing, so it is a baseline for scanning speed.
func prepareCloudflare(tb testing.TB, secrets [][]byte, inputs []input) (streamFunc, string) {
	need := int64(1)
	for _, s := range secrets {
		need += int64(len(s))
	}
	need *= cloudflareNodeBytes
	if limit := peerMemLimit(tb); need > limit {
		return nil, fmt.Sprintf("skipped: needs ~%.1f GiB (limit %.0f GiB, HUSH_BENCH_PEER_MAX_GIB)", float64(need)/(1<<30), float64(limit)/(1<<30))
	}
	m := ahocorasick.NewMatcher(secrets)
	for _, in := range inputs {
		want := map[int]bool{}
		for _, p := range in.plants {
			want[p.Secret] = true
		}
		hits := m.Match(in.data)
		got := map[int]bool{}
		for _, h := range hits {
			got[h] = true
		}
		if len(got) != len(want) {
			tb.Fatalf("cloudflare (%d secrets, input %s): %d distinct secrets found, want %d", len(secrets), in.name, len(got), len(want))
		}
		for h := range got {
			if !want[h] {
				tb.Fatalf("cloudflare (%d secrets, input %s): found secret %d, which is not planted", len(secrets), in.name, h)
			}
		}
	}
	return func(io.Writer) (func([]byte) error, func() error) {
		found := 0
		return func(p []byte) error {
				found += len(m.Match(p))
				return nil
			}, func() error {
				runtime.KeepAlive(found)
				return nil
			}
	}, ""
}

// inputsFor returns the two inputs for a secret set.
func inputsFor(corpus []byte, secrets [][]byte) []input {
	planted, plants := PlantEvery(corpus, secrets, PlantPeriod, DefaultSeed)
	return []input{{"none", corpus, nil}, {"4k", planted, plants}}
}

// runWrites times writes of size bytes of data, cycling through it, and
// reports, besides the wall-clock MB/s of b.SetBytes, the throughput per
// CPU second of the process (cpu-MB/s), which other processes competing for
// the cores do not lower.
func runWrites(b *testing.B, data []byte, size int, write func([]byte) error) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	off := 0
	cpu0, cpuOK := processCPUTime()
	for b.Loop() {
		if err := write(data[off : off+size]); err != nil {
			b.Fatalf("write: %v", err)
		}
		off += size
		if off == len(data) {
			off = 0
		}
	}
	reportCPU(b, cpu0, cpuOK, float64(size))
}

// reportCPU reports cpu-ns/op, and cpu-MB/s when bytesPerOp > 0, since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration, ok bool, bytesPerOp float64) {
	cpu1, ok1 := processCPUTime()
	if !ok || !ok1 || b.N == 0 || cpu1 <= cpu0 {
		return
	}
	perOp := float64(cpu1-cpu0) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	if bytesPerOp > 0 {
		b.ReportMetric(bytesPerOp*1e3/perOp, "cpu-MB/s")
	}
}

// BenchmarkRedactWrite is the throughput table: every implementation, every
// secret set, both write sizes, both inputs. The implementations of a set
// are built once (outside the timings) and their rows for one write size
// and input run one after the other, so the ratios between them compare
// measurements taken seconds apart on a machine whose load changes.
func BenchmarkRedactWrite(b *testing.B) {
	corpus := NotebookOutput(DefaultCorpusSize, DefaultSeed)
	for _, set := range []struct {
		keys  string
		sizes []int
		gen   func(int, uint64) [][]byte
	}{
		{"long", longSetSizes, APIKeys},
		{"short", shortSetSizes, ShortSecrets},
	} {
		all := set.gen(set.sizes[len(set.sizes)-1], DefaultSeed)
		for _, n := range set.sizes {
			secrets := all[:n]
			b.Run(fmt.Sprintf("keys=%s/n=%d", set.keys, n), func(b *testing.B) {
				inputs := inputsFor(corpus, secrets)
				type built struct {
					name   string
					stream streamFunc
					skip   string
				}
				var ims []built
				for _, im := range impls() {
					if wantsImpl(im.name, set.keys, n) {
						stream, skip := im.prepare(b, secrets, inputs)
						ims = append(ims, built{im.name, stream, skip})
					}
				}
				for _, size := range writeSizes {
					for _, in := range inputs {
						for _, im := range ims {
							b.Run(fmt.Sprintf("w=%d/in=%s/impl=%s", size, in.name, im.name), func(b *testing.B) {
								if im.skip != "" {
									b.Skip(im.skip)
								}
								write, end := im.stream(io.Discard)
								runWrites(b, in.data, size, write)
								if err := end(); err != nil {
									b.Fatalf("end of stream: %v", err)
								}
							})
						}
					}
				}
				ims = nil
				runtime.GC()
			})
		}
	}
}

// BenchmarkRedactCopy is the ceiling: copying each write into a buffer.
func BenchmarkRedactCopy(b *testing.B) {
	corpus := NotebookOutput(DefaultCorpusSize, DefaultSeed)
	for _, size := range writeSizes {
		for _, in := range inputsFor(corpus, APIKeys(1, DefaultSeed)) {
			b.Run(fmt.Sprintf("w=%d/in=%s", size, in.name), func(b *testing.B) {
				buf := make([]byte, size)
				runWrites(b, in.data, size, func(p []byte) error { copy(buf, p); return nil })
			})
		}
	}
}

// BenchmarkRedactBuild measures building each implementation for n secrets from
// scratch: time per build, bytes allocated per pattern (B/pattern) and heap
// still held by the built value per pattern (live-B/pattern). hush is built
// with AddAll, as the peers are with their constructors; hush-add is the
// same set built with one Add per secret (how a notebook's set grows).
func BenchmarkRedactBuild(b *testing.B) {
	all := APIKeys(longSetSizes[len(longSetSizes)-1], DefaultSeed)
	builders := []struct {
		name  string
		build func(b *testing.B, secrets [][]byte) any
		need  func(secrets [][]byte) int64 // estimated bytes, 0 if small
	}{
		{"hush", func(b *testing.B, s [][]byte) any {
			r := redact.New(redact.Options{})
			if err := r.AddAll(s); err != nil {
				b.Fatalf("hush: AddAll: %v", err)
			}
			return r
		}, nil},
		{"hush-add", func(b *testing.B, s [][]byte) any { return newHush(b, s, nil) }, nil},
		{"replacer", func(b *testing.B, s [][]byte) any {
			pairs := make([]string, 0, 2*len(s))
			for _, x := range s {
				pairs = append(pairs, string(x), redacted)
			}
			r := strings.NewReplacer(pairs...)
			r.Replace("") // the Replacer builds its tables on first use
			return r
		}, nil},
		{"cloudflare", func(b *testing.B, s [][]byte) any { return ahocorasick.NewMatcher(s) }, func(s [][]byte) int64 {
			need := int64(1)
			for _, x := range s {
				need += int64(len(x))
			}
			return need * cloudflareNodeBytes
		}},
	}
	for _, n := range longSetSizes {
		secrets := all[:n]
		for _, bl := range builders {
			b.Run(fmt.Sprintf("keys=long/n=%d/impl=%s", n, bl.name), func(b *testing.B) {
				if bl.need != nil {
					if need, limit := bl.need(secrets), peerMemLimit(b); need > limit {
						b.Skipf("skipped: needs ~%.1f GiB (limit %.0f GiB, HUSH_BENCH_PEER_MAX_GIB)", float64(need)/(1<<30), float64(limit)/(1<<30))
					}
				}
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var built any
				cpu0, cpuOK := processCPUTime()
				for b.Loop() {
					built = nil // let the previous build go before the next
					built = bl.build(b, secrets)
				}
				reportCPU(b, cpu0, cpuOK, 0)
				runtime.ReadMemStats(&after)
				allocated := float64(after.TotalAlloc-before.TotalAlloc) / float64(b.N)
				runtime.GC()
				runtime.ReadMemStats(&after)
				live := float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
				runtime.KeepAlive(built)
				b.ReportMetric(allocated/float64(n), "B/pattern")
				b.ReportMetric(max(live, 0)/float64(n), "live-B/pattern")
			})
		}
	}
}

// BenchmarkRedactAdd measures growing a set of 100,000 secrets by one: Add alone,
// and Add followed by a 4 KiB Write of a live Writer (the writer picks up
// the grown set at its next write, so this is the cost a notebook sees when
// a new secret is fetched while output streams).
func BenchmarkRedactAdd(b *testing.B) {
	const n = 100000
	corpus := NotebookOutput(DefaultCorpusSize, DefaultSeed)
	secrets := APIKeys(n, DefaultSeed)
	for _, op := range []string{"add", "add+write"} {
		b.Run(fmt.Sprintf("keys=long/n=%d/op=%s", n, op), func(b *testing.B) {
			// A fresh set per run (this function is run with growing b.N),
			// and b.N fresh secrets not in it (another prefix), generated
			// before the timing starts.
			r := newHush(b, secrets, nil)
			w := r.NewWriter(io.Discard)
			rnd := newRand(DefaultSeed, streamAdd)
			fresh := make([][]byte, b.N)
			for i := range fresh {
				fresh[i] = []byte(fmt.Sprintf("hk_%08d_%s", i, randString(rnd, base62, 24)))
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuOK := processCPUTime()
			off := 0
			for i := 0; i < b.N; i++ {
				if err := r.Add(fresh[i]); err != nil {
					b.Fatalf("Add: %v", err)
				}
				if op == "add+write" {
					if _, err := w.Write(corpus[off : off+4096]); err != nil {
						b.Fatalf("Write: %v", err)
					}
					off += 4096
					if off == len(corpus) {
						off = 0
					}
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0, cpuOK, 0)
			if err := w.Close(); err != nil {
				b.Fatalf("Close: %v", err)
			}
		})
	}
}

// escapeSetSizes are the numbers of secrets of the escape-aware rows.
var escapeSetSizes = []int{100, 10000}

// sgrCode matches the escape sequences the corpus holds (SGR colours).
var sgrCode = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// Grep-style highlighting: what grep --color=always writes around a match.
const (
	grepOn  = "\x1b[01;31m\x1b[K"
	grepOff = "\x1b[m\x1b[K"
)

// padTo appends newlines to b until its length is a multiple of n (the
// write benchmarks cycle through their input in whole writes).
func padTo(b []byte, n int) []byte {
	for len(b)%n != 0 {
		b = append(b, '\n')
	}
	return b
}

// escapeInputs returns the inputs of the escape-aware rows, each with the
// output hush must give for it with escape matching on (want) and off
// (wantBinary):
//
//   - plain: the corpus with its colour codes taken out (no ESC byte at
//     all), and plain-4k, with one secret per 4 KiB as in the main table:
//     output without escape sequences, where the option must cost little;
//   - colour: the plain corpus with the first four bytes of every line
//     highlighted as grep --color=always does (two escape sequences
//     before, two after), and colour-4k, with a line "secret=…" every
//     4 KiB whose value is cut in two by grep's highlight codes: only the
//     escape-aware matcher redacts it.
func escapeInputs(corpus []byte, secrets [][]byte) []escapeInput {
	plain := sgrCode.ReplaceAll(corpus, nil)
	plain = plain[:len(plain)/PlantPeriod*PlantPeriod]
	planted, plants := PlantEvery(plain, secrets, PlantPeriod, DefaultSeed)
	plantedWant := expectRedacted(planted, secrets, plants)

	var colour, colourPlanted, colourWant []byte
	next, k := PlantPeriod, 0
	for line := range bytes.SplitAfterSeq(plain, []byte("\n")) {
		n := min(4, len(bytes.TrimSuffix(line, []byte("\n"))))
		hl := slices.Concat([]byte(grepOn), line[:n], []byte(grepOff), line[n:])
		colour = append(colour, hl...)
		colourPlanted = append(colourPlanted, hl...)
		colourWant = append(colourWant, hl...)
		if len(colourPlanted) >= next {
			s := secrets[(k*7919)%len(secrets)]
			half := len(s) / 2
			colourPlanted = append(colourPlanted, "secret="+grepOn+string(s[:half])+grepOff+string(s[half:])+"\n"...)
			colourWant = append(colourWant, "secret="+grepOn+redacted+"\n"...)
			next += PlantPeriod
			k++
		}
	}
	colour = padTo(colour, PlantPeriod)
	pad := len(colourPlanted)
	colourPlanted = padTo(colourPlanted, PlantPeriod)
	colourWant = append(colourWant, colourPlanted[pad:]...)
	return []escapeInput{
		{"plain", plain, plain, plain},
		{"plain-4k", planted, plantedWant, plantedWant},
		{"colour", colour, colour, colour},
		{"colour-4k", colourPlanted, colourWant, colourPlanted},
	}
}

// escapeInput is one input of the escape-aware rows and its redactions.
type escapeInput struct {
	name             string
	data             []byte
	want, wantBinary []byte
}

// BenchmarkRedactEscapes measures matching through terminal escape
// sequences: hush (the default, escape-aware) against hush-binary
// (Options.Binary, matching the raw bytes only) on output without escape
// sequences, where the option must keep at least 90 % of the throughput,
// and on grep-coloured output. Names:
//
//	BenchmarkRedactEscapes/keys=long/n=N/w=BYTES/in=plain|plain-4k|colour|colour-4k/impl=hush|hush-binary
func BenchmarkRedactEscapes(b *testing.B) {
	corpus := NotebookOutput(DefaultCorpusSize, DefaultSeed)
	all := APIKeys(escapeSetSizes[len(escapeSetSizes)-1], DefaultSeed)
	for _, n := range escapeSetSizes {
		secrets := all[:n]
		b.Run(fmt.Sprintf("keys=long/n=%d", n), func(b *testing.B) {
			inputs := escapeInputs(corpus, secrets)
			impls := []struct {
				name string
				r    *redact.Redactor
			}{
				{"hush", redact.New(redact.Options{})},
				{"hush-binary", redact.New(redact.Options{Binary: true})},
			}
			for _, im := range impls {
				if err := im.r.AddAll(secrets); err != nil {
					b.Fatalf("%s: AddAll: %v", im.name, err)
				}
				for _, in := range inputs {
					want := in.want
					if im.name == "hush-binary" {
						want = in.wantBinary
					}
					checkStream(b, im.r, in.data, want, im.name+" on "+in.name)
				}
			}
			for _, size := range writeSizes {
				for _, in := range inputs {
					for _, im := range impls {
						b.Run(fmt.Sprintf("w=%d/in=%s/impl=%s", size, in.name, im.name), func(b *testing.B) {
							// The set-up's garbage is collected now, not
							// in the CPU time of the first row.
							runtime.GC()
							w := im.r.NewWriter(io.Discard)
							runWrites(b, in.data, size, func(p []byte) error { _, err := w.Write(p); return err })
							if err := w.Close(); err != nil {
								b.Fatalf("close: %v", err)
							}
						})
					}
				}
			}
		})
	}
}

// checkStream fails the benchmark unless r's Writer turns data into want
// at every write size measured.
func checkStream(b *testing.B, r *redact.Redactor, data, want []byte, what string) {
	for _, size := range writeSizes {
		var out bytes.Buffer
		w := r.NewWriter(&out)
		for off := 0; off < len(data); off += size {
			if _, err := w.Write(data[off:min(off+size, len(data))]); err != nil {
				b.Fatalf("%s: write: %v", what, err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatalf("%s: close: %v", what, err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			b.Fatalf("%s, %d-byte writes: output differs from the expected redaction at byte %d (got %d bytes, want %d)",
				what, size, firstDiff(out.Bytes(), want), out.Len(), len(want))
		}
	}
}
