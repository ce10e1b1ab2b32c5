package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// This file checks matching through terminal escape sequences against a
// naive reference that follows the rule of escape.go literally, with its
// own parser of escape sequences (regular expressions).

// naiveEscRes are the escape sequences, by the byte after ESC.
var (
	naiveCSI    = regexp.MustCompile(`^\x1b\[[\x20-\x3f]*[\x40-\x7e]`)
	naiveString = regexp.MustCompile(`^\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)`)
	naiveNF     = regexp.MustCompile(`^\x1b[\x20-\x2f]+[\x30-\x7e]`)
	naiveTwo    = regexp.MustCompile(`^\x1b[\x30-\x7e]`)
)

// naiveEscLen is the length of the escape sequence s starts with, 0 if none.
func naiveEscLen(s []byte) int {
	if len(s) < 2 || s[0] != escByte {
		return 0
	}
	var re *regexp.Regexp
	switch c := s[1]; {
	case c == '[':
		re = naiveCSI
	case strings.IndexByte("]PX^_", c) >= 0:
		re = naiveString
	case c >= 0x20 && c <= 0x2f:
		re = naiveNF
	default:
		re = naiveTwo
	}
	if loc := re.FindIndex(s); loc != nil && loc[1] <= maxEscapeLen {
		return loc[1]
	}
	return 0
}

// naiveView splits s into its visible bytes (with their offsets) and its
// escape sequences (as [start, end) pairs).
func naiveView(s []byte) (text []byte, pos []int, escs [][2]int) {
	for i := 0; i < len(s); {
		if n := naiveEscLen(s[i:]); n > 0 {
			escs = append(escs, [2]int{i, i + n})
			i += n
			continue
		}
		text = append(text, s[i])
		pos = append(pos, i)
		i++
	}
	return text, pos, escs
}

// naiveEscMarks marks the bytes of s by the escape-aware rule: raw
// occurrences; runs of occurrences in the visible text, from their first
// byte to their last; then unmarked stretches of escape bytes between two
// marked bytes.
func naiveEscMarks(pats []string, s []byte) []bool {
	text, pos, escs := naiveView(s)
	isEsc := make([]bool, len(s))
	for _, e := range escs {
		for k := e[0]; k < e[1]; k++ {
			isEsc[k] = true
		}
	}
	marked := naiveMarks(pats, s)
	tm := naiveMarks(pats, text)
	for a := 0; a < len(text); {
		if !tm[a] {
			a++
			continue
		}
		c := a
		for c < len(text) && tm[c] {
			c++
		}
		for k := pos[a]; k <= pos[c-1]; k++ {
			marked[k] = true
		}
		a = c
	}
	for i := 0; i < len(s); {
		if marked[i] {
			i++
			continue
		}
		j := i
		allEsc := true
		for j < len(s) && !marked[j] {
			allEsc = allEsc && isEsc[j]
			j++
		}
		if i > 0 && j < len(s) && allEsc {
			for k := i; k < j; k++ {
				marked[k] = true
			}
		}
		i = j
	}
	return marked
}

