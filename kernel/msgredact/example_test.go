package msgredact_test

import (
	"fmt"
	"time"

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

// A driver owns the timer: after every Process (and Expire) it sets a timer
// to Deadline, and calls Expire when it fires. Here the clock is a variable.
func ExampleFilter_Expire() {
	r := redact.New(redact.Options{})
	if err := r.Add([]byte("hello-secret")); err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := msgredact.New(r)
	f.Now = func() time.Time { return now }
	show := func(msgs []*jupyter.Message) {
		for _, m := range msgs {
			text, _ := jupyter.StringMember(m.Content, "text")
			fmt.Printf("  %s %q\n", m.Type(), text)
		}
	}
	message := func(msgType, content string) *jupyter.Message {
		return &jupyter.Message{
			Channel:      jupyter.ChannelIOPub,
			Header:       []byte(`{"msg_id": "` + msgType + `", "msg_type": "` + msgType + `"}`),
			ParentHeader: []byte(`{"msg_id": "cell-1"}`),
			Content:      []byte(content),
		}
	}

	// print(s[:-6], end="", flush=True); display(x); and then nothing.
	for _, m := range []*jupyter.Message{
		message("stream", `{"name": "stdout", "text": "token: hello-"}`),
		message("display_data", `{"data": {"text/plain": "x"}}`),
	} {
		out, _ := f.Process(m)
		fmt.Println("process:")
		show(out)
	}
	deadline, ok := f.Deadline()
	fmt.Println("waiting:", ok, deadline.Sub(now))
	now = deadline // the driver's timer fires
	fmt.Println("expire:")
	show(f.Expire(now))
	// Output:
	// process:
	//   stream "token: "
	// process:
	// waiting: true 250ms
	// expire:
	//   stream "[REDACTED]"
	//   display_data ""
}
