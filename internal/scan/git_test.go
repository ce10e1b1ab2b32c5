package scan

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	gitValueA = "s3cr3t-alpha-7Qx9"
	gitValueB = "s3cr3t-bravo-Z2k1"
)

// gitEnv is an isolated git identity and configuration.
func gitEnv(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
}

// git runs git in dir and returns its trimmed output.
func git(t *testing.T, env []string, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gitRepo is a repository with two commits (the second renames a file
// holding value A and adds one holding value B in base64), a binary file,
// a .gitignore and ignored files holding A, an untracked file holding B,
// and a staged change (A in hex) that the work tree no longer has.
type gitRepo struct {
	dir, first, second string
	env                []string
}

func makeGitRepo(t *testing.T) gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("SKIPPED: git is not installed: %v", err)
	}
	env := gitEnv(t)
	dir := t.TempDir()
	git(t, env, dir, "init", "-q", "-b", "main")
	writeFile(t, dir, "a.txt", "password = "+gitValueA+"\n")
	writeFile(t, dir, "clean.txt", "nothing here\n")
	writeFile(t, dir, ".gitignore", "ignored/\n*.log\n")
	writeFile(t, dir, "bin.dat", "\x00\x01\x02binary "+gitValueA+"\x00")
	git(t, env, dir, "add", "-A")
	git(t, env, dir, "commit", "-q", "-m", "first")
	first := git(t, env, dir, "rev-parse", "HEAD")
	if err := os.Mkdir(filepath.Join(dir, "moved"), 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, env, dir, "mv", "a.txt", "moved/a.txt")
	writeFile(t, dir, "b.py", "TOKEN = '"+base64.StdEncoding.EncodeToString([]byte(gitValueB))+"'\n")
	git(t, env, dir, "add", "-A")
	git(t, env, dir, "commit", "-q", "-m", "second: rename, and b")
	second := git(t, env, dir, "rev-parse", "HEAD")
	writeFile(t, dir, "ignored/x.txt", gitValueA)
	writeFile(t, dir, "app.log", "log "+gitValueA)
	writeFile(t, dir, "new.txt", "untracked "+gitValueB)
	writeFile(t, dir, "clean.txt", "staged "+hex.EncodeToString([]byte(gitValueA))+"\n")
	git(t, env, dir, "add", "clean.txt")
	writeFile(t, dir, "clean.txt", "nothing here, again\n")
	return gitRepo{dir: dir, first: first, second: second, env: env}
}

func gitScanner(t *testing.T) *Scanner {
	return newScanner(t, Secret{Name: "ci/alpha", Value: []byte(gitValueA)}, Secret{Name: "ci/bravo", Value: []byte(gitValueB)})
}

// summary lists findings as "commit:path secret form", commits shortened
// to "first"/"second".
func summary(r gitRepo, fs []Finding) []string {
	var out []string
	for _, f := range fs {
		c := map[string]string{r.first: "first:", r.second: "second:", "": ""}[f.Commit]
		out = append(out, c+filepath.ToSlash(f.Path)+" "+f.Secret+" "+f.Form)
	}
	return out
}

