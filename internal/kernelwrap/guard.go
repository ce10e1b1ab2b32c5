package kernelwrap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// The frontend's sockets listen through a guarded transport, because
// go-zeromq trusts its peers in two ways a kernel's port cannot:
//
//   - it runs each new connection's ZMTP handshake inside its accept loop,
//     without a deadline, so one client that connects and says nothing (a
//     port scan, a stuck process) keeps every later frontend out of that
//     socket for good;
//   - it writes to a peer from the sending goroutine, so a peer that stops
//     reading stalls every message sent after it (see guardConn.write);
//   - it allocates each frame at the size the peer announces before reading
//     it, so a single 9-byte frame header announcing a terabyte ends the
//     wrapper (and with it the kernel) with "out of memory".
//
// The guard accepts connections in a goroutine of its own and hands one to
// go-zeromq only once the peer has sent its greeting and READY command
// (within handshakeTimeout; both libzmq and go-zeromq send them without
// waiting for the other side's READY), and it cuts a connection whose frames
// would exceed maxFrontMessage before go-zeromq sees the frame header.
const (
	guardedTCP = "hush-guarded-tcp"
	guardedIPC = "hush-guarded-ipc"

	// handshakeTimeout bounds how long a new connection may take to send
	// its greeting and READY command.
	handshakeTimeout = 10 * time.Second
	// maxFrontMessage bounds one multipart message from a frontend (all its
	// frames together): widget uploads fit, a forged size cannot exhaust
	// memory.
	maxFrontMessage = 256 << 20
	// maxHandshakeCommand bounds the READY command (socket type and
	// identity metadata: a few hundred bytes in practice).
	maxHandshakeCommand = 64 << 10
	// frontWriteTimeout is how long a write to a frontend may block (the
	// peer reads nothing) before the connection is cut.
	frontWriteTimeout = 10 * time.Second
	// maxFrontBacklog bounds the bytes queued for one frontend that reads
	// too slowly; past it the connection is cut (a single larger message
	// is still accepted when nothing else is queued).
	maxFrontBacklog = 16 << 20
	// maxSpareBuffer is the largest written buffer a connection keeps for
	// reuse: one burst of output should not pin its size for good.
	maxSpareBuffer = 1 << 20
	// closeFlushTimeout bounds how long closing a connection waits for its
	// queued bytes to be written.
	closeFlushTimeout = time.Second
	// zmtpGreetingLen is the length of a ZMTP 3 greeting.
	zmtpGreetingLen = 64
)

// errSlowPeer cuts a frontend whose backlog passed maxFrontBacklog.
var errSlowPeer = errors.New("frontend reads too slowly: its backlog passed the bound, connection cut")

// errFrameTooLarge cuts a connection announcing a frame beyond the bounds.
var errFrameTooLarge = errors.New("zmtp frame exceeds the size the kernel wrapper accepts")

func init() {
	// go-zeromq resolves transports by name in a registry of its own; the
	// guarded ones are added once, next to its "tcp" and "ipc".
	for name, network := range map[string]string{guardedTCP: "tcp", guardedIPC: "unix"} {
		if err := zmq4.RegisterTransport(name, guardedTransport{network: network, base: transport.New(network)}); err != nil {
			panic(fmt.Sprintf("kernelwrap: register transport %s: %v", name, err))
		}
	}
}

// guardedTransport is a go-zeromq transport whose listeners guard the
// handshake and frame sizes; dialing is that of the base transport.
type guardedTransport struct {
	network string
	base    transport.Transport
}

func (g guardedTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	return g.base.Dial(ctx, d, addr)
}

func (g guardedTransport) Addr(ep string) (string, error) { return g.base.Addr(ep) }

func (g guardedTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := g.base.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	gl := &guardListener{Listener: l, ready: make(chan net.Conn), done: make(chan struct{})}
	go gl.acceptLoop()
	return gl, nil
}

// guardListener accepts connections and passes on those that completed
// the first steps of the handshake in time.
type guardListener struct {
	net.Listener
	ready     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (l *guardListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		go l.handshake(c)
	}
}

