package kernelwrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/kernel/msgredact"
)

// side is one end of the relay: the five sockets and the signer of its key.
type side struct {
	shell, control, stdin, iopub, hb zmq4.Socket
	signer                           *jupyter.Signer
}

func (s *side) close() {
	for _, sk := range []zmq4.Socket{s.shell, s.control, s.stdin, s.iopub, s.hb} {
		if sk != nil {
			_ = sk.Close()
		}
	}
}

// iopubHWM bounds the iopub messages queued for slow frontends.
const iopubHWM = 10000

// bindFrontend binds the sockets the frontend's connection file names:
// ROUTER for shell, control and stdin, PUB for iopub, REP for the heartbeat.
func bindFrontend(ctx context.Context, ci ConnectionInfo, signer *jupyter.Signer) (*side, error) {
	s := &side{
		shell:   zmq4.NewRouter(ctx),
		control: zmq4.NewRouter(ctx),
		stdin:   zmq4.NewRouter(ctx),
		iopub:   zmq4.NewPub(ctx),
		hb:      zmq4.NewRep(ctx),
		signer:  signer,
	}
	// The PUB socket queues what it has not sent yet without bound unless
	// given a high-water mark; like libzmq (whose default is 1,000), it then
	// drops new messages while a subscriber is too slow.
	if err := s.iopub.SetOption(zmq4.OptionHWM, iopubHWM); err != nil {
		s.close()
		return nil, fmt.Errorf("iopub high-water mark: %w", err)
	}
	for _, b := range []struct {
		name string
		sk   zmq4.Socket
		port int
	}{{"shell", s.shell, ci.ShellPort}, {"control", s.control, ci.ControlPort}, {"stdin", s.stdin, ci.StdinPort},
		{"iopub", s.iopub, ci.IOPubPort}, {"hb", s.hb, ci.HBPort}} {
		if err := b.sk.Listen(ci.endpoint(b.port)); err != nil {
			s.close()
			return nil, fmt.Errorf("bind the frontend's %s socket %s: %w", b.name, ci.endpoint(b.port), err)
		}
	}
	return s, nil
}

// dialInner connects to the inner kernel as a client: DEALERs for shell,
// control and stdin (one identity for all three, so the inner kernel's
// input_request on stdin reaches the wrapper that sent the execute_request
// on shell), SUB subscribed to everything for iopub. Dialing retries until
// ctx is done, since the kernel binds its sockets only once it has started.
func dialInner(ctx context.Context, ci ConnectionInfo, signer *jupyter.Signer, id string) (*side, error) {
	opts := []zmq4.Option{zmq4.WithID(zmq4.SocketIdentity(id)), zmq4.WithDialerMaxRetries(-1), zmq4.WithDialerRetry(50 * time.Millisecond)}
	s := &side{
		shell:   zmq4.NewDealer(ctx, opts...),
		control: zmq4.NewDealer(ctx, opts...),
		stdin:   zmq4.NewDealer(ctx, opts...),
		iopub:   zmq4.NewSub(ctx, zmq4.WithDialerMaxRetries(-1), zmq4.WithDialerRetry(50*time.Millisecond)),
		signer:  signer,
	}
	if err := s.iopub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		s.close()
		return nil, fmt.Errorf("subscribe to the inner kernel's iopub: %w", err)
	}
	for _, d := range []struct {
		name string
		sk   zmq4.Socket
		port int
	}{{"iopub", s.iopub, ci.IOPubPort}, {"shell", s.shell, ci.ShellPort}, {"control", s.control, ci.ControlPort}, {"stdin", s.stdin, ci.StdinPort}} {
		if err := d.sk.Dial(ci.endpoint(d.port)); err != nil {
			s.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("connect to the inner kernel's %s socket: %w", d.name, err)
		}
	}
	return s, nil
}

// inbound is one verified kernel→frontend message with where it came from.
type inbound struct {
	channel string
	idents  [][]byte
	msg     *jupyter.Message
}

// relay moves messages between the frontend and the inner kernel.
type relay struct {
	front, inner *side
	filter       *msgredact.Filter
	logf         func(format string, args ...any)
	// topicPrefix is the prefix of the inner kernel's iopub topics
	// ("kernel.<id>."), used for the messages the filter releases.
	topicPrefix string
	// routes are the identities of replies waiting to be sent.
	routes routes
}

