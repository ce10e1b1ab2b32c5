package redact

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// This file holds the pattern set and its matcher: a sampled q-gram filter in
// front of exact verification, which is what makes the hot path fast. A
// byte-at-a-time automaton touches every input byte; this matcher touches one
// q-gram every few bytes and rejects almost all of them with one probe into a
// small bit table.
//
// Patterns are grouped by length into classes: [4,8) with 4-grams at every
// position, [8,16) with 4-grams every 5 bytes, [16,∞) with 5-grams every 12
// bytes (and patterns of 1..3 bytes, only possible with a MinLength below 4,
// checked naively at every byte). A class with minimum pattern length m
// samples q-grams at the positions i ≡ 0 (mod s), s = m-q+1. An occurrence
// of a pattern of length >= m at position a covers the positions a..a+m-q,
// exactly one of which is sampled, and the q-gram read there is the
// pattern's q-gram at some offset o in 0..s-1. So a class puts the s q-grams
// p[o:o+q] of each of its patterns into a blocked Bloom filter (two bits per
// gram in one word). When a sampled gram passes the filter, each candidate
// start i-o is verified, cheapest test first: its first three bytes against
// a 16 KiB bitmap of the patterns' three-byte prefixes; the hash of its first
// m bytes (the pattern's "window") against a small Bloom filter of the
// windows; that hash in a chained table holding one entry per pattern; and
// the candidates found there byte by byte. A start is tried from exactly one
// sample position, so every occurrence is reported once; keying
// verification by the whole window, not the gram, keeps it cheap when
// thousands of keys share a prefix such as "sk_live_".
//
// The tables grow geometrically as patterns are added. Redactor.AddAll
// appends many patterns before indexing them, so that each table grows at
// most once (see insert and indexPending).
//
// The streaming Writer also needs the start of the longest suffix of its
// buffer that is a proper prefix of some pattern (a live partial match: it
// must be held back). That suffix is found by three means, which together
// cover every length L:
//
//   - L <= 7: exact bitmaps of the first byte and the first two bytes of
//     the patterns, and a set of 32-bit fingerprints of their 3..7-byte
//     prefixes;
//   - 8 <= L <= 15: a set of 32-bit fingerprints of the 8..15-byte prefixes
//     (a fingerprint collision could only hold a few bytes longer, never
//     change the output);
//   - L >= m of a pattern's class: the sampled scan itself sees such a
//     prefix, because it covers a whole window; verification reports it as a
//     partial occurrence.
//
// Holding more than needed never changes the output: the held bytes are
// scanned again with what follows. Only the minimality of Buffered depends
// on the exactness of these tables (exact but for a 2^-32 chance per
// lookup).

// Hash multipliers (odd 64-bit constants with well-mixed bits).
const (
	hashMul1 = 0x9E3779B97F4A7C15
	hashMul2 = 0xC2B2AE3D27D4EB4F
)

// maxPatterns bounds the number of distinct patterns (the index keeps a
// pattern's position plus one in 31 bits, chain links are uint32).
const maxPatterns = 1<<31 - 1

// set is the pattern set of a Redactor. It is mutated only by Redactor.Add
// under the write lock and read by scans under the read lock.
type set struct {
	// index holds every pattern and whether it was added as a secret.
	index patternIndex
	// maxLen is the length of the longest pattern.
	maxLen int

	// tiny holds the patterns shorter than 4 bytes (only with a MinLength
	// below 4), by first byte; nil when there are none.
	tiny *[256][]string

	// classes: [4,8) with 4-grams at every position; [8,16) with 4-grams
	// every 5 bytes; [16,∞) with 5-grams every 12 bytes.
	classes [3]class
	// indexed counts, per class, the entries its tables cover (see
	// insert and indexPending).
	indexed [3]int

	// Prefix tables for the live-partial-match computation: first byte and
	// first two bytes of patterns longer than that (exact bitmaps), and
	// fingerprints of the 3..7-byte prefixes of patterns longer than that.
	prefix1 [4]uint64
	prefix2 [1024]uint64
	// prefix3 is a hashed bitmap of the first three bytes of the patterns
	// longer than that: a necessary condition for a candidate start, in
	// verification and in liveTail, tested with one probe of a table small
	// enough to stay in the core's cache before the costlier lookups. On
	// the benchmark corpus with 100,000 secrets it lets one position in six
	// through (the exact two-byte table, one in two); with 10,000, one in
	// fifty (one in five).
	prefix3 [prefix3Bits / 64]uint64
	prefixN fpSet
	// prefixL holds fingerprints of the 8..15-byte prefixes of patterns
	// longer than that. Fingerprints (32 bits, length included) take half
	// the memory of exact 64-bit keys, which is half the cache misses when
	// building or probing a large set. A collision can only make a Writer
	// hold back a few bytes more than needed, never redact or leak
	// differently.
	prefixL fpSet
}

