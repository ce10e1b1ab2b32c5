package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newAuditCmd builds "hush audit": the server's audit log (admins only).
func newAuditCmd() *cobra.Command {
	f := &apiFlags{}
	var (
		q     dbapi.AuditQuery
		since string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log: who created, read, changed or deleted what (admins)",
		Long: `Prints audit events, oldest first: every scope, secret and ACL operation,
allowed or denied, with its actor and time. Records never hold secret values.

--since takes an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02,
UTC) or a duration back from now (90m, 24h, 7d).`,
		Example: `  hush audit --since 24h
  hush audit --scope payments --actor alice@example.com -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return usageError{err}
				}
				q.Since = t
			}
			if q.Limit < 0 || q.Limit > dbapi.AuditMaxLimit {
				return usagef("--limit must be between 1 and %d", dbapi.AuditMaxLimit)
			}
			client, err := f.client()
			if err != nil {
				return err
			}
			events, err := client.ListAudit(c.Context(), q)
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(c.OutOrStdout(), nonNil(events))
			}
			rows := make([][]string, 0, len(events))
			for _, e := range events {
				result := "allowed"
				if !e.Allowed {
					result = "denied"
				}
				if e.ErrorCode != "" {
					result += " " + e.ErrorCode
				}
				rows = append(rows, []string{millisTime(e.Timestamp, "-"), e.Actor, e.Action, e.Scope, e.Key, result, e.Remote})
			}
			return printTable(c.OutOrStdout(), []column{{header: "Time"}, {header: "Actor"}, {header: "Action"}, {header: "Scope"}, {header: "Key/principal"}, {header: "Result"}, {header: "Remote"}}, rows)
		},
	}
	cmd.AddCommand(newAuditExportCmd())
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&q.Scope, "scope", "", "only events of this scope")
	fl.StringVar(&q.Actor, "actor", "", "only events of this user")
	fl.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, YYYY-MM-DD, or a duration such as 24h or 7d)")
	fl.IntVar(&q.Limit, "limit", 0, fmt.Sprintf("only the newest N events (default and maximum %d)", dbapi.AuditMaxLimit))
	return cmd
}

// parseSince reads --since: an RFC 3339 time, a UTC date, or a duration back
// from now (Go syntax, plus "d" for days).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: use an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration (24h, 7d)", s)
}
