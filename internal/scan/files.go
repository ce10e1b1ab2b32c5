package scan

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/hush-secrets/hush/internal/atomicfile"
)

// ScanOptions choose what a scan reads and whether it fixes.
type ScanOptions struct {
	// All includes files git ignores (.gitignore and the like).
	All bool
	// Binary includes binary files (a NUL byte in the first 8,000 bytes,
	// as git decides), skipped otherwise.
	Binary bool
	// Fix rewrites each file with findings, every occurrence replaced by
	// redact.Token (atomically, keeping the file's mode).
	Fix bool
}

// Report is what a scan found and did.
type Report struct {
	Findings []Finding `json:"findings"`
	// Files and Bytes count what was scanned.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Binary counts the binary files skipped.
	Binary int `json:"binary_skipped"`
	// Fixed lists the files --fix rewrote.
	Fixed []Fixed `json:"fixed,omitempty"`
	// Errors are the files that could not be read or fixed: the scan is
	// incomplete. They never hold a value.
	Errors []string `json:"errors,omitempty"`
}

// Fixed is one file --fix rewrote and how many findings it redacted.
type Fixed struct {
	Path     string `json:"path"`
	Findings int    `json:"findings"`
}

// job is one thing to scan: a file (path) or a blob (data).
type job struct {
	seq    int    // position in the history, for the order of findings
	name   string // how findings name it
	commit string
	path   string // file to read and fix; "" for a blob
	data   []byte
}

// binarySniff is how much of a file decides that it is binary.
const binarySniff = 8000

// isBinary reports whether data looks binary the way git decides: a NUL
// byte in its first 8,000 bytes.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0
}

// ScanPaths scans files and directories. A directory inside a git work
// tree is listed by git (tracked and untracked files, without the ignored
// ones unless opts.All); elsewhere, or with All, it is walked (symbolic
// links are not followed, .git directories skipped). A file named
// explicitly is scanned even when git ignores it.
func (s *Scanner) ScanPaths(ctx context.Context, paths []string, opts ScanOptions) (*Report, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", p, err)
		}
		if !fi.IsDir() {
			if fi.Mode().IsRegular() {
				files = append(files, p)
			}
			continue
		}
		listed, err := listDir(ctx, p, opts.All)
		if err != nil {
			return nil, err
		}
		files = append(files, listed...)
	}
	jobs := make(chan job)
	go func() {
		defer close(jobs)
		for _, f := range files {
			select {
			case jobs <- job{name: f, path: f}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return s.run(ctx, jobs, opts)
}

// listDir lists the regular files under dir.
func listDir(ctx context.Context, dir string, all bool) ([]string, error) {
	if !all && inWorkTree(ctx, dir) {
		out, err := gitOutput(ctx, dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
		if err != nil {
			return nil, fmt.Errorf("list files of %s: %w", dir, err)
		}
		var files []string
		for _, name := range strings.Split(string(out), "\x00") {
			if name == "" {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(name))
			// Tracked but deleted, a submodule, a symbolic link: not a file to read.
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				files = append(files, p)
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" && p != dir {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list files of %s: %w", dir, err)
	}
	return files, nil
}

// run scans the jobs with one worker per CPU and gathers the report,
// findings sorted by commit (in history order), path and offset.
func (s *Scanner) run(ctx context.Context, jobs <-chan job, opts ScanOptions) (*Report, error) {
	rep := &Report{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	order := map[string]int{} // commit → its first job, to keep history order
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for j := range jobs {
				var r jobResult
				r, buf = s.scanJob(j, opts, buf)
				mu.Lock()
				if o, ok := order[j.commit]; !ok || j.seq < o {
					order[j.commit] = j.seq
				}
				rep.add(r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
		if c := order[a.Commit] - order[b.Commit]; c != 0 {
			return c
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return a.Offset - b.Offset
	})
	slices.SortFunc(rep.Fixed, func(a, b Fixed) int { return strings.Compare(a.Path, b.Path) })
	slices.Sort(rep.Errors)
	return rep, nil
}

// jobResult is what one job contributed.
type jobResult struct {
	findings []Finding
	bytes    int64
	scanned  bool
	binary   bool
	fixed    *Fixed
	err      string
}

func (r *Report) add(j jobResult) {
	r.Findings = append(r.Findings, j.findings...)
	r.Bytes += j.bytes
	if j.scanned {
		r.Files++
	}
	if j.binary {
		r.Binary++
	}
	if j.fixed != nil {
		r.Fixed = append(r.Fixed, *j.fixed)
	}
	if j.err != "" {
		r.Errors = append(r.Errors, j.err)
	}
}

// scanJob reads, scans and (with opts.Fix) fixes one file or blob.
func (s *Scanner) scanJob(j job, opts ScanOptions, buf []byte) (jobResult, []byte) {
	var r jobResult
	data := j.data
	var mode fs.FileMode
	if j.path != "" {
		fi, err := os.Stat(j.path)
		if err == nil {
			mode = fi.Mode().Perm()
			data, err = os.ReadFile(j.path)
		}
		if err != nil {
			r.err = fmt.Sprintf("read %s: %v", j.name, err)
			return r, buf
		}
	}
	if !opts.Binary && isBinary(data) {
		r.binary = true
		return r, buf
	}
	r.scanned, r.bytes = true, int64(len(data))
	findings, fixed, buf, err := s.ScanBuffer(j.name, data, opts.Fix && j.path != "", buf)
	if err != nil {
		r.err = err.Error()
	}
	for i := range findings {
		findings[i].Commit = j.commit
	}
	r.findings = findings
	if fixed != nil {
		if err := atomicfile.Write(j.path, fixed, mode); err != nil {
			r.err = fmt.Sprintf("fix %s: %v", j.name, err)
		} else {
			r.fixed = &Fixed{Path: j.name, Findings: len(findings)}
		}
	}
	return r, buf
}
