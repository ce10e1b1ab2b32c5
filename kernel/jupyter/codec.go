package jupyter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Format is a kernel websocket wire format.
type Format int

const (
	// FormatLegacy is the format jupyter_server speaks when the client
	// offers no subprotocol it supports: JSON text frames, and binary frames
	// with a big-endian offset table for messages with buffers.
	FormatLegacy Format = iota
	// FormatV1 is the "v1.kernel.websocket.jupyter.org" subprotocol: binary
	// frames with a little-endian offset table, the channel, four JSON
	// parts and the buffers.
	FormatV1
)

// FormatForSubprotocol returns the format a websocket speaks given the
// subprotocol the server selected ("" for none).
func FormatForSubprotocol(subprotocol string) Format {
	if subprotocol == SubprotocolV1 {
		return FormatV1
	}
	return FormatLegacy
}

// String returns "legacy" or "v1" (the names of the fixture folders).
func (f Format) String() string {
	switch f {
	case FormatLegacy:
		return "legacy"
	case FormatV1:
		return "v1"
	default:
		return fmt.Sprintf("Format(%d)", int(f))
	}
}

// Frame is one websocket data message.
type Frame struct {
	// Binary is true for a binary frame, false for a text frame.
	Binary bool
	// Data is the payload.
	Data []byte
}

// Decode decodes one frame of format f into a message. Every JSON part is
// checked; the message aliases fr.Data.
func (f Format) Decode(fr Frame) (*Message, error) {
	switch f {
	case FormatLegacy:
		return DecodeLegacy(fr)
	case FormatV1:
		if !fr.Binary {
			return nil, errors.New("decode v1 kernel message: text frame (v1 messages are binary)")
		}
		return DecodeV1(fr.Data)
	default:
		return nil, fmt.Errorf("decode kernel message: unknown wire format %d", int(f))
	}
}

// Encode encodes m as one frame of format f.
func (f Format) Encode(m *Message) (Frame, error) {
	switch f {
	case FormatLegacy:
		return EncodeLegacy(m)
	case FormatV1:
		data, err := EncodeV1(m)
		return Frame{Binary: true, Data: data}, err
	default:
		return Frame{}, fmt.Errorf("encode kernel message: unknown wire format %d", int(f))
	}
}

// maxOffset32 is the largest offset a legacy binary frame can express.
const maxOffset32 = math.MaxUint32

// DecodeLegacy decodes a legacy-format frame: a JSON text frame, or a
// binary frame with a big-endian uint32 offset table.
func DecodeLegacy(fr Frame) (*Message, error) {
	if !fr.Binary {
		m, err := decodeLegacyJSON(fr.Data, true)
		if err != nil {
			return nil, fmt.Errorf("decode legacy kernel message: %w", err)
		}
		return m, nil
	}
	parts, err := splitLegacyBinary(fr.Data)
	if err != nil {
		return nil, fmt.Errorf("decode legacy binary kernel message: %w", err)
	}
	m, err := decodeLegacyJSON(parts[0], false)
	if err != nil {
		return nil, fmt.Errorf("decode legacy binary kernel message: %w", err)
	}
	m.Buffers = parts[1:]
	return m, nil
}

func splitLegacyBinary(data []byte) ([][]byte, error) {
	if len(data) < 4 {
		return nil, errors.New("truncated: no part count")
	}
	n := binary.BigEndian.Uint32(data)
	if n == 0 || n > math.MaxInt32 {
		return nil, fmt.Errorf("invalid part count %d", n)
	}
	if uint64(n) > uint64(len(data)-4)/4 {
		return nil, fmt.Errorf("truncated: offset table of %d parts does not fit in %d bytes", n, len(data))
	}
	table := 4 * (int(n) + 1)
	offsets := make([]int, n+1)
	for i := 0; i < int(n); i++ {
		offsets[i] = int(binary.BigEndian.Uint32(data[4+4*i:]))
	}
	offsets[n] = len(data)
	if offsets[0] < table {
		return nil, fmt.Errorf("first part offset %d overlaps the offset table (%d bytes)", offsets[0], table)
	}
	parts := make([][]byte, n)
	for i := 0; i < int(n); i++ {
		start, end := offsets[i], offsets[i+1]
		if start > end || end > len(data) {
			return nil, fmt.Errorf("part %d: offsets %d..%d out of order or past the end (%d bytes)", i, start, end, len(data))
		}
		parts[i] = data[start:end:end]
	}
	return parts, nil
}

// legacy member names with a dedicated Message field.
const (
	keyHeader       = "header"
	keyParentHeader = "parent_header"
	keyMetadata     = "metadata"
	keyContent      = "content"
	keyBuffers      = "buffers"
	keyChannel      = "channel"
)

