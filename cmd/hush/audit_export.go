package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newAuditExportCmd builds "hush audit export": every audit record as JSON
// lines, for an operator to ship to a log system before retention prunes it.
func newAuditExportCmd() *cobra.Command {
	f := &apiFlags{}
	var (
		q     dbapi.AuditQuery
		since string
	)
	cmd := &cobra.Command{
		Use:   "export [--since TIME] [--scope S] [--actor A]",
		Short: "Print audit records as JSON lines, oldest first (admins)",
		Long: `Prints every matching audit record as one JSON object per line, oldest first,
paging through the whole log (no --limit): the format log shippers read.
hush serve prunes records older than --audit-retention (365 days by
default); export them before, for example daily with --since 2d, to keep
them elsewhere (records of the overlap repeat; dedupe downstream, or export
from the last exported timestamp).

--since takes an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02,
UTC) or a duration back from now (90m, 24h, 7d).`,
		Example: `  hush audit export > audit.jsonl
  hush audit export --since 24h | vector --config ship-audit.toml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return usageError{err}
				}
				q.Since = t
			}
			client, err := f.client()
			if err != nil {
				return err
			}
			_, err = exportAudit(c.Context(), client, q, dbapi.AuditMaxLimit, c.OutOrStdout())
			return err
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&q.Scope, "scope", "", "only records of this scope")
	fl.StringVar(&q.Actor, "actor", "", "only records of this user")
	fl.StringVar(&since, "since", "", "only records at or after this time (RFC 3339, YYYY-MM-DD, or a duration such as 24h or 7d)")
	return cmd
}

// exportAudit writes the audit records matching q (its Limit is ignored)
// to w as JSON lines, oldest first, each once, and returns how many. It
// pages forward pageSize records at a time: each page starts at the
// millisecond of the previous page's last record, skipping the records of
// that millisecond already written. A full page within one millisecond
// cannot be paged past, and is an error.
func exportAudit(ctx context.Context, client *dbapi.Client, q dbapi.AuditQuery, pageSize int, w io.Writer) (int, error) {
	q.Limit, q.OldestFirst = pageSize, true
	enc := json.NewEncoder(w)
	total, skip := 0, 0
	for {
		page, err := client.ListAudit(ctx, q)
		if err != nil {
			return total, fmt.Errorf("export audit records: %w", err)
		}
		for _, e := range page[min(skip, len(page)):] {
			if err := enc.Encode(e); err != nil {
				return total, fmt.Errorf("export audit records: %w", err)
			}
			total++
		}
		if len(page) < pageSize {
			return total, nil
		}
		last := page[len(page)-1].Timestamp
		skip = 0
		for i := len(page) - 1; i >= 0 && page[i].Timestamp == last; i-- {
			skip++
		}
		if skip == len(page) {
			return total, fmt.Errorf("export audit records: %d or more records in the millisecond %s, more than one page; exported %d records before it",
				pageSize, time.UnixMilli(last).UTC().Format(time.RFC3339Nano), total)
		}
		q.Since = time.UnixMilli(last)
	}
}
