package msgredact_test

import (
	"fmt"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/kernel/msgredact"
	"github.com/hush-secrets/hush/redact"
)

// A proxy keeps one FrameFilter per kernel websocket, built from the
// subprotocol jupyter_server selected, and sends what Process returns.
func ExampleFrameFilter() {
	r := redact.New(redact.Options{Encodings: redact.AllEncodings()})
	if err := r.Add([]byte("hello-secret")); err != nil {
		fmt.Println(err)
		return
	}
	format := jupyter.FormatForSubprotocol(jupyter.SubprotocolV1)
	ff := msgredact.NewFrameFilter(format, r)

	// The kernel flushed the secret in two stream messages, then went idle.
	frame := func(msgType, content string) jupyter.Frame {
		fr, err := format.Encode(&jupyter.Message{
			Channel:      jupyter.ChannelIOPub,
			Header:       []byte(`{"msg_id": "m", "msg_type": "` + msgType + `"}`),
			ParentHeader: []byte(`{"msg_id": "cell-1"}`),
			Content:      []byte(content),
		})
		if err != nil {
			panic(err)
		}
		return fr
	}
	for _, fr := range []jupyter.Frame{
		frame("stream", `{"name": "stdout", "text": "token: hello-"}`),
		frame("stream", `{"name": "stdout", "text": "secret\n"}`),
		frame("status", `{"execution_state": "idle"}`),
	} {
		out, err := ff.Process(fr)
		if err != nil {
			fmt.Println("log:", err) // out still holds what to send
		}
		for _, o := range out {
			m, _ := format.Decode(o)
			text, _ := jupyter.StringMember(m.Content, "text")
			fmt.Printf("%s %q\n", m.Type(), text)
		}
	}
	// At connection close, send what is still held (nothing here).
	fmt.Println(len(ff.Close()))
	// Output:
	// stream "token: "
	// stream "[REDACTED]\n"
	// status ""
	// 0
}
