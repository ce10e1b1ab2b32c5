package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// Output formats of a Report.
const (
	FormatText  = "text"
	FormatJSON  = "json"
	FormatSARIF = "sarif"
)

// WriteText writes one line per finding, then what --fix changed, then the
// count line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	for _, f := range r.Fixed {
		fmt.Fprintf(&b, "fixed %s: %s redacted\n", f.Path, plural(f.Findings, "finding"))
	}
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the count line: "2 findings in 1 of 40 files (1.2 MB scanned);
// 3 binary files skipped".
func (r *Report) Summary() string {
	files := map[string]bool{}
	for _, f := range r.Findings {
		files[f.Commit+"\x00"+f.Path] = true
	}
	s := fmt.Sprintf("%s in %d of %s (%s scanned)", plural(len(r.Findings), "finding"), len(files), plural(r.Files, "file"), byteSize(r.Bytes))
	if r.Binary > 0 {
		s += fmt.Sprintf("; %s skipped (--binary to scan them)", plural(r.Binary, "binary file"))
	}
	if len(r.Errors) > 0 {
		s += fmt.Sprintf("; %s not scanned", plural(len(r.Errors), "file"))
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// WriteJSON writes the report as one JSON object (findings, counts, fixed
// files, errors).
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// SARIF 2.1.0 (OASIS), the subset hush writes: one run, one rule, one
// result per finding.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool     `json:"tool"`
	ColumnKind string        `json:"columnKind"`
	Results    []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	ShortDescription sarifMessage      `json:"shortDescription"`
	FullDescription  sarifMessage      `json:"fullDescription"`
	Help             sarifMessage      `json:"help"`
	DefaultConfig    map[string]string `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string            `json:"ruleId"`
	Level      string            `json:"level"`
	Message    sarifMessage      `json:"message"`
	Locations  []sarifLocation   `json:"locations"`
	Prints     map[string]string `json:"partialFingerprints"`
	Properties map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	Physical sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	Artifact sarifArtifact `json:"artifactLocation"`
	Region   sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
	ByteOffset  int `json:"byteOffset"`
	ByteLength  int `json:"byteLength"`
}

// sarifRuleID is the one rule: a known secret value is in the file.
const sarifRuleID = "hush/secret-value"

// WriteSARIF writes the report as a SARIF 2.1.0 log, paths relative to
// %SRCROOT% (the directory scanned, or the repository root), so code
// scanning services show each finding on its line. version is hush's.
func (r *Report) WriteSARIF(w io.Writer, version string) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "hush", InformationURI: "https://github.com/hush-secrets/hush", Version: version,
			Rules: []sarifRule{{
				ID: sarifRuleID, Name: "SecretValueInFile",
				ShortDescription: sarifMessage{"A secret value hush knows is in the file"},
				FullDescription:  sarifMessage{"The file holds the value of a secret (or one of its encodings: JSON, repr, HTML, URL, base64, hex) that hush serves. Anyone who can read the file can read the secret."},
				Help:             sarifMessage{"Remove the value (hush scan --fix replaces it with [REDACTED]), and rotate the secret if the file was shared or committed."},
				DefaultConfig:    map[string]string{"level": "error"},
			}},
		}},
		ColumnKind: "unicodeCodePoints",
		Results:    []sarifResult{},
	}
	for _, f := range r.Findings {
		msg := fmt.Sprintf("Secret %s (%s form) is in this file", f.Secret, f.Form)
		if f.Notebook != nil {
			msg += ", " + f.Notebook.String()
		}
		if f.Commit != "" {
			msg += ", added in commit " + f.Commit
		}
		res := sarifResult{
			RuleID: sarifRuleID, Level: "error", Message: sarifMessage{msg},
			Locations: []sarifLocation{{Physical: sarifPhysical{
				Artifact: sarifArtifact{URI: sarifURI(f.Path), URIBaseID: "%SRCROOT%"},
				Region: sarifRegion{StartLine: f.Line, StartColumn: f.Column, EndLine: f.EndLine, EndColumn: f.EndColumn,
					ByteOffset: f.Offset, ByteLength: f.Length},
			}}},
			Prints:     map[string]string{"hushSecret/v1": f.Secret + "|" + f.Form},
			Properties: map[string]any{"secret": f.Secret, "form": f.Form},
		}
		if f.Commit != "" {
			res.Properties["commit"] = f.Commit
		}
		if f.Notebook != nil {
			res.Properties["notebook"] = f.Notebook
		}
		run.Results = append(run.Results, res)
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// sarifURI is a relative URI reference for a path: slash-separated, each
// segment percent-encoded.
func sarifURI(p string) string {
	p = filepath.ToSlash(filepath.Clean(p))
	p = strings.TrimPrefix(p, "./")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
