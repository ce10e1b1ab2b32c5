package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// ansiSeq matches the terminal escape sequences a terminal does not show.
var ansiSeq = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]`)

// terminalRun opens a jupyter_server terminal through base, types cmd and
// returns everything the terminal sent until marker appeared in its shown
// text (escape sequences removed).
func (s *stack) terminalRun(t *testing.T, base, cmd, marker string) []byte {
	t.Helper()
	status, body := s.api(t, base, "POST", "/api/terminals", nil)
	if status != 200 {
		if status == 404 {
			needE2E(t, "jupyter_server has no terminals (apt-get install python3-terminado)")
		}
		t.Fatalf("create terminal: %d", status)
	}
	var term struct{ Name string }
	if err := json.Unmarshal(body, &term); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.api(t, s.jupyter, "DELETE", "/api/terminals/"+term.Name, nil) })
	u := "ws" + strings.TrimPrefix(base, "http") + "/terminals/websocket/" + term.Name
	c, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"token " + s.token}, "Origin": {base}})
	if err != nil {
		t.Fatalf("dial terminal: %v", err)
	}
	defer c.Close()
	stdin, _ := json.Marshal([]string{"stdin", cmd + "\r"})
	if err := c.WriteMessage(websocket.TextMessage, stdin); err != nil {
		t.Fatal(err)
	}
	var out []byte
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(string(ansiSeq.ReplaceAll(out, nil)), marker) {
		_ = c.SetReadDeadline(deadline)
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("terminal never showed the end marker: %v", err) // out is not printed: it may hold the value
		}
		var m []any
		if json.Unmarshal(msg, &m) == nil && len(m) == 2 && m[0] == "stdout" {
			text, _ := m[1].(string)
			out = append(out, text...)
		}
	}
	return out
}

// TestProxyTerminalGrepColour: grep --color=always in a terminal of the
// real jupyter_server puts SGR codes inside the value; through the proxy
// the terminal shows [REDACTED] and the value is in neither the bytes nor
// the shown text.
func TestProxyTerminalGrepColour(t *testing.T) {
	s := startStack(t)
	file := filepath.Join(s.root, "app.env")
	if err := os.WriteFile(file, []byte("DB_PASSWORD="+earlySecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The pattern is the middle of the value: grep colours it, so the value
	// reaches the terminal cut in three by escape sequences.
	cmd := "grep --color=always e2e-early " + file + "; echo END-$((6*7))"

	direct := s.terminalRun(t, s.jupyter, cmd, "END-42")
	if redacttest.Leaked(direct, []byte(earlySecret)) != nil || redacttest.Leaked(ansiSeq.ReplaceAll(direct, nil), []byte(earlySecret)) == nil {
		t.Fatal("fixture: straight from jupyter_server the value should show only once the colour codes are taken out")
	}

	out := s.terminalRun(t, s.proxy, cmd, "END-42")
	shown := ansiSeq.ReplaceAll(out, nil)
	if !redacttest.AssertNoSecretIn(t, map[string][]byte{"terminal bytes": out, "shown text": shown}, []byte(earlySecret)) {
		return
	}
	if !strings.Contains(string(shown), "DB_PASSWORD=[REDACTED]") {
		t.Errorf("the terminal shows %q", shown)
	}
}

// pemKey is a multi-line secret shaped like a PEM private key: its lines,
// not the whole value, are what a notebook file and its exports hold.
func pemKey() string {
	var b strings.Builder
	b.WriteString("-----BEGIN PRIVATE KEY-----\n")
	for i := range 4 {
		line := fmt.Sprintf("MIIEv%02dQIBADANBgkqhkiG9w0BAQEFAASC%s", i, randomHex(16))
		b.WriteString(line[:64] + "\n")
	}
	b.WriteString("-----END PRIVATE KEY-----\n")
	return b.String()
}

// latexSecret holds every character nbconvert's LaTeX export escapes.
const latexSecret = "prod_db_Passw0rd_2024%x#{hush}&$~^e2e"

// TestProxyExportsMultilineKey: a notebook whose outputs hold a multi-line
// key (and a value LaTeX escapes), registered through the kernel's bridge,
// is redacted when served through the proxy as /files/ (JSON, one string
// per line) and /nbconvert/latex.
func TestProxyExportsMultilineKey(t *testing.T) {
	s := startStack(t)
	key := pemKey()
	s.secrets.put(t, "e2e", "pem", key)
	s.secrets.put(t, "e2e", "latex", latexSecret)

	// The kernel fetching them registers them with the proxy.
	status, body := s.api(t, s.proxy, "POST", "/api/kernels", map[string]any{"name": "hush-python3"})
	if status != 201 {
		t.Fatalf("start kernel through the proxy: %d", status)
	}
	var kernel struct{ ID string }
	if err := json.Unmarshal(body, &kernel); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.api(t, s.jupyter, "DELETE", "/api/kernels/"+kernel.ID, nil) })
	k := dialKernel(t, s.proxy, s.token, kernel.ID, false)
	msgs := k.execute(`k = dbutils.secrets.get(scope="e2e", key="pem")
