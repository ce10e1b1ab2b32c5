package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/redact/redacttest"
)

// cdp is a minimal Chrome DevTools Protocol client over one page target.
type cdp struct {
	t    *testing.T
	c    *websocket.Conn
	next int
}

func (d *cdp) call(method string, params map[string]any) json.RawMessage {
	d.t.Helper()
	d.next++
	id := d.next
	if err := d.c.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		d.t.Fatalf("cdp %s: %v", method, err)
	}
	_ = d.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := d.c.ReadJSON(&resp); err != nil {
			d.t.Fatalf("cdp %s: read: %v", method, err)
		}
		if resp.ID != id {
			continue // an event
		}
		if resp.Error != nil {
			d.t.Fatalf("cdp %s: %s", method, resp.Error.Message)
		}
		return resp.Result
	}
}

// eval runs a JavaScript expression in the page and returns its value.
func (d *cdp) eval(expr string) any {
	d.t.Helper()
	raw := d.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		d.t.Fatalf("decode evaluate result: %v", err)
	}
	if r.ExceptionDetails != nil {
		return nil
	}
	return r.Result.Value
}

// waitFor polls expr until it is true.
func (d *cdp) waitFor(what, expr string, timeout time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if v, _ := d.eval(expr).(bool); v {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	d.screenshot("failure")
	d.t.Fatalf("timed out waiting for %s; page text: %.1000q", what, d.eval("document.body ? document.body.innerText : ''"))
}

// screenshot saves a PNG of the page under e2e/artifacts/.
func (d *cdp) screenshot(name string) string {
	d.t.Helper()
	raw := d.call("Page.captureScreenshot", map[string]any{"format": "png"})
	var r struct{ Data string }
	if err := json.Unmarshal(raw, &r); err != nil {
		d.t.Fatalf("decode screenshot: %v", err)
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		d.t.Fatalf("decode screenshot: %v", err)
	}
	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		d.t.Fatal(err)
	}
	path := filepath.Join("artifacts", name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		d.t.Fatal(err)
	}
	return path
}

func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		needE2E(t, "chromium is not installed (apt-get install chromium)")
	}
	profile := t.TempDir()
	startProcess(t, "chromium", append(os.Environ(), "HOME="+profile), bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--window-size=1280,900", "about:blank")
	// Chromium writes its DevTools port into the profile once it listens.
	var port int
	deadline := time.Now().Add(60 * time.Second)
	for port == 0 && time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			port, _ = strconv.Atoi(strings.TrimSpace(line))
		}
		if port == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if port == 0 {
		t.Fatal("chromium did not open its DevTools port")
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/json/list", port))
	if err != nil {
		t.Fatalf("list DevTools targets: %v", err)
	}
	defer resp.Body.Close()
	var targets []struct{ Type, WebSocketDebuggerURL string }
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		t.Fatalf("decode DevTools targets: %v", err)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			c, _, err := websocket.DefaultDialer.Dial(tg.WebSocketDebuggerURL, nil)
			if err != nil {
				t.Fatalf("connect to DevTools: %v", err)
			}
			c.SetReadLimit(256 << 20)
			t.Cleanup(func() { c.Close() })
			return &cdp{t: t, c: c}
		}
	}
	t.Fatal("chromium has no page target")
	return nil
}

// TestBrowserShowsRedacted opens the classic notebook UI through hush proxy
// in headless Chromium, runs a cell that prints a secret, and checks the
// page shows [REDACTED] and never the value.
func TestBrowserShowsRedacted(t *testing.T) {
	requireJupyter(t)
	if err := exec.Command(systemPython, "-c", "import nbclassic").Run(); err != nil {
		needE2E(t, "nbclassic is not installed (apt-get install python3-nbclassic)")
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		needE2E(t, "chromium is not installed (apt-get install chromium)")
	}
	s := startStack(t)
	nb := map[string]any{"type": "notebook", "content": map[string]any{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": "hush-python3", "display_name": "Python 3 (hush)", "language": "python"}},
		"cells": []any{map[string]any{"cell_type": "code", "id": "c1", "execution_count": nil, "metadata": map[string]any{}, "outputs": []any{},
			"source": "s = dbutils.secrets.get(scope=\"e2e\", key=\"late\")\nprint(\"the secret is\", s)\ns"}},
	}}
	if status, body := s.api(t, s.proxy, "PUT", "/api/contents/browser.ipynb", nb); status != 200 && status != 201 {
		t.Fatalf("create notebook: %d %s", status, body)
	}

	d := startChromium(t)
	d.call("Page.enable", nil)
	d.call("Page.navigate", map[string]any{"url": s.proxy + "/notebooks/browser.ipynb?token=" + s.token})
	d.waitFor("the notebook's kernel to connect",
		`typeof Jupyter !== "undefined" && !!Jupyter.notebook && !!Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()`,
		90*time.Second)
	d.eval(`Jupyter.notebook.execute_all_cells(); true`)
	d.waitFor("the cell output", `document.querySelectorAll(".output_area").length >= 2 && document.body.innerText.includes("the secret is [REDACTED]")`, 90*time.Second)
	shot := d.screenshot("browser-notebook")
	t.Logf("screenshot: %s", shot)

	text, _ := d.eval(`document.body.innerText`).(string)
	html, _ := d.eval(`document.documentElement.outerHTML`).(string)
	if !redacttest.AssertNoSecretIn(t, map[string][]byte{"the page's text": []byte(text), "the page's HTML": []byte(html)}, hidden()...) {
		t.FailNow()
	}
	out, _ := d.eval(`Array.from(document.querySelectorAll(".output_area")).map(e => e.innerText).join("\n")`).(string)
	if !strings.Contains(out, "the secret is [REDACTED]") || strings.Count(out, "[REDACTED]") < 2 {
		t.Fatalf("cell outputs: %q", out)
	}

	// Save from the UI and check the file on disk.
	d.eval(`Jupyter.notebook.save_notebook(); true`)
	d.waitFor("the save", `!Jupyter.notebook.dirty`, 30*time.Second)
	var disk []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if disk, _ = os.ReadFile(filepath.Join(s.root, "browser.ipynb")); strings.Contains(string(disk), `"outputs": [
     {`) || strings.Contains(string(disk), "[REDACTED]") {
			break
		}
	}
	if !redacttest.AssertNoSecretIn(t, map[string][]byte{"the notebook saved from the browser": disk}, hidden()...) {
		t.FailNow()
	}
	if !strings.Contains(string(disk), "[REDACTED]") {
		t.Fatalf("the notebook saved from the browser has no output: %.500s", disk)
	}
}
