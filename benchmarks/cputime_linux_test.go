package benchmarks

import (
	"syscall"
	"time"
	"unsafe"
)

// clockProcessCPUTimeID is CLOCK_PROCESS_CPUTIME_ID of clock_gettime(2).
const clockProcessCPUTimeID = 2

// processCPUTime returns the CPU time the whole process (every thread,
// garbage collector included) has used, and true. On a shared machine the
// benchmarks report throughput per CPU second next to wall-clock
// throughput: waiting for a core that other processes hold is not the
// redactor's cost.
func processCPUTime() (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
