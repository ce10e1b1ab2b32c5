package proxy

import (
	"time"

	"github.com/gorilla/websocket"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/kernel/msgredact"
)

// kernelStream redacts kernel→client frames with msgredact: decode with the
// negotiated wire format, redact every string and buffer (holding back a
// stream's live partial match, and the later messages of its cell behind
// it, until the stream resolves it or msgredact.MaxWait has passed: then a
// possible start of a secret leaves as [REDACTED]), encode again. A frame
// that fails any step is replaced by a visible notice; nothing unredacted is
// forwarded.
type kernelStream struct {
	p      *Proxy
	format jupyter.Format
	ff     *msgredact.FrameFilter
}

func (p *Proxy) newKernelStream(subprotocol string) downstream {
	f := jupyter.FormatForSubprotocol(subprotocol)
	return &kernelStream{p: p, format: f, ff: msgredact.NewFrameFilter(f, p.red)}
}

func (k *kernelStream) process(typ int, data []byte) []frame {
	out, err := k.ff.Process(jupyter.Frame{Binary: typ == websocket.BinaryMessage, Data: data})
	if err != nil {
		// err never holds message text.
		k.p.logf("hush proxy: replaced a kernel message (%s format) by a notice: %v", k.format, err)
	}
	return toFrames(out)
}

func (k *kernelStream) deadline() (time.Time, bool) { return k.ff.Deadline() }

func (k *kernelStream) expire(now time.Time) []frame { return toFrames(k.ff.Expire(now)) }

func (k *kernelStream) flush() []frame { return toFrames(k.ff.Close()) }

func toFrames(in []jupyter.Frame) []frame {
	out := make([]frame, len(in))
	for i, f := range in {
		typ := websocket.TextMessage
		if f.Binary {
			typ = websocket.BinaryMessage
		}
		out[i] = frame{typ, f.Data}
	}
	return out
}
