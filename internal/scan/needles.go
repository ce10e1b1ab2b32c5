package scan

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/redact"
)

// The needle table attributes an occurrence to a value and a form. It
// holds exactly the patterns the redactor holds (every hush form of each
// value, raw and, for values long enough, derived; each at least MinLength
// bytes), each labelled with the values it belongs to and its form.
//
// It is searched only in buffers the redactor changed, so it favours a
// small build over a fast search: a map from the first four bytes of a
// needle to the needles starting with them, behind a 64 Kbit filter.
// (An Aho-Corasick automaton such as cloudflare/ahocorasick takes about
// 4 KiB per pattern byte: gigabytes for 1,000 values in every form.)
type needleTable struct {
	needles [][]byte
	owners  [][]int32 // per needle: indices of the values it belongs to, ascending
	forms   []string  // per needle: its form, "raw" first when both
	filter  []uint64  // bit per hash of a 4-byte prefix
	prefix  map[uint32][]int32
	short   []int32 // needles shorter than 4 bytes (MinLength < 4)
}

// buildNeedleTable derives every needle of secrets under the length policy
// of the redactor (see redact.Redactor.Add).
func buildNeedleTable(secrets []Secret, minLen, derivedMin int, encs []redact.Encoding) *needleTable {
	t := &needleTable{filter: make([]uint64, 1<<16/64), prefix: make(map[uint32][]int32)}
	index := make(map[string]int32)
	add := func(n []byte, owner int32, form string) {
		if len(n) < minLen {
			return
		}
		i, ok := index[string(n)]
		if !ok {
			i = int32(len(t.needles))
			index[string(n)] = i
			t.needles = append(t.needles, n)
			t.owners = append(t.owners, nil)
			t.forms = append(t.forms, form)
			if len(n) < 4 {
				t.short = append(t.short, i)
			} else {
				k := binary.LittleEndian.Uint32(n)
				t.prefix[k] = append(t.prefix[k], i)
				h := prefixHash(k)
				t.filter[h/64] |= 1 << (h % 64)
			}
		}
		if o := t.owners[i]; len(o) == 0 || o[len(o)-1] != owner {
			t.owners[i] = append(o, owner)
		}
	}
	for si, sec := range secrets {
		for _, v := range handout.Forms(sec.Value) {
			add(v, int32(si), string(redact.EncodingRaw))
			if len(v) < derivedMin {
				continue
			}
			for _, enc := range encs {
				for _, d := range redact.Derive(enc, v) {
					add(d, int32(si), string(enc))
				}
			}
		}
	}
	return t
}

// prefixHash maps a 4-byte prefix to a bit of the filter.
func prefixHash(k uint32) uint32 { return (k * 0x9E3779B1) >> 16 }

// search returns every occurrence of every needle in data (overlapping
// ones included), unsorted.
func (t *needleTable) search(data []byte) []hit {
	var hits []hit
	for i := 0; i+4 <= len(data); i++ {
		k := binary.LittleEndian.Uint32(data[i:])
		h := prefixHash(k)
		if t.filter[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, n := range t.prefix[k] {
			if bytes.HasPrefix(data[i:], t.needles[n]) {
				hits = append(hits, hit{start: i, end: i + len(t.needles[n]), owners: t.owners[n], form: t.forms[n]})
			}
		}
	}
	for _, n := range t.short {
		needle := t.needles[n]
		for from := 0; ; {
			j := bytes.Index(data[from:], needle)
			if j < 0 {
				break
			}
			hits = append(hits, hit{start: from + j, end: from + j + len(needle), owners: t.owners[n], form: t.forms[n]})
			from += j + 1
		}
	}
	return hits
}

// span is the bytes [start, end) of a buffer.
type span struct{ start, end int }

// mergeSpans sorts spans and merges overlapping and touching ones: the
// redactor's union-merge-adjacent rule.
func mergeSpans(ss []span) []span {
	if len(ss) < 2 {
		return ss
	}
	slices.SortFunc(ss, func(a, b span) int { return a.start - b.start })
	out := ss[:1]
	for _, v := range ss[1:] {
		last := &out[len(out)-1]
		if v.start <= last.end {
			last.end = max(last.end, v.end)
			continue
		}
		out = append(out, v)
	}
	return out
}

// emitRedacted is data with each merged span replaced by redact.Token:
// what the redactor writes if the spans are all it matched.
func emitRedacted(data []byte, spans []span) []byte {
	out := make([]byte, 0, len(data))
	pos := 0
	for _, s := range spans {
		out = append(out, data[pos:s.start]...)
		out = append(out, redact.Token...)
		pos = s.end
	}
	return append(out, data[pos:]...)
}

// coveredBy reports whether the merged spans cover every byte of s.
func coveredBy(spans []span, s span) bool {
	for _, v := range spans {
		if v.start <= s.start && s.end <= v.end {
			return true
		}
	}
	return false
}

// alignWindow is how many bytes after a redacted run must agree between
// the input and the redacted output to place the run's end.
const alignWindow = 32

// redactedRuns recovers the runs the redactor replaced, by aligning data
// with its redacted form out. The output is the input with each maximal
// run replaced by redact.Token, so the two agree up to a run's start (or
// up to a few bytes into the Token, when the run's first bytes look like
// the Token's); the run ends where the input agrees again with what
// follows the Token. Where a value's bytes coincide with the Token's or
// with their surroundings the placement can be off by a few bytes.
func redactedRuns(data, out []byte) []span {
	var runs []span
	tok := []byte(redact.Token)
	i, j, lo := 0, 0, 0
	for {
		k := commonPrefix(data[i:], out[j:])
		i, j = i+k, j+k
		if i == len(data) && j == len(out) {
			return runs
		}
		p := -1
		for q := j; q >= max(lo, j-len(tok)+1); q-- {
			if bytes.HasPrefix(out[q:], tok) {
				p = q
				break
			}
		}
		if p < 0 {
			// Not the shape Redact produces: report the rest as one run.
			return append(runs, span{i, len(data)})
		}
		start := i - (j - p)
		j = p + len(tok)
		end := runEnd(data, start, out, j)
		runs = append(runs, span{start, end})
		i, lo = end, j
	}
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
			break
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// runEnd returns the smallest end > start at which data agrees with out
// from outPos on (for alignWindow bytes, or up to the next Token of out).
func runEnd(data []byte, start int, out []byte, outPos int) int {
	if outPos >= len(out) {
		return len(data)
	}
	for k := start + 1; k < len(data); k++ {
		if agreesAfter(data, k, out, outPos) {
			return k
		}
	}
	return len(data)
}

// agreesAfter reports whether data from i and out from j agree for
// alignWindow bytes, or up to the next Token in out, or to their ends.
func agreesAfter(data []byte, i int, out []byte, j int) bool {
	n := alignWindow
	if t := bytes.Index(out[j:min(len(out), j+alignWindow+len(redact.Token))], []byte(redact.Token)); t >= 0 {
		n = min(n, t)
	}
	if n == 0 {
		return true
	}
	if i+n > len(data) || j+n > len(out) {
		return len(data)-i == len(out)-j && bytes.Equal(data[i:], out[j:])
	}
	return bytes.Equal(data[i:i+n], out[j:j+n])
}