func newSet() *set {
	s := &set{index: newPatternIndex()}
	s.classes[0] = newClass(4, 4)
	s.classes[1] = newClass(8, 4)
	s.classes[2] = newClass(16, 5)
	s.prefixN.init()
	s.prefixL.init()
	return s
}

func classOf(n int) int {
	switch {
	case n < 4:
		return -1
	case n < 8:
		return 0
	case n < 16:
		return 1
	default:
		return 2
	}
}

// add inserts pattern p (non-empty) unless it is already present, and
// marks it as a raw secret when raw is set. It reports false when the set
// is full. The caller calls indexPending before the set is scanned again.
func (s *set) add(p string, raw bool) bool {
	h := s.index.hash(p)
	slot, found := s.index.find(h, p)
	if found {
		if raw {
			s.index.markRaw(slot)
		}
		return true
	}
	if s.index.len() >= maxPatterns {
		return false
	}
	s.insert(slot, h, p, raw)
	return true
}

// insert adds pattern p (non-empty), whose hash is h, to a set that is not
// full and does not hold it, at slot, the index slot find returned for it;
// raw marks it as a secret. The pattern's class entry is appended but not
// yet indexed: the caller calls indexPending before the set is scanned
// again.
func (s *set) insert(slot int, h uint64, p string, raw bool) {
	s.index.insert(slot, h, p, raw)
	s.maxLen = max(s.maxLen, len(p))
	s.addPrefixes(p)
	if ci := classOf(len(p)); ci >= 0 {
		c := &s.classes[ci]
		id := uint32(s.index.len() - 1)
		c.entries = appendDoubling(c.entries, ventry{key: windowHashString(p, c.minLen), pat: id})
	} else {
		if s.tiny == nil {
			s.tiny = new([256][]string)
		}
		s.tiny[p[0]] = append(s.tiny[p[0]], p)
	}
}

// indexPending indexes the class entries appended by insert since the last
// call, each class's tables growing at most once.
func (s *set) indexPending() {
	for ci := range s.classes {
		s.classes[ci].indexFrom(s.indexed[ci], s.index.pats)
		s.indexed[ci] = len(s.classes[ci].entries)
	}
}

// addPrefixes records the proper prefixes of p of 1..15 bytes in the
// hold-back tables. The keys of a table are computed first, incrementally,
// and inserted together, so that their (random) slot accesses overlap.
func (s *set) addPrefixes(p string) {
	if len(p) > 1 {
		s.prefix1[p[0]>>6] |= 1 << (p[0] & 63)
	}
	if len(p) > 2 {
		k := uint16(p[0]) | uint16(p[1])<<8
		s.prefix2[k>>6] |= 1 << (k & 63)
	}
	if len(p) <= 3 {
		return
	}
	w, m := prefix3Probe(p[0], p[1], p[2])
	s.prefix3[w] |= m
	var fps [8]uint32
	n := 0
	k := uint64(p[0]) | uint64(p[1])<<8
	for l := 3; l < len(p) && l <= 7; l++ {
		k |= uint64(p[l-1]) << (8 * (l - 1))
		fps[n] = shortPrefixFP(k | uint64(l)<<56) // shortPrefixFPBytes(p[:l])
		n++
	}
	s.prefixN.insertAll(fps[:n])
	if len(p) <= 8 {
		return
	}
	n = 0
	head, rest := gramAtString(p, 8), uint64(0)
	for l := 8; l < len(p) && l <= 15; l++ {
		fps[n] = longPrefixFP(head, rest, l) // rest holds p[8:l]
		n++
		rest |= uint64(p[l]) << (8 * (l - 8))
	}
	s.prefixL.insertAll(fps[:n])
}

// prefix3Bits is the size of the prefix3 bitmap (16 KiB).
const prefix3Bits = 1 << 17

