package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sarifSchema is the SARIF 2.1.0 JSON schema (OASIS, final: "2.1.0-rtm.5",
// from the npm package @microsoft/jest-sarif, MIT).
const sarifSchema = "testdata/sarif-2.1.0-rtm.5.json"

// requirePython returns /usr/bin/python3 when it can import module, and
// skips loudly otherwise (fails with HUSH_REQUIRE_E2E=1).
func requirePython(t *testing.T, module, pkg string) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import "+module).Run(); err != nil {
		if os.Getenv("HUSH_REQUIRE_E2E") == "1" {
			t.Fatalf("HUSH_REQUIRE_E2E=1 but /usr/bin/python3 cannot import %s (install %s): %v", module, pkg, err)
		}
		t.Skipf("SKIPPED: /usr/bin/python3 cannot import %s (install %s, or HUSH_REQUIRE_E2E=1 to fail): %v", module, pkg, err)
	}
}

// validateSARIF validates log against the SARIF 2.1.0 schema with
// python3-jsonschema.
func validateSARIF(t *testing.T, log []byte) {
	t.Helper()
	requirePython(t, "jsonschema", "python3-jsonschema")
	path := filepath.Join(t.TempDir(), "hush.sarif")
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
v = jsonschema.Draft4Validator(schema)
errs = sorted(v.iter_errors(log), key=lambda e: list(e.path))
for e in errs:
    print("/".join(map(str, e.path)), e.message[:200])
sys.exit(1 if errs else 0)`
	out, err := exec.Command("/usr/bin/python3", "-c", script, sarifSchema, path).CombinedOutput()
	if err != nil {
		t.Fatalf("the SARIF log does not validate: %v\n%s", err, out)
	}
}

func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	r := makeGitRepo(t)
	s := newScanner(t, Secret{Name: "ci/alpha", Value: []byte(gitValueA)}, Secret{Name: "ci/bravo", Value: []byte(gitValueB)},
		Secret{Name: "app/key", Value: []byte(nbKey)}, Secret{Name: "app/token", Value: []byte(nbToken)})
	writeFile(t, r.dir, "nb/planted notebook.ipynb", string(plantedNotebook(t)))
	ctx := context.Background()
	files, err := s.ScanPaths(ctx, []string{r.dir}, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	history, err := s.ScanHistory(ctx, r.dir, nil, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Findings: append(files.Findings, history.Findings...)}
	var log bytes.Buffer
	if err := rep.WriteSARIF(&log, "v0.0.0-test"); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Version string
		Runs    []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine, StartColumn int }
					}
				}
				Properties map[string]any
			}
		}
	}
	if err := json.Unmarshal(log.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	res := parsed.Runs[0].Results
	if parsed.Version != "2.1.0" || len(res) != len(rep.Findings) || len(res) < 12 {
		t.Fatalf("version %q, %d results for %d findings", parsed.Version, len(res), len(rep.Findings))
	}
	var sawNotebook, sawCommit bool
	for _, r := range res {
		loc := r.Locations[0].PhysicalLocation
		if loc.Region.StartLine < 1 || loc.Region.StartColumn < 1 || loc.ArtifactLocation.URI == "" {
			t.Fatalf("result without a place: %+v", r)
		}
		if strings.Contains(loc.ArtifactLocation.URI, "planted%20notebook.ipynb") && r.Properties["notebook"] != nil {
			sawNotebook = true
		}
		if r.Properties["commit"] != nil {
			sawCommit = true
		}
	}
	if !sawNotebook || !sawCommit {
		t.Fatalf("notebook place %v, commit %v in the results", sawNotebook, sawCommit)
	}
	validateSARIF(t, log.Bytes())

	// An empty log is valid too.
	log.Reset()
	if err := (&Report{}).WriteSARIF(&log, ""); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, log.Bytes())
}
