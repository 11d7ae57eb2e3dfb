package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"bonafide"
	"bonafide/jobs"
)

// TestAuditExport: `bonafide audit export` writes the window's entries oldest first as JSON lines
// in the API's shape, across page boundaries; `user` commands leave entries; bad flags are refused
// with exit status 2; --help prints the usage.
func TestAuditExport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if code, out, errs := run(t, "user", "create", "--email", "alice@example.com", "--password", "first-password", "--company", "acme", "--data-dir", dir); code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	var sf serverFlags
	sf.dataDir = dir
	sf.resolve()
	db, err := openDatabase(ctx, &sf, jobs.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	store := db.Store()
	now := time.Now().UTC()
	old := bonafide.AuditEntry{Time: now.Add(-72 * time.Hour), Actor: "u0", Action: bonafide.AuditMediaRead}
	if err := store.AppendAudit(ctx, &old); err != nil {
		t.Fatal(err)
	}
	base := now.Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 7 {
		// Three entries share each millisecond, so page ends fall inside a millisecond.
		e := bonafide.AuditEntry{Time: base.Add(time.Duration(i/3) * time.Millisecond), Actor: "u1", Action: bonafide.AuditLogin,
			Details: map[string]string{"i": string(rune('0' + i))}}
		if err := store.AppendAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	defer func(b int) { auditExportBatch = b }(auditExportBatch)
	auditExportBatch = 2

	code, out, errs := run(t, "audit", "export", "--since", "2h", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e struct {
			ID      string            `json:"audit_id"`
			Actor   string            `json:"actor"`
			Action  string            `json:"action"`
			Details map[string]string `json:"details"`
			Time    float64           `json:"time_created"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if e.ID == "" || e.Time == 0 {
			t.Errorf("line without id or time: %s", sc.Text())
		}
		got = append(got, e.Action+":"+e.Details["i"]+e.Details["via"])
	}
	want := []string{"user.create:cli", "login:0", "login:1", "login:2", "login:3", "login:4", "login:5", "login:6"}
	// user.create happened now, after the logins an hour ago: it comes last.
	want = append(want[1:], want[0])
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("export:\n got  %v\n want %v", got, want)
	}

	code, out, _ = run(t, "audit", "export", "--since", now.Add(-100*time.Hour).Format(time.RFC3339), "--until", "48h", "--data-dir", dir)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"actor":"u0"`) {
		t.Errorf("a window of RFC 3339 and a duration: %d %q", code, out)
	}
	for _, bad := range [][]string{{"audit", "export"}, {"audit", "export", "--since", "yesterday"}, {"audit", "export", "--since", "1h", "--until", "2h"}, {"audit", "erase"}} {
		if code, _, _ := run(t, append(bad, "--data-dir", dir)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if code, out, errs := run(t, "audit", "export", "--help"); code != 0 || !strings.Contains(out+errs, "--since") {
		t.Errorf("--help: %d %s %s", code, out, errs)
	}
}

// TestAuditRetentionFlag: --audit-retention takes what the retention settings take, shows whole days as
// days, and refuses anything else.
func TestAuditRetentionFlag(t *testing.T) {
	var d retentionValue
	for in, want := range map[string]time.Duration{"730d": bonafide.DefaultAuditRetention, "36h": 36 * time.Hour, "0": 0} {
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	d = retentionValue(bonafide.DefaultAuditRetention)
	if d.String() != "730d" {
		t.Errorf("String() = %q, want 730d", d.String())
	}
	for _, bad := range []string{"2y", "1.5d", "d", "forever"} {
		if err := d.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
