//go:build !amd64

package redact

import "bytes"

// indexESC returns the index of the first ESC byte in b, or -1.
func indexESC(b []byte) int {
	return bytes.IndexByte(b, escByte)
}

// containsESC reports whether b holds an ESC byte.
func containsESC(b []byte) bool {
	return indexESC(b) >= 0
}