func TestScanPathsFollowsGitignoreAndSkipsBinaries(t *testing.T) {
	r := makeGitRepo(t)
	s := gitScanner(t)
	ctx := context.Background()
	rel := func(fs []Finding) []Finding {
		for i := range fs {
			p, _ := filepath.Rel(r.dir, fs[i].Path)
			fs[i].Path = p
		}
		return fs
	}
	rep, err := s.ScanPaths(ctx, []string{r.dir}, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"b.py ci/bravo base64-std", "moved/a.txt ci/alpha raw", "new.txt ci/bravo raw"}
	if got := summary(r, rel(rep.Findings)); !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	if rep.Binary != 1 || rep.Files != 5 { // .gitignore, b.py, clean.txt, moved/a.txt, new.txt
		t.Fatalf("files %d, binary %d; want 5 and 1", rep.Files, rep.Binary)
	}

	rep, err = s.ScanPaths(ctx, []string{r.dir}, ScanOptions{All: true, Binary: true})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"app.log ci/alpha raw", "b.py ci/bravo base64-std", "bin.dat ci/alpha raw", "ignored/x.txt ci/alpha raw", "moved/a.txt ci/alpha raw", "new.txt ci/bravo raw"}
	if got := summary(r, rel(rep.Findings)); !slices.Equal(got, want) {
		t.Fatalf("--all --binary: findings %q, want %q", got, want)
	}
	for _, f := range rep.Findings {
		if strings.Contains(f.Path, ".git"+string(filepath.Separator)) {
			t.Fatalf("scanned inside .git: %v", f)
		}
	}

	// A file named explicitly is scanned even though git ignores it.
	rep, err = s.ScanPaths(ctx, []string{filepath.Join(r.dir, "app.log")}, ScanOptions{})
	if err != nil || len(rep.Findings) != 1 {
		t.Fatalf("explicit ignored file: %v, %v", rep, err)
	}
}

func TestScanStagedReadsTheIndex(t *testing.T) {
	r := makeGitRepo(t)
	rep, err := gitScanner(t).ScanStaged(context.Background(), r.dir, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"clean.txt ci/alpha hex-lower"}
	if got := summary(r, rep.Findings); !slices.Equal(got, want) {
		t.Fatalf("staged findings %q, want %q (the index, not the work tree)", got, want)
	}
	if rep.Files != 1 {
		t.Fatalf("scanned %d staged files, want 1", rep.Files)
	}
}

func TestScanHistoryScansEachBlobOnce(t *testing.T) {
	r := makeGitRepo(t)
	s := gitScanner(t)
	ctx := context.Background()
	rep, err := s.ScanHistory(ctx, r.dir, nil, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The renamed file is the same blob: found once, where it was added.
	want := []string{"first:a.txt ci/alpha raw", "second:b.py ci/bravo base64-std"}
	if got := summary(r, rep.Findings); !slices.Equal(got, want) {
		t.Fatalf("history findings %q, want %q", got, want)
	}
	if rep.Binary != 1 {
		t.Fatalf("binary blobs skipped: %d, want 1", rep.Binary)
	}
	if loc := rep.Findings[0].Location(); loc != r.first[:12]+":a.txt:1:12" {
		t.Fatalf("location %q", loc)
	}

	rep, err = s.ScanHistory(ctx, r.dir, []string{r.first + "..HEAD"}, ScanOptions{Binary: true})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"second:b.py ci/bravo base64-std", "second:moved/a.txt ci/alpha raw"}
	if got := summary(r, rep.Findings); !slices.Equal(got, want) {
		t.Fatalf("range findings %q, want %q", got, want)
	}

	if _, err := s.ScanHistory(ctx, r.dir, []string{"no-such-rev"}, ScanOptions{}); err == nil {
		t.Fatal("a bad revision is not an error")
	}
	if _, err := s.ScanHistory(ctx, r.dir, []string{"--output=/tmp/x"}, ScanOptions{}); err == nil {
		t.Fatal("an option passed as a revision is not refused")
	}
}

func TestFixKeepsModeAndIsAtomic(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "run.sh", "#!/bin/sh\nexport PW="+gitValueA+"\n")
	p := filepath.Join(dir, "run.sh")
	if err := os.Chmod(p, 0o750); err != nil {
		t.Fatal(err)
	}
	rep, err := gitScanner(t).ScanPaths(context.Background(), []string{dir}, ScanOptions{All: true, Fix: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fixed) != 1 || rep.Fixed[0].Findings != 1 {
		t.Fatalf("fixed %v", rep.Fixed)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "#!/bin/sh\nexport PW=[REDACTED]\n" {
		t.Fatalf("fixed file %q", got)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o750 {
		t.Fatalf("mode %v, want 0750", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}
