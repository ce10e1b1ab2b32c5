//go:build !linux

package kernelwrap

import "syscall"

// setDeathSignal does nothing where the OS has no parent-death signal: there
// the kernel's process group is killed when the wrapper exits normally.
func setDeathSignal(*syscall.SysProcAttr) {}