// naiveEscRedact replaces each maximal run of naiveEscMarks by one Token.
func naiveEscRedact(pats []string, s []byte) []byte {
	marked := naiveEscMarks(pats, s)
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

// escPieces are escape sequences and near misses that the random tests put
// into text: complete ones of every kind, broken ones, stray ESC bytes.
var escPieces = []string{
	"\x1b[m", "\x1b[K", "\x1b[01;31m", "\x1b[38;5;208m", "\x1b[?25l", "\x1b[2J",
	"\x1b]0;title\x07", "\x1b]8;;https://x.example/a?b\x1b\\", "\x1bP+q\x1b\\",
	"\x1b(B", "\x1b7", "\x1bM", "\x1bc",
	"\x1b", "\x1b[", "\x1b[31", "\x1b[3\n", "\x1b]0;no end", "\x1b]0;\x1bX", "\x1b\x1b[m", "\x1b\x01",
}

// escText returns random text over alphabet with patterns planted and
// escape pieces inserted anywhere, inside the patterns too.
func escText(rng *rand.Rand, n int, pats []string, alphabet string, every int) []byte {
	plain := plantedText(rng, n, pats, alphabet)
	var b []byte
	for i := 0; i < len(plain); i++ {
		if rng.IntN(every) == 0 {
			b = append(b, escPieces[rng.IntN(len(escPieces))]...)
		}
		b = append(b, plain[i])
	}
	return b
}

// TestEscapesAgainstNaive compares Redact and the Writer, at random splits
// and one byte at a time, with the naive reference, on text whose
// occurrences escape sequences interrupt; and the binary mode with the
// plain reference on the same text.
func TestEscapesAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	cases := []struct {
		n, minL, maxL int
		alphabet      string
		size, every   int // text length, one escape piece per every bytes
	}{
		{4, 1, 4, "ab", 300, 6},
		{10, 3, 12, "abc", 300, 6},
		{20, 8, 30, "abcd", 300, 6},
		{30, 16, 50, "ab", 300, 6},
		{60, 1, 40, "ab[m;01", 300, 6},       // patterns made of escape-sequence bytes
		{30, 2, 20, "ab\x1b[m]\x07", 300, 6}, // patterns holding escape sequences
		{20, 4, 30, "abc", 1500, 90},         // sparse escapes: several windows
		{10, 16, 40, "ab", 1500, 150},
	}
	for ci, c := range cases {
		for iter := range 40 {
			pats := randPatterns(rng, c.n, c.minL, c.maxL, c.alphabet)
			r := newTestRedactor(t, pats)
			text := escText(rng, 30+rng.IntN(c.size), pats, c.alphabet, c.every)
			want := naiveEscRedact(pats, text)
			if got := r.Redact(nil, text); !bytes.Equal(got, want) {
				t.Fatalf("case %d/%d: Redact(%q) with %q = %q, want %q", ci, iter, text, pats, got, want)
			}
			streamCheck(t, r, nil, text, oneByteSplits(len(text)), want)
			for range 4 {
				streamCheck(t, r, nil, text, randomSplits(rng, len(text)), want)
			}
			bin := New(Options{MinLength: 1, Binary: true})
			for _, p := range pats {
				bin.Add([]byte(p))
			}
			wantBin := naiveRedact(pats, text)
			if got := bin.Redact(nil, text); !bytes.Equal(got, wantBin) {
				t.Fatalf("case %d/%d: binary Redact = %q, want %q", ci, iter, got, wantBin)
			}
			streamCheck(t, bin, pats, text, randomSplits(rng, len(text)), wantBin)
		}
	}
}