// prefix3Probe returns the word index and bit of the three bytes a, b, c in
// the prefix3 bitmap.
func prefix3Probe(a, b, c byte) (uint64, uint64) {
	h := (uint64(a) | uint64(b)<<8 | uint64(c)<<16) * hashMul1 >> (64 - 17)
	return h >> 6, 1 << (h & 63)
}

// mayBeginPattern reports whether the first three bytes of x (at least
// three) may begin a pattern longer than three bytes, by the prefix3
// bitmap: false is certain, true may be a collision.
func (s *set) mayBeginPattern(x []byte) bool {
	w, bit := prefix3Probe(x[0], x[1], x[2])
	return s.prefix3[w]&bit != 0
}

// shortPrefixFP is the fingerprint of a 3..7-byte prefix given packed
// little-endian with its length in the top byte.
func shortPrefixFP(k uint64) uint32 {
	return uint32(mix(k)>>32) | 1
}

// shortPrefixFPBytes is shortPrefixFP of the 3..7-byte prefix x.
func shortPrefixFPBytes(x []byte) uint32 {
	k := uint64(len(x)) << 56
	for i, c := range x {
		k |= uint64(c) << (8 * i)
	}
	return shortPrefixFP(k)
}

// longPrefixFP is the fingerprint of an 8..15-byte prefix given as its
// first 8 bytes, the rest packed little-endian, and its length.
func longPrefixFP(head, rest uint64, l int) uint32 {
	return uint32(mix(head^bits.RotateLeft64((rest|uint64(l)<<56)*hashMul2, 31))>>32) | 1
}

// scan appends to ivs the span of every occurrence of every pattern in b
// (unsorted, possibly overlapping). With live, it also returns the start of
// the longest suffix of b that is a proper prefix of some pattern (len(b)
// when there is none); without, it returns len(b).
func (s *set) scan(b []byte, ivs []span, live bool) ([]span, int) {
	liveFrom := len(b)
	if s.tiny != nil {
		ivs = s.scanTiny(b, ivs)
	}
	for ci := range s.classes {
		c := &s.classes[ci]
		if len(c.entries) == 0 {
			continue
		}
		if c.q > 4 {
			ivs, liveFrom = s.scanWide(c, b, ivs, live, liveFrom)
		} else {
			ivs, liveFrom = s.scan4(c, b, ivs, live, liveFrom)
		}
	}
	if live {
		liveFrom = s.liveTail(b, liveFrom)
	}
	return ivs, liveFrom
}

func (s *set) scanTiny(b []byte, ivs []span) []span {
	for i, c := range b {
		for _, p := range s.tiny[c] {
			if i+len(p) <= len(b) && string(b[i:i+len(p)]) == p {
				ivs = append(ivs, span{i, i + len(p)})
			}
		}
	}
	return ivs
}

// scanWide is the sampled scan of a class with 5..8-byte grams: the hot
// loop. Grams are read as 8-byte words and masked; the last samples, too
// close to the end for a whole word, are read byte by byte.
func (s *set) scanWide(c *class, b []byte, ivs []span, live bool, liveFrom int) ([]span, int) {
	filter, shift, stride := c.filter, c.filterShift, c.stride
	mask := uint64(1)<<(8*c.q) - 1
	i := 0
	for {
		i = nextHit(filter, shift, mask, stride, b, i)
		if i < 0 {
			break
		}
		ivs, liveFrom = s.verify(c, b, i, ivs, live, liveFrom)
		i += stride
	}
	// The last samples, too close to the end for an 8-byte load.
	i = max(0, (len(b)-7+stride-1)/stride*stride)
	for ; i+c.q <= len(b); i += stride {
		w, m := c.filterProbe(gramAtBytes(b[i:], c.q))
		if filter[w]&m != m {
			continue
		}
		ivs, liveFrom = s.verify(c, b, i, ivs, live, liveFrom)
	}
	return ivs, liveFrom
}

