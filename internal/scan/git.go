package scan

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// Git is read through the git binary (ls-files, diff --cached, log --raw,
// cat-file --batch): it knows every repository layout, worktree, hooks path
// and object format, and it is already where the user commits.

// gitOutput runs git in dir and returns its standard output. The error
// carries git's standard error, which names refs and paths, never content.
func gitOutput(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("git %s: %w", args[0], err)
		}
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return out, nil
}

// inWorkTree reports whether dir is inside a git work tree (false too when
// git is not installed).
func inWorkTree(ctx context.Context, dir string) bool {
	out, err := gitOutput(ctx, dir, "rev-parse", "--is-inside-work-tree")
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// blobRef is a blob to read, with the path and commit findings name.
type blobRef struct {
	sha, path, commit string
}

// ScanStaged scans what is about to be committed in the repository at dir:
// the index's version of every file added or modified (not the work tree).
func (s *Scanner) ScanStaged(ctx context.Context, dir string, opts ScanOptions) (*Report, error) {
	out, err := gitOutput(ctx, dir, "diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=AMT")
	if err != nil {
		return nil, fmt.Errorf("list staged changes: %w", err)
	}
	blobs, err := parseRaw(out, "", nil)
	if err != nil {
		return nil, err
	}
	return s.scanBlobs(ctx, dir, blobs, opts)
}

// ScanHistory scans every blob added in the commits of revs (git log
// arguments, e.g. "main..HEAD"; HEAD when empty), each blob once, named by
// the first commit in the range that added it and its path there.
func (s *Scanner) ScanHistory(ctx context.Context, dir string, revs []string, opts ScanOptions) (*Report, error) {
	if len(revs) == 0 {
		revs = []string{"HEAD"}
	}
	for _, r := range revs {
		if strings.HasPrefix(r, "-") && r != "--all" && r != "--branches" && r != "--tags" {
			return nil, fmt.Errorf("scan history: %q is not a revision range", r)
		}
	}
	args := append([]string{"log", "--format=%x01%H", "-z", "--raw", "--no-abbrev", "--no-renames",
		"--diff-merges=first-parent", "--reverse", "--diff-filter=AMT"}, revs...)
	out, err := gitOutput(ctx, dir, append(args, "--")...)
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	blobs, err := parseRaw(out, "", map[string]bool{})
	if err != nil {
		return nil, err
	}
	return s.scanBlobs(ctx, dir, blobs, opts)
}

// parseRaw reads git's -z --raw output (with "\x01<commit>" headers from
// log) into the blobs added or modified, skipping symbolic links and
// submodules and, when seen is not nil, blobs already listed.
func parseRaw(out []byte, commit string, seen map[string]bool) ([]blobRef, error) {
	var blobs []blobRef
	fields := strings.Split(string(out), "\x00")
	for i := 0; i < len(fields); i++ {
		f := strings.TrimLeft(fields[i], "\n")
		switch {
		case f == "":
			continue
		case f[0] == '\x01':
			commit = f[1:]
			continue
		case f[0] != ':' || i+1 >= len(fields):
			return nil, fmt.Errorf("read git's list of changes: unexpected %q", shortField(f))
		}
		meta := strings.Fields(f[1:]) // old mode, new mode, old sha, new sha, status
		i++
		path := fields[i]
		if len(meta) < 5 || !strings.HasPrefix(meta[1], "100") {
			continue // deleted, a symbolic link (120000) or a submodule (160000)
		}
		sha := meta[3]
		if seen != nil {
			if seen[sha] {
				continue
			}
			seen[sha] = true
		}
		blobs = append(blobs, blobRef{sha: sha, path: path, commit: commit})
	}
	return blobs, nil
}

func shortField(f string) string {
	if len(f) > 40 {
		return f[:40] + "…"
	}
	return f
}

// scanBlobs reads blobs through one git cat-file --batch and scans them.
func (s *Scanner) scanBlobs(ctx context.Context, dir string, blobs []blobRef, opts ScanOptions) (*Report, error) {
	opts.Fix = false // blobs are not files
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "cat-file", "--batch")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("read blobs: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("read blobs: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("read blobs: start git cat-file: %w", err)
	}
	go func() {
		w := bufio.NewWriter(stdin)
		for _, b := range blobs {
			if _, err := w.WriteString(b.sha + "\n"); err != nil {
				break
			}
		}
		_ = w.Flush() // a failure shows as a short read below
		_ = stdin.Close()
	}()
	jobs := make(chan job, 64)
	readErr := make(chan error, 1)
	go func() {
		defer close(jobs)
		readErr <- readBatch(ctx, bufio.NewReaderSize(stdout, 1<<20), blobs, jobs)
	}()
	rep, runErr := s.run(ctx, jobs, opts)
	rerr := <-readErr
	cancel()
	werr := cmd.Wait()
	if rerr != nil {
		return nil, fmt.Errorf("read blobs: %w (git: %s)", rerr, strings.TrimSpace(stderr.String()))
	}
	if runErr != nil {
		return nil, runErr
	}
	if werr != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("read blobs: git cat-file: %w", werr)
	}
	return rep, nil
}

// readBatch reads cat-file --batch answers, one per blob, into jobs.
func readBatch(ctx context.Context, r *bufio.Reader, blobs []blobRef, jobs chan<- job) error {
	for seq, b := range blobs {
		header, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("blob %s of %s: %w", b.sha, b.path, err)
		}
		parts := strings.Fields(header)
		if len(parts) != 3 || parts[1] != "blob" {
			return fmt.Errorf("blob %s of %s: unexpected answer %q", b.sha, b.path, shortField(strings.TrimSpace(header)))
		}
		size, err := strconv.Atoi(parts[2])
		if err != nil || size < 0 {
			return fmt.Errorf("blob %s of %s: bad size", b.sha, b.path)
		}
		data := make([]byte, size+1) // and the newline after it
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("blob %s of %s: %w", b.sha, b.path, err)
		}
		select {
		case jobs <- job{seq: seq, name: b.path, commit: b.commit, data: data[:size]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
