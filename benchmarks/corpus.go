// Package benchmarks holds hush's benchmarks against named peers. It has no
// production code: this file generates the realistic, deterministic corpus
// of notebook output, the secret sets and the inputs with planted
// occurrences, so every benchmark run sees exactly the same bytes. The
// redactor benchmarks (BenchmarkRedact*: hush's redact.Writer against
// strings.Replacer, cloudflare/ahocorasick and copy as the ceiling) live in
// redact_bench_test.go; benchmarks/run runs them and prints one table (see
// README.md in this folder).
package benchmarks

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
)

// DefaultCorpusSize is the size in bytes of the corpus the benchmarks use:
// 2 MiB, a multiple of every write size, large enough that the data does not
// sit in L1/L2 cache and small enough to generate in a few milliseconds.
const DefaultCorpusSize = 2 << 20

// DefaultSeed is the seed of the corpus, the secret sets and the plants used
// by the benchmarks. Changing it changes every number in the table.
const DefaultSeed = 20261128

// MinLongSecret and MaxShortSecret bound the two secret sets: API-key-like
// secrets are at least MinLongSecret bytes long; short secrets are 8 bytes up
// to MaxShortSecret bytes, the range issue 2 asks to report separately.
const (
	MinLongSecret  = 16
	MinShortSecret = 8
	MaxShortSecret = 15
)

const (
	base62    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	base32AWS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	awsSecret = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	hexLower  = "0123456789abcdef"
	// passwordChars is what people type as short passwords.
	passwordChars = base62 + "!#$%&*+-.=?@_~"
)

// newRand returns the deterministic generator for one purpose: the same
// (seed, stream) always yields the same sequence, on every platform and Go
// release (PCG is specified exactly by math/rand/v2).
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// Streams keep the corpus, the two secret sets and the plants independent:
// asking for more secrets never changes the corpus, and the first n secrets
// of a larger set are the set of n (sets are nested).
const (
	streamCorpus = 1 + iota
	streamLong
	streamShort
	streamPlant
	streamAdd
)

// randString returns n characters drawn uniformly (up to a bias below
// 2^-32) from alphabet, taking several characters from each 64-bit draw.
func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	base := uint64(len(alphabet))
	var x, left uint64
	for i := range b {
		if left < base<<32 {
			x, left = r.Uint64(), ^uint64(0)
		}
		b[i] = alphabet[x%base]
		x /= base
		left /= base
	}
	return string(b)
}

// APIKeys returns n distinct API-key-like secrets, each at least
// MinLongSecret bytes: Stripe-like "sk_live_" keys with 24-40 base62
// characters, GitHub-like "ghp_" tokens, AWS access key ids and secret keys,
// Databricks-like "dapi" tokens, Slack-like "xoxb-" tokens and plain random
// passwords of 16-32 characters. The result for n is the first n of the
// result for any larger n.
func APIKeys(n int, seed uint64) [][]byte {
	r := newRand(seed, streamLong)
	seen := make(map[string]struct{}, n)
	out := make([][]byte, 0, n)
	for len(out) < n {
		var s string
		switch r.IntN(7) {
		case 0, 1:
			s = "sk_live_" + randString(r, base62, 24+r.IntN(17))
		case 2:
			s = "ghp_" + randString(r, base62, 36)
		case 3:
			s = "AKIA" + randString(r, base32AWS, 16)
		case 4:
			s = randString(r, awsSecret, 40)
		case 5:
			s = "dapi" + randString(r, hexLower, 32)
		default:
			if r.IntN(2) == 0 {
				s = fmt.Sprintf("xoxb-%d-%d-%s", 1e11+r.Int64N(9e11), 1e12+r.Int64N(9e12), randString(r, base62, 24))
			} else {
				s = randString(r, passwordChars, MinLongSecret+r.IntN(17))
			}
		}
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, []byte(s))
	}
	return out
}

// ShortSecrets returns n distinct short secrets of MinShortSecret to
// MaxShortSecret bytes (passwords, PINs with letters, short ids): the range
// where sampling filters work hardest. Nested like APIKeys.
func ShortSecrets(n int, seed uint64) [][]byte {
	r := newRand(seed, streamShort)
	seen := make(map[string]struct{}, n)
	out := make([][]byte, 0, n)
	for len(out) < n {
		s := randString(r, passwordChars, MinShortSecret+r.IntN(MaxShortSecret-MinShortSecret+1))
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, []byte(s))
	}
	return out
}

