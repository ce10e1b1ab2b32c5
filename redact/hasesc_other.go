//go:build !amd64

package redact

import "bytes"

// containsESC reports whether b holds an ESC byte.
func containsESC(b []byte) bool {
	return bytes.IndexByte(b, escByte) >= 0
}
