package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultAuditRetention is how long audit records are kept when
// Config.AuditRetention is 0: 365 days. Older records are pruned; export
// them first (hush audit export) to keep them elsewhere.
const DefaultAuditRetention = 365 * 24 * time.Hour

// pruneInterval is how often the server prunes audit records past retention.
const pruneInterval = time.Hour

// PruneAudit deletes the audit records older than the retention period
// (Config.AuditRetention) and returns how many it deleted; with retention
// off (negative) it deletes nothing. The server calls it at start and
// every hour; with several replicas on one database each does, harmlessly.
func (s *Server) PruneAudit(ctx context.Context) (int, error) {
	if s.cfg.AuditRetention < 0 {
		return 0, nil
	}
	n, err := s.st.PruneEvents(ctx, s.now().Add(-s.cfg.AuditRetention))
	if err != nil {
		return n, fmt.Errorf("prune audit records: %w", err)
	}
	return n, nil
}

// pruneLoop runs PruneAudit at start and every pruneInterval until ctx ends.
func (s *Server) pruneLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		n, err := s.PruneAudit(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.LogAttrs(ctx, slog.LevelError, "audit retention", slog.String("error", clipTo(err.Error(), maxLoggedError)))
		case n > 0:
			s.log.LogAttrs(ctx, slog.LevelInfo, "pruned audit records past retention", slog.Int("records", n), slog.Duration("retention", s.cfg.AuditRetention))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
