package kernelwrap

import "syscall"

// setDeathSignal makes the kernel receive SIGKILL when the wrapper dies,
// however it dies (even of SIGKILL), so no kernel is left running without
// its redactor. The signal is tied to the OS thread that started the child;
// the wrapper never locks a goroutine to a thread, so the Go runtime keeps
// that thread for the life of the process.
func setDeathSignal(a *syscall.SysProcAttr) {
	a.Pdeathsig = syscall.SIGKILL
}