// Plant records one secret written into a corpus by PlantEvery.
type Plant struct {
	// Offset is where the secret starts in the planted corpus.
	Offset int
	// Secret is the index of the planted secret in the set.
	Secret int
}

// PlantEvery returns a copy of corpus in which one secret of the set is
// written over the bytes of every period-byte block (at a seeded offset, so
// occurrences straddle smaller write boundaries as real output does), and
// where each plant is. The length is unchanged, so every write size still
// divides it. Block k gets secret (k*7919) mod len(secrets), so large sets
// see many distinct secrets. A set with a secret longer than period panics:
// that is a bug in the benchmark, not an input.
func PlantEvery(corpus []byte, secrets [][]byte, period int, seed uint64) ([]byte, []Plant) {
	out := append([]byte(nil), corpus...)
	if len(secrets) == 0 || period <= 0 {
		return out, nil
	}
	r := newRand(seed, streamPlant)
	plants := make([]Plant, 0, len(corpus)/period)
	for k, start := 0, 0; start+period <= len(out); k, start = k+1, start+period {
		idx := (k * 7919) % len(secrets)
		s := secrets[idx]
		if len(s) > period {
			panic(fmt.Sprintf("benchmarks: secret %d is longer (%d bytes) than the plant period %d", idx, len(s), period))
		}
		off := start + r.IntN(period-len(s)+1)
		copy(out[off:], s)
		plants = append(plants, Plant{Offset: off, Secret: idx})
	}
	return out, plants
}

// NotebookOutput returns size bytes of realistic notebook output, the same
// bytes for the same (size, seed): pandas-like tables, timestamped log lines,
// JSON blobs (compact and indented), IPython tracebacks with ANSI colours,
// tqdm-like progress bars redrawn with '\r', UTF-8 prose (accents, CJK,
// emoji), base64 blobs as in image/png display data, and xxd-like hex dumps.
// The output is cut at exactly size bytes (possibly inside a UTF-8
// sequence, as a real write boundary can be).
func NotebookOutput(size int, seed uint64) []byte {
	g := &gen{r: newRand(seed, streamCorpus)}
	g.b.Grow(size + 8192)
	pieces := []func(){g.table, g.logs, g.json, g.traceback, g.progress, g.prose, g.base64Blob, g.hexDump}
	// Weighted towards what notebooks print most: logs, tables, JSON.
	weights := []int{4, 5, 3, 1, 2, 2, 1, 1}
	total := 0
	for _, w := range weights {
		total += w
	}
	for g.b.Len() < size {
		x := g.r.IntN(total)
		for i, w := range weights {
			if x < w {
				pieces[i]()
				break
			}
			x -= w
		}
	}
	return []byte(g.b.String()[:size])
}

// gen appends one kind of cell output at a time to b.
type gen struct {
	r *rand.Rand
	b strings.Builder
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) printf(format string, args ...any) { fmt.Fprintf(&g.b, format, args...) }

var (
	firstNames = []string{"Amélie", "Jürgen", "Søren", "María José", "Zoë", "François", "Łukasz", "Ngozi", "Hiroshi", "李娜", "Oğuz", "Björk", "Chloé", "Dmitri", "Priya", "José"}
	countries  = []string{"France", "Deutschland", "España", "日本", "Brasil", "Česko", "Ísland", "Türkiye", "United Kingdom", "Nigeria", "India", "Canada"}
	modules    = []string{"pipeline.stage", "etl.loader", "model.train", "urllib3.connectionpool", "py4j.java_gateway", "azure.core", "botocore.credentials", "mlflow.tracking", "root"}
	levels     = []string{"INFO", "INFO", "INFO", "DEBUG", "WARNING", "ERROR"}
	prose      = []string{
		"Le modèle a convergé après 12 itérations ; la précision est de 93,4 %.",
		"Die Größe der Datei überschreitet das Limit – bitte später erneut versuchen.",
		"El año pasado la producción aumentó un 7 % en Málaga y Cádiz.",
		"データの読み込みが完了しました。行数: 1,024 件",
		"模型训练完成，验证集准确率为 0.9342。",
		"데이터 전처리가 완료되었습니다.",
		"✅ Done! 🎉 All 42 checks passed 🚀",
		"⚠️  Warning: column 'naïve_date' has 3 null values 🤔",
		"Привет, мир! Обработано 512 записей.",
		"Ελέγχθηκαν όλα τα αρχεία — κανένα σφάλμα.",
		"Résumé: café, crème brûlée, façade, déjà vu, coöperate.",
		"The quick brown fox jumps over the lazy dog; Σ = 1.2e-3 ± 4·10⁻⁵ → ∞",
	}
	exceptions = []string{
		"KeyError: 'revenue'",
		"ValueError: could not convert string to float: 'n/a'",
		"ZeroDivisionError: division by zero",
		"TypeError: unsupported operand type(s) for +: 'int' and 'str'",
		"FileNotFoundError: [Errno 2] No such file or directory: '/dbfs/mnt/raw/events.parquet'",
		"requests.exceptions.HTTPError: 403 Client Error: Forbidden for url: https://api.example.com/v1/items?page=2",
		"AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `amount` cannot be resolved.",
	}
)