// TestEscapeRule pins the rule on hand-written cases.
func TestEscapeRule(t *testing.T) {
	const secret = "hush-rt-S3cret-Value-7731"
	tests := []struct {
		name, in, want string
	}{
		{"grep --color=always", "DB_PASSWORD=\x1b[01;31m\x1b[Khush\x1b[m\x1b[K-rt-S3cret-Value-7731\n",
			"DB_PASSWORD=\x1b[01;31m\x1b[K[REDACTED]\n"},
		{"every byte coloured", "\x1b[1mh\x1b[0m\x1b[1mu\x1b[0msh-rt-S3cret-Value-773\x1b[31m1\x1b[0m!",
			"\x1b[1m[REDACTED]\x1b[0m!"},
		{"OSC title and hyperlink inside", "x hush-rt-\x1b]0;t\x07S3cret\x1b]8;;http://h/\x1b\\-Value-7731 y",
			"x [REDACTED] y"},
		{"charset and two-byte escapes", "hush-rt\x1b(B-S3cret\x1b7-Value-7731", "[REDACTED]"},
		{"two occurrences touching through a colour code", "hush-rt-S3cret-Value-7731\x1b[m\x1b[Khush-rt-S3cret-Value-7731.",
			"[REDACTED]."},
		{"a title the value is inside", "\x1b]0;hush-rt-S3cret-Value-7731\x07 ok", "\x1b]0;[REDACTED]\x07 ok"},
		{"a hyperlink address", "\x1b]8;;https://h/?k=hush-rt-S3cret-Value-7731\x1b\\link\x1b]8;;\x1b\\", "\x1b]8;;https://h/?k=[REDACTED]\x1b\\link\x1b]8;;\x1b\\"},
		{"broken sequence is visible text", "hush-rt-\x1b[3\nS3cret-Value-7731", "hush-rt-\x1b[3\nS3cret-Value-7731"},
		{"a cut sequence that runs into the value", "\x1b[0;3hush-rt-S3cret-Value-7731 ok", "\x1b[0;3[REDACTED] ok"},
		{"no escape: unchanged", "plain hush-rt-S3cret-Value-7731 text", "plain [REDACTED] text"},
		{"cut off at the end", "hush-rt-S3cret-Value-773\x1b[3", "hush-rt-S3cret-Value-773\x1b[3"},
	}
	r := New(Options{})
	if err := r.Add([]byte(secret)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(r.Redact(nil, []byte(tt.in))); got != tt.want {
				t.Fatalf("Redact = %q, want %q", got, tt.want)
			}
			if got := string(naiveEscRedact([]string{secret}, []byte(tt.in))); got != tt.want {
				t.Fatalf("naive reference = %q, want %q (test or reference wrong)", got, tt.want)
			}
			for i := 1; i < len(tt.in); i++ {
				streamCheck(t, r, nil, []byte(tt.in), []int{i}, []byte(tt.want))
			}
			streamCheck(t, r, nil, []byte(tt.in), oneByteSplits(len(tt.in)), []byte(tt.want))
		})
	}
	// With Binary, escape sequences are data: only the contiguous bytes.
	bin := New(Options{Binary: true})
	bin.Add([]byte(secret))
	in := tests[0].in
	if got := string(bin.Redact(nil, []byte(in))); got != in {
		t.Fatalf("binary: Redact = %q, want the input unchanged", got)
	}
}

// TestEscapeLimits: a sequence longer than maxEscapeLen is ordinary bytes,
// so a stray ESC ] holds back a bounded amount of output.
func TestEscapeLimits(t *testing.T) {
	r := New(Options{})
	r.Add([]byte("secret-value-0001"))
	long := "secret-\x1b]0;" + strings.Repeat("x", maxEscapeLen) + "\x07value-0001"
	if got := string(r.Redact(nil, []byte(long))); got != long {
		t.Fatalf("an over-long OSC was taken as an escape sequence: %q", got[:40])
	}
	fits := "secret-\x1b]0;" + strings.Repeat("x", maxEscapeLen-5) + "\x07value-0001"
	if got := string(r.Redact(nil, []byte(fits))); got != Token {
		t.Fatalf("an OSC of %d bytes was not matched through", maxEscapeLen)
	}
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("text \x1b]0;"))
	for range 100 {
		w.Write([]byte(strings.Repeat("y", 100)))
		if w.Buffered() > maxEscapeLen {
			t.Fatalf("Buffered = %d after an unterminated OSC", w.Buffered())
		}
	}
	w.Close()
}

