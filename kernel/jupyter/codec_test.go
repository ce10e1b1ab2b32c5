package jupyter

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// A text frame as jupyter_server 1.23 writes it (json.dumps of the
// deserialized message plus channel).
const legacyText = `{"header": {"msg_id": "a1", "msg_type": "stream", "username": "u", "session": "s", "date": "2026-11-28T02:00:00.000000Z", "version": "5.3"}, "msg_id": "a1", "msg_type": "stream", "parent_header": {"msg_id": "p1", "msg_type": "execute_request"}, "metadata": {}, "content": {"name": "stdout", "text": "hi \u00e9 <b>\n", "n": 12345678901234567890123}, "buffers": [], "channel": "iopub"}`

// pyLegacyBinary builds a legacy binary frame exactly as
// jupyter_server's serialize_binary_message does.
func pyLegacyBinary(js []byte, bufs ...[]byte) []byte {
	parts := append([][]byte{js}, bufs...)
	n := len(parts)
	offsets := []uint32{uint32(4 * (n + 1))}
	for _, p := range parts[:n-1] {
		offsets = append(offsets, offsets[len(offsets)-1]+uint32(len(p)))
	}
	var out []byte
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	for _, o := range offsets {
		out = binary.BigEndian.AppendUint32(out, o)
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// pyV1 builds a v1 frame exactly as serialize_msg_to_ws_v1 does.
func pyV1(channel string, parts ...[]byte) []byte {
	offsets := []uint64{uint64(8 * (1 + 1 + len(parts) + 1))}
	offsets = append(offsets, offsets[0]+uint64(len(channel)))
	for _, p := range parts {
		offsets = append(offsets, offsets[len(offsets)-1]+uint64(len(p)))
	}
	var out []byte
	out = binary.LittleEndian.AppendUint64(out, uint64(len(offsets)))
	for _, o := range offsets {
		out = binary.LittleEndian.AppendUint64(out, o)
	}
	out = append(out, channel...)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestLegacyTextRoundTripIsByteExact(t *testing.T) {
	m, err := DecodeLegacy(Frame{Data: []byte(legacyText)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != "iopub" || m.Type() != "stream" || m.ParentID() != "p1" {
		t.Fatalf("decoded channel=%q type=%q parent=%q", m.Channel, m.Type(), m.ParentID())
	}
	if len(m.Extra) != 2 || m.Extra[0].Key != "msg_id" || m.Extra[1].Key != "msg_type" {
		t.Fatalf("extra members: %+v", m.Extra)
	}
	fr, err := EncodeLegacy(m)
	if err != nil {
		t.Fatal(err)
	}
	if fr.Binary || string(fr.Data) != legacyText {
		t.Fatalf("re-encoded differs:\n got %s\nwant %s", fr.Data, legacyText)
	}
}

func TestLegacyBinaryRoundTripIsByteExact(t *testing.T) {
	js := []byte(`{"header": {"msg_id": "c1", "msg_type": "comm_msg"}, "msg_id": "c1", "msg_type": "comm_msg", "parent_header": {}, "metadata": {}, "content": {"comm_id": "x", "data": {}}, "channel": "iopub"}`)
	for _, bufs := range [][][]byte{{[]byte("\x00\x01binary")}, {[]byte("a"), {}, []byte("ccc")}} {
		data := pyLegacyBinary(js, bufs...)
		m, err := DecodeLegacy(Frame{Binary: true, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Buffers, bufs) {
			t.Fatalf("buffers %q, want %q", m.Buffers, bufs)
		}
		fr, err := EncodeLegacy(m)
		if err != nil {
			t.Fatal(err)
		}
		if !fr.Binary || !bytes.Equal(fr.Data, data) {
			t.Fatalf("re-encoded binary frame differs:\n got %q\nwant %q", fr.Data, data)
		}
	}
}

func TestLegacyBuffersSwitchFrameType(t *testing.T) {
	m, err := DecodeLegacy(Frame{Data: []byte(legacyText)})
	if err != nil {
		t.Fatal(err)
	}
	m.Buffers = [][]byte{[]byte("buf")}
	fr, err := EncodeLegacy(m)
	if err != nil {
		t.Fatal(err)
	}
	if !fr.Binary {
		t.Fatal("message with buffers not encoded as a binary frame")
	}
	back, err := DecodeLegacy(fr)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Buffers) != 1 || string(back.Buffers[0]) != "buf" {
		t.Fatalf("buffers lost: %q", back.Buffers)
	}
	// The JSON part of a binary frame has no "buffers" member.
	js := fr.Data[12:bytes.LastIndex(fr.Data, []byte("buf"))]
	if bytes.Contains(js, []byte(`"buffers"`)) {
		t.Fatalf("binary JSON part has a buffers member: %s", js)
	}
}

func TestNewMessageEncodesInJupyterServerOrder(t *testing.T) {
	m := &Message{
		Channel:      "iopub",
		Header:       []byte(`{"msg_id":"n","msg_type":"status"}`),
		ParentHeader: []byte(`{}`),
		Content:      []byte(`{"execution_state":"idle"}`),
	}
	fr, err := EncodeLegacy(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"header": {"msg_id":"n","msg_type":"status"}, "parent_header": {}, "metadata": {}, "content": {"execution_state":"idle"}, "buffers": [], "channel": "iopub"}`
	if string(fr.Data) != want {
		t.Fatalf("got  %s\nwant %s", fr.Data, want)
	}
}

func TestV1RoundTripIsByteExact(t *testing.T) {
	parts := [][]byte{
		[]byte(`{"msg_id":"a","msg_type":"display_data","session":"s"}`),
		[]byte(`{"msg_id":"p"}`),
		[]byte(`{}`),
		[]byte(`{"data":{"text/plain":"x","application/json":{"n":1.0e400}},"metadata":{},"transient":{}}`),
	}
	for _, bufs := range [][][]byte{nil, {[]byte("b1")}, {[]byte("b1"), {}, []byte("\xff\x00")}} {
		data := pyV1("iopub", append(append([][]byte{}, parts...), bufs...)...)
		m, err := DecodeV1(data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Channel != "iopub" || m.Type() != "display_data" || m.ParentID() != "p" {
			t.Fatalf("decoded %q %q %q", m.Channel, m.Type(), m.ParentID())
		}
		if len(m.Buffers) != len(bufs) {
			t.Fatalf("got %d buffers, want %d", len(m.Buffers), len(bufs))
		}
		out, err := EncodeV1(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoded v1 frame differs:\n got %q\nwant %q", out, data)
		}
		fr, err := FormatV1.Encode(m)
		if err != nil || !fr.Binary || !bytes.Equal(fr.Data, data) {
			t.Fatalf("FormatV1.Encode: %v binary=%v", err, fr.Binary)
		}
	}
}

func TestV1IgnoresGapAndTrailingBytesLikeJupyterServer(t *testing.T) {
	data := pyV1("shell", []byte(`{"msg_type":"x"}`), []byte(`{}`), []byte(`{}`), []byte(`{}`))
	data = append(data, "trailing"...)
	m, err := DecodeV1(data)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Content) != `{}` || m.Channel != "shell" {
		t.Fatalf("decoded %+v", m)
	}
}

func TestFormatForSubprotocol(t *testing.T) {
	if FormatForSubprotocol(SubprotocolV1) != FormatV1 || FormatForSubprotocol("") != FormatLegacy ||
		FormatForSubprotocol("other") != FormatLegacy {
		t.Fatal("FormatForSubprotocol")
	}
	if FormatV1.String() != "v1" || FormatLegacy.String() != "legacy" {
		t.Fatal("Format.String")
	}
	if _, err := FormatV1.Decode(Frame{Data: []byte(legacyText)}); err == nil {
		t.Fatal("v1 accepted a text frame")
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := [][]byte{[]byte(`{}`), []byte(`{}`), []byte(`{}`), []byte(`{}`)}
	v1 := pyV1("iopub", good...)
	setU64 := func(b []byte, at int, v uint64) []byte {
		c := append([]byte(nil), b...)
		binary.LittleEndian.PutUint64(c[at:], v)
		return c
	}
	legacyJS := []byte(`{"header":{},"parent_header":{},"metadata":{},"content":{},"channel":"iopub"}`)
	lb := pyLegacyBinary(legacyJS, []byte("buf"))
	setU32 := func(b []byte, at int, v uint32) []byte {
		c := append([]byte(nil), b...)
		binary.BigEndian.PutUint32(c[at:], v)
		return c
	}
	cases := []struct {
		name string
		f    Format
		fr   Frame
		want string
	}{
		{"v1 empty", FormatV1, Frame{Binary: true}, "truncated"},
		{"v1 short count", FormatV1, Frame{Binary: true, Data: []byte{6, 0, 0}}, "truncated"},
		{"v1 count too small", FormatV1, Frame{Binary: true, Data: setU64(v1, 0, 5)}, "below 6"},
		{"v1 count too large", FormatV1, Frame{Binary: true, Data: setU64(v1, 0, 1<<62)}, "truncated"},
		{"v1 truncated table", FormatV1, Frame{Binary: true, Data: v1[:30]}, "truncated"},
		{"v1 offset past end", FormatV1, Frame{Binary: true, Data: setU64(v1, 8*3, 1<<40)}, "past the end"},
		{"v1 offsets out of order", FormatV1, Frame{Binary: true, Data: setU64(v1, 8*3, 60)}, "before offset"},
		{"v1 offset into table", FormatV1, Frame{Binary: true, Data: setU64(v1, 8, 8)}, "overlaps"},
		{"v1 truncated body", FormatV1, Frame{Binary: true, Data: v1[:len(v1)-1]}, "past the end"},
		{"v1 bad JSON", FormatV1, Frame{Binary: true, Data: pyV1("iopub", []byte(`{"a":`), good[1], good[2], good[3])}, "header: invalid JSON"},
		{"v1 content not object", FormatV1, Frame{Binary: true, Data: pyV1("iopub", good[0], good[1], good[2], []byte(`[]`))}, "content: JSON value is not an object"},
		{"v1 channel not UTF-8", FormatV1, Frame{Binary: true, Data: pyV1("\xff", good...)}, "UTF-8"},
		{"legacy empty text", FormatLegacy, Frame{}, "invalid JSON"},
		{"legacy not object", FormatLegacy, Frame{Data: []byte(`[1]`)}, "not an object"},
		{"legacy bad JSON", FormatLegacy, Frame{Data: []byte(`{"header":{}`)}, "invalid JSON"},
		{"legacy missing content", FormatLegacy, Frame{Data: []byte(`{"header":{},"parent_header":{},"metadata":{}}`)}, `missing member "content"`},
		{"legacy header not object", FormatLegacy, Frame{Data: []byte(`{"header":"x","parent_header":{},"metadata":{},"content":{}}`)}, "not an object"},
		{"legacy channel not string", FormatLegacy, Frame{Data: []byte(`{"header":{},"parent_header":{},"metadata":{},"content":{},"channel":1}`)}, "channel"},
		{"legacy duplicate", FormatLegacy, Frame{Data: []byte(`{"header":{},"header":{},"parent_header":{},"metadata":{},"content":{}}`)}, "duplicate"},
		{"legacy text buffers", FormatLegacy, Frame{Data: []byte(`{"header":{},"parent_header":{},"metadata":{},"content":{},"buffers":["eA=="]}`)}, "buffers"},
		{"legacy binary empty", FormatLegacy, Frame{Binary: true, Data: []byte{0, 0}}, "truncated"},
		{"legacy binary zero parts", FormatLegacy, Frame{Binary: true, Data: setU32(lb, 0, 0)}, "part count"},
		{"legacy binary negative count", FormatLegacy, Frame{Binary: true, Data: setU32(lb, 0, 0xffffffff)}, "part count"},
		{"legacy binary count too large", FormatLegacy, Frame{Binary: true, Data: setU32(lb, 0, 1000)}, "truncated"},
		{"legacy binary offset into table", FormatLegacy, Frame{Binary: true, Data: setU32(lb, 4, 2)}, "overlaps"},
		{"legacy binary offset past end", FormatLegacy, Frame{Binary: true, Data: setU32(lb, 8, 1<<30)}, "past the end"},
		{"legacy binary offsets out of order", FormatLegacy, Frame{Binary: true, Data: setU32(lb, 8, 11)}, "out of order"},
		{"legacy binary bad JSON", FormatLegacy, Frame{Binary: true, Data: pyLegacyBinary([]byte(`{"header":`), []byte("b"))}, "invalid JSON"},
	}
	for _, c := range cases {
		m, err := c.f.Decode(c.fr)
		if err == nil {
			t.Errorf("%s: decoded %+v, want an error", c.name, m)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
	}
}

func TestCloneSharesNothing(t *testing.T) {
	m, err := DecodeLegacy(Frame{Data: []byte(legacyText)})
	if err != nil {
		t.Fatal(err)
	}
	m.Buffers = [][]byte{[]byte("b")}
	c := m.Clone()
	m.Content[0] = 'X'
	m.Buffers[0][0] = 'X'
	m.Extra[0].Value[0] = 'X'
	if c.Content[0] != '{' || c.Buffers[0][0] != 'b' || c.Extra[0].Value[0] != '"' {
		t.Fatal("clone shares memory with the original")
	}
}

func TestStringMemberAndParseHeader(t *testing.T) {
	h, err := ParseHeader([]byte(`{"msg_id":"i\u0064","msg_type":"t","session":1,"date":null,"extra":{"msg_id":"no"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if h.MsgID != "id" || h.MsgType != "t" || h.Session != "" {
		t.Fatalf("header %+v", h)
	}
	if _, err := ParseHeader([]byte(`[]`)); err == nil {
		t.Fatal("ParseHeader accepted an array")
	}
	if s, ok := StringMember([]byte(`{"name":"stdout","text":"a\nb"}`), "text"); !ok || s != "a\nb" {
		t.Fatalf("StringMember = %q %v", s, ok)
	}
	if _, ok := StringMember([]byte(`{"text":1}`), "text"); ok {
		t.Fatal("StringMember accepted a number")
	}
	ms, err := Members([]byte(`{"a":1,"b":[2]}`))
	if err != nil || len(ms) != 2 || ms[1].Key != "b" || string(ms[1].Value) != "[2]" {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
}
