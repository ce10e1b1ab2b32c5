package redact

import (
	"bytes"

	"golang.org/x/sys/cpu"
)

// indexESCAVX2 is indexESC in AVX2 assembly (hasesc_amd64.s).
//
//go:noescape
func indexESCAVX2(b []byte) int

// useAVX2 is whether this CPU can run indexESCAVX2; set once at start-up
// and read-only after.
var useAVX2 = cpu.X86.HasAVX2

// indexESC returns the index of the first ESC byte in b, or -1. It is the
// test every Write of text output makes, and the search for the escape
// sequences of a write that has some, so it must cost little beside the
// sampled scan.
func indexESC(b []byte) int {
	if useAVX2 && len(b) >= 64 {
		return indexESCAVX2(b)
	}
	return bytes.IndexByte(b, escByte)
}

// containsESC reports whether b holds an ESC byte.
func containsESC(b []byte) bool {
	return indexESC(b) >= 0
}