// nextHit returns the first sample position j >= i, j ≡ i (mod stride),
// j+8 <= len(b), whose gram (the 8-byte word at j masked by mask) passes the
// filter, or -1 if there is none. It is the hot loop of scanWide, a leaf
// kept free of calls so that its state stays in registers: four samples per
// iteration with independent probes, and one branch for all four.
func nextHit(filter []uint64, shift uint, mask uint64, stride int, b []byte, i int) int {
	for ; i+3*stride+8 <= len(b); i += 4 * stride {
		h0 := (binary.LittleEndian.Uint64(b[i:]) & mask) * hashMul1
		h1 := (binary.LittleEndian.Uint64(b[i+stride:]) & mask) * hashMul1
		h2 := (binary.LittleEndian.Uint64(b[i+2*stride:]) & mask) * hashMul1
		h3 := (binary.LittleEndian.Uint64(b[i+3*stride:]) & mask) * hashMul1
		m0 := uint64(1)<<((h0>>26)&63) | uint64(1)<<((h0>>32)&63)
		m1 := uint64(1)<<((h1>>26)&63) | uint64(1)<<((h1>>32)&63)
		m2 := uint64(1)<<((h2>>26)&63) | uint64(1)<<((h2>>32)&63)
		m3 := uint64(1)<<((h3>>26)&63) | uint64(1)<<((h3>>32)&63)
		x0 := ^filter[h0>>shift] & m0
		x1 := ^filter[h1>>shift] & m1
		x2 := ^filter[h2>>shift] & m2
		x3 := ^filter[h3>>shift] & m3
		if x0 != 0 && x1 != 0 && x2 != 0 && x3 != 0 {
			continue
		}
		switch {
		case x0 == 0:
			return i
		case x1 == 0:
			return i + stride
		case x2 == 0:
			return i + 2*stride
		default:
			return i + 3*stride
		}
	}
	for ; i+8 <= len(b); i += stride {
		h := (binary.LittleEndian.Uint64(b[i:]) & mask) * hashMul1
		m := uint64(1)<<((h>>26)&63) | uint64(1)<<((h>>32)&63)
		if filter[h>>shift]&m == m {
			return i
		}
	}
	return -1
}

// gramAtBytes reads the q-gram at the start of b byte by byte.
func gramAtBytes(b []byte, q int) uint64 {
	var g uint64
	for i := q - 1; i >= 0; i-- {
		g = g<<8 | uint64(b[i])
	}
	return g
}

// scan4 is scanWide for a class with 4-byte grams.
func (s *set) scan4(c *class, b []byte, ivs []span, live bool, liveFrom int) ([]span, int) {
	filter, shift, stride := c.filter, c.filterShift, c.stride
	for i := 0; i+4 <= len(b); i += stride {
		g := uint64(binary.LittleEndian.Uint32(b[i:]))
		h := g * hashMul1
		m := uint64(1)<<((h>>26)&63) | uint64(1)<<((h>>32)&63)
		if filter[h>>shift]&m != m {
			continue
		}
		ivs, liveFrom = s.verify(c, b, i, ivs, live, liveFrom)
	}
	return ivs, liveFrom
}

// verify checks the candidate starts of a filter hit at sample position i
// of b: an occurrence whose sampled gram is at i starts at i-o for some o in
// 0..stride-1, and its first minLen bytes are then one of the class's
// windows. Each start is tried from exactly one sample position, so every
// occurrence is reported once.
func (s *set) verify(c *class, b []byte, i int, ivs []span, live bool, liveFrom int) ([]span, int) {
	m := c.minLen
	for o := 0; o < c.stride && o <= i; o++ {
		start := i - o
		if start+m > len(b) {
			continue
		}
		// A pattern starting here begins with these three bytes: one bit
		// test rejects most candidate starts before the table lookups.
		if !s.mayBeginPattern(b[start:]) {
			continue
		}
		key := windowHash(b[start:], m)
		if w, wm := c.windowProbe(key); c.windows[w]&wm != wm {
			continue
		}
		for k := c.heads[key>>c.headShift]; k != 0; {
			e := &c.entries[k-1]
			k = e.next
			if e.key != key {
				continue
			}
			p := s.index.pats[e.pat]
			if end := start + len(p); end <= len(b) {
				if string(b[start:end]) == p {
					ivs = append(ivs, span{start, end})
				}
			} else if live && start < liveFrom && string(b[start:]) == p[:len(b)-start] {
				liveFrom = start
			}
		}
	}
	return ivs, liveFrom
}