func (g *gen) table() {
	cols := []string{"user_id", "name", "country", "revenue", "signup_date", "active", "score"}
	rows := 5 + g.r.IntN(40)
	g.printf("%6s %8s %14s %16s %12s %12s %7s %8s\n", "", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6])
	for i := range rows {
		g.printf("%-6d %8d %14s %16s %12.4f %12s %7t %8.3f\n", i, 10000+g.r.IntN(90000), g.pick(firstNames), g.pick(countries),
			g.r.Float64()*1e4, fmt.Sprintf("2024-%02d-%02d", 1+g.r.IntN(12), 1+g.r.IntN(28)), g.r.IntN(3) > 0, g.r.NormFloat64())
	}
	g.printf("\n[%d rows x %d columns]\n", rows, len(cols))
}

func (g *gen) logs() {
	n := 5 + g.r.IntN(30)
	h, m, s := g.r.IntN(24), g.r.IntN(60), g.r.IntN(60)
	for range n {
		s += g.r.IntN(3)
		if s >= 60 {
			s -= 60
			m = (m + 1) % 60
		}
		switch g.r.IntN(4) {
		case 0:
			g.printf("2026-11-28 %02d:%02d:%02d,%03d %s [worker-%d] %s: processed %d rows in %.2fs\n",
				h, m, s, g.r.IntN(1000), g.pick(levels), g.r.IntN(8), g.pick(modules), g.r.IntN(100000), g.r.Float64()*10)
		case 1:
			g.printf("%02d/11/28 %02d:%02d:%02d %s %s: Starting job %d (attempt %d) on executor %d, partition %d/%d\n",
				26, h, m, s, g.pick(levels), g.pick(modules), g.r.IntN(5000), 1+g.r.IntN(3), g.r.IntN(64), g.r.IntN(200), 200)
		case 2:
			g.printf("[2026-11-28T%02d:%02d:%02d.%06dZ] GET /api/2.0/jobs/runs/get?run_id=%d HTTP/1.1 %s %d bytes %.1fms\n",
				h, m, s, g.r.IntN(1000000), g.r.Int64N(1e12), g.pick([]string{"200", "200", "200", "404", "429", "500"}), g.r.IntN(65536), g.r.Float64()*300)
		default:
			g.printf("%s:%s:epoch %d step %d loss=%.5f acc=%.4f lr=%.2e\n",
				g.pick(levels), g.pick(modules), g.r.IntN(50), g.r.IntN(10000), g.r.Float64()*3, g.r.Float64(), g.r.Float64()*1e-3)
		}
	}
}

func (g *gen) json() {
	items := 1 + g.r.IntN(6)
	indent := g.r.IntN(2) == 0
	nl, ind, ind2, sp := "", "", "", ""
	if indent {
		nl, ind, ind2, sp = "\n", "  ", "    ", " "
	}
	g.printf("{%s%s\"request_id\":%s\"%s-%s\",%s", nl, ind, sp, randString(g.r, hexLower, 8), randString(g.r, hexLower, 12), nl)
	g.printf("%s\"status\":%s\"%s\",%s", ind, sp, g.pick([]string{"ok", "ok", "PENDING", "FAILED"}), nl)
	g.printf("%s\"items\":%s[%s", ind, sp, nl)
	for i := range items {
		comma := ","
		if i == items-1 {
			comma = ""
		}
		g.printf("%s{\"id\":%s%d,%s\"name\":%s\"%s\",%s\"tags\":%s[\"%s\",%s\"%s\"],%s\"price\":%s%.2f,%s\"note\":%s\"%s\"}%s%s",
			ind2, sp, g.r.IntN(1e6), sp, sp, g.pick(firstNames), sp, sp, g.pick(countries), sp, randString(g.r, base62, 6), sp, sp,
			g.r.Float64()*500, sp, sp, strings.ReplaceAll(g.pick(prose), "\"", "\\\""), comma, nl)
	}
	g.printf("%s],%s%s\"next_page_token\":%snull%s}\n", ind, nl, ind, sp, nl)
}

