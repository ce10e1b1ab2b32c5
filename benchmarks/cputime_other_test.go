//go:build !linux

package benchmarks

import "time"

// processCPUTime is not implemented off Linux: the CPU-time metrics are
// left out and only wall-clock throughput is reported.
func processCPUTime() (time.Duration, bool) { return 0, false }