l = dbutils.secrets.get(scope="e2e", key="latex")
print(len(k.splitlines()), len(l))`)
	if got := streamText(msgs, "stdout"); got != fmt.Sprintf("6 %d\n", len(latexSecret)) {
		t.Fatalf("fetch through the bridge: stdout %q", got)
	}

	// The notebook as Jupyter stores it: stream text as a list of lines.
	var lines []string
	for _, l := range strings.SplitAfter(key, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	nb := map[string]any{"nbformat": 4, "nbformat_minor": 5, "metadata": map[string]any{},
		"cells": []any{map[string]any{"cell_type": "code", "id": "c1", "execution_count": 1, "metadata": map[string]any{},
			"source": "print(k)\nprint(l)", "outputs": []any{
				map[string]any{"output_type": "stream", "name": "stdout", "text": lines},
				map[string]any{"output_type": "stream", "name": "stdout", "text": []string{"latex " + latexSecret + "\n"}},
			}}}}
	raw, err := json.MarshalIndent(nb, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.root, "key.ipynb"), raw, 0o644); err != nil {
		t.Fatal(err)
	}

	// What must not show: the key, each of its body lines, the LaTeX value.
	hiddenHere := [][]byte{[]byte(key), []byte(latexSecret)}
	for _, l := range lines[1 : len(lines)-1] {
		hiddenHere = append(hiddenHere, []byte(strings.TrimSuffix(l, "\n")))
	}
	// /files/ holds each line of the key as a JSON string of its own (four
	// tokens, one per body line) and the LaTeX value; the LaTeX export
	// joins the lines again (one token for the key, one for the value).
	for path, tokens := range map[string]int{"/files/key.ipynb": 5, "/nbconvert/latex/key.ipynb?download=false": 2} {
		// Sanity: straight from jupyter_server the export shows them.
		dstatus, dbody := s.api(t, s.jupyter, "GET", path, nil)
		if dstatus != 200 {
			t.Fatalf("GET %s straight from jupyter_server: %d", path, dstatus)
		}
		if redacttest.Leaked(dbody, hiddenHere[2:]...) == nil || redacttest.Leaked(dbody, []byte(latexSecret)) == nil {
			t.Errorf("fixture: GET %s straight from jupyter_server shows neither a line of the key nor the LaTeX value", path)
		}
		status, body := s.api(t, s.proxy, "GET", path, nil)
		if !redacttest.AssertNoSecretIn(t, map[string][]byte{"GET " + path: body}, hiddenHere...) {
			continue // the body is not printed
		}
		if status != 200 || strings.Count(string(body), "[REDACTED]") != tokens {
			t.Errorf("GET %s through the proxy: %d, %d [REDACTED]", path, status, strings.Count(string(body), "[REDACTED]"))
		}
	}
}
