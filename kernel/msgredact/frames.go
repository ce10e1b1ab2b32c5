package msgredact

import (
	"errors"
	"fmt"
	"time"

	"github.com/hush-secrets/hush/kernel/jupyter"
	"github.com/hush-secrets/hush/redact"
)

// FrameFilter redacts the server→client frames of one kernel websocket: it
// decodes each frame with the connection's wire format, runs the message
// through a Filter and encodes what comes out. A frame that does not decode
// is replaced by a notice frame (an iopub stderr stream message under the
// parent of the last iopub message, so that it shows in the running cell;
// see Notice), never forwarded raw. Like Filter, it is not safe for
// concurrent use.
type FrameFilter struct {
	format jupyter.Format
	filter *Filter
	// lastParent is the (redacted) parent header of the last iopub message
	// sent with a parent: a notice for an undecodable frame goes there, so
	// it most likely shows in the running cell.
	lastParent []byte
}

// NewFrameFilter returns a FrameFilter for a connection speaking format
// (jupyter.FormatForSubprotocol of the subprotocol the server selected),
// redacting with r.
func NewFrameFilter(format jupyter.Format, r *redact.Redactor) *FrameFilter {
	return &FrameFilter{format: format, filter: New(r)}
}

// Filter returns the message Filter behind f.
func (f *FrameFilter) Filter() *Filter { return f.filter }

// Process redacts one server→client frame and returns the frames to send to
// the client now, in order (possibly none while stream text is held back,
// possibly several when held text is released). When err is not nil the
// returned frames are still the ones to send — the offending message has
// been replaced by a notice — and err says what was wrong, for a log (it
// never contains message text).
func (f *FrameFilter) Process(fr jupyter.Frame) ([]jupyter.Frame, error) {
	m, err := f.format.Decode(fr)
	if err != nil {
		var like *jupyter.Message
		if f.lastParent != nil {
			like = &jupyter.Message{ParentHeader: f.lastParent}
		}
		notice, nerr := f.encode(f.filter.processNotice(like))
		return notice, errors.Join(fmt.Errorf("msgredact: %w", err), nerr)
	}
	msgs, perr := f.filter.Process(m)
	out, eerr := f.encode(msgs)
	return out, errors.Join(perr, eerr)
}

// Deadline reports when the earliest waiting message must be released; ok
// is false when nothing waits (see Filter.Deadline). A proxy resets a timer
// to it after every Process and Expire.
func (f *FrameFilter) Deadline() (t time.Time, ok bool) { return f.filter.Deadline() }

// Expire returns the frames of every message whose wait has run out by now,
// in order (see Filter.Expire).
func (f *FrameFilter) Expire(now time.Time) []jupyter.Frame {
	out, _ := f.encode(f.filter.Expire(now))
	return out
}

// Flush returns frames carrying all held stream text and every message
// waiting behind it (see Filter.Flush).
func (f *FrameFilter) Flush() []jupyter.Frame {
	out, _ := f.encode(f.filter.Flush())
	return out
}

// Close returns frames carrying all held stream text; call it when the
// connection closes and send them if the client is still there.
func (f *FrameFilter) Close() []jupyter.Frame {
	out, _ := f.encode(f.filter.Close())
	return out
}

// encode encodes msgs; a message that does not encode is replaced by a
// notice. It remembers the parent of the last iopub message for notices.
func (f *FrameFilter) encode(msgs []*jupyter.Message) ([]jupyter.Frame, error) {
	out := make([]jupyter.Frame, 0, len(msgs))
	var errs []error
	for _, m := range msgs {
		if m.Channel == jupyter.ChannelIOPub && m.ParentID() != "" {
			f.lastParent = m.ParentHeader
		}
		fr, err := f.format.Encode(m)
		if err != nil {
			errs = append(errs, fmt.Errorf("msgredact: %w", err))
			fr, err = f.format.Encode(Notice(nil, ""))
			if err != nil { // a notice always encodes; be safe anyway
				errs = append(errs, err)
				continue
			}
		}
		out = append(out, fr)
	}
	return out, errors.Join(errs...)
}
