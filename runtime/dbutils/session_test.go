package dbutils

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

// sinks collects what a session writes, per cell and stream.
type sinks struct {
	mu  sync.Mutex
	buf map[string]*bytes.Buffer
}

func newSinks() *sinks { return &sinks{buf: map[string]*bytes.Buffer{}} }

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (s *sinks) sink(cellID, stream string) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := cellID + "/" + stream
	if s.buf[k] == nil {
		s.buf[k] = &bytes.Buffer{}
	}
	return lockedBuf{&s.mu, s.buf[k]}
}

func (s *sinks) get(cellID, stream string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buf[cellID+"/"+stream]; b != nil {
		return b.String()
	}
	return ""
}

func newTestSession(t *testing.T, api SecretsAPI) (*Session, *sinks) {
	t.Helper()
	sk := newSinks()
	sess, err := NewSession(api, redact.New(redact.Options{}), SessionOptions{Sink: sk.sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	return sess, sk
}

func TestSessionRedactsCellOutput(t *testing.T) {
	sess, sk := newTestSession(t, newFakeAPI("s/k", "hunter2-password"))
	sess.BeginCell("c1")
	v, err := sess.Secrets().Get(context.Background(), "s", "k")
	if err != nil {
		t.Fatal(err)
	}
	out := sess.Output("c1", StreamStdout)
	if out != sess.Output("c1", StreamStdout) {
		t.Fatal("Output returned a different writer for the same cell and stream")
	}
	// The value split across writes, as a print loop might do.
	for _, part := range []string{"the password is hunt", "er2-pass", "word!\n"} {
		if _, err := io.WriteString(out, part); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(sess.Output("c1", StreamStderr), "err: %s\n", v)
	if err := sess.EndCell("c1"); err != nil {
		t.Fatal(err)
	}
	if got := sk.get("c1", StreamStdout); got != "the password is [REDACTED]!\n" {
		t.Fatalf("stdout = %q", got)
	}
	if got := sk.get("c1", StreamStderr); got != "err: [REDACTED]\n" {
		t.Fatalf("stderr = %q", got)
	}
	if _, err := out.Write([]byte("late")); err == nil {
		t.Fatal("write after EndCell succeeded")
	}
}

func TestSessionWarnsOnTheCellsStderr(t *testing.T) {
	sess, sk := newTestSession(t, newFakeAPI("s/pin", "42"))
	sess.BeginCell("c7")
	v, err := sess.Secrets().Get(context.Background(), "s", "pin")
	if err != nil || v != "42" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := sess.EndCell("c7"); err != nil {
		t.Fatal(err)
	}
	got := sk.get("c7", StreamStderr)
	if !strings.Contains(got, "secret s/pin is 2 bytes, shorter than the minimum of 4 bytes: it cannot be redacted") {
		t.Fatalf("stderr of the cell = %q", got)
	}
}

func TestSessionConcurrentWritersAndCells(t *testing.T) {
	sess, sk := newTestSession(t, newFakeAPI("s/k", "concurrent-secret"))
	if _, err := sess.Secrets().Get(context.Background(), "s", "k"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := range 4 {
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := sess.Output(fmt.Sprint("cell", c), StreamStdout)
				for range 50 {
					fmt.Fprintf(w, "g%d concurrent-secret\n", g)
				}
			}()
		}
	}
	wg.Wait()
	for c := range 4 {
		if err := sess.EndCell(fmt.Sprint("cell", c)); err != nil {
			t.Fatal(err)
		}
		got := sk.get(fmt.Sprint("cell", c), StreamStdout)
		if !redacttest.AssertNoSecretIn(t, map[string][]byte{fmt.Sprint("cell", c): []byte(got)}, []byte("concurrent-secret")) {
			t.FailNow()
		}
		if n := strings.Count(got, "[REDACTED]"); n != 200 {
			t.Fatalf("cell%d output: %d redactions, want 200", c, n)
		}
	}
}

func TestSessionCloseEndsCells(t *testing.T) {
	sess, sk := newTestSession(t, newFakeAPI("s/k", "closing-secret"))
	if _, err := sess.Secrets().Get(context.Background(), "s", "k"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(sess.Output("c", StreamStdout), "x closing-secret")
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sk.get("c", StreamStdout); got != "x [REDACTED]" {
		t.Fatalf("after Close: %q", got)
	}
	if _, err := sess.Output("c", StreamStdout).Write([]byte("y")); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

func TestNewSessionValidates(t *testing.T) {
	if _, err := NewSession(newFakeAPI(), nil, SessionOptions{Sink: newSinks().sink}); err == nil {
		t.Fatal("nil redactor accepted")
	}
	if _, err := NewSession(newFakeAPI(), redact.New(redact.Options{}), SessionOptions{}); err == nil {
		t.Fatal("nil sink accepted")
	}
}
