package dbutils

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hush-secrets/hush/redact"
)

// Stream names a kernel uses for SessionOptions.Sink and Session.Output.
// Any other name works too (one writer per distinct name).
const (
	StreamStdout  = "stdout"
	StreamStderr  = "stderr"
	StreamDisplay = "display"
)

// SessionOptions configure a Session.
type SessionOptions struct {
	// Secrets tunes the session's dbutils.secrets cache. Its Warn, when nil,
	// writes to the stderr stream of the current cell (see BeginCell), and to
	// os.Stderr when there is none.
	Secrets Options
	// Sink returns where the redacted output of one stream of one cell goes:
	// the kernel's iopub publisher, a file, a buffer. Required. It is called
	// once per cell and stream, and its writer is never closed by the session.
	Sink func(cellID, stream string) io.Writer
}

// Session is the runtime of one kernel: one Secrets, one redactor, and a
// redacting writer per stream of each running cell. The embedding kernel
// writes every byte of cell output through Output and calls EndCell when the
// cell finishes, which releases whatever the writers held back.
type Session struct {
	secrets *Secrets
	red     *redact.Redactor
	sink    func(cellID, stream string) io.Writer
	warn    func(string)

	mu      sync.Mutex
	cells   map[string]map[string]*cellWriter
	current string
	closed  bool
}

// NewSession returns a session whose dbutils.secrets read through api and
// register every value with red, and whose cell output is redacted by red.
func NewSession(api SecretsAPI, red *redact.Redactor, opts SessionOptions) (*Session, error) {
	if red == nil {
		return nil, errors.New("dbutils: NewSession needs a redactor")
	}
	if opts.Sink == nil {
		return nil, errors.New("dbutils: NewSession needs SessionOptions.Sink")
	}
	s := &Session{red: red, sink: opts.Sink, warn: opts.Secrets.Warn, cells: make(map[string]map[string]*cellWriter)}
	so := opts.Secrets
	so.Warn = s.warnCell
	s.secrets = New(api, red, so)
	if s.warn == nil {
		s.warn = defaultWarn
	}
	return s, nil
}

// Secrets returns the session's dbutils.secrets object.
func (s *Session) Secrets() *Secrets { return s.secrets }

// Redactor returns the session's redactor.
func (s *Session) Redactor() *redact.Redactor { return s.red }

// BeginCell makes cellID the current cell: warnings of dbutils.secrets calls
// (such as a value too short to redact) go to its stderr stream.
func (s *Session) BeginCell(cellID string) {
	s.mu.Lock()
	s.current = cellID
	s.mu.Unlock()
}

// Output returns the redacting writer of one stream of one cell, the same
// writer for every call with the same cell and stream until EndCell. Writes
// are safe from several goroutines. After Close, writes fail.
func (s *Session) Output(cellID, stream string) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return closedWriter{}
	}
	if s.current == "" {
		s.current = cellID
	}
	streams := s.cells[cellID]
	if streams == nil {
		streams = make(map[string]*cellWriter)
		s.cells[cellID] = streams
	}
	w := streams[stream]
	if w == nil {
		w = &cellWriter{w: s.red.NewWriter(s.sink(cellID, stream))}
		streams[stream] = w
	}
	return w
}

// EndCell flushes and closes every writer of cellID, releasing held-back
// bytes (redacted) to the sinks. Output for cellID after EndCell starts new
// writers.
func (s *Session) EndCell(cellID string) error {
	s.mu.Lock()
	streams := s.cells[cellID]
	delete(s.cells, cellID)
	if s.current == cellID {
		s.current = ""
	}
	s.mu.Unlock()
	var errs []error
	for name, w := range streams {
		if err := w.close(); err != nil {
			errs = append(errs, fmt.Errorf("end cell %s: close %s: %w", cellID, name, err))
		}
	}
	return errors.Join(errs...)
}

// Close ends every cell still open; later Output writers refuse writes.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	ids := make([]string, 0, len(s.cells))
	for id := range s.cells {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.EndCell(id))
	}
	return errors.Join(errs...)
}

// warnCell writes a warning to the current cell's stderr, or hands it to the
// fallback when no cell is running.
func (s *Session) warnCell(msg string) {
	s.mu.Lock()
	cur := s.current
	s.mu.Unlock()
	if cur == "" {
		s.warn(msg)
		return
	}
	w := s.Output(cur, StreamStderr)
	_, _ = io.WriteString(w, "hush: warning: "+msg+"\n")
}

// cellWriter serialises the writes to one redact.Writer.
type cellWriter struct {
	mu     sync.Mutex
	w      *redact.Writer
	closed bool
}

// Write redacts p onto the sink.
func (c *cellWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errCellEnded
	}
	return c.w.Write(p)
}

// Flush releases what the writer holds back that can no longer be part of a
// secret; see redact.Writer.Flush.
func (c *cellWriter) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return c.w.Flush()
}

func (c *cellWriter) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.w.Close()
}

var errCellEnded = errors.New("dbutils: write after the end of the cell")

type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) {
	return 0, errors.New("dbutils: write to a closed session")
}
