package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/hush-secrets/hush/internal/secrets"
)

// methodOther is the metrics label and logged method of any HTTP method
// outside knownMethods: callers choose the method, so it is never a label
// or a log field as sent (a 256 KiB method per request once grew the
// server by gigabytes).
const methodOther = "OTHER"

// knownMethods are the HTTP methods logged and labelled as they are.
var knownMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

// methodLabel maps a request's method to a bounded set: the standard
// methods, else methodOther.
func methodLabel(m string) string {
	for _, k := range knownMethods {
		if m == k {
			return k
		}
	}
	return methodOther
}

// maxLoggedField bounds every string the server logs or echoes in an
// error message that a caller chose (a method, a path); maxLoggedError
// bounds a logged error text (which holds names, never values).
const (
	maxLoggedField = 200
	maxLoggedError = 1000
)

// clip cuts s to at most maxLoggedField bytes.
func clip(s string) string { return clipTo(s, maxLoggedField) }

// clipTo cuts s to at most n bytes, on a rune boundary, and marks the cut.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// maxQueryParams is the most query parameters Go's net/url parses (its
// urlmaxqueryparams default); beyond it, the rest are dropped.
const maxQueryParams = 10000

// checkQuery refuses a query string that net/url cannot parse completely:
// Go drops the parameters it cannot parse (after a ';', or beyond
// maxQueryParams) and the handler would then answer a misleading
// "Missing required field".
func checkQuery(raw string) *apiError {
	if raw == "" {
		return nil
	}
	if _, err := url.ParseQuery(raw); err != nil {
		switch {
		case strings.Contains(raw, ";"):
			return invalidParam("The query string contains ';', which does not separate parameters: separate them with '&', and encode a ';' in a value as %%3B.")
		case strings.Count(raw, "&")+1 > maxQueryParams:
			return invalidParam("The query string has more than %d parameters.", maxQueryParams)
		default:
			return invalidParam("The query string is malformed: a parameter has an invalid percent-encoding.")
		}
	}
	return nil
}

// codeTemporarilyUnavailable is Databricks' error code for a transient failure.
const codeTemporarilyUnavailable = "TEMPORARILY_UNAVAILABLE"

// unavailable is the answer when a dependency the request needs (the audit
// log, free disk space) is failing: 503 TEMPORARILY_UNAVAILABLE, as
// Databricks answers a transient failure, so clients retry.
func unavailable(format string, args ...any) *apiError {
	return errf(http.StatusServiceUnavailable, codeTemporarilyUnavailable, format, args...)
}

// storageFull reports whether err says the server's storage is full: ENOSPC
// or EDQUOT from the bolt file's disk, or PostgreSQL's class 53
// (insufficient resources: disk_full 53100, out_of_memory 53200,
// too_many_connections 53300). Such a failure is the operator's to fix and
// passes, so the caller gets 503 TEMPORARILY_UNAVAILABLE and retries,
// rather than a 500.
func storageFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	var pg interface{ SQLState() string } // *pgconn.PgError, without depending on the driver
	return errors.As(err, &pg) && strings.HasPrefix(pg.SQLState(), "53")
}

// maxPrincipalLength bounds an ACL principal (a user name, a group name or
// "users"); longer names cannot exist.
const maxPrincipalLength = 256

// checkLengths refuses, before anything is looked up, stored or audited, a
// scope or key name longer than secrets.MaxNameLength or a principal
// longer than maxPrincipalLength: such names cannot exist, and a caller
// must not be able to grow the audit log with them. fields are pairs of
// what ("scope", "key", "principal") and the name. The message gives the
// length, never the name.
func checkLengths(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		what, name := fields[i], fields[i+1]
		limit := secrets.MaxNameLength
		if what == "principal" {
			limit = maxPrincipalLength
		}
		if len(name) > limit {
			return invalidParam("The %s name must be at most %d characters long, got %d.", what, limit, len(name))
		}
	}
	return nil
}
