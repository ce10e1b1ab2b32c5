package redact

import "hash/maphash"

// patternIndex is the set of patterns by value, recording for each whether
// it was added as a secret (so its derived forms are in the set too) or
// only as a derived form. It stands in for a map[string]bool, which took a
// third of the time of building a set of 100,000 secrets: here an Add
// hashes its secret once (the lookup made before the write lock is taken
// hands its hash and free slot to the insertion), and growing the table
// never rehashes a string.
//
// It is an open-addressing table with linear probing, at most 3/4 full. A
// slot holds, in its upper half, the top 32 bits of the pattern's hash,
// and in its lower half the pattern's position in pats plus one, with
// rawBit set for a secret; 0 is an empty slot. The slot a probe starts
// from is given by the top bits of the hash, so the upper half alone
// places a pattern in a larger table.
type patternIndex struct {
	seed  maphash.Seed
	pats  []string // every pattern, in the order added
	slots []uint64
	shift uint // 64 - log2(len(slots))
}

// Parts of a slot: the hash tag in the upper half; rawBit, marking a
// pattern added as a secret, and the position plus one below it.
const (
	tagMask = ^uint64(1<<32 - 1)
	rawBit  = 1 << 31
)

func newPatternIndex() patternIndex {
	return patternIndex{seed: maphash.MakeSeed(), slots: make([]uint64, 64), shift: 64 - 6}
}

// hash returns the hash of pattern p.
func (x *patternIndex) hash(p string) uint64 {
	return maphash.String(x.seed, p)
}

// len returns the number of patterns.
func (x *patternIndex) len() int {
	return len(x.pats)
}

// find returns the slot of pattern p, whose hash is h: the slot holding p,
// with found set, or else the empty slot where p belongs.
func (x *patternIndex) find(h uint64, p string) (slot int, found bool) {
	mask := uint64(len(x.slots) - 1)
	tag := h & tagMask
	for i := h >> x.shift; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return int(i), false
		}
		if v&tagMask == tag && x.pats[v&(rawBit-1)-1] == p {
			return int(i), true
		}
	}
}

// isRaw reports whether the pattern in slot was added as a secret.
func (x *patternIndex) isRaw(slot int) bool {
	return x.slots[slot]&rawBit != 0
}

// markRaw records that the pattern in slot was added as a secret.
func (x *patternIndex) markRaw(slot int) {
	x.slots[slot] |= rawBit
}

// insert puts p, whose hash is h and which is absent, into slot, the empty
// slot find returned for it with no insertion since, and grows the table
// when it is more than 3/4 full. The caller keeps len below maxPatterns.
func (x *patternIndex) insert(slot int, h uint64, p string, raw bool) {
	v := h&tagMask | uint64(len(x.pats)+1)
	if raw {
		v |= rawBit
	}
	x.slots[slot] = v
	x.pats = appendDoubling(x.pats, p)
	if len(x.pats)*4 > len(x.slots)*3 {
		x.grow()
	}
}

// grow doubles the table, placing each slot by its hash's upper half.
func (x *patternIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	x.shift--
	mask := uint64(len(x.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := v >> x.shift
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = v
	}
}
