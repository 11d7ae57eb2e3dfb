package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"bonafide"
)

// BenchmarkConsoleList renders pages of a list of 10,000 folders (each with a finished QUALITY
// analysis, a third of them declined) through the real server: the first, a middle and the last
// page, and the list filtered by verdict, by analysis type and by a meta_data value. Before it
// measures, it checks the paging: 50 rows a page, 200 pages, the right count on the last one.
// Seeding takes a while (three transactions per folder); run it alone:
//
//	go test -run '^$' -bench ConsoleList -benchtime 20x ./console/
func BenchmarkConsoleList(b *testing.B) {
	const folders = 10_000
	e := coServer(b, coOpts{})
	acme := e.company("Acme")
	client := e.user(bonafide.RoleClient, acme.ID, "client@example.com")
	e.user(bonafide.RoleAdmin, "", "admin@example.com")
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range folders {
		at := start.Add(time.Duration(i) * time.Minute)
		f := &bonafide.Folder{CompanyID: acme.ID, UserID: client.ID, Created: at, Updated: at,
			MetaData: json.RawMessage(fmt.Sprintf(`{"transaction_id":"tx-%05d","channel":"web"}`, i))}
		if err := e.Store.CreateFolder(ctx, f, nil); err != nil {
			b.Fatal(err)
		}
		a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY", Created: at, Updated: at}
		if err := e.Store.CreateAnalyses(ctx, []*bonafide.Analysis{a}); err != nil {
			b.Fatal(err)
		}
		res := bonafide.ResolutionSuccess
		if i%3 == 0 {
			res = bonafide.ResolutionDeclined
		}
		if err := e.Store.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: res,
			ResultsData: json.RawMessage(`{"confidence_spoofing":0.1}`)}); err != nil {
			b.Fatal(err)
		}
	}
	c := e.newClient()
	c.login("admin@example.com")
	check := func(q string, rows int, text string) {
		b.Helper()
		r := c.do("GET", "/console/"+q, nil)
		if n := strings.Count(r.Body, `class="folder-link"`); r.Status != http.StatusOK || n != rows || !strings.Contains(r.Body, text) {
			b.Fatalf("GET /console/%s: %d rows, want %d and %q: %s", q, n, rows, text, r)
		}
	}
	check("", 50, "Page 1 of 200")
	check("?page=200", 50, "9951–10000 of 10000")
	check("?page=201", 0, "Page 201 of 200")
	check("?verdict=DECLINED", 50, "of 3334")
	check("?meta_key=transaction_id&meta_value=tx-04242", 1, "1–1 of 1")
	b.ResetTimer()
	for _, q := range []string{"", "?page=100", "?page=200", "?verdict=DECLINED&page=30", "?type=QUALITY&page=7", "?meta_key=transaction_id&meta_value=tx-04242"} {
		name := strings.TrimPrefix(q, "?")
		if name == "" {
			name = "page=1"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if r := c.do("GET", "/console/"+q, nil); r.Status != http.StatusOK {
					b.Fatal(r)
				}
			}
		})
	}
}
