// Package kernelwrap is the kernel wrapper behind "hush kernel run": it
// stands between a Jupyter frontend and any Jupyter kernel and redacts every
// message the kernel sends, so whatever frontend shows or saves the output
// (Notebook, Lab, VS Code, nbconvert, papermill, console) sees [REDACTED]
// in place of a registered secret.
//
// The wrapper reads the frontend's connection file, binds those sockets
// itself (ROUTER for shell, control and stdin, PUB for iopub, REP for the
// heartbeat), writes a second connection file (loopback, free ports, fresh
// random key, mode 0600) for the inner kernel, starts it and connects to it
// as a client. Every message is verified with the key of the side it came
// from and signed again with the other side's key; a message that fails
// verification is dropped and logged, never forwarded.
//
// Frontend→kernel messages pass unchanged. Kernel→frontend messages (iopub,
// shell and control replies, stdin input requests) all go through one
// kernel/msgredact Filter, fed by one goroutine in arrival order; what
// cannot be checked is replaced by a notice (fail closed). The inner
// kernel's own stdout and stderr are redacted too.
//
// Lifecycle: SIGINT to the wrapper (jupyter_client's interrupt in "signal"
// mode) goes to the inner kernel's process group; an interrupt_request on
// control ("message" mode) and shutdown_request (with or without restart)
// are forwarded like any request. When the inner kernel exits, the wrapper
// exits with its status; on Linux the inner kernel gets SIGKILL when the
// wrapper dies, even of SIGKILL.
package kernelwrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/hush-secrets/hush/internal/bridge"
	"github.com/hush-secrets/hush/internal/runner"
	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/kernel/msgredact"
	"github.com/hush-secrets/hush/redact"
)

// ConnectionFilePlaceholder is replaced, in every argument of the inner
// kernel's argv, by the path of the inner connection file.
const ConnectionFilePlaceholder = "{connection_file}"

// Options configures one Run.
type Options struct {
	// ConnectionFile is the frontend's connection file (the wrapped
	// kernelspec's {connection_file}).
	ConnectionFile string
	// Argv is the inner kernel's command line. ConnectionFilePlaceholder and
	// the path ConnectionFile (jupyter_client has already substituted it for
	// {connection_file} in a kernelspec's argv) are replaced by the inner
	// connection file's path in each argument. Argv[0] is looked up in PATH.
	Argv []string
	// Env is the inner kernel's base environment (usually os.Environ()).
	// Every DATABRICKS_* variable and HUSH_BRIDGE_FILE are removed; with a
	// Bridge, DATABRICKS_HOST/TOKEN/AUTH_TYPE of that bridge are added.
	Env []string
	// Redactor holds the secrets to hide; the bridge adds to it. Required.
	Redactor *redact.Redactor
	// Bridge, when set, is served on a loopback port for the inner kernel,
	// with its token registered with Redactor first.
	Bridge *bridge.Bridge
	// Preload registers every secret the bridge's profile can read before
	// the inner kernel starts.
	Preload bool
	// Refresh is how often the bridge looks for new or changed secrets
	// (zero: never).
	Refresh time.Duration
	// Signals are handled while the kernel runs: SIGINT is sent to the inner
	// kernel's process group, any other signal too, and the wrapper then
	// waits for the kernel to exit (killing it after TermGrace).
	Signals <-chan os.Signal
	// Stdout and Stderr receive the inner kernel's own output, redacted.
	Stdout, Stderr io.Writer
	// Logf receives the wrapper's log lines (never a value or a key); nil
	// discards them.
	Logf func(format string, args ...any)
}

// TermGrace is how long the inner kernel has to exit after SIGTERM (a
// signal to the wrapper, or ctx done) before it gets SIGKILL.
const TermGrace = 5 * time.Second

// drainQuiet and drainMax bound how long the wrapper keeps relaying the
// inner kernel's last messages (a shutdown_reply, the final status) after
// the kernel exited: until no message came for drainQuiet, at most drainMax.
const (
	drainQuiet = 150 * time.Millisecond
	drainMax   = 2 * time.Second
	pubFlush   = 200 * time.Millisecond
)

