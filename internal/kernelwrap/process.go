package kernelwrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hush-secrets/hush/redact"
)

// outputWaitDelay bounds how long the inner kernel's stdout and stderr are
// still read after it exited, when a process it left behind holds them.
const outputWaitDelay = 2 * time.Second

// kernelProc is the running inner kernel.
type kernelProc struct {
	cmd            *exec.Cmd
	pgid           int
	stdout, stderr *redact.Writer
	exited         chan struct{}
	waitErr        error
}

// startKernel starts the inner kernel in a process group of its own (so an
// interrupt reaches it exactly once, from the wrapper) that is killed when
// the wrapper dies (see setDeathSignal), with its output redacted.
func startKernel(opts Options, env []string, innerPath string) (*kernelProc, error) {
	argv := innerArgv(opts.Argv, opts.ConnectionFile, innerPath)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("start the inner kernel: %w", err)
	}
	k := &kernelProc{
		stdout: opts.Redactor.NewWriter(orDiscard(opts.Stdout)),
		stderr: opts.Redactor.NewWriter(orDiscard(opts.Stderr)),
		exited: make(chan struct{}),
	}
	k.cmd = &exec.Cmd{Path: path, Args: argv, Env: env, Stdout: k.stdout, Stderr: k.stderr, WaitDelay: outputWaitDelay}
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(k.cmd.SysProcAttr)
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the inner kernel %s: %w", argv[0], err)
	}
	k.pgid = k.cmd.Process.Pid
	go func() {
		k.waitErr = k.cmd.Wait()
		close(k.exited)
	}()
	return k, nil
}

// innerArgv returns argv with the inner connection file in place of every
// ConnectionFilePlaceholder and of every occurrence of the frontend's
// connection file path: jupyter_client substitutes {connection_file}
// throughout a kernelspec's argv, so the inner kernel's arguments reach the
// wrapper already naming the frontend's file.
func innerArgv(argv []string, frontPath, innerPath string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, ConnectionFilePlaceholder, innerPath)
		if frontPath != "" {
			a = strings.ReplaceAll(a, frontPath, innerPath)
		}
		out[i] = a
	}
	return out
}

// handleSignals forwards signals to the inner kernel's process group until
// it exits: SIGINT as an interrupt; any other signal, or ctx done, as a
// request to stop, followed by SIGKILL after TermGrace.
func (k *kernelProc) handleSignals(ctx context.Context, sigs <-chan os.Signal, logf func(string, ...any)) {
	done := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case <-k.exited:
			return
		case s, ok := <-sigs:
			if !ok {
				sigs = nil
				continue
			}
			sig, isSys := s.(syscall.Signal)
			if !isSys {
				continue
			}
			k.signal(sig)
			if sig != syscall.SIGINT && kill == nil {
				kill = time.After(TermGrace)
			}
		case <-done:
			done = nil
			k.signal(syscall.SIGTERM)
			if kill == nil {
				kill = time.After(TermGrace)
			}
		case <-kill:
			logf("hush kernel: the inner kernel did not exit within %s; killing it", TermGrace)
			k.signal(syscall.SIGKILL)
		}
	}
}

// signal sends sig to the inner kernel's process group.
func (k *kernelProc) signal(sig syscall.Signal) {
	if err := syscall.Kill(-k.pgid, sig); err != nil {
		_ = k.cmd.Process.Signal(sig)
	}
}

// killGroup kills whatever the inner kernel left in its process group.
func (k *kernelProc) killGroup() {
	_ = syscall.Kill(-k.pgid, syscall.SIGKILL)
}

// code maps the finished kernel to the exit code a shell would report.
func (k *kernelProc) code() int {
	ps := k.cmd.ProcessState
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// outputErr flushes the held tail of the kernel's redacted output and
// reports a failure to copy it (not the kernel's own exit status).
func (k *kernelProc) outputErr() error {
	err := errors.Join(k.stdout.Close(), k.stderr.Close())
	var ee *exec.ExitError
	if k.waitErr != nil && !errors.As(k.waitErr, &ee) && !errors.Is(k.waitErr, exec.ErrWaitDelay) {
		err = errors.Join(err, fmt.Errorf("inner kernel: %w", k.waitErr))
	}
	if err != nil {
		return fmt.Errorf("kernel wrapper: %w", err)
	}
	return nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
