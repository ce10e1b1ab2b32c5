package redact

import (
	"bytes"

	"golang.org/x/sys/cpu"
)

// hasESCAVX2 is containsESC in AVX2 assembly (hasesc_amd64.s).
//
//go:noescape
func hasESCAVX2(b []byte) bool

// useAVX2 is whether this CPU can run hasESCAVX2; set once at start-up
// and read-only after.
var useAVX2 = cpu.X86.HasAVX2

// containsESC reports whether b holds an ESC byte: the test every Write of
// text output makes before taking the escape-aware path, so it must cost
// little beside the sampled scan (a tenth of it on output without
// escapes).
func containsESC(b []byte) bool {
	if useAVX2 && len(b) >= 128 {
		return hasESCAVX2(b)
	}
	return bytes.IndexByte(b, escByte) >= 0
}