func decodeLegacyJSON(data []byte, text bool) (*Message, error) {
	m := &Message{order: make([]string, 0, 8)}
	seen := make(map[string]bool, 8)
	var memberErr error
	err := eachMember(data, func(key, value []byte) {
		if memberErr == nil {
			memberErr = m.setLegacyMember(string(key), value, text, seen)
		}
	})
	if err != nil {
		return nil, err
	}
	if memberErr != nil {
		return nil, memberErr
	}
	for _, k := range []string{keyHeader, keyParentHeader, keyMetadata, keyContent} {
		if !seen[k] {
			return nil, fmt.Errorf("missing member %q", k)
		}
	}
	m.noBuffersMember = text && !seen[keyBuffers]
	return m, nil
}

// setLegacyMember stores one top-level member of a legacy JSON message.
func (m *Message) setLegacyMember(key string, value []byte, text bool, seen map[string]bool) error {
	if seen[key] {
		return fmt.Errorf("duplicate member %q", key)
	}
	seen[key] = true
	switch key {
	case keyHeader, keyParentHeader, keyMetadata, keyContent:
		if value[0] != '{' {
			return fmt.Errorf("%s: %w", key, errNotObject)
		}
		switch key {
		case keyHeader:
			m.Header = value
		case keyParentHeader:
			m.ParentHeader = value
		case keyMetadata:
			m.Metadata = value
		case keyContent:
			m.Content = value
		}
	case keyChannel:
		ch, ok := decodeStringValue(value)
		if !ok {
			return errors.New("channel is not a string")
		}
		m.Channel = ch
	case keyBuffers:
		if value[0] != '[' {
			return errors.New("buffers is not an array")
		}
		if !text {
			// A binary frame's buffers are the binary parts; a JSON
			// "buffers" member is ignored, as by jupyter_server and
			// JupyterLab.
			return nil
		}
		if !isEmptyArray(value) {
			return errors.New("text frame with a non-empty buffers array")
		}
	default:
		m.Extra = append(m.Extra, Member{Key: key, Value: value})
	}
	m.order = append(m.order, key)
	return nil
}