// forwardRequests relays messages the frontend sends on one ROUTER socket
// to the matching inner DEALER, unchanged but signed with the inner key. It
// returns when the socket is closed (ctx done).
func (r *relay) forwardRequests(ctx context.Context, channel string, from, to zmq4.Socket) {
	for {
		zm, err := from.Recv()
		if err != nil {
			if ctx.Err() == nil {
				r.logf("hush kernel: %s: receive from frontend: %v", channel, err)
			}
			return
		}
		idents, m, err := jupyter.DecodeZMQ(zm.Frames, r.front.signer)
		if err != nil {
			r.logf("hush kernel: dropped a %s message from the frontend: %v", channel, err)
			continue
		}
		if err := to.Send(zmq4.NewMsgFrom(jupyter.EncodeZMQ(idents, m, r.inner.signer)...)); err != nil {
			if ctx.Err() == nil {
				r.logf("hush kernel: %s: send to the inner kernel: %v", channel, err)
			}
			return
		}
	}
}

// readReplies reads the inner kernel's messages on one socket, verifies them
// with the inner key and queues them for the single redacting goroutine.
func (r *relay) readReplies(ctx context.Context, channel string, from zmq4.Socket, out chan<- inbound, last *atomic.Int64) {
	for {
		zm, err := from.Recv()
		if err != nil {
			// EOF: the inner kernel closed its end (it is exiting).
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
				r.logf("hush kernel: %s: receive from the inner kernel: %v", channel, err)
			}
			return
		}
		last.Store(time.Now().UnixNano())
		idents, m, err := jupyter.DecodeZMQ(zm.Frames, r.inner.signer)
		if err != nil {
			r.logf("hush kernel: dropped a %s message from the inner kernel: %v", channel, err)
			continue
		}
		m.Channel = channel
		select {
		case out <- inbound{channel: channel, idents: idents, msg: m}:
		case <-ctx.Done():
			return
		}
	}
}

// redactLoop is the one goroutine that feeds the msgredact.Filter (which is
// not safe for concurrent use): every kernel→frontend message passes
// through it in arrival order, and what the filter releases is signed with
// the frontend's key and sent on the socket of its channel. A timer set to
// Filter.Deadline releases messages that waited behind held stream text. It
// returns when in is closed, after releasing whatever the filter still
// holds.
func (r *relay) redactLoop(in <-chan inbound) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case ib, ok := <-in:
			if !ok {
				for _, o := range r.filter.Close() {
					r.send(o)
				}
				return
			}
			r.process(ib)
		case now := <-timer.C:
			for _, o := range r.filter.Expire(now) {
				r.send(o)
			}
		}
		if t, ok := r.filter.Deadline(); ok {
			timer.Reset(time.Until(t))
		} else {
			timer.Stop()
		}
	}
}

// process redacts one kernel message and sends what the filter releases.
func (r *relay) process(ib inbound) {
	if ib.channel == jupyter.ChannelIOPub {
		if len(ib.idents) == 1 {
			r.learnTopic(ib)
		}
	} else {
		r.routes.add(ib)
	}
	outs, err := r.filter.Process(ib.msg)
	if err != nil {
		r.logf("hush kernel: a %s message could not be checked for secrets and was replaced by a notice: %v", ib.channel, err)
	}
	for _, o := range outs {
		r.send(o)
	}
}

// learnTopic remembers the inner kernel's iopub topic prefix
// ("kernel.<id>." in ipykernel) from a message whose topic ends in its type.
func (r *relay) learnTopic(ib inbound) {
	topic, typ := string(ib.idents[0]), ib.msg.Type()
	if typ != "" && len(topic) > len(typ) && topic[len(topic)-len(typ):] == typ && topic[len(topic)-len(typ)-1] == '.' {
		r.topicPrefix = topic[:len(topic)-len(typ)]
	}
}

// routes remembers the identities of the inner kernel's replies and input
// requests until they are sent: the filter may release a message later
// than it came (behind held stream text) or replace it with a notice that
// keeps its channel and parent but not its msg_id.
type routes struct {
	byID     map[string]route
	byParent map[string]string // channel + "\x00" + parent msg_id → msg_id
}

type route struct {
	idents          [][]byte
	channel, parent string
}

func (rs *routes) add(ib inbound) {
	if rs.byID == nil {
		rs.byID, rs.byParent = make(map[string]route), make(map[string]string)
	}
	h, _ := jupyter.ParseHeader(ib.msg.Header)
	parent := ib.msg.ParentID()
	rs.byID[h.MsgID] = route{idents: ib.idents, channel: ib.channel, parent: parent}
	rs.byParent[ib.channel+"\x00"+parent] = h.MsgID
}

