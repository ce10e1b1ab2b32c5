package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
)

const (
	scanValue = "hunter2-correct-horse"
	scanOther = "staple-battery-9Q"
)

// scanTree writes a directory with one file holding scanValue (in
// base64), one holding scanOther raw, and a clean one; it returns the
// directory and a --secrets-json file naming both values and a short one.
func scanTree(t *testing.T) (dir, secretsJSON string) {
	t.Helper()
	dir = t.TempDir()
	files := map[string]string{
		"config.yaml": "auth: aHVudGVyMi1jb3JyZWN0LWhvcnNl\n", // base64 of scanValue
		"notes.md":    "# notes\nthe password is " + scanOther + "\n",
		"clean.txt":   "nothing secret here\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	secretsJSON = filepath.Join(t.TempDir(), "values.json")
	data, _ := json.Marshal([]string{scanValue, scanOther, "pw"})
	if err := os.WriteFile(secretsJSON, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, secretsJSON
}

// leakCheck gathers every output of the test's runs and asserts at the end
// that none holds a value, in any form.
type leakCheck struct{ all bytes.Buffer }

func (l *leakCheck) run(t *testing.T, args ...string) cliResult {
	t.Helper()
	r := hush(t, nil, args...)
	l.all.WriteString(r.stdout)
	l.all.WriteString(r.stderr)
	return r
}

func (l *leakCheck) assert(t *testing.T) {
	t.Helper()
	redacttest.AssertNoSecret(t, l.all.Bytes(), []byte(scanValue), []byte(scanOther))
}

func TestScanFindsFixesAndExitCodes(t *testing.T) {
	cliEnv(t)
	dir, values := scanTree(t)
	var l leakCheck
	defer l.assert(t)

	r := l.run(t, "scan", "--secrets-json", values, dir)
	if r.code != exitFound {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantLines := []string{
		filepath.Join(dir, "config.yaml") + ":1:7: " + values + " item 1 (base64-std)",
		filepath.Join(dir, "notes.md") + ":2:17: " + values + " item 2 (raw)",
		"2 findings in 2 of 3 files",
	}
	for _, w := range wantLines {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}
	if want := handout.TooShortWarning(values+" item 3", 2, redact.DefaultMinLength); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks the short-value warning %q:\n%s", want, r.stderr)
	}

	// JSON output, then fix, then clean.
	r = l.run(t, "scan", "--secrets-json", values, "--format", "json", dir)
	var rep struct {
		Findings []struct{ Path, Secret, Form string }
		Files    int
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitFound || len(rep.Findings) != 2 || rep.Files != 3 {
		t.Fatalf("json: exit %d, %+v, %v\n%s", r.code, rep, err, r.stdout)
	}
	r = l.run(t, "scan", "--secrets-json", values, "--fix", dir)
	if r.code != exitFound || !strings.Contains(r.stdout, "fixed "+filepath.Join(dir, "notes.md")+": 1 finding redacted") {
		t.Fatalf("fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "notes.md"))
	if string(got) != "# notes\nthe password is [REDACTED]\n" {
		t.Fatalf("fixed file: %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "notes.md")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("fix changed the mode to %v", fi.Mode().Perm())
	}
	l.run(t, "scan", "--secrets-json", values, dir).ok(t)

	// --env, like hush redact.
	t.Setenv("HUSH_SCAN_TEST_VALUE", "clean")
	if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte("x=clean-value-from-env\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUSH_SCAN_TEST_VALUE", "clean-value-from-env")
	r = l.run(t, "scan", "--env", "HUSH_SCAN_TEST_VALUE", dir)
	if r.code != exitFound || !strings.Contains(r.stdout, "env.txt:1:3: $HUSH_SCAN_TEST_VALUE (raw)") {
		t.Fatalf("--env: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Exit status 2: a bad command line, a bad secrets file, no server.
	l.run(t, "scan", "--secrets-json", values, "--format", "xml", dir).fails(t, exitUsage, "--format")
	l.run(t, "scan", "--secrets-json", values, "--fix", "--staged").fails(t, exitUsage, "--fix")
	l.run(t, "scan", "--secrets-json", values, "--force", dir).fails(t, exitUsage, "--install-hook")
	l.run(t, "scan", "--secrets-json", filepath.Join(dir, "missing.json"), dir).fails(t, exitUsage, "--secrets-json")
	l.run(t, "scan", "--secrets-json", filepath.Join(dir, "notes.md"), dir).fails(t, exitUsage, "invalid JSON")
	l.run(t, "scan", "--secrets-json", values, filepath.Join(dir, "nope")).fails(t, exitUsage, "no such file")
	l.run(t, "scan", dir).fails(t, exitUsage, "find the secrets server")
	t.Setenv("DATABRICKS_HOST", "http://127.0.0.1:"+freePort(t))
	t.Setenv("DATABRICKS_TOKEN", "dapi-unused")
	l.run(t, "scan", dir).fails(t, exitUsage, "load secrets")
}

func TestScanUsesTheProfilesSecretsAndPutWarns(t *testing.T) {
	serverEnv(t)
	var l leakCheck
	defer l.assert(t)
	l.run(t, "secrets", "create-scope", "app").ok(t)
	r := l.run(t, "secrets", "put-secret", "app", "db", "--string-value", scanValue).ok(t)
	if strings.Contains(r.stderr, "warning") {
		t.Fatalf("warning for a long value: %s", r.stderr)
	}
	r = l.run(t, "secrets", "put-secret", "app", "pin", "--string-value", "123").ok(t)
	want := handout.TooShortWarning("secret app/pin", 3, redact.DefaultMinLength)
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("put-secret of a short value: stderr %q, want %q", r.stderr, want)
	}
	r = l.run(t, "secrets", "put", "--scope", "app", "--key", "empty", "--string-value", "").ok(t)
	if !strings.Contains(r.stderr, handout.TooShortWarning("secret app/empty", 0, redact.DefaultMinLength)) {
		t.Fatalf("put of an empty value: stderr %q", r.stderr)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.env"), []byte("DB=\""+scanValue+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = l.run(t, "scan", dir)
	if r.code != exitFound || !strings.Contains(r.stdout, "app.env:1:5: app/db (raw)") {
		t.Fatalf("scan with the profile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, handout.TooShortWarning("secret app/pin", 3, redact.DefaultMinLength)) {
		t.Fatalf("scan does not name the short value: %s", r.stderr)
	}
}

func TestScanPreCommitHookBlocksAValue(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("SKIPPED: git is not installed: %v", err)
	}
	cliEnv(t)
	bin := buildHush(t)
	repo := t.TempDir()
	_, values := scanTree(t)
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	var all bytes.Buffer
	run := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = repo, env
		out, err := cmd.CombinedOutput()
		all.Write(out)
		return err
	}
	must := func(name string, args ...string) {
		t.Helper()
		if err := run(name, args...); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, all.String())
		}
	}
	must("git", "init", "-q")
	must(bin, "scan", "--install-hook", "--secrets-json", values)
	hook := filepath.Join(repo, ".git", "hooks", "pre-commit")
	if fi, err := os.Stat(hook); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("hook not installed executable: %v", err)
	}

	if err := os.WriteFile(filepath.Join(repo, "ok.txt"), []byte("fine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("git", "add", "ok.txt")
	must("git", "commit", "-q", "-m", "clean")

	if err := os.WriteFile(filepath.Join(repo, "leak.py"), []byte("PW = '"+scanValue+"'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("git", "add", "leak.py")
	all.Reset()
	if err := run("git", "commit", "-q", "-m", "leak"); err == nil {
		t.Fatal("the hook let a commit holding a value through")
	}
	if !strings.Contains(all.String(), "leak.py:1:7: "+values+" item 1 (raw)") {
		t.Fatalf("the hook did not say why:\n%s", all.String())
	}
	out, _ := exec.Command("git", "-C", repo, "log", "--format=%s").Output()
	if strings.TrimSpace(string(out)) != "clean" {
		t.Fatalf("history is %q, want only the clean commit", out)
	}

	// A foreign hook is kept unless --force.
	if err := os.WriteFile(hook, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run(bin, "scan", "--install-hook", "--secrets-json", values); err == nil {
		t.Fatal("a foreign hook was replaced without --force")
	}
	if b, _ := os.ReadFile(hook); string(b) != "#!/bin/sh\nexit 0\n" {
		t.Fatal("the foreign hook was changed")
	}
	must(bin, "scan", "--install-hook", "--force", "--secrets-json", values)
	if err := run("git", "commit", "-q", "-m", "leak"); err == nil {
		t.Fatal("the reinstalled hook let the value through")
	}
	redacttest.AssertNoSecret(t, all.Bytes(), []byte(scanValue), []byte(scanOther))
}

// The repository's .pre-commit-hooks.yaml declares a hook whose entry is
// a valid hush command line.
func TestPreCommitHooksYAML(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import yaml").Run(); err != nil {
		if os.Getenv("HUSH_REQUIRE_E2E") == "1" {
			t.Fatalf("HUSH_REQUIRE_E2E=1 but /usr/bin/python3 cannot import yaml (install python3-yaml): %v", err)
		}
		t.Skipf("SKIPPED: /usr/bin/python3 cannot import yaml (install python3-yaml): %v", err)
	}
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", "../../.pre-commit-hooks.yaml").Output()
	if err != nil {
		t.Fatalf("parse .pre-commit-hooks.yaml: %v", err)
	}
	var hooks []struct {
		ID, Entry, Language string
		PassFilenames       *bool `json:"pass_filenames"`
	}
	if err := json.Unmarshal(out, &hooks); err != nil || len(hooks) != 1 {
		t.Fatalf("hooks: %v, %s", err, out)
	}
	h := hooks[0]
	if h.ID != "hush-scan" || h.Language != "golang" || h.PassFilenames == nil || *h.PassFilenames {
		t.Fatalf("hook %+v", h)
	}
	args := strings.Fields(h.Entry)
	if args[0] != "hush" {
		t.Fatalf("entry %q does not run hush", h.Entry)
	}
	// Run the entry in a fresh repository: clean, so exit 0.
	cliEnv(t)
	repo := t.TempDir()
	if err := exec.Command("git", "-C", repo, "init", "-q").Run(); err != nil {
		t.Skipf("SKIPPED: git: %v", err)
	}
	_, values := scanTree(t)
	t.Chdir(repo)
	hush(t, nil, append(args[1:], "--secrets-json", values)...).ok(t)
}
