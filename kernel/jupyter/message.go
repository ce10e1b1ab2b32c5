// Package jupyter models Jupyter messaging-protocol messages as they travel
// over a jupyter_server kernel websocket (/api/kernels/<id>/channels), and
// decodes and encodes both wire formats of that websocket:
//
//   - Legacy (no subprotocol): a message without buffers is one text frame
//     holding a JSON object with header, parent_header, metadata, content,
//     buffers (always []) and channel — jupyter_server 1.x also adds copies
//     of msg_id and msg_type. A message with buffers is one binary frame: a
//     big-endian uint32 count n, n big-endian uint32 offsets from the start
//     of the frame, then the JSON message (without "buffers") followed by
//     the buffers (jupyter_server's serialize_binary_message).
//   - "v1.kernel.websocket.jupyter.org": every message is one binary frame:
//     a little-endian uint64 count n, n little-endian uint64 offsets, then
//     the channel name, the header, parent_header, metadata and content
//     JSON parts, then the buffers (serialize_msg_to_ws_v1).
//
// A Message keeps its four JSON parts as raw JSON, so decoding and encoding
// an untouched message reproduces them byte for byte (numbers exact, key
// order kept, nothing escaped that was not). RewriteStrings changes every
// string of a JSON part while copying everything else; that is how
// kernel/msgredact redacts messages.
package jupyter

import (
	"encoding/json"
	"fmt"
)

// SubprotocolV1 is the websocket subprotocol of the v1 kernel wire format.
const SubprotocolV1 = "v1.kernel.websocket.jupyter.org"

// Channel names of the Jupyter messaging protocol.
const (
	ChannelShell   = "shell"
	ChannelIOPub   = "iopub"
	ChannelStdin   = "stdin"
	ChannelControl = "control"
)

// Message is one Jupyter message. The four JSON parts are kept raw (and
// valid: Decode checks them); change them with RewriteStrings or by
// assigning new valid JSON objects.
type Message struct {
	// Channel is the channel the message travelled on: "shell", "iopub",
	// "stdin" or "control". It may be empty for a legacy message that had
	// no channel member.
	Channel string
	// Header is the message header (msg_id, msg_type, session, username,
	// date, version…), a JSON object.
	Header json.RawMessage
	// ParentHeader is the header of the request this message answers, a
	// JSON object ({} when there is none).
	ParentHeader json.RawMessage
	// Metadata is the metadata JSON object.
	Metadata json.RawMessage
	// Content is the content JSON object, shaped by the message type.
	Content json.RawMessage
	// Buffers are the binary buffers attached to the message (widgets,
	// comms), in order.
	Buffers [][]byte
	// Extra holds the members of a legacy JSON message other than header,
	// parent_header, metadata, content, buffers and channel — jupyter_server
	// adds msg_id and msg_type copies of the header fields — in their
	// original order. Encoding in the legacy format writes them back.
	Extra []Member

	// order is the order of the top-level members of a decoded legacy
	// message, so that re-encoding keeps it.
	order []string
	// noBuffersMember is set for a legacy text frame without a "buffers"
	// member (jupyter_server's own status messages), so that re-encoding
	// does not add one.
	noBuffersMember bool
}

// Member is one member of a JSON object: a key and its raw JSON value.
type Member struct {
	// Key is the decoded member name.
	Key string
	// Value is the member's value as raw JSON.
	Value json.RawMessage
}

// Header is the decoded form of the fields of a message header that
// routing and redaction need. Other header fields stay in the raw JSON.
type Header struct {
	// MsgID identifies the message; replies and outputs name it as parent.
	MsgID string
	// MsgType is the message type ("stream", "execute_reply", "status"…).
	MsgType string
	// Session identifies the client or kernel session that sent it.
	Session string
	// Username is the user name the sender put in the header.
	Username string
	// Date is the ISO 8601 timestamp, as sent.
	Date string
	// Version is the messaging protocol version ("5.3").
	Version string
}

// ParseHeader decodes the string fields of a raw header (Message.Header or
// Message.ParentHeader). Missing or non-string fields are left empty; an
// error means raw is not a JSON object.
func ParseHeader(raw []byte) (Header, error) {
	var h Header
	if len(raw) == 0 {
		return h, nil
	}
	err := eachMember(raw, func(key, value []byte) {
		var dst *string
		switch string(key) {
		case "msg_id":
			dst = &h.MsgID
		case "msg_type":
			dst = &h.MsgType
		case "session":
			dst = &h.Session
		case "username":
			dst = &h.Username
		case "date":
			dst = &h.Date
		case "version":
			dst = &h.Version
		default:
			return
		}
		if s, ok := decodeStringValue(value); ok {
			*dst = s
		}
	})
	if err != nil {
		return Header{}, fmt.Errorf("parse header: %w", err)
	}
	return h, nil
}

// Type returns the message's msg_type, or "" if the header has none.
func (m *Message) Type() string {
	h, _ := ParseHeader(m.Header)
	return h.MsgType
}

// ParentID returns the msg_id of the parent header, or "" if there is none.
func (m *Message) ParentID() string {
	h, _ := ParseHeader(m.ParentHeader)
	return h.MsgID
}

// Members splits a raw JSON object (a part of a message) into its members,
// in order. It returns an error if raw is not exactly one JSON object.
func Members(raw []byte) ([]Member, error) {
	ms, err := splitObject(raw)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = Member{Key: m.key, Value: m.value}
	}
	return out, nil
}

// StringMember returns the decoded value of the string member key of the
// raw JSON object obj, and whether there is such a string member.
func StringMember(obj []byte, key string) (string, bool) {
	var val string
	var found bool
	err := eachMember(obj, func(k, value []byte) {
		if !found && string(k) == key {
			val, found = decodeStringValue(value)
		}
	})
	if err != nil || !found {
		return "", false
	}
	return val, true
}

// checkObject reports an error unless part is exactly one JSON object.
func checkObject(name string, part []byte) error {
	r := rewriter{src: part, validateOnly: true}
	r.skipSpace()
	if r.pos >= len(part) || part[r.pos] != '{' {
		if err := Valid(part); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return fmt.Errorf("%s: %w", name, errNotObject)
	}
	if err := Valid(part); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Clone returns a deep copy of m, sharing nothing with it.
func (m *Message) Clone() *Message {
	c := &Message{
		Channel:      m.Channel,
		Header:       cloneBytes(m.Header),
		ParentHeader: cloneBytes(m.ParentHeader),
		Metadata:     cloneBytes(m.Metadata),
		Content:      cloneBytes(m.Content),
		order:        append([]string(nil), m.order...),

		noBuffersMember: m.noBuffersMember,
	}
	if m.Buffers != nil {
		c.Buffers = make([][]byte, len(m.Buffers))
		for i, b := range m.Buffers {
			c.Buffers[i] = cloneBytes(b)
		}
	}
	if m.Extra != nil {
		c.Extra = make([]Member, len(m.Extra))
		for i, e := range m.Extra {
			c.Extra[i] = Member{Key: e.Key, Value: cloneBytes(e.Value)}
		}
	}
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// StringValue returns the decoded value of raw if it is a JSON string (as
// in a Member value from Members), and false otherwise.
func StringValue(raw []byte) (string, bool) {
	if err := Valid(raw); err != nil {
		return "", false
	}
	return decodeStringValue(raw)
}

// Derive returns an empty message with m's channel and m's legacy member
// order: the start of a transformed copy of m that re-encodes like m.
func (m *Message) Derive() *Message {
	return &Message{Channel: m.Channel, order: append([]string(nil), m.order...), noBuffersMember: m.noBuffersMember}
}
