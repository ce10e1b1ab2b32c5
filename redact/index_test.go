package redact

import (
	"strconv"
	"testing"
)

// TestPatternIndex checks that every pattern inserted is found again with
// its raw mark, across many growths, and that absent ones are not.
func TestPatternIndex(t *testing.T) {
	x := newPatternIndex()
	const n = 5000
	for i := range n {
		p := "pattern-" + strconv.Itoa(i)
		h := x.hash(p)
		slot, found := x.find(h, p)
		if found {
			t.Fatalf("%q found before it was inserted", p)
		}
		x.insert(slot, h, p, i%3 == 0)
		if i%7 == 0 { // a derived form added again as a secret
			slot, _ := x.find(h, p)
			x.markRaw(slot)
		}
	}
	if x.len() != n {
		t.Fatalf("len = %d, want %d", x.len(), n)
	}
	if 4*x.len() > 3*len(x.slots) {
		t.Fatalf("%d patterns in %d slots: more than 3/4 full", x.len(), len(x.slots))
	}
	for i := range n {
		p := "pattern-" + strconv.Itoa(i)
		slot, found := x.find(x.hash(p), p)
		if !found {
			t.Fatalf("%q not found", p)
		}
		if want := i%3 == 0 || i%7 == 0; x.isRaw(slot) != want {
			t.Fatalf("%q raw = %v, want %v", p, x.isRaw(slot), want)
		}
		if x.pats[x.slots[slot]&(rawBit-1)-1] != p {
			t.Fatalf("slot of %q points at another pattern", p)
		}
	}
	for _, p := range []string{"pattern-", "pattern-5000", "", "nope"} {
		if _, found := x.find(x.hash(p), p); found {
			t.Fatalf("absent %q found", p)
		}
	}
}