// take returns and forgets the identities to send o to.
func (rs *routes) take(o *jupyter.Message) ([][]byte, bool) {
	h, _ := jupyter.ParseHeader(o.Header)
	rt, ok := rs.byID[h.MsgID]
	id := h.MsgID
	if !ok || rt.channel != o.Channel {
		id, ok = rs.byParent[o.Channel+"\x00"+o.ParentID()]
		if !ok {
			return nil, false
		}
		rt = rs.byID[id]
	}
	delete(rs.byID, id)
	if rs.byParent[rt.channel+"\x00"+rt.parent] == id {
		delete(rs.byParent, rt.channel+"\x00"+rt.parent)
	}
	return rt.idents, true
}

// send signs o with the frontend's key and sends it on its channel: iopub
// messages with a topic, replies and input requests to the identities of
// the request they answer.
func (r *relay) send(o *jupyter.Message) {
	var sk zmq4.Socket
	var idents [][]byte
	switch o.Channel {
	case jupyter.ChannelIOPub:
		sk = r.front.iopub
		prefix := r.topicPrefix
		if prefix == "" {
			prefix = "kernel.hush."
		}
		idents = [][]byte{[]byte(prefix + o.Type())}
	case jupyter.ChannelShell, jupyter.ChannelControl, jupyter.ChannelStdin:
		var ok bool
		if idents, ok = r.routes.take(o); !ok {
			r.logf("hush kernel: dropped a %s message with no request to answer", o.Channel)
			return
		}
		switch o.Channel {
		case jupyter.ChannelShell:
			sk = r.front.shell
		case jupyter.ChannelControl:
			sk = r.front.control
		default:
			sk = r.front.stdin
		}
	default:
		r.logf("hush kernel: dropped a message for unknown channel %q", o.Channel)
		return
	}
	if err := sk.Send(zmq4.NewMsgFrom(jupyter.EncodeZMQ(idents, o, r.front.signer)...)); err != nil {
		r.logf("hush kernel: %s: send to the frontend: %v", o.Channel, err)
	}
}

// innerBeat tracks the inner kernel's heartbeat: when it last answered a
// ping. Zero means it has not answered yet (the kernel is starting).
type innerBeat struct {
	last atomic.Int64
}

// hbTolerance is how long the inner kernel's heartbeat may stay silent
// before the wrapper stops answering the frontend's pings; hbInterval is how
// often the wrapper pings it.
const (
	hbTolerance = 10 * time.Second
	hbInterval  = time.Second
)

// alive reports whether the frontend's pings should be answered: the inner
// kernel answered its last pings, or has not started answering yet.
func (b *innerBeat) alive(now time.Time) bool {
	last := b.last.Load()
	return last == 0 || now.Sub(time.Unix(0, last)) < hbTolerance
}

// pingInner pings the inner kernel's heartbeat every hbInterval over a
// DEALER (with the empty delimiter a REP socket expects; ipykernel's
// ROUTER echo returns it as is) and records each answer, until ctx is done.
func pingInner(ctx context.Context, endpoint string, beat *innerBeat, logf func(string, ...any)) {
	hb := zmq4.NewDealer(ctx, zmq4.WithDialerMaxRetries(-1), zmq4.WithDialerRetry(50*time.Millisecond))
	defer hb.Close()
	if err := hb.Dial(endpoint); err != nil {
		if ctx.Err() == nil {
			logf("hush kernel: heartbeat: connect to the inner kernel: %v", err)
		}
		return
	}
	go func() {
		for {
			if _, err := hb.Recv(); err != nil {
				return
			}
			beat.last.Store(time.Now().UnixNano())
		}
	}()
	t := time.NewTicker(hbInterval)
	defer t.Stop()
	for {
		if err := hb.Send(zmq4.NewMsgFrom([]byte{}, []byte("ping"))); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// echoHeartbeat answers the frontend's heartbeat pings until the socket is
// closed, as long as the inner kernel's own heartbeat answers (see
// innerBeat): a kernel that stops beating looks dead to the frontend, as it
// would unwrapped. The wrapper exits as soon as the inner kernel process
// does.
func echoHeartbeat(ctx context.Context, hb zmq4.Socket, beat *innerBeat, logf func(string, ...any)) {
	for {
		m, err := hb.Recv()
		if err != nil {
			if ctx.Err() == nil {
				logf("hush kernel: heartbeat: %v", err)
			}
			return
		}
		if !beat.alive(time.Now()) {
			continue
		}
		if err := hb.Send(m); err != nil {
			if ctx.Err() == nil {
				logf("hush kernel: heartbeat: %v", err)
			}
			return
		}
	}
}
