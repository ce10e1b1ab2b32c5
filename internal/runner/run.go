// Package runner is the command wrapper behind "hush run -- CMD ARGS…": it
// starts a loopback secrets bridge, runs CMD with DATABRICKS_HOST and
// DATABRICKS_TOKEN pointing at that bridge, and copies CMD's stdout and
// stderr through a streaming redactor each, so any value fetched through the
// bridge (or pre-loaded from the caller's profile) is printed as [REDACTED].
//
// The streams are copied as data arrives, one goroutine per pipe, so the
// order between stdout and stderr is what the OS gives; each redact.Writer
// holds back only a live partial match, released by the next write or at
// exit. The child's exit status passes through (128+N when it was killed by
// signal N) and the signals given to Run are forwarded to it.
//
// When hush runs at a terminal (Options.PTY), the child runs on a
// pseudo-terminal hush owns instead (see streams): it sees a TTY, and
// what it writes there, its controlling terminal /dev/tty included, is
// read from the pty master and redacted as one stream. When stdout and
// stderr are the same file (2>&1) they share one pipe and one redactor.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/internal/pyshim"
	"github.com/hush-secrets/hush/redact"
)

// drainGrace is how long output pipes are still read after the child has
// exited, when a process it left behind keeps them open.
const drainGrace = 2 * time.Second

// Options configures one Run.
type Options struct {
	// Args is the command and its arguments; Args[0] is looked up in PATH.
	Args []string
	// Env is the child's base environment (usually os.Environ()). Every
	// DATABRICKS_* variable is removed from it and DATABRICKS_HOST,
	// DATABRICKS_TOKEN and DATABRICKS_AUTH_TYPE of the bridge are added.
	Env []string
	// Dir is the child's working directory; empty means the current one.
	Dir string
	// Stdin is given to the child as is (an *os.File is passed directly).
	Stdin io.Reader
	// Stdout and Stderr receive the child's redacted output.
	Stdout, Stderr io.Writer
	// Redactor holds the secrets to hide; the bridge adds to it. Required.
	Redactor *redact.Redactor
	// Bridge, when set, is served on a loopback port for the child's
	// lifetime. When nil the child gets no DATABRICKS_HOST/TOKEN.
	Bridge *bridge.Bridge
	// Preload calls Bridge.LoadAll before the child starts, so values the
	// child obtains another way are redacted too.
	Preload bool
	// Signals are forwarded to the child while it runs.
	Signals <-chan os.Signal
	// PTY runs the child on a pseudo-terminal owned by hush when Stdin or
	// Stdout is a terminal (an *os.File), so the child sees a TTY (colours,
	// isatty, window size, job control) while everything it writes there,
	// /dev/tty included, still goes through the redactor. Stdin's terminal
	// is put in raw mode for the child's lifetime and restored after.
	// Without a terminal, or when false, the child gets pipes.
	PTY bool
	// Resize, with PTY, carries SIGWINCH: on each signal the pty gets the
	// user's terminal size again, and the kernel tells the child.
	Resize <-chan os.Signal
}

