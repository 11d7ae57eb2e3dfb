package sweep

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"bonafide"
	"bonafide/sqlite"
)

// TestAuditPurge: entries older than Keep go at Start, the purge records itself, younger entries
// stay; Keep 0 keeps everything; Stop ends the loop.
func TestAuditPurge(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, age := range []time.Duration{3 * 365 * 24 * time.Hour, 800 * 24 * time.Hour, 700 * 24 * time.Hour, time.Hour} {
		if err := st.AppendAudit(ctx, &bonafide.AuditEntry{Time: now.Add(-age), Actor: "u1", Action: bonafide.AuditLogin}); err != nil {
			t.Fatal(err)
		}
	}
	if n := (&AuditPurge{Store: st, Now: func() time.Time { return now }}).Purge(ctx); n != 0 {
		t.Fatalf("Keep 0 purged %d entries", n)
	}
	p := &AuditPurge{Store: st, Keep: bonafide.DefaultAuditRetention, Every: time.Hour, Now: func() time.Time { return now }}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stop, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Stop(stop); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	es, _, err := st.ListAudit(ctx, bonafide.AuditFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	if len(es) != 3 || es[0].Action != bonafide.AuditPurge || es[0].Actor != bonafide.AuditSystem || es[0].Details["entries"] != "2" {
		t.Fatalf("after the purge: %v (%+v)", actions, es[0])
	}
}
