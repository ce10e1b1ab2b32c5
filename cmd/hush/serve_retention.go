package main

import (
	"strconv"
	"strings"
	"time"
)

// defaultAuditRetention is the default of hush serve --audit-retention.
const defaultAuditRetention = "365d"

// parseRetention reads --audit-retention: a number of days ("365d") or a
// Go duration ("720h"); "0" or "forever" keep records forever, which is
// returned as -1 (server.Config's "no pruning"); "" is the default.
func parseRetention(s string) (time.Duration, error) {
	if s == "" {
		s = defaultAuditRetention
	}
	if s == "0" || s == "forever" {
		return -1, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, usagef("--audit-retention must be a number of days (365d), a duration (720h), or 0 or forever to keep audit records forever; got %q", s)
}