// Run runs the command and returns its exit code. An error means the
// command could not be run at all (not found, bridge failure); the exit
// code is then meaningless. When ctx is done the child gets SIGTERM, then
// SIGKILL after a grace period.
func Run(ctx context.Context, opts Options) (int, error) {
	if len(opts.Args) == 0 {
		return 0, errors.New("run: no command given")
	}
	if opts.Redactor == nil {
		return 0, errors.New("run: a redactor is required")
	}
	stdout := SyncWriter(opts.Stdout)
	stderr := SyncWriter(opts.Stderr)

	env, cleanup, err := bridgeEnv(ctx, opts)
	if err != nil {
		return 0, err
	}
	defer cleanup()

	s, err := wireStreams(opts, stdout, stderr)
	if err != nil && opts.PTY {
		// No pty to be had (no /dev/ptmx in a container, say): the child
		// still runs, on pipes, and the user is told why.
		fmt.Fprintf(stderr, "hush run: %v; running %s on pipes\n", err, opts.Args[0])
		opts.PTY = false
		s, err = wireStreams(opts, stdout, stderr)
	}
	if err != nil {
		return 0, err
	}
	defer s.finish() // restores the terminal on every way out
	c, err := startChild(opts, env, s)
	if err != nil {
		return 0, err
	}
	s.started(opts.Resize)
	copyErrs, copied := copyOutputs(s.outs, opts.Redactor)
	waitErr := c.wait(ctx, opts.Signals)
	drain(s.outs, copied)

	code := exitCode(c.cmd.ProcessState)
	if waitErr != nil && c.cmd.ProcessState == nil {
		return 0, fmt.Errorf("run: wait for %s: %w", opts.Args[0], waitErr)
	}
	for _, err := range copyErrs {
		if err != nil {
			return code, fmt.Errorf("run: copy output: %w", err)
		}
	}
	return code, nil
}

// bridgeEnv returns the child's environment and a cleanup to call once the
// child is done. Without a bridge that is opts.Env without DATABRICKS_*
// variables. With one, it serves the bridge on a loopback port, pre-loads
// its secrets when asked, writes the dbutils shim, and points the child at
// both; cleanup removes the shim and stops the bridge.
func bridgeEnv(ctx context.Context, opts Options) (env []string, cleanup func(), err error) {
	if opts.Bridge == nil {
		return ChildEnv(opts.Env, "", ""), func() {}, nil
	}
	srv, err := opts.Bridge.Listen("127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("run: start secrets bridge: %w", err)
	}
	closeSrv := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
	}
	if opts.Preload {
		if _, err := opts.Bridge.LoadAll(ctx); err != nil {
			closeSrv()
			return nil, nil, fmt.Errorf("run: pre-load secrets: %w", err)
		}
	}
	shimDir, err := writeShim()
	if err != nil {
		closeSrv()
		return nil, nil, err
	}
	env = withPythonPath(ChildEnv(opts.Env, srv.URL, opts.Bridge.Token()), shimDir)
	return env, func() {
		os.RemoveAll(shimDir)
		closeSrv()
	}, nil
}

// child is a started command.
type child struct {
	cmd *exec.Cmd
}

// startChild starts opts.Args with env on the files s wired. With a pty
// the child leads a new session whose controlling terminal is the pty
// slave, so /dev/tty, job control and SIGWINCH all go through hush's pty.
func startChild(opts Options, env []string, s *streams) (*child, error) {
	path, err := exec.LookPath(opts.Args[0])
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	cmd := &exec.Cmd{
		Path:   path,
		Args:   opts.Args,
		Env:    env,
		Dir:    opts.Dir,
		Stdin:  s.stdin,
		Stdout: s.stdout,
		Stderr: s.stderr,
	}
	if s.ctty >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: s.ctty}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run: start %s: %w", opts.Args[0], err)
	}
	return &child{cmd: cmd}, nil
}

// copyOutputs copies each read end through red to its destination, one
// goroutine each. copied is closed when all copies are done; errs (in the
// order of outs) may be read after that.
func copyOutputs(outs []output, red *redact.Redactor) (errs []error, copied <-chan struct{}) {
	var wg sync.WaitGroup
	errs = make([]error, len(outs))
	for i, o := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = copyRedacted(o.w, o.r, red)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return errs, done
}

// wait waits for the child to exit, forwarding sigs (and ctx being done)
// to it meanwhile.
func (c *child) wait(ctx context.Context, sigs <-chan os.Signal) error {
	exited := make(chan struct{})
	go forward(c.cmd.Process, sigs, ctx, exited)
	err := c.cmd.Wait()
	close(exited)
	return err
}