// liveTail returns the start of the longest suffix of b that is a proper
// prefix of a pattern, given best, the start of the longest one the scan
// already found (len(b) if none). Suffixes of 16 bytes or more are found by
// the scan; this checks the lengths 15 down to 1.
//
// With 100,000 secrets the prefix tables take megabytes and a lookup is a
// cache miss, so the lookups are made in two passes: the first reads, for
// every length whose first two bytes could begin a pattern, the table slot
// where its key would be (these reads do not depend on each other, so
// their misses overlap); the second decides, longest first, mostly from
// the slots read.
func (s *set) liveTail(b []byte, best int) int {
	n := len(b)
	hi := min(15, n)       // the longest suffix to check
	lo := max(1, n-best+1) // the shortest: it must start before best
	var (
		fps   [16]uint32 // fps[l]: the fingerprint of the suffix of length l, 0 if it cannot be a prefix
		homes [16]uint64 // the slot where its probe starts
		seen  [16]uint32 // what that slot holds
	)
	for l := max(lo, 3); l <= hi; l++ {
		x := b[n-l:]
		// Necessary for any prefix of three bytes or more: its first three
		// bytes begin a pattern. One bit test rejects most lengths before
		// the costlier lookups.
		if !s.mayBeginPattern(x) {
			continue
		}
		t := &s.prefixL
		if l <= 7 {
			t, fps[l] = &s.prefixN, shortPrefixFPBytes(x)
		} else {
			fps[l] = longPrefixFPBytes(x)
		}
		homes[l] = t.home(fps[l])
		seen[l] = t.slots[homes[l]]
	}
	for l := hi; l >= lo; l-- {
		var found bool
		switch {
		case fps[l] != 0 && l <= 7:
			found = s.prefixN.hasFrom(fps[l], homes[l], seen[l])
		case fps[l] != 0:
			found = s.prefixL.hasFrom(fps[l], homes[l], seen[l])
		case l == 2:
			k := uint16(b[n-2]) | uint16(b[n-1])<<8
			found = s.prefix2[k>>6]&(1<<(k&63)) != 0
		case l == 1:
			c := b[n-1]
			found = s.prefix1[c>>6]&(1<<(c&63)) != 0
		}
		if found {
			return n - l
		}
	}
	return best
}

// longPrefixFPBytes is longPrefixFP of the 8..15-byte prefix x.
func longPrefixFPBytes(x []byte) uint32 {
	var rest uint64
	for i := len(x) - 1; i >= 8; i-- {
		rest = rest<<8 | uint64(x[i])
	}
	return longPrefixFP(binary.LittleEndian.Uint64(x), rest, len(x))
}

// fpSet is an open-addressing hash set of non-zero 32-bit fingerprints
// (linear probing, load factor at most 3/4: at 100,000 secrets the table of
// long prefixes then takes 4 MiB instead of 8, and a lookup, made once per
// Write and length, stays within a cache line or two).
type fpSet struct {
	slots []uint32
	n     int
	shift uint
}

func (t *fpSet) init() {
	t.slots = make([]uint32, 64)
	t.shift = 64 - 6
	t.n = 0
}

// home returns the slot where the probe for k starts.
func (t *fpSet) home(k uint32) uint64 {
	return (uint64(k) * hashMul1) >> t.shift
}

// hasFrom reports whether k is in the set, given its home slot i and v,
// what that slot holds (read earlier, so that several lookups can overlap
// their cache misses).
func (t *fpSet) hasFrom(k uint32, i uint64, v uint32) bool {
	mask := uint64(len(t.slots) - 1)
	for {
		switch v {
		case k:
			return true
		case 0:
			return false
		}
		i = (i + 1) & mask
		v = t.slots[i]
	}
}

// insertAll inserts the keys ks, growing the table at most once.
func (t *fpSet) insertAll(ks []uint32) {
	for (t.n+len(ks))*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for _, k := range ks {
	probe:
		for i := (uint64(k) * hashMul1) >> t.shift; ; i = (i + 1) & mask {
			switch t.slots[i] {
			case k:
				break probe
			case 0:
				t.slots[i] = k
				t.n++
				break probe
			}
		}
	}
}

// grow doubles the table and reinserts its keys.
func (t *fpSet) grow() {
	old := t.slots
	t.slots = make([]uint32, 2*len(old))
	t.shift--
	t.n = 0
	mask := uint64(len(t.slots) - 1)
	for _, k := range old {
		if k == 0 {
			continue
		}
		i := (uint64(k) * hashMul1) >> t.shift
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = k
		t.n++
	}
}

// appendDoubling appends v to s, doubling the capacity when s is full.
// append alone grows a large slice by a quarter at a time, which for a set
// built by 100,000 Adds allocates about five times the slice's final size in
// all; doubling allocates about twice.
func appendDoubling[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(len(s), 8))
	}
	return append(s, v)
}
