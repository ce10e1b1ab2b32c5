package benchmarks

// Benchmarks of the notebook integration (issue 4 and 5 targets):
//
//	BenchmarkRunOutput/mode=direct|hush-run     100 MB printed by a command,
//	                                            alone vs through internal/runner
//	BenchmarkProxyLatency                       added latency per kernel
//	                                            message through the proxy, p50/p99,
//	                                            1,000 secrets registered
//	BenchmarkProxyJupyterStream                 messages/s of a cell printing
//	                                            100,000 lines, direct vs proxy,
//	                                            against a real jupyter_server
//
// Run them with -benchtime=1x: one op is a whole scenario.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/internal/proxy"
	"github.com/hush-secrets/hush/internal/runner"
	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
)

// runOutputBytes is what the BenchmarkRunOutput command prints.
const runOutputBytes = 100 << 20

// printer prints runOutputBytes of short notebook-like lines.
var printerArgs = []string{"sh", "-c", fmt.Sprintf("yes 'epoch 12 step 340 loss=0.02931 acc=0.9912 lr=3e-4' | head -c %d", runOutputBytes)}

// proxyRedactor is a redactor with n API-key secrets and every encoding.
func proxyRedactor(tb testing.TB, n int) *redact.Redactor {
	tb.Helper()
	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	for _, s := range APIKeys(n, DefaultSeed) {
		if err := r.Add(s); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

func BenchmarkRunOutput(b *testing.B) {
	if _, err := exec.LookPath("yes"); err != nil {
		b.Skip("needs yes and head")
	}
	b.Run("mode=direct", func(b *testing.B) {
		b.SetBytes(runOutputBytes)
		for b.Loop() {
			cmd := exec.Command(printerArgs[0], printerArgs[1:]...)
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, out)
			if err := cmd.Wait(); err != nil || n != runOutputBytes {
				b.Fatalf("copied %d: %v", n, err)
			}
		}
	})
	b.Run("mode=hush-run", func(b *testing.B) {
		red := proxyRedactor(b, 1000)
		b.SetBytes(runOutputBytes)
		for b.Loop() {
			cw := &countWriter{}
			code, err := runner.Run(context.Background(), runner.Options{Args: printerArgs, Stdout: cw, Stderr: io.Discard, Redactor: red})
			if err != nil || code != 0 || cw.n != runOutputBytes {
				b.Fatalf("code %d err %v copied %d", code, err, cw.n)
			}
		}
	})
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// echoKernel is a websocket server that answers every client message with
// one iopub stream message (legacy format), like a kernel printing a line.
func echoKernel(tb testing.TB) *httptest.Server {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for i := 0; ; i++ {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
			msg := fmt.Sprintf(`{"header":{"msg_id":"m%d","msg_type":"stream","username":"u","session":"s","date":"2026-11-28T00:00:00.000000Z","version":"5.3"},"msg_id":"m%d","msg_type":"stream","parent_header":{"msg_id":"p1","msg_type":"execute_request","username":"u","session":"s","date":"2026-11-28T00:00:00.000000Z","version":"5.3"},"metadata":{},"content":{"name":"stdout","text":"epoch %d step 340 loss=0.02931 acc=0.9912 lr=3e-4\n"},"buffers":[],"channel":"iopub"}`, i, i, i)
			if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// BenchmarkProxyLatency measures the round trip of one kernel message,
// straight to a kernel websocket and through hush proxy, alternating, with
// 1,000 secrets registered; it reports both p50/p99 and their difference,
// the latency the proxy adds per message.
func BenchmarkProxyLatency(b *testing.B) {
	kernel := echoKernel(b)
	red := proxyRedactor(b, 1000)
	p, err := proxy.New(proxy.Options{Upstream: kernel.URL, Redactor: red})
	if err != nil {
		b.Fatal(err)
	}
	px := httptest.NewServer(p)
	defer px.Close()
	defer p.Close()
	dial := func(base string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/kernels/k/channels", nil)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	direct, proxied := dial(kernel.URL), dial(px.URL)
	defer direct.Close()
	defer proxied.Close()
	ping := []byte(`{"header":{"msg_id":"x","msg_type":"execute_request"},"parent_header":{},"metadata":{},"content":{},"channel":"shell"}`)
	rtt := func(c *websocket.Conn) time.Duration {
		start := time.Now()
		if err := c.WriteMessage(websocket.TextMessage, ping); err != nil {
			b.Fatal(err)
		}
		_, msg, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if !bytes.Contains(msg, []byte(`"stream"`)) {
			b.Fatalf("unexpected reply %.200s", msg)
		}
		return d
	}
	for range 200 { // warm up both paths
		rtt(direct)
		rtt(proxied)
	}
	var ds, ps []time.Duration
	b.ResetTimer()
	for b.Loop() {
		ds = append(ds, rtt(direct))
		ps = append(ps, rtt(proxied))
	}
	b.StopTimer()
	pct := func(xs []time.Duration, q float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return float64(s[int(q*float64(len(s)-1))].Microseconds())
	}
	b.ReportMetric(pct(ds, 0.5), "direct-p50-µs")
	b.ReportMetric(pct(ds, 0.99), "direct-p99-µs")
	b.ReportMetric(pct(ps, 0.5), "proxy-p50-µs")
	b.ReportMetric(pct(ps, 0.99), "proxy-p99-µs")
	b.ReportMetric(pct(ps, 0.99)-pct(ds, 0.99), "added-p99-µs")
}

// BenchmarkProxyJupyterStream runs a cell printing 100,000 short lines
// (one flush each, so one stream message each) on a real jupyter_server,
// once straight and once through hush proxy with 1,000 secrets registered,
// and reports stream messages per second of each, counted up to the last
// line, and their ratio.
func BenchmarkProxyJupyterStream(b *testing.B) {
	const py = "/usr/bin/python3"
	jbin, err := exec.LookPath("jupyter-server")
	if err != nil || exec.Command(py, "-c", "import ipykernel").Run() != nil {
		b.Skip("SKIP: needs jupyter-server and ipykernel for /usr/bin/python3")
	}
	tmp := b.TempDir()
	kdir := filepath.Join(tmp, "data", "kernels", "bench")
	os.MkdirAll(kdir, 0o755)
	os.WriteFile(filepath.Join(kdir, "kernel.json"), []byte(`{"argv":["`+py+`","-m","ipykernel_launcher","-f","{connection_file}"],"display_name":"bench","language":"python"}`), 0o644)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	token := "benchtoken"
	cmd := exec.Command(jbin, "--ServerApp.ip=127.0.0.1", fmt.Sprintf("--ServerApp.port=%d", port), "--ServerApp.port_retries=0",
		"--ServerApp.token="+token, "--ServerApp.open_browser=False", "--ServerApp.allow_root=True", "--ServerApp.root_dir="+tmp,
		"--ServerApp.iopub_msg_rate_limit=0", "--ServerApp.iopub_data_rate_limit=0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "JUPYTER_DATA_DIR=" + filepath.Join(tmp, "data"),
		"JUPYTER_CONFIG_DIR=" + filepath.Join(tmp, "config"), "JUPYTER_RUNTIME_DIR=" + filepath.Join(tmp, "rt"), "IPYTHONDIR=" + filepath.Join(tmp, "ipy")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	jurl := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		resp, err := http.Get(jurl + "/api/status?token=" + token)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 300 {
			b.Fatal("jupyter-server did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", jurl+"/api/kernels?token="+token, strings.NewReader(`{"name":"bench"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var k struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&k)
	resp.Body.Close()

	p, err := proxy.New(proxy.Options{Upstream: jurl, Redactor: proxyRedactor(b, 1000)})
	if err != nil {
		b.Fatal(err)
	}
	px := httptest.NewServer(p)
	defer px.Close()
	defer p.Close()

	lines := 100000
	if v, err := strconv.Atoi(os.Getenv("HUSH_BENCH_LINES")); err == nil && v > 0 {
		lines = v // a quick check of the benchmark itself
	}
	code := fmt.Sprintf("for i in range(%d):\n    print('line', i, flush=True)", lines)
	cell := func(base, code, last string) (msgs, nlines int, d time.Duration) {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/kernels/"+k.ID+"/channels?token="+token, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.SetReadLimit(64 << 20)
		id := fmt.Sprintf("bench-%d", time.Now().UnixNano())
		m := &jupyter.Message{Channel: "shell",
			Header:       json.RawMessage(`{"msg_id":"` + id + `","msg_type":"execute_request","username":"b","session":"bs","date":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000000Z") + `","version":"5.3"}`),
			ParentHeader: json.RawMessage(`{}`), Metadata: json.RawMessage(`{}`),
			Content: json.RawMessage(`{"code":` + strconvQuote(code) + `,"silent":false,"store_history":false,"user_expressions":{},"allow_stdin":false}`)}
		fr, err := jupyter.FormatLegacy.Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		lastAt := start
		if err := c.WriteMessage(websocket.TextMessage, fr.Data); err != nil {
			b.Fatal(err)
		}
		replied := false
		for {
			typ, data, err := c.ReadMessage()
			if err != nil && replied {
				// jupyter_server dropped the last lines at its iopub
				// high-water mark: time to the last one that came.
				return msgs, nlines, lastAt.Sub(start)
			}
			if err != nil {
				b.Fatal(err)
			}
			m, err := jupyter.FormatLegacy.Decode(jupyter.Frame{Binary: typ == websocket.BinaryMessage, Data: data})
			if err != nil {
				b.Fatal(err)
			}
			if m.ParentID() == id && m.Type() == "execute_reply" {
				replied = true
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
			}
			if m.ParentID() != id || m.Type() != "stream" {
				continue
			}
			// Count stream messages up to the last line (jupyter_server may
			// drop the idle status of such a cell, and lines, at its iopub
			// high-water mark), or to 3 s of silence after the reply.
			msgs++
			nlines += bytes.Count(m.Content, []byte(`\n`))
			lastAt = time.Now()
			if replied {
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
			}
			if bytes.Contains(m.Content, []byte(last)) {
				return msgs, nlines, lastAt.Sub(start)
			}
		}
	}
	cell(jurl, "for i in range(1000):\n    print('line', i, flush=True)", `line 999\n"`) // warm the kernel up
	last := fmt.Sprintf(`line %d\n"`, lines-1)
	var dMsgs, pMsgs, dLines, pLines int
	var dDur, pDur time.Duration
	b.ResetTimer()
	for b.Loop() {
		n, l, d := cell(jurl, code, last)
		dMsgs, dLines, dDur = dMsgs+n, dLines+l, dDur+d
		n, l, d = cell(px.URL, code, last)
		pMsgs, pLines, pDur = pMsgs+n, pLines+l, pDur+d
	}
	b.StopTimer()
	direct := float64(dMsgs) / dDur.Seconds()
	proxied := float64(pMsgs) / pDur.Seconds()
	b.ReportMetric(direct, "direct-msgs/s")
	b.ReportMetric(proxied, "proxy-msgs/s")
	b.ReportMetric(100*proxied/direct, "proxy-%-of-direct")
	b.ReportMetric(float64(b.N*lines-dLines), "direct-lines-lost")
	b.ReportMetric(float64(b.N*lines-pLines), "proxy-lines-lost")
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
