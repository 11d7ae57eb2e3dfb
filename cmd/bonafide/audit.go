package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"bonafide"
	"bonafide/api"
	"bonafide/jobs"
)

const auditUsage = `Usage:
  bonafide audit export --since DURATION-or-RFC3339 [--until DURATION-or-RFC3339]

Writes the audit trail's entries in the window, oldest first, to standard output as JSON lines,
each in the shape GET /api/audit answers (audit_id, time_created, actor, company_id, action,
objects, client_address, request_id, details). A duration counts back from now (90d, 12h, 30m;
d is 24 h); a time is RFC 3339 (2026-01-31T00:00:00Z). --until defaults to now.

Reads the server's database (--data-dir / --database-url as for 'serve').
`

// auditExportBatch is how many entries one query reads (a variable for the tests).
var auditExportBatch = 1000

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, auditUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "export" {
		fmt.Fprintf(stderr, "bonafide audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
		return 2
	}
	fs := newFlags("audit export", auditUsage, stderr)
	var sf serverFlags
	sf.register(fs)
	since := fs.String("since", "", "the window's start: a duration back from now (90d, 12h) or an RFC 3339 time (required)")
	until := fs.String("until", "", "the window's end (inclusive): a duration back from now or an RFC 3339 time (default now)")
	if code, done := parse(fs, args[1:]); done {
		return code
	}
	now := time.Now().UTC()
	if *since == "" {
		fmt.Fprintln(stderr, "bonafide audit export: --since is required")
		return 2
	}
	from, err := parseAuditTime(*since, now)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide audit export: --since: %v\n", err)
		return 2
	}
	to := now
	if *until != "" {
		if to, err = parseAuditTime(*until, now); err != nil {
			fmt.Fprintf(stderr, "bonafide audit export: --until: %v\n", err)
			return 2
		}
	}
	if to.Before(from) {
		fmt.Fprintf(stderr, "bonafide audit export: --until (%s) is before --since (%s)\n", to.Format(time.RFC3339), from.Format(time.RFC3339))
		return 2
	}
	sf.resolve()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	db, err := openDatabase(ctx, &sf, jobs.Config{Logger: log}, log)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide audit export: %v\n", err)
		return 1
	}
	store := db.Store()
	defer store.Close()
	n, err := exportAudit(ctx, store, from, to, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide audit export: after %d entries: %v\n", n, err)
		return 1
	}
	return 0
}

// exportAudit writes the entries of [from, to] as JSON lines, oldest first, and says how many. It
// pages forward by time (the next page starts at the millisecond the last one ended in, past the
// entries of that millisecond already written), so that entries appended meanwhile cannot shift
// a page, and it holds one page in memory.
func exportAudit(ctx context.Context, s bonafide.AuditStore, from, to time.Time, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n, lo := 0, from
	seen := map[string]bool{} // ids written in the millisecond lo
	for {
		es, _, err := s.ListAudit(ctx, bonafide.AuditFilter{TimeMin: &lo, TimeMax: &to, Offset: len(seen),
			Limit: auditExportBatch, OldestFirst: true})
		if err != nil {
			return n, err
		}
		for _, e := range es {
			if seen[e.ID] {
				continue
			}
			if err := enc.Encode(api.RenderAudit(e)); err != nil {
				return n, err
			}
			n++
			if !e.Time.Equal(lo) {
				lo, seen = e.Time, map[string]bool{}
			}
			seen[e.ID] = true
		}
		if len(es) < auditExportBatch {
			break
		}
	}
	return n, bw.Flush()
}

// parseAuditTime reads a time: an RFC 3339 time, or a duration back from now written as the
// retention settings are ("90d", "12h", "30m": bonafide.ParseRetention).
func parseAuditTime(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	d, err := bonafide.ParseRetention(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (90d, 12h, 30m) nor an RFC 3339 time", v)
	}
	return now.Add(-d), nil
}

// retentionValue is a duration flag written as the retention settings are ("730d", "36h", "0"):
// one parser (bonafide.ParseRetention) for every retention the server takes.
type retentionValue time.Duration

// String writes the duration in its largest whole unit (bonafide.FormatRetention).
func (d *retentionValue) String() string { return bonafide.FormatRetention(time.Duration(*d)) }

// Set parses a retention duration.
func (d *retentionValue) Set(s string) error {
	v, err := bonafide.ParseRetention(s)
	if err != nil {
		return err
	}
	*d = retentionValue(v)
	return nil
}
