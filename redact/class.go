package redact

import (
	"encoding/binary"
	"math/bits"
)

// This file holds a length class of the pattern set (see set.go): its gram
// filter, its verification table of windows, and how they grow.

// ventry is one pattern in a class's verification table: the hash of its
// first minLen bytes (its window), its position in the set's pattern list,
// and the index+1 of the next entry in the same chain (0 ends the chain).
// It holds no pointer, so the garbage collector need not scan the table.
type ventry struct {
	key  uint64
	pat  uint32
	next uint32
}

// class indexes the patterns of one length range. See the file comment.
type class struct {
	minLen int // m: every pattern in the class is at least this long
	q      int // gram length: 4..8 bytes
	stride int // s = m-q+1: sampling step, and grams indexed per pattern

	filter      []uint64 // blocked Bloom filter of grams, two bits per gram in one word
	filterShift uint     // 64 - log2(len(filter))

	heads     []uint32 // verification table: chains by window hash
	headShift uint     // 64 - log2(len(heads))
	entries   []ventry // one per pattern of the class, in the order added

	// windows is a blocked Bloom filter of the entries' window hashes,
	// 16 to 32 bits per entry, probed before the chains: with 100,000
	// patterns the heads and entries no longer fit in a core's cache,
	// this filter (256 KiB) does, and it turns away all but about one in a
	// hundred candidate starts that the chains would reject anyway.
	windows     []uint64
	windowShift uint // 64 - log2(len(windows))
}

func newClass(minLen, q int) class {
	c := class{minLen: minLen, q: q, stride: minLen - q + 1}
	c.filter = make([]uint64, 64)
	c.filterShift = 64 - 6
	c.heads = make([]uint32, 64)
	c.headShift = 64 - 6
	c.windows = make([]uint64, 16)
	c.windowShift = 64 - 4
	return c
}

// gramAtString reads the q-gram at the start of s as an integer, as
// binary.LittleEndian would.
func gramAtString(s string, q int) uint64 {
	var g uint64
	for i := q - 1; i >= 0; i-- {
		g = g<<8 | uint64(s[i])
	}
	return g
}

// mix finalises a window hash.
func mix(x uint64) uint64 {
	h := x * hashMul1
	return h ^ h>>29
}

// windowHash hashes the first m (4, 8 or 16) bytes of b.
func windowHash(b []byte, m int) uint64 {
	switch m {
	case 4:
		return mix(uint64(binary.LittleEndian.Uint32(b)))
	case 8:
		return mix(binary.LittleEndian.Uint64(b))
	default:
		return mix(binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[8:])*hashMul2, 31))
	}
}

// windowHashString is windowHash for a string.
func windowHashString(s string, m int) uint64 {
	switch m {
	case 4, 8:
		return mix(gramAtString(s, m))
	default:
		return mix(gramAtString(s, 8) ^ bits.RotateLeft64(gramAtString(s[8:], 8)*hashMul2, 31))
	}
}

// filterProbe returns the word index and the two-bit mask of gram g.
func (c *class) filterProbe(g uint64) (uint64, uint64) {
	h := g * hashMul1
	return h >> c.filterShift, uint64(1)<<((h>>26)&63) | uint64(1)<<((h>>32)&63)
}

// indexFrom makes the class's tables cover entries[first:], appended since
// they were last indexed. A table that must grow is rebuilt once, for the
// final count, so adding many patterns at once (Redactor.AddAll) builds
// each table once instead of once per doubling. pats is the set's pattern
// list.
func (c *class) indexFrom(first int, pats []string) {
	if first == len(c.entries) {
		return
	}
	if len(c.entries) > len(c.heads) {
		c.rebuildHeads()
	} else {
		c.link(first)
	}
	if filterTooSmall(len(c.filter)*64, len(c.entries)*c.stride) {
		c.rebuildFilter(pats)
		return
	}
	for _, e := range c.entries[first:] {
		c.setBits(pats[e.pat])
	}
}

// link threads entries[first:] into their chains and adds their window
// hashes to the window filter.
func (c *class) link(first int) {
	for i := first; i < len(c.entries); i++ {
		e := &c.entries[i]
		h := e.key >> c.headShift
		e.next = c.heads[h]
		c.heads[h] = uint32(i + 1)
		w, m := c.windowProbe(e.key)
		c.windows[w] |= m
	}
}

// windowProbe returns the word index and the two-bit mask of window hash
// key in the window filter. It uses other bits of the key than the chains
// do, so the two tests are independent.
func (c *class) windowProbe(key uint64) (uint64, uint64) {
	h := key * hashMul2
	return h >> c.windowShift, uint64(1)<<((h>>20)&63) | uint64(1)<<((h>>26)&63)
}

// setBits adds the grams of p at offsets 0..stride-1 to the filter.
func (c *class) setBits(p string) {
	g := gramAtString(p, c.q)
	top := uint(8 * (c.q - 1))
	for off := 0; ; off++ {
		w, m := c.filterProbe(g) // g is the gram at off
		c.filter[w] |= m
		if off+1 == c.stride {
			break
		}
		g = g>>8 | uint64(p[off+c.q])<<top
	}
}

// rebuildHeads resizes the verification table (load factor <= 1) and
// relinks every entry. Growth is geometric, so its cost is amortised.
func (c *class) rebuildHeads() {
	n := 64
	for n < len(c.entries) {
		n *= 2
	}
	c.heads = make([]uint32, n)
	c.headShift = uint(64 - bits.TrailingZeros(uint(n)))
	c.windows = make([]uint64, n/4) // 16 bits per chain head
	c.windowShift = c.headShift + 2
	c.link(0)
}

// Filter sizes, in bits: up to smallFilterBits (32 KiB) a class aims for
// 128 bits per gram, for fewer false hits at no cache cost; then 32; and
// beyond largeFilterBits (2 MiB), 12, so that the filter of a very large set
// (100,000 secrets and more) stays small enough to be served from a cache
// that other work competes for, at the price of more false hits (which the
// three-byte prefix bitmap and the window filter turn away cheaply). On a
// shared 2-core machine a 4 MiB filter at 100,000 secrets measured from 0.8
// to 2.2 GB/s depending on the neighbours; a 2 MiB one, 1.4 to 1.6.
const (
	smallFilterBits = 32 << 13
	largeFilterBits = 2 << 23
)

// filterBits is the filter size a class aims for with this many grams;
// filterTooSmall says when to rebuild to it (the next power of two up): below
// 16 bits per gram, or 8 in the large regime (so that at 100,000 secrets
// adding them one at a time and all at once, AddAll, both give 2 MiB).
func filterBits(grams int) int {
	switch {
	case grams*128 <= smallFilterBits:
		return grams * 128
	case grams*32 <= largeFilterBits:
		return grams * 32
	default:
		return grams * 12
	}
}

// filterTooSmall reports whether a filter of bits bits is too small for
// grams grams.
func filterTooSmall(bits, grams int) bool {
	if grams*32 > largeFilterBits {
		return bits < 8*grams
	}
	return bits < 16*grams
}

// rebuildFilter resizes the filter to filterBits (at least twice the
// current size) and sets every pattern's bits again. pats is the set's
// pattern list.
func (c *class) rebuildFilter(pats []string) {
	want := filterBits(len(c.entries) * c.stride)
	words := len(c.filter)
	for words*64 < want {
		words *= 2
	}
	c.filter = make([]uint64, words)
	c.filterShift = uint(64 - bits.TrailingZeros(uint(words)))
	for _, e := range c.entries {
		c.setBits(pats[e.pat])
	}
}