// Run wraps the inner kernel until it exits and returns its exit code
// (128+N when it was killed by signal N). An error means the wrapper could
// not run the kernel at all. When ctx is done the kernel gets SIGTERM, then
// SIGKILL after TermGrace.
func Run(ctx context.Context, opts Options) (int, error) {
	if len(opts.Argv) == 0 {
		return 0, errNoArgv
	}
	if opts.Redactor == nil {
		return 0, errors.New("kernel wrapper: a redactor is required")
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ci, err := ReadConnectionFile(opts.ConnectionFile)
	if err != nil {
		return 0, err
	}
	frontSigner, err := jupyter.NewSigner(ci.SignatureScheme, []byte(ci.Key))
	if err != nil {
		return 0, fmt.Errorf("connection file %s: %w", opts.ConnectionFile, err)
	}
	if !frontSigner.Enabled() {
		logf("hush kernel: warning: the connection file has no key; messages from the frontend are not authenticated")
	}
	env, preloaded, stopBridge, err := startBridge(ctx, opts, logf)
	if err != nil {
		return 0, err
	}
	defer stopBridge()

	frontCtx, closeFront := context.WithCancel(context.WithoutCancel(ctx))
	defer closeFront()
	front, err := bindFrontend(frontCtx, ci, frontSigner)
	if err != nil {
		return 0, err
	}
	defer front.close()
	innerCtx, closeInner := context.WithCancel(frontCtx)
	defer closeInner()

	innerCI, err := innerConnection(ci.SignatureScheme)
	if err != nil {
		return 0, err
	}
	innerSigner, err := jupyter.NewSigner(innerCI.SignatureScheme, []byte(innerCI.Key))
	if err != nil {
		return 0, err
	}
	innerPath, removeInner, err := writeConnectionFile(innerCI)
	if err != nil {
		return 0, err
	}
	defer removeInner()

	k, err := startKernel(opts, env, innerPath)
	if err != nil {
		return 0, err
	}
	go k.handleSignals(ctx, opts.Signals, logf)

	w := &wrapper{front: front, logf: logf, filter: msgredact.New(opts.Redactor), preloaded: preloaded}
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		w.run(innerCtx, frontCtx, innerCI, innerSigner)
	}()

	<-k.exited
	w.drain()
	stopBridge() // also ends a preload still running
	closeInner()
	<-relayDone
	// The PUB socket sends from a queue of its own: give it a moment to
	// deliver the last messages before the frontend sockets close.
	time.Sleep(pubFlush)
	closeFront()
	w.frontLoops.Wait()
	k.killGroup()
	return k.code(), k.outputErr()
}

// startBridge serves opts.Bridge on loopback (token registered first,
// refreshed in the background) and returns the inner kernel's environment,
// a channel closed once every readable secret is registered (preloading
// runs while the kernel boots; the relay waits for it before the first
// kernel message goes out), and a function that stops the bridge.
func startBridge(ctx context.Context, opts Options, logf func(string, ...any)) ([]string, <-chan struct{}, func(), error) {
	base := withoutVar(opts.Env, "HUSH_BRIDGE_FILE")
	preloaded := make(chan struct{})
	if opts.Bridge == nil {
		close(preloaded)
		return runner.ChildEnv(base, "", ""), preloaded, func() {}, nil
	}
	if err := opts.Redactor.Add([]byte(opts.Bridge.Token())); err != nil {
		return nil, nil, nil, fmt.Errorf("register the bridge token: %w", err)
	}
	srv, err := opts.Bridge.Listen("127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("start the secrets bridge: %w", err)
	}
	rctx, stopRefresh := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(preloaded)
		if !opts.Preload {
			return
		}
		if st, err := opts.Bridge.LoadAll(rctx); err != nil {
			logf("hush kernel: warning: preloading secrets from %s failed (values fetched with dbutils are still redacted): %v", opts.Bridge.Upstream(), err)
		} else {
			logf("hush kernel: %d secrets of %d scopes registered (%d not readable)", st.Secrets, st.Scopes, st.Denied)
		}
	}()
	go func() {
		<-preloaded
		opts.Bridge.RunRefresh(rctx, opts.Refresh)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stopRefresh()
			<-preloaded
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = srv.Close(cctx)
		})
	}
	return runner.ChildEnv(base, srv.URL, opts.Bridge.Token()), preloaded, stop, nil
}

