package kernelwrap

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// maxHeldOutput bounds the inner kernel's raw output (per stream) held
// while the secrets are still being preloaded.
const maxHeldOutput = 1 << 20

// outputGate holds what the inner kernel writes to its stdout or stderr
// until the preloaded secrets are registered: before, a preloaded value
// the kernel printed at once went out in clear, since the redactor did not
// know it yet. Kernel messages wait for the preload the same way (see
// wrapper.preloaded). It is safe for concurrent use.
type outputGate struct {
	mu      sync.Mutex
	w       io.Writer
	open    bool
	held    bytes.Buffer
	dropped int
}

func (g *outputGate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return g.w.Write(p)
	}
	if room := maxHeldOutput - g.held.Len(); len(p) > room {
		g.held.Write(p[:max(room, 0)])
		g.dropped += len(p) - max(room, 0)
		return len(p), nil
	}
	g.held.Write(p)
	return len(p), nil
}

// release writes what was held (through the redactor, which now knows the
// preloaded secrets) and lets later writes through.
func (g *outputGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return
	}
	g.open = true
	_, _ = g.w.Write(g.held.Bytes())
	if g.dropped > 0 {
		fmt.Fprintf(g.w, "\n[hush: %d bytes of kernel output dropped while secrets were loading]\n", g.dropped)
	}
	g.held = bytes.Buffer{}
}

// withhold lets later writes through but replaces what was held by a
// notice: the preload did not finish, so the held output could hold a
// secret the redactor does not know (fail closed).
func (g *outputGate) withhold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return
	}
	g.open = true
	if n := g.held.Len() + g.dropped; n > 0 {
		fmt.Fprintf(g.w, "[hush: %d bytes of kernel output withheld: the secrets to redact were not loaded yet]\n", n)
	}
	g.held = bytes.Buffer{}
}
