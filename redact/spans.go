package redact

import "slices"

// This file holds the union-merge-adjacent rule on spans: merging the
// occurrences found by a scan, and emitting the redacted bytes.

// span is a half-open byte range [start, end) of a buffer covered by one or
// more pattern occurrences.
type span struct{ start, end int }

// mergeSpans sorts ivs by start and merges overlapping and touching spans,
// in place: the union-merge-adjacent rule.
func mergeSpans(ivs []span) []span {
	if len(ivs) < 2 {
		return ivs
	}
	slices.SortFunc(ivs, func(a, b span) int { return a.start - b.start })
	out := ivs[:1]
	for _, v := range ivs[1:] {
		last := &out[len(out)-1]
		if v.start <= last.end {
			last.end = max(last.end, v.end)
			continue
		}
		out = append(out, v)
	}
	return out
}

// firstUnmarked returns the first position >= pos not covered by the merged,
// sorted spans ivs.
func firstUnmarked(ivs []span, pos int) int {
	for _, v := range ivs {
		if v.start > pos {
			break
		}
		if v.end > pos {
			pos = v.end
		}
	}
	return pos
}

// emit appends to dst the redacted form of b[from:to] given the merged,
// sorted spans ivs of b: unmarked bytes as they are, each marked run as one
// Token, except that a run touching from continues the previous output's run
// when inRun (the byte before from was marked and its Token is out). It
// returns the new inRun: whether the last byte emitted was marked.
func emit(dst, b []byte, ivs []span, from, to int, inRun bool) ([]byte, bool) {
	pos := from
	for _, v := range ivs {
		if v.end <= from {
			continue
		}
		if v.start >= to {
			break
		}
		st := max(v.start, from)
		if st > pos {
			dst = append(dst, b[pos:st]...)
			inRun = false
		}
		if !inRun {
			dst = append(dst, Token...)
			inRun = true
		}
		pos = min(v.end, to)
	}
	if pos < to {
		dst = append(dst, b[pos:to]...)
		inRun = false
	}
	return dst, inRun
}

// touches reports whether any of the merged, sorted spans ivs covers a byte
// of [from, to).
func touches(ivs []span, from, to int) bool {
	for _, v := range ivs {
		if v.end > from && v.start < to {
			return true
		}
	}
	return false
}