// withoutVar returns env without the variable name.
func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// wrapper runs the relay once the inner kernel's sockets are reachable.
type wrapper struct {
	front  *side
	filter *msgredact.Filter
	logf   func(string, ...any)
	// lastInner is when the last message from the inner kernel arrived
	// (UnixNano), so the drain after its exit knows when it is quiet.
	lastInner atomic.Int64
	// preloaded is closed once the bridge's secrets are registered; no
	// kernel message is redacted and sent before.
	preloaded <-chan struct{}
	// frontLoops counts the goroutines reading frontend sockets (requests,
	// heartbeat); they end when the frontend sockets close.
	frontLoops sync.WaitGroup
}

// socketPair is an inner kernel socket and the frontend socket of the same
// channel (nil for iopub, which carries nothing from the frontend).
type socketPair struct {
	inner, front zmq4.Socket
}

// run connects to the inner kernel and relays until innerCtx is done, then
// sends what the filter still holds and returns. Requests and heartbeats
// from the frontend are read until frontCtx is done (see wait).
func (w *wrapper) run(innerCtx, frontCtx context.Context, innerCI ConnectionInfo, innerSigner *jupyter.Signer) {
	var beat innerBeat
	w.frontLoops.Add(2)
	go func() { defer w.frontLoops.Done(); echoHeartbeat(frontCtx, w.front.hb, &beat, w.logf) }()
	go func() {
		defer w.frontLoops.Done()
		pingInner(innerCtx, innerCI.endpoint(innerCI.HBPort), &beat, w.logf)
	}()

	var id [8]byte
	_, _ = rand.Read(id[:])
	inner, err := dialInner(innerCtx, innerCI, innerSigner, "hush-"+hex.EncodeToString(id[:]))
	if err != nil {
		if innerCtx.Err() == nil {
			w.logf("hush kernel: %v", err)
		}
		return
	}
	defer inner.close()
	r := &relay{front: w.front, inner: inner, filter: w.filter, logf: w.logf}

	in := make(chan inbound, 256)
	var readers sync.WaitGroup
	for channel, p := range map[string]socketPair{
		jupyter.ChannelShell:   {inner.shell, w.front.shell},
		jupyter.ChannelControl: {inner.control, w.front.control},
		jupyter.ChannelStdin:   {inner.stdin, w.front.stdin},
		jupyter.ChannelIOPub:   {inner.iopub, nil},
	} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r.readReplies(innerCtx, channel, p.inner, in, &w.lastInner)
		}()
		if p.front != nil {
			w.frontLoops.Add(1)
			go func() {
				defer w.frontLoops.Done()
				r.forwardRequests(frontCtx, channel, p.front, p.inner)
			}()
		}
	}
	redacted := make(chan struct{})
	go func() {
		defer close(redacted)
		<-w.preloaded
		r.redactLoop(in)
	}()
	<-innerCtx.Done()
	inner.close()
	readers.Wait()
	close(in)
	<-redacted
}

// drain waits until the inner kernel's last messages went through: no
// message for drainQuiet, at most drainMax.
func (w *wrapper) drain() {
	deadline := time.Now().Add(drainMax)
	for time.Now().Before(deadline) {
		last := time.Unix(0, w.lastInner.Load())
		if time.Since(last) >= drainQuiet {
			return
		}
		time.Sleep(drainQuiet / 3)
	}
}