// drain waits for the output copies to end after the child's exit, at most
// drainGrace when a process the child left behind still holds the pipes
// or the pty, then closes the read ends.
func drain(outs []output, copied <-chan struct{}) {
	select {
	case <-copied:
	case <-time.After(drainGrace):
		// A background process the child left behind still holds them.
		now := time.Now()
		for _, o := range outs {
			_ = o.r.SetReadDeadline(now)
		}
		<-copied
	}
	for _, o := range outs {
		o.r.Close()
	}
}

// forward relays signals to the child until it exits; when ctx is done it
// sends SIGTERM, then SIGKILL after five seconds.
func forward(p *os.Process, sigs <-chan os.Signal, ctx context.Context, exited <-chan struct{}) {
	done := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case <-exited:
			return
		case s, ok := <-sigs:
			if !ok {
				sigs = nil
				continue
			}
			_ = p.Signal(s)
		case <-done:
			done = nil
			_ = p.Signal(syscall.SIGTERM)
			kill = time.After(5 * time.Second)
		case <-kill:
			_ = p.Kill()
		}
	}
}

// copyRedacted copies r to w through a redact.Writer as data arrives and
// flushes the held-back tail at EOF. When w fails, r is closed so the child
// sees a broken pipe instead of blocking.
func copyRedacted(w io.Writer, r *os.File, red *redact.Redactor) error {
	rw := red.NewWriter(w)
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := rw.Write(buf[:n]); werr != nil {
				r.Close()
				return werr
			}
		}
		if err != nil {
			ferr := rw.Close()
			// EIO is how a pty master says every slave is closed.
			if err == io.EOF || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EIO) {
				return ferr
			}
			return errors.Join(err, ferr)
		}
	}
}

// exitCode maps a finished process to the exit code a shell would report.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// ChildEnv returns base without any DATABRICKS_* variable (a profile, a
// config file or another auth method could override the bridge) and, when
// host is not empty, with DATABRICKS_HOST, DATABRICKS_TOKEN and
// DATABRICKS_AUTH_TYPE=pat of the bridge.
func ChildEnv(base []string, host, token string) []string {
	env := make([]string, 0, len(base)+3)
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToUpper(name), "DATABRICKS_") {
			continue
		}
		env = append(env, kv)
	}
	if host != "" {
		env = append(env, "DATABRICKS_HOST="+host, "DATABRICKS_TOKEN="+token, "DATABRICKS_AUTH_TYPE=pat")
	}
	return env
}

// writeShim writes hush's Python dbutils shim into a new private temporary
// directory, so a Python CMD can "from hush_dbutils import dbutils" and
// reach the bridge with the same calls as a Databricks notebook.
func writeShim() (string, error) {
	dir, err := os.MkdirTemp("", "hush-run-")
	if err != nil {
		return "", fmt.Errorf("run: directory for the dbutils shim: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, pyshim.ModuleName+".py"), pyshim.Source(), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("run: write the dbutils shim: %w", err)
	}
	return dir, nil
}

// withPythonPath returns env with dir first on PYTHONPATH, keeping any
// PYTHONPATH the caller had after it.
func withPythonPath(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	path := dir
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			if v != "" {
				path = dir + string(os.PathListSeparator) + v
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PYTHONPATH="+path)
}

// SyncWriter returns w made safe for concurrent writes. Give the same
// SyncWriter to Options.Stderr and to WarnTo so bridge warnings and the
// child's redacted stderr never interleave inside one write. Wrapping a
// SyncWriter again returns it unchanged.
func SyncWriter(w io.Writer) io.Writer {
	if lw, ok := w.(*lockedWriter); ok {
		return lw
	}
	return &lockedWriter{w: orDiscard(w)}
}

// lockedWriter serialises writes from the copier and from warnings.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// WarnTo returns a bridge.Options.Warn function writing one line per
// warning to w, safe for concurrent use.
func WarnTo(w io.Writer) func(string) {
	lw := SyncWriter(w)
	return func(msg string) { fmt.Fprintln(lw, msg) }
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
