package jupyter_test

import (
	"bytes"
	"fmt"

	"github.com/hush-secrets/hush/kernel/jupyter"
)

// A proxy decodes each kernel websocket frame in the format the subprotocol
// selected, reads what it needs, rewrites the strings of a JSON part, and
// encodes the message again. What it does not rewrite keeps its exact bytes
// (here the number 1.50 and the key order).
func Example() {
	format := jupyter.FormatForSubprotocol("") // no subprotocol: the legacy format
	in := jupyter.Frame{Data: []byte(`{"header": {"msg_id": "m1", "msg_type": "stream"}, ` +
		`"parent_header": {"msg_id": "cell-1"}, "metadata": {}, ` +
		`"content": {"name": "stdout", "text": "hello\n", "t": 1.50}, "buffers": [], "channel": "iopub"}`)}
	m, err := format.Decode(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	text, _ := jupyter.StringMember(m.Content, "text")
	fmt.Printf("%s %s from %s: %q\n", m.Channel, m.Type(), m.ParentID(), text)

	// Upper-case the value of "text"; every other string stays as it was.
	m.Content, err = jupyter.RewriteStrings(nil, m.Content, func(dst, s []byte, ctx jupyter.StringContext) []byte {
		if !ctx.IsKey && string(ctx.Key) == "text" {
			return append(dst, bytes.ToUpper(s)...)
		}
		return append(dst, s...)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := format.Encode(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	back, _ := format.Decode(out)
	fmt.Println(string(back.Content))
	// Output:
	// iopub stream from cell-1: "hello\n"
	// {"name": "stdout", "text": "HELLO\n", "t": 1.50}
}
