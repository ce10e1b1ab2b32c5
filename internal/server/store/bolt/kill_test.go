//go:build unix

package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
)

const childEnv = "HUSH_BOLT_KILL_CHILD_DB"

// TestSIGKILLKeepsAcknowledgedWrites runs a writer in a child process that
// reports each PutSecret that returned nil, kills it with SIGKILL in the
// middle of its writes, and checks that every reported write is in the file.
func TestSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		killChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), bolt.FileName)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLKeepsAcknowledgedWrites$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		acked = i
		if acked == 200 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	// Keep draining: acks written before the kill landed still count.
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			if i, err := strconv.Atoi(n); err == nil {
				acked = i
			}
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", err)
	}
	if acked < 200 {
		t.Fatalf("child acknowledged only %d writes", acked)
	}

	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := 0; i <= acked; i++ {
		sec, err := s.GetSecret(ctx, "durable", fmt.Sprintf("k%06d", i))
		if err != nil {
			t.Fatalf("acknowledged write %d lost: %v", i, err)
		}
		if string(sec.Sealed) != fmt.Sprintf("sealed-%d", i) {
			t.Fatalf("write %d = %q", i, sec.Sealed)
		}
	}
	// The file is still writable.
	if err := s.PutSecret(ctx, store.Secret{Scope: "durable", Key: "after", Sealed: []byte("x")}, 0); err != nil {
		t.Fatal(err)
	}
}

func killChild(path string) {
	ctx := context.Background()
	s, err := bolt.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.CreateScope(ctx, secrets.Scope{Name: "durable", Backend: secrets.BackendDatabricks}, nil, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; i < 1_000_000; i++ {
		if err := s.PutSecret(ctx, store.Secret{Scope: "durable", Key: fmt.Sprintf("k%06d", i), Sealed: []byte(fmt.Sprintf("sealed-%d", i))}, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("ack %d\n", i)
	}
	os.Exit(3) // never killed: the parent reports it
}