func (g *gen) traceback() {
	red, green, cyan, reset := "\x1b[0;31m", "\x1b[0;32m", "\x1b[0;36m", "\x1b[0m"
	g.printf("%s---------------------------------------------------------------------------%s\n", red, reset)
	exc := g.pick(exceptions)
	name := exc[:strings.IndexByte(exc, ':')]
	g.printf("%s%s%s                                  Traceback (most recent call last)\n", red, name, reset)
	frames := 2 + g.r.IntN(5)
	for range frames {
		g.printf("File %s/usr/lib/python3/dist-packages/%s/%s.py:%d%s, in %s%s%s\n", green,
			g.pick([]string{"pandas/core", "requests", "pyspark/sql", "numpy/lib"}), g.pick([]string{"frame", "api", "session", "indexing"}),
			g.r.IntN(4000), reset, cyan, g.pick([]string{"__getitem__", "get_loc", "read_csv", "request", "sql"}), reset)
		for k := range 3 {
			arrow := "   "
			if k == 1 {
				arrow = "-->"
			}
			g.printf("%s%s %4d%s     %s = self._engine.get_loc(casted_key)\n", green, arrow, 100+k, reset, randString(g.r, "abcdefghijklmnop", 4))
		}
		g.b.WriteString("\n")
	}
	g.printf("Traceback (most recent call last):\n  File \"/tmp/ipykernel_%d/%d.py\", line %d, in <module>\n    df = load(path)\n%s\n", g.r.IntN(99999), g.r.Int64N(1e10), 1+g.r.IntN(40), exc)
}

func (g *gen) progress() {
	total := 100 * (1 + g.r.IntN(50))
	steps := 10 + g.r.IntN(40)
	desc := g.pick([]string{"Epoch 1/10", "Downloading", "Processing", "train", "Map (num_proc=2)"})
	for i := 0; i <= steps; i++ {
		done := total * i / steps
		pct := 100 * i / steps
		full := pct / 10
		bar := strings.Repeat("█", full) + g.pick([]string{"▏", "▎", "▍", "▌", "▋", "▊", "▉", " "}) + strings.Repeat(" ", max(0, 9-full))
		if full == 10 {
			bar = strings.Repeat("█", 10)
		}
		g.printf("\r%s: %3d%%|%s| %d/%d [00:%02d<00:%02d, %.2fit/s]", desc, pct, bar, done, total, i%60, (steps-i)%60, 10+g.r.Float64()*200)
	}
	g.b.WriteString("\n")
}

func (g *gen) prose() {
	n := 1 + g.r.IntN(8)
	for range n {
		g.printf("%s %s\n", g.pick(firstNames), g.pick(prose))
	}
}

func (g *gen) base64Blob() {
	raw := make([]byte, 300+g.r.IntN(3000))
	for i := range raw {
		raw[i] = byte(g.r.Uint32())
	}
	copy(raw, "\x89PNG\r\n\x1a\n")
	enc := base64.StdEncoding.EncodeToString(raw)
	g.b.WriteString("{\"image/png\": \"")
	for len(enc) > 76 {
		g.b.WriteString(enc[:76])
		g.b.WriteString("\\n")
		enc = enc[76:]
	}
	g.b.WriteString(enc)
	g.b.WriteString("\"}\n")
}

func (g *gen) hexDump() {
	raw := make([]byte, 64+g.r.IntN(512))
	for i := range raw {
		if g.r.IntN(3) == 0 {
			raw[i] = byte(' ' + g.r.IntN(95))
		} else {
			raw[i] = byte(g.r.Uint32())
		}
	}
	for off := 0; off < len(raw); off += 16 {
		line := raw[off:min(off+16, len(raw))]
		g.printf("%08x: ", off)
		for i := range 16 {
			if i < len(line) {
				g.printf("%02x", line[i])
			} else {
				g.b.WriteString("  ")
			}
			if i%2 == 1 {
				g.b.WriteString(" ")
			}
		}
		g.b.WriteString(" ")
		for _, c := range line {
			if c >= ' ' && c < 0x7f {
				g.b.WriteByte(c)
			} else {
				g.b.WriteByte('.')
			}
		}
		g.b.WriteString("\n")
	}
}

// PlantPeriod is the spacing of the planted occurrences in the "one match
// per 4 KiB" input.
const PlantPeriod = 4096
