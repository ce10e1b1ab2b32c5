package kernelwrap

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// startSleepingKernel runs the wrapper around a "kernel" that only sleeps
// and returns the frontend's connection info; the wrapper stops with the
// test.
func startSleepingKernel(t *testing.T) ConnectionInfo {
	t.Helper()
	front := frontendFile(t)
	ci, err := ReadConnectionFile(front)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := Run(ctx, Options{ConnectionFile: front, Argv: []string{"sleep", "120"},
			Env: []string{"PATH=" + os.Getenv("PATH")}, Redactor: newRedactor(t), Logf: t.Logf})
		if err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ci
}

// pingFrontendHeartbeat sends one ping from a new REQ client and reports
// whether it came back within 20 s.
func pingFrontendHeartbeat(t *testing.T, ci ConnectionInfo) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := zmq4.NewReq(ctx, zmq4.WithDialerMaxRetries(-1), zmq4.WithDialerRetry(50*time.Millisecond))
	defer req.Close()
	answered := make(chan bool, 1)
	go func() {
		if req.Dial(ci.endpoint(ci.HBPort)) != nil || req.Send(zmq4.NewMsgString("ping")) != nil {
			answered <- false
			return
		}
		m, err := req.Recv()
		answered <- err == nil && len(m.Frames) == 1 && string(m.Frames[0]) == "ping"
	}()
	select {
	case ok := <-answered:
		return ok
	case <-time.After(20 * time.Second):
		return false
	}
}

// zmtpHello is a ZMTP 3 NULL greeting and a READY command of a DEALER.
func zmtpHello() []byte {
	g := nullGreeting()
	prop := func(name, value string) []byte {
		b := append([]byte{byte(len(name))}, name...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
		return append(b, value...)
	}
	body := append([]byte("\x05READY"), prop("Socket-Type", "DEALER")...)
	return append(append(g, flagCommand, byte(len(body))), body...)
}

// TestFrontendSocketsSurviveHostilePeers: a client that connects and says
// nothing, one that announces a frame of a terabyte (after the handshake or
// in place of it), and one whose frames add up past the bound do not stop
// the wrapper from serving the next frontend (before the guard, the first
// kept every later client out and the second ended the process with "out
// of memory").
func TestFrontendSocketsSurviveHostilePeers(t *testing.T) {
	ci := startSleepingKernel(t)
	addr := net.JoinHostPort(ci.IP, strconv.Itoa(ci.HBPort))
	if !pingFrontendHeartbeat(t, ci) {
		t.Fatal("the heartbeat does not answer a well-behaved client")
	}
	huge := func(prefix []byte) []byte {
		return binary.BigEndian.AppendUint64(append(prefix, flagLong), 1<<40)
	}
	many := append([]byte(nil), zmtpHello()...)
	for i := 0; i < 3; i++ { // three 128 MiB frames of one message, announced only
		many = binary.BigEndian.AppendUint64(append(many, flagLong|flagMore), 128<<20)
	}
	for name, send := range map[string][]byte{
		"idle":                   nil,
		"huge frame":             huge(zmtpHello()),
		"huge handshake":         huge(nullGreeting()),
		"message over the bound": many,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(send); err != nil {
				t.Fatal(err)
			}
			if !pingFrontendHeartbeat(t, ci) {
				t.Fatal("the heartbeat stopped answering new clients")
			}
		})
	}
}

// TestFrameCheck follows frames split anywhere and bounds a message's
// total, not just each frame.
func TestFrameCheck(t *testing.T) {
	var stream []byte
	stream = append(stream, flagMore, 3, 'a', 'b', 'c')
	stream = binary.BigEndian.AppendUint64(append(stream, flagLong), 5)
	stream = append(stream, "hello"...)
	var f frameCheck
	for _, b := range stream {
		if err := f.scan([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	if f.state != 0 || f.msgTotal != 0 {
		t.Fatalf("after a complete message: state %d, total %d", f.state, f.msgTotal)
	}
	over := binary.BigEndian.AppendUint64([]byte{flagLong | flagMore}, maxFrontMessage/2+1)
	if err := f.scan(over); err != nil {
		t.Fatalf("half the bound refused: %v", err)
	}
	f.body, f.state = 0, 0 // as if the body had been read
	if err := f.scan(over); err == nil {
		t.Fatal("a message over the bound in two frames was accepted")
	}
}

// TestHeartbeatSurvivesMalformedPing: a DEALER that pings without the
// empty delimiter frame a REP socket expects (an error for go-zeromq's
// REP) does not stop the heartbeat; before, the echo loop ended and every
// frontend then saw the kernel as dead.
func TestHeartbeatSurvivesMalformedPing(t *testing.T) {
	ci := startSleepingKernel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := zmq4.NewDealer(ctx, zmq4.WithDialerMaxRetries(-1), zmq4.WithDialerRetry(50*time.Millisecond))
	defer d.Close()
	if err := d.Dial(ci.endpoint(ci.HBPort)); err != nil {
		t.Fatal(err)
	}
	if err := d.Send(zmq4.NewMsgString("ping")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the wrapper read it first
	if !pingFrontendHeartbeat(t, ci) {
		t.Fatal("the heartbeat stopped answering after a malformed ping")
	}
}
