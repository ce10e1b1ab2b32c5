package jupyter

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
)

// Delimiter is the frame that separates the routing identities of a Jupyter
// ZeroMQ message from its signed parts ("<IDS|MSG>").
const Delimiter = "<IDS|MSG>"

// ErrBadSignature is returned by DecodeZMQ when a message's signature does
// not match its parts under the signer's key. Such a message must be
// dropped, never forwarded.
var ErrBadSignature = errors.New("invalid message signature")

// Signer signs and verifies the messages of one side of a Jupyter ZeroMQ
// connection with the key and signature_scheme of its connection file. The
// signature is the lowercase hex HMAC of the header, parent_header, metadata
// and content frames, in that order. A Signer with an empty key signs with
// "" and accepts any signature, as jupyter_client does when a connection
// file has no key. A Signer is safe for concurrent use.
type Signer struct {
	newHash func() hash.Hash
	key     []byte
}

// schemes are the signature_scheme values jupyter_client accepts.
var schemes = map[string]func() hash.Hash{
	"hmac-sha256": sha256.New,
	"hmac-sha512": sha512.New,
	"hmac-sha1":   sha1.New,
	"hmac-md5":    md5.New,
}

// NewSigner returns a Signer for a connection file's signature_scheme ("" is
// hmac-sha256, the default of jupyter_client) and key. The key is copied.
func NewSigner(scheme string, key []byte) (*Signer, error) {
	if scheme == "" {
		scheme = "hmac-sha256"
	}
	h, ok := schemes[scheme]
	if !ok {
		return nil, fmt.Errorf("signature scheme %q is not supported (use hmac-sha256)", scheme)
	}
	return &Signer{newHash: h, key: append([]byte(nil), key...)}, nil
}

// Enabled reports whether the signer has a key, that is whether messages
// are signed and verified at all.
func (s *Signer) Enabled() bool { return len(s.key) > 0 }

// Sign returns the lowercase hex signature of the four JSON parts, or "" when
// the signer has no key.
func (s *Signer) Sign(header, parent, metadata, content []byte) []byte {
	if !s.Enabled() {
		return []byte{}
	}
	mac := s.mac(header, parent, metadata, content)
	out := make([]byte, hex.EncodedLen(len(mac)))
	hex.Encode(out, mac)
	return out
}

func (s *Signer) mac(parts ...[]byte) []byte {
	h := hmac.New(s.newHash, s.key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// Verify reports whether sig (hex, as on the wire) is the signature of the
// four parts, comparing in constant time. Without a key every signature is
// accepted.
func (s *Signer) Verify(sig, header, parent, metadata, content []byte) bool {
	if !s.Enabled() {
		return true
	}
	got := make([]byte, hex.DecodedLen(len(sig)))
	if _, err := hex.Decode(got, sig); err != nil {
		return false
	}
	return hmac.Equal(got, s.mac(header, parent, metadata, content))
}

// DecodeZMQ splits the frames of one multipart ZeroMQ message of the Jupyter
// wire protocol:
//
//	identity… "<IDS|MSG>" signature header parent_header metadata content buffer…
//
// It verifies the signature with s before looking at the JSON (a failure
// wraps ErrBadSignature) and checks that the four parts are JSON objects.
// The returned identities and message alias frames; the message's Channel is
// left empty for the caller to set.
func DecodeZMQ(frames [][]byte, s *Signer) (idents [][]byte, m *Message, err error) {
	delim := -1
	for i, f := range frames {
		if string(f) == Delimiter {
			delim = i
			break
		}
	}
	if delim < 0 {
		return nil, nil, errors.New("decode zmq message: no <IDS|MSG> delimiter")
	}
	parts := frames[delim+1:]
	if len(parts) < 5 {
		return nil, nil, fmt.Errorf("decode zmq message: %d frames after the delimiter, want at least 5", len(parts))
	}
	if !s.Verify(parts[0], parts[1], parts[2], parts[3], parts[4]) {
		return nil, nil, fmt.Errorf("decode zmq message: %w", ErrBadSignature)
	}
	m = &Message{Header: parts[1], ParentHeader: parts[2], Metadata: parts[3], Content: parts[4]}
	for _, p := range []struct {
		name string
		raw  []byte
	}{{keyHeader, m.Header}, {keyParentHeader, m.ParentHeader}, {keyMetadata, m.Metadata}, {keyContent, m.Content}} {
		if err := checkObject(p.name, p.raw); err != nil {
			return nil, nil, fmt.Errorf("decode zmq message: %w", err)
		}
	}
	if len(parts) > 5 {
		m.Buffers = parts[5:]
	}
	return frames[:delim:delim], m, nil
}

// EncodeZMQ returns the frames of m for the Jupyter ZeroMQ wire protocol,
// preceded by idents and signed with s. Channel and Extra are not part of
// this format and are left out. Empty JSON parts are sent as {}.
func EncodeZMQ(idents [][]byte, m *Message, s *Signer) [][]byte {
	frames := make([][]byte, 0, len(idents)+6+len(m.Buffers))
	frames = append(frames, idents...)
	h, p, md, c := orEmptyObject(m.Header), orEmptyObject(m.ParentHeader), orEmptyObject(m.Metadata), orEmptyObject(m.Content)
	frames = append(frames, []byte(Delimiter), s.Sign(h, p, md, c), h, p, md, c)
	return append(frames, m.Buffers...)
}
