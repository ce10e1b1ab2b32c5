package proxy

import "github.com/gorilla/websocket"

// kernelNotice replaces a kernel frame that could not be redacted.
var kernelNotice = []byte(`{"header":{"msg_id":"hush-notice","msg_type":"stream","username":"hush","session":"hush","date":"","version":"5.3"},"parent_header":{},"metadata":{},"content":{"name":"stderr","text":"[hush: a kernel message that could not be redacted was dropped]\n"},"buffers":[],"channel":"iopub"}`)

// kernelStream is a placeholder until the message-aware filter is wired:
// it fails closed.
type kernelStream struct{}

func (p *Proxy) newKernelStream(subprotocol string) downstream { return kernelStream{} }

func (kernelStream) process(typ int, data []byte) []frame {
	return []frame{{websocket.TextMessage, kernelNotice}}
}

func (kernelStream) flush() []frame { return nil }