func isEmptyArray(v []byte) bool {
	for _, c := range v[1 : len(v)-1] {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// EncodeLegacy encodes m in the legacy format: a text frame if m has no
// buffers, else a binary frame with a big-endian offset table. Members keep
// the order they were decoded in; a new message gets jupyter_server's
// order.
func EncodeLegacy(m *Message) (Frame, error) {
	binaryFrame := len(m.Buffers) > 0
	js, err := appendLegacyJSON(nil, m, !binaryFrame)
	if err != nil {
		return Frame{}, fmt.Errorf("encode legacy kernel message: %w", err)
	}
	if !binaryFrame {
		return Frame{Data: js}, nil
	}
	n := 1 + len(m.Buffers)
	table := 4 * (n + 1)
	total := table + len(js)
	for _, b := range m.Buffers {
		total += len(b)
	}
	if uint64(total) > maxOffset32 {
		return Frame{}, fmt.Errorf("encode legacy kernel message: %d bytes do not fit 32-bit offsets", total)
	}
	out := make([]byte, table, total)
	binary.BigEndian.PutUint32(out, uint32(n))
	off := table
	binary.BigEndian.PutUint32(out[4:], uint32(off))
	off += len(js)
	for i, b := range m.Buffers {
		binary.BigEndian.PutUint32(out[8+4*i:], uint32(off))
		off += len(b)
	}
	out = append(out, js...)
	for _, b := range m.Buffers {
		out = append(out, b...)
	}
	return Frame{Binary: true, Data: out}, nil
}

func appendLegacyJSON(dst []byte, m *Message, text bool) ([]byte, error) {
	if m.Channel != "" && !utf8.ValidString(m.Channel) {
		return nil, errors.New("channel is not valid UTF-8")
	}
	size := len(m.Header) + len(m.ParentHeader) + len(m.Metadata) + len(m.Content) + len(m.Channel) + 128
	for _, e := range m.Extra {
		size += len(e.Key) + len(e.Value) + 8
	}
	if dst == nil {
		dst = make([]byte, 0, size)
	}
	written := make(map[string]bool, 8+len(m.Extra))
	extra := make(map[string]int, len(m.Extra))
	for i, e := range m.Extra {
		extra[e.Key] = i
	}
	dst = append(dst, '{')
	first := true
	put := func(key string, value []byte) {
		if !first {
			dst = append(dst, ", "...)
		}
		first = false
		dst = appendQuoted(dst, []byte(key))
		dst = append(dst, ": "...)
		dst = append(dst, value...)
	}
	writeKey := func(key string) {
		if written[key] {
			return
		}
		switch key {
		case keyHeader:
			put(key, orEmptyObject(m.Header))
		case keyParentHeader:
			put(key, orEmptyObject(m.ParentHeader))
		case keyMetadata:
			put(key, orEmptyObject(m.Metadata))
		case keyContent:
			put(key, orEmptyObject(m.Content))
		case keyBuffers:
			if !text || m.noBuffersMember {
				return
			}
			put(key, []byte("[]"))
		case keyChannel:
			if m.Channel == "" {
				return
			}
			put(key, appendQuoted(nil, []byte(m.Channel)))
		default:
			i, ok := extra[key]
			if !ok {
				return
			}
			put(key, m.Extra[i].Value)
		}
		written[key] = true
	}
	for _, k := range m.order {
		writeKey(k)
	}
	for _, k := range []string{keyHeader, keyParentHeader, keyMetadata, keyContent, keyBuffers, keyChannel} {
		writeKey(k)
	}
	for _, e := range m.Extra {
		if !written[e.Key] {
			writeKey(e.Key)
		}
	}
	return append(dst, '}'), nil
}

func orEmptyObject(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// DecodeV1 decodes a "v1.kernel.websocket.jupyter.org" binary frame.
// Bytes between the offset table and the first part, and after the last
// part, are ignored, as jupyter_server does.
func DecodeV1(data []byte) (*Message, error) {
	m, err := decodeV1(data)
	if err != nil {
		return nil, fmt.Errorf("decode v1 kernel message: %w", err)
	}
	return m, nil
}

func decodeV1(data []byte) (*Message, error) {
	if len(data) < 8 {
		return nil, errors.New("truncated: no offset count")
	}
	n64 := binary.LittleEndian.Uint64(data)
	// channel + 4 JSON parts need 6 offsets (start of each, end of last).
	if n64 < 6 {
		return nil, fmt.Errorf("offset count %d is below 6 (channel and four JSON parts)", n64)
	}
	if n64 > uint64(len(data)-8)/8 {
		return nil, fmt.Errorf("truncated: %d offsets do not fit in %d bytes", n64, len(data))
	}
	n := int(n64)
	table := 8 * (n + 1)
	offsets := make([]int, n)
	for i := range offsets {
		o := binary.LittleEndian.Uint64(data[8*(i+1):])
		if o > uint64(len(data)) {
			return nil, fmt.Errorf("offset %d (%d) is past the end (%d bytes)", i, o, len(data))
		}
		offsets[i] = int(o)
		if i > 0 && offsets[i] < offsets[i-1] {
			return nil, fmt.Errorf("offset %d (%d) is before offset %d (%d)", i, offsets[i], i-1, offsets[i-1])
		}
	}
	if offsets[0] < table {
		return nil, fmt.Errorf("first offset %d overlaps the offset table (%d bytes)", offsets[0], table)
	}
	part := func(i int) []byte { return data[offsets[i]:offsets[i+1]:offsets[i+1]] }
	channel := part(0)
	if !utf8.Valid(channel) {
		return nil, errors.New("channel is not valid UTF-8")
	}
	m := &Message{
		Channel:      string(channel),
		Header:       part(1),
		ParentHeader: part(2),
		Metadata:     part(3),
		Content:      part(4),
	}
	for _, p := range []struct {
		name string
		raw  []byte
	}{{keyHeader, m.Header}, {keyParentHeader, m.ParentHeader}, {keyMetadata, m.Metadata}, {keyContent, m.Content}} {
		if err := checkObject(p.name, p.raw); err != nil {
			return nil, err
		}
	}
	if n > 6 {
		m.Buffers = make([][]byte, 0, n-6)
		for i := 5; i < n-1; i++ {
			m.Buffers = append(m.Buffers, part(i))
		}
	}
	return m, nil
}

// EncodeV1 encodes m as a "v1.kernel.websocket.jupyter.org" binary frame.
// Empty JSON parts are written as {}.
func EncodeV1(m *Message) ([]byte, error) {
	if !utf8.ValidString(m.Channel) {
		return nil, errors.New("encode v1 kernel message: channel is not valid UTF-8")
	}
	parts := make([][]byte, 0, 5+len(m.Buffers))
	parts = append(parts, []byte(m.Channel), orEmptyObject(m.Header), orEmptyObject(m.ParentHeader),
		orEmptyObject(m.Metadata), orEmptyObject(m.Content))
	parts = append(parts, m.Buffers...)
	n := len(parts) + 1
	table := 8 * (n + 1)
	total := table
	for _, p := range parts {
		total += len(p)
	}
	out := make([]byte, table, total)
	binary.LittleEndian.PutUint64(out, uint64(n))
	off := table
	for i, p := range parts {
		binary.LittleEndian.PutUint64(out[8*(i+1):], uint64(off))
		off += len(p)
	}
	binary.LittleEndian.PutUint64(out[8*n:], uint64(off))
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}