// handshake sends the greeting go-zeromq would send, reads the peer's
// greeting and READY command, and queues the connection for Accept.
func (l *guardListener) handshake(c net.Conn) {
	gc, err := prefetchHandshake(c)
	if err != nil {
		c.Close()
		return
	}
	select {
	case l.ready <- gc:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next connection whose peer has greeted.
func (l *guardListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections still in their handshake are closed.
func (l *guardListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// nullGreeting is the greeting go-zeromq sends as a server with the NULL
// mechanism: signature, version 3.0, "NULL", as-server 0, padding.
func nullGreeting() []byte {
	g := make([]byte, zmtpGreetingLen)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:32], "NULL")
	return g
}

// prefetchHandshake reads the peer's greeting and first command within
// handshakeTimeout, having sent our greeting so that a libzmq peer (which
// waits for the other side's signature) sends its own.
func prefetchHandshake(c net.Conn) (net.Conn, error) {
	if err := c.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return nil, err
	}
	greeting := nullGreeting()
	if _, err := c.Write(greeting); err != nil {
		return nil, err
	}
	var pre bytes.Buffer
	if _, err := io.CopyN(&pre, c, zmtpGreetingLen); err != nil {
		return nil, err
	}
	if err := readCommand(c, &pre); err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return newGuardConn(c, pre.Bytes(), greeting), nil
}

// readCommand copies one ZMTP command frame of at most
// maxHandshakeCommand bytes from r to w.
func readCommand(r io.Reader, w *bytes.Buffer) error {
	var flags [1]byte
	if _, err := io.ReadFull(r, flags[:]); err != nil {
		return err
	}
	if flags[0]&flagCommand == 0 {
		return errors.New("zmtp: expected a command after the greeting")
	}
	w.WriteByte(flags[0])
	sizeLen := 1
	if flags[0]&flagLong != 0 {
		sizeLen = 8
	}
	var sz [8]byte
	if _, err := io.ReadFull(r, sz[:sizeLen]); err != nil {
		return err
	}
	w.Write(sz[:sizeLen])
	size := uint64(sz[0])
	if sizeLen == 8 {
		size = binary.BigEndian.Uint64(sz[:])
	}
	if size > maxHandshakeCommand {
		return errFrameTooLarge
	}
	_, err := io.CopyN(w, r, int64(size))
	return err
}

// ZMTP frame flags.
const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

// guardConn replays the prefetched handshake to go-zeromq, swallows the
// greeting it writes (already sent), and checks every later frame header
// before go-zeromq reads it.
type guardConn struct {
	net.Conn
	pre    []byte // prefetched greeting and READY, not yet read
	unsent []byte // the part of our greeting go-zeromq has yet to write
	frames frameCheck

	// The write side: write queues, writeLoop writes (see write).
	wmu      sync.Mutex
	wcond    *sync.Cond // signalled on new bytes, failure and closing
	wbuf     []byte     // bytes queued, not yet written
	werr     error      // sticky: the write side failed or was closed
	wclosing bool       // Close was called: drain, then stop
	wstarted bool
	wdone    chan struct{} // closed when writeLoop returns
}

// newGuardConn returns a guardConn over c that first replays pre to
// go-zeromq and swallows the greeting (already sent) it writes.
func newGuardConn(c net.Conn, pre, greeting []byte) *guardConn {
	gc := &guardConn{Conn: c, pre: pre, unsent: greeting}
	gc.wcond = sync.NewCond(&gc.wmu)
	return gc
}

func (c *guardConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if ferr := c.frames.scan(p[:n]); ferr != nil {
			c.Conn.Close()
			return 0, ferr
		}
	}
	return n, err
}

func (c *guardConn) Write(p []byte) (int, error) {
	if len(c.unsent) == 0 {
		return c.write(p)
	}
	k := min(len(p), len(c.unsent))
	if !bytes.Equal(p[:k], c.unsent[:k]) {
		c.Conn.Close()
		return 0, errors.New("zmtp: unexpected greeting from go-zeromq")
	}
	c.unsent = c.unsent[k:]
	if k == len(p) {
		return len(p), nil
	}
	n, err := c.write(p[k:])
	return k + n, err
}