// TestGrepColor runs the real grep --color=always over a file holding the
// value and checks what a terminal would show: the value nowhere, even with
// the colour codes taken out, at every split of grep's output.
func TestGrepColor(t *testing.T) {
	grep, err := exec.LookPath("grep")
	if err != nil {
		t.Skip("SKIP: grep not found")
	}
	const secret = "hush-rt-S3cret-Value-7731"
	file := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(file, []byte("DB_USER=etl\nDB_PASSWORD="+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := New(Options{Encodings: AllEncodings()})
	if err := r.Add([]byte(secret)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"hush", file}, {"-e", "S3cret", "-e", "773", file}, {"-o", "-e", "rt-S3", "-e", "Val", file}, {"-H", "-n", "PASS", file}} {
		cmd := exec.CommandContext(t.Context(), grep, append([]string{"--color=always"}, args...)...)
		cmd.Env = append(os.Environ(), "GREP_COLORS=", "LC_ALL=C")
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("grep %v: %v", args, err)
		}
		if !bytes.Contains(got, []byte{escByte}) {
			t.Fatalf("grep %v wrote no colour codes", args)
		}
		want := naiveEscRedact([]string{secret}, got)
		out := r.Redact(nil, got)
		if !bytes.Equal(out, want) {
			t.Fatalf("grep %v: Redact = %q, want %q", args, out, want)
		}
		for i := 1; i < len(got); i++ {
			streamCheck(t, r, nil, got, []int{i}, want)
		}
		visible := new(escView)
		visible.build(out, true)
		if bytes.Contains(visible.text, []byte("S3cret")) || bytes.Contains(visible.text, []byte("7731")) {
			t.Fatalf("grep %v: a part of the value is visible in %q", args, out)
		}
	}
}

// TestEscapeHoldBack: on coloured output where no secret begins, a Writer
// holds back nothing but an escape sequence cut off at the end of a write,
// however many escape sequences the writes hold.
func TestEscapeHoldBack(t *testing.T) {
	r := New(Options{})
	r.Add([]byte("sk_live_0123456789abcdef"))
	var out bytes.Buffer
	w := r.NewWriter(&out)
	line := grepLine("INFO", strings.Repeat("step 12 loss 0.25 acc 0.91 ", 40))
	for range 50 {
		w.Write(line)
		if w.Buffered() != 0 {
			t.Fatalf("Buffered = %d after a whole coloured line", w.Buffered())
		}
	}
	w.Write(line[:len("\x1b[01;31m\x1b[K"+"INFO")+2]) // ends inside grep's "\x1b[m"
	if got := w.Buffered(); got > len(grepOffCode) {
		t.Fatalf("Buffered = %d after a cut-off line", got)
	}
	w.Close()
	if want := bytes.Repeat(line, 50); !bytes.Equal(out.Bytes()[:len(want)], want) {
		t.Fatal("coloured output without secrets was changed")
	}
}

// grepOffCode is what grep --color=always writes after a match.
const grepOffCode = "\x1b[m\x1b[K"

// grepLine is a line as grep --color=always prints it, match highlighted.
func grepLine(match, rest string) []byte {
	return []byte("\x1b[01;31m\x1b[K" + match + grepOffCode + rest + "\n")
}

// TestFormsVectorsAgainstNaive checks the expected output of every vector
// of testdata/forms-vectors.json with the naive references, over the
// patterns the Redactor holds for it (the secrets and their derived forms).
func TestFormsVectorsAgainstNaive(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "forms-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Name, Input, Expected string
			Secrets, Encodings    []string
			Binary                bool
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		var encs []Encoding
		for _, e := range v.Encodings {
			encs = append(encs, Encoding(e))
		}
		r := New(Options{Encodings: encs, Binary: v.Binary})
		for _, s := range v.Secrets {
			r.Add([]byte(s))
		}
		pats := r.set.index.pats
		got := naiveEscRedact(pats, []byte(v.Input))
		if v.Binary {
			got = naiveRedact(pats, []byte(v.Input))
		}
		if string(got) != v.Expected {
			t.Errorf("%s: naive reference gives %q, the vector expects %q", v.Name, got, v.Expected)
		}
	}
}

// TestEscapeWriteAllocs: the escape-aware path, too, allocates nothing per
// Write in steady state.
func TestEscapeWriteAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	pats := randPatterns(rng, 200, 16, 40, "abcdefghijklmnopqrstuvwxyz0123456789")
	r := newTestRedactor(t, pats)
	w := r.NewWriter(io.Discard)
	chunk := escText(rng, 8192, pats[:5], "abcdefghij klmnop\n", 40)[:4096]
	for range 3 {
		w.Write(chunk)
	}
	if a := testing.AllocsPerRun(100, func() { w.Write(chunk) }); a != 0 {
		t.Fatalf("Write of coloured output allocates %.1f times per call", a)
	}
}
