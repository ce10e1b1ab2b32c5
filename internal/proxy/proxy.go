// Package proxy is the redacting reverse proxy behind "hush proxy": it sits
// between a browser and an unmodified jupyter_server and makes sure no
// registered secret leaves through it.
//
//   - Kernel websockets (/api/kernels/<id>/channels) are terminated: the
//     proxy dials upstream first with the client's subprotocols, answers the
//     client with exactly the one upstream chose, and runs every
//     kernel→client message through msgredact (decode with the negotiated
//     wire format, redact every string and buffer, re-encode). A frame that
//     cannot be handled is replaced by a visible notice, never forwarded raw.
//     Messages of a cell may wait behind the held start of a possible
//     secret; one timer per connection, set to msgredact's deadline,
//     releases them at most 250 ms after they came (the held start then
//     as [REDACTED]) even when the kernel sends nothing more.
//   - The terminal websocket (/terminals/websocket/<n>) is redacted as a
//     byte stream, with one streaming writer per connection.
//   - Any other websocket has every server→client message redacted whole.
//   - Every HTTP answer body is redacted: notebook and file models of
//     /api/contents string by string (base64 file content decoded first),
//     everything else (/files/, /nbconvert/, pages, assets) as a byte stream.
//
// Client→server traffic passes unchanged: it goes to the kernel or the
// server, not out. The Host header is preserved, so jupyter_server's own
// origin and XSRF checks keep working unchanged behind the proxy.
package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/redact"
)

// DefaultMaxFrame bounds one websocket message in either direction.
const DefaultMaxFrame = 64 << 20

// DefaultMaxModel bounds an /api/contents answer the proxy redacts as JSON.
const DefaultMaxModel = 256 << 20

// Options configures a Proxy.
type Options struct {
	// Upstream is the jupyter_server base URL, e.g. "http://127.0.0.1:8888".
	Upstream string
	// Redactor holds the secrets to hide. Required.
	Redactor *redact.Redactor
	// MaxFrame bounds one websocket message; 0 means DefaultMaxFrame.
	MaxFrame int64
	// MaxModel bounds a contents model redacted as JSON; 0 means DefaultMaxModel.
	MaxModel int64
	// Logf receives operational messages (never a value or a token); nil
	// discards them.
	Logf func(format string, args ...any)
	// Transport sends upstream HTTP requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Dialer dials upstream websockets; nil means a default dialer.
	Dialer *websocket.Dialer
}

// Proxy is an http.Handler forwarding to jupyter_server with redaction.
type Proxy struct {
	upstream *url.URL
	red      *redact.Redactor
	maxFrame int64
	maxModel int64
	logf     func(string, ...any)
	rp       *httputil.ReverseProxy
	dialer   *websocket.Dialer

	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	closed bool
}

// New returns a Proxy for opts.
func New(opts Options) (*Proxy, error) {
	if opts.Redactor == nil {
		return nil, errors.New("proxy: a redactor is required")
	}
	u, err := url.Parse(opts.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy: upstream %q is not an http(s) URL", opts.Upstream)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	p := &Proxy{
		upstream: u,
		red:      opts.Redactor,
		maxFrame: opts.MaxFrame,
		maxModel: opts.MaxModel,
		logf:     opts.Logf,
		dialer:   opts.Dialer,
		conns:    make(map[*websocket.Conn]struct{}),
	}
	if p.maxFrame <= 0 {
		p.maxFrame = DefaultMaxFrame
	}
	if p.maxModel <= 0 {
		p.maxModel = DefaultMaxModel
	}
	if p.logf == nil {
		p.logf = func(string, ...any) {}
	}
	if p.dialer == nil {
		p.dialer = &websocket.Dialer{
			Proxy:            nil,
			HandshakeTimeout: websocket.DefaultDialer.HandshakeTimeout,
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  64 << 10,
		}
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		ModifyResponse: p.modifyResponse,
		Transport:      opts.Transport,
		FlushInterval:  -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.logf("hush proxy: %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, "hush proxy: the upstream Jupyter server failed to answer", http.StatusBadGateway)
		},
	}
	return p, nil
}

var (
	kernelChannels = regexp.MustCompile(`/api/kernels/[^/]+/channels$`)
	terminalSocket = regexp.MustCompile(`/terminals/websocket/[^/]+$`)
)

// ServeHTTP routes websockets to their redacting pumps and everything else
// to the reverse proxy.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		switch {
		case kernelChannels.MatchString(r.URL.Path):
			p.serveWebsocket(w, r, kindKernel)
		case terminalSocket.MatchString(r.URL.Path):
			p.serveWebsocket(w, r, kindTerminal)
		default:
			p.serveWebsocket(w, r, kindOther)
		}
		return
	}
	p.rp.ServeHTTP(w, r)
}

// Close ends every open websocket connection (with 1001 going away).
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	conns := make([]*websocket.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "hush proxy shutting down"), deadlineSoon())
		_ = c.Close()
	}
}

func (p *Proxy) track(c *websocket.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c *websocket.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.upstream)
	pr.SetXForwarded()
	// Keep the browser's Host: jupyter_server compares Origin with Host and
	// derives its login cookie name from it.
	pr.Out.Host = pr.In.Host
	// Bodies are rewritten by redaction: ask for identity encoding and whole
	// bodies, so lengths and ranges are computed on redacted bytes.
	pr.Out.Header.Del("Accept-Encoding")
	pr.Out.Header.Del("Range")
	pr.Out.Header.Del("If-Range")
}

// modifyResponse installs the redaction of the body.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.Body == nil || resp.Body == http.NoBody || resp.Request.Method == http.MethodHead {
		return nil
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// We asked for identity; a compressed body cannot be redacted.
		resp.Body.Close()
		return fmt.Errorf("upstream answered with Content-Encoding %q, which hush cannot redact", ce)
	}
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Header.Del("Accept-Ranges")
	resp.Header.Del("Etag") // the redacted body is another representation
	if isContentsAPI(resp.Request.URL.Path) && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		body, err := p.redactContents(resp.Body)
		resp.Body.Close()
		if err != nil {
			p.logf("hush proxy: %s: %v", resp.Request.URL.Path, err)
			return fmt.Errorf("redact contents model: %w", err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	resp.Body = p.redactStream(resp.Body)
	return nil
}

func isContentsAPI(path string) bool {
	return strings.Contains(path, "/api/contents")
}

// redactStream returns a reader of body's bytes through a redact.Writer.
func (p *Proxy) redactStream(body io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		defer body.Close()
		rw := p.red.NewWriter(pw)
		buf := make([]byte, 32<<10)
		for {
			n, err := body.Read(buf)
			if n > 0 {
				if _, werr := rw.Write(buf[:n]); werr != nil {
					pw.CloseWithError(werr)
					return
				}
			}
			if err != nil {
				cerr := rw.Close()
				if err == io.EOF {
					err = cerr
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// closeGrace bounds how long a closing websocket waits for its peer.
const closeGrace = 5 * time.Second

func deadlineSoon() time.Time { return time.Now().Add(closeGrace) }