// write queues p for the connection's own writer goroutine and returns at
// once. go-zeromq writes to a peer from the goroutine that sends: its PUB
// socket sends each iopub message to every subscriber in turn from one
// goroutine, and the wrapper sends every reply from one goroutine, so a
// peer that stops reading would stall the kernel's output for every
// frontend (and fill go-zeromq's shared queue, which then drops messages
// for all of them). Here a slow peer only grows its own backlog; libzmq
// drops what a full peer cannot take, hush cuts the peer instead: when it
// reads nothing for frontWriteTimeout, or its backlog passes
// maxFrontBacklog. A cut SUB or DEALER reconnects, as after any network
// error.
func (c *guardConn) write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if len(c.wbuf) > 0 && len(c.wbuf)+len(p) > maxFrontBacklog {
		c.werr = errSlowPeer
		c.wcond.Broadcast()
		c.Conn.Close() // the blocked writer and the reader end
		return 0, c.werr
	}
	c.wbuf = append(c.wbuf, p...)
	if !c.wstarted {
		c.wstarted = true
		c.wdone = make(chan struct{})
		go c.writeLoop()
	}
	c.wcond.Signal()
	return len(p), nil
}

// writeLoop writes the backlog to the peer, each write within
// frontWriteTimeout, until the connection fails or is closed.
func (c *guardConn) writeLoop() {
	defer close(c.wdone)
	var spare []byte
	for {
		c.wmu.Lock()
		for len(c.wbuf) == 0 && c.werr == nil && !c.wclosing {
			c.wcond.Wait()
		}
		if c.werr != nil || len(c.wbuf) == 0 { // failed, or closing and drained
			c.wmu.Unlock()
			return
		}
		out := c.wbuf
		c.wbuf, spare = spare[:0], nil
		c.wmu.Unlock()

		err := c.Conn.SetWriteDeadline(time.Now().Add(frontWriteTimeout))
		if err == nil {
			_, err = c.Conn.Write(out)
		}
		if err != nil {
			c.wmu.Lock()
			if c.werr == nil {
				c.werr = err
			}
			c.wmu.Unlock()
			c.Conn.Close() // later writes fail at once, the reader ends
			return
		}
		if cap(out) <= maxSpareBuffer {
			spare = out
		} // else let a burst's large buffer go
	}
}

// Close writes out what is queued (for at most closeFlushTimeout: a reply
// to shutdown_request is the last message a frontend gets) and closes the
// connection.
func (c *guardConn) Close() error {
	c.wmu.Lock()
	c.wclosing = true
	c.wcond.Broadcast()
	done := c.wdone
	c.wmu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(closeFlushTimeout):
		}
	}
	c.wmu.Lock()
	if c.werr == nil {
		c.werr = net.ErrClosed
	}
	c.wcond.Broadcast()
	c.wmu.Unlock()
	return c.Conn.Close()
}

// frameCheck follows the ZMTP framing of a byte stream (after the
// greeting) and rejects a frame that would make its message exceed
// maxFrontMessage.
type frameCheck struct {
	state    int // 0: flags, 1: size bytes, 2: body
	flags    byte
	size     [8]byte
	sizeNeed int
	sizeHave int
	body     uint64 // body bytes left
	msgTotal uint64 // bytes of the current multipart message so far
}

func (f *frameCheck) scan(p []byte) error {
	for len(p) > 0 {
		switch f.state {
		case 0:
			f.flags, p = p[0], p[1:]
			f.sizeNeed, f.sizeHave, f.state = 1, 0, 1
			if f.flags&flagLong != 0 {
				f.sizeNeed = 8
			}
		case 1:
			k := copy(f.size[f.sizeHave:f.sizeNeed], p)
			f.sizeHave += k
			p = p[k:]
			if f.sizeHave < f.sizeNeed {
				continue
			}
			size := uint64(f.size[0])
			if f.sizeNeed == 8 {
				size = binary.BigEndian.Uint64(f.size[:])
			}
			if size > maxFrontMessage || f.msgTotal+size > maxFrontMessage {
				return errFrameTooLarge
			}
			f.msgTotal += size
			f.body, f.state = size, 2
			f.endFrameIfDone()
		case 2:
			k := uint64(len(p))
			if k > f.body {
				k = f.body
			}
			f.body -= k
			p = p[k:]
			f.endFrameIfDone()
		}
	}
	return nil
}

// endFrameIfDone moves on to the next frame once the body is read; the
// last frame of a message (or a command) starts a new message.
func (f *frameCheck) endFrameIfDone() {
	if f.body != 0 {
		return
	}
	f.state = 0
	if f.flags&flagMore == 0 || f.flags&flagCommand != 0 {
		f.msgTotal = 0
	}
}
