package runner

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// streams is how the child's standard files are wired: what it gets as fd
// 0, 1 and 2, which read ends hush copies through the redactor and where
// to, and the terminal state to undo at the end.
//
// With a terminal (Options.PTY and hush's stdin or stdout a terminal) the
// child's terminal-facing files are the slave of a pseudo-terminal hush
// owns, which is also the child's controlling terminal, so what it writes
// to /dev/tty comes out of the master and through the redactor like the
// rest. Other files are pipes, as without a terminal; stdout and stderr
// that are the same file ("2>&1") share one pipe, so their merged output
// is redacted as one stream.
type streams struct {
	stdin          io.Reader
	stdout, stderr *os.File
	ctty           int // the child's fd of the pty slave; -1 without a pty

	outs  []output   // read ends, copied through the redactor
	spent []*os.File // the child's ends, closed in hush once it started

	master   *os.File // pty master; nil without a pty
	keysIn   *os.File // the user's terminal keystrokes are read from
	sizeFrom *os.File // the user's terminal the window size comes from
	ttyOut   *os.File // /dev/tty opened for the pty's output, if any
	restore  func()   // undoes raw mode
	stop     chan struct{}
	done     sync.WaitGroup // terminal goroutines
	once     sync.Once
}

// output is one read end and where its redacted bytes go.
type output struct {
	r *os.File
	w io.Writer
}

// userFiles are hush's own standard files, when they are files, and which
// of them are terminals the child should be given a pty for.
type userFiles struct {
	in, out, err          *os.File
	inTerm, outTerm, errT bool
}

// inspect finds out which of opts' files are terminals.
func inspect(opts Options) userFiles {
	u := userFiles{in: fileOf(opts.Stdin), out: fileOf(opts.Stdout), err: fileOf(opts.Stderr)}
	if opts.PTY && ptySupported {
		u.inTerm, u.outTerm, u.errT = isTerminal(u.in), isTerminal(u.out), isTerminal(u.err)
	}
	return u
}

// wireStreams opens the pty and pipes the child needs; stdout and stderr
// are where its redacted output goes. On error nothing stays open and the
// terminal's mode is unchanged.
func wireStreams(opts Options, stdout, stderr io.Writer) (s *streams, err error) {
	s = &streams{stdin: opts.Stdin, ctty: -1, restore: func() {}, stop: make(chan struct{})}
	defer func() {
		if err != nil {
			s.finish()
		}
	}()
	u := inspect(opts)
	if u.inTerm || u.outTerm {
		if err := s.openTerminal(u, stdout, stderr); err != nil {
			return nil, err
		}
	}
	if s.stdout == nil {
		w, err := s.pipeTo(stdout)
		if err != nil {
			return nil, fmt.Errorf("run: stdout pipe: %w", err)
		}
		s.stdout = w
		if s.stderr == nil && sameFile(u.out, u.err) {
			s.stderr = w // 2>&1: one stream, one redacting writer
		}
	}
	if s.stderr == nil {
		w, err := s.pipeTo(stderr)
		if err != nil {
			return nil, fmt.Errorf("run: stderr pipe: %w", err)
		}
		s.stderr = w
	}
	return s, nil
}

// pipeTo opens a pipe whose read end is copied to w and returns its write
// end for the child.
func (s *streams) pipeTo(w io.Writer) (*os.File, error) {
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.outs = append(s.outs, output{r, w})
	s.spent = append(s.spent, pw)
	return pw, nil
}

// openTerminal opens the pty, gives its slave to the child for each of
// hush's files that is a terminal, sizes it like the user's terminal and
// puts that terminal in raw mode when keystrokes come from it, so that
// Ctrl-C, Ctrl-Z and the rest reach the child's line discipline.
func (s *streams) openTerminal(u userFiles, stdout, stderr io.Writer) error {
	master, slave, err := openPTY()
	if err != nil {
		return err
	}
	s.master = master
	s.spent = append(s.spent, slave)
	s.sizeFrom = u.out
	if u.inTerm {
		s.sizeFrom = u.in
	}
	if err := copySize(master, s.sizeFrom); err != nil {
		return err
	}
	s.outs = append(s.outs, output{master, s.terminalWriter(u, stdout, stderr)})
	for i, on := range []bool{u.inTerm, u.outTerm, u.errT} {
		if !on {
			continue
		}
		switch i {
		case 0:
			s.stdin = slave
		case 1:
			s.stdout = slave
		case 2:
			s.stderr = slave
		}
		if s.ctty < 0 {
			s.ctty = i
		}
	}
	if u.inTerm {
		restore, err := makeRaw(u.in)
		if err != nil {
			return err
		}
		s.restore, s.keysIn = restore, u.in
	}
	return nil
}

// terminalWriter is where the pty's redacted output goes: hush's stdout
// or stderr, whichever is a terminal; when only stdin is one (output
// redirected), the pty carries echo and /dev/tty writes such as password
// prompts, which go to /dev/tty (or stderr if it cannot be opened).
func (s *streams) terminalWriter(u userFiles, stdout, stderr io.Writer) io.Writer {
	switch {
	case u.outTerm:
		return stdout
	case u.errT:
		return stderr
	}
	if f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		s.ttyOut = f
		return f
	}
	return stderr
}

// started closes hush's copies of the child's ends (so EOF, or EIO on the
// pty master, arrives when the child and what it left behind are done)
// and starts passing keystrokes and window size changes to the pty.
func (s *streams) started(resize <-chan os.Signal) {
	for _, f := range s.spent {
		f.Close()
	}
	s.spent = nil
	if s.master == nil {
		return
	}
	if s.keysIn != nil {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			_ = copyKeys(s.master, s.keysIn, s.stop)
		}()
	}
	if resize != nil {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			s.followSize(resize)
		}()
	}
}

// followSize copies the user's window size to the pty on every signal
// from resize (SIGWINCH), until the streams are finished.
func (s *streams) followSize(resize <-chan os.Signal) {
	for {
		select {
		case <-s.stop:
			return
		case _, ok := <-resize:
			if !ok {
				return
			}
			_ = copySize(s.master, s.sizeFrom)
		}
	}
}

// finish stops the terminal goroutines, closes every file still open and
// restores the user's terminal mode. It is safe to call more than once.
func (s *streams) finish() {
	s.once.Do(func() {
		close(s.stop)
		s.done.Wait()
		for _, f := range s.spent {
			f.Close()
		}
		for _, o := range s.outs {
			o.r.Close()
		}
		if s.ttyOut != nil {
			s.ttyOut.Close()
		}
		s.restore()
	})
}

// fileOf returns the *os.File behind r, seeing through SyncWriter, or nil.
func fileOf(r any) *os.File {
	if lw, ok := r.(*lockedWriter); ok {
		r = lw.w
	}
	f, _ := r.(*os.File)
	return f
}
