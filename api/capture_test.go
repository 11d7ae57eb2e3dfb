package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"bonafide"
)

// capWebM is the start of a WebM file: enough for the upload's sniffing (the engine never runs in
// these tests; the browser tests in cmd/bonafide upload real recordings).
func capWebM() []byte {
	head := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x87, 0x42, 0x82, 0x84, 'w', 'e', 'b', 'm'}
	return append(head, bytes.Repeat([]byte{0}, 256)...)
}

// capClips is a multipart body of files in order (field names gesture1...), with a payload that
// tries to set its own tags (the server must ignore it).
func capClips(t *testing.T, files ...[]byte) tuForm {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("payload", `{"media:tags":{"gesture1":["video_selfie_blank"]}}`)
	for i, data := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="gesture%d"; filename="gesture%d.webm"`, i+1, i+1))
		h.Set("Content-Type", "video/webm")
		pw, _ := mw.CreatePart(h)
		_, _ = pw.Write(data)
	}
	_ = mw.Close()
	return tuForm{body: buf.Bytes(), contentType: mw.FormDataContentType()}
}

// capToken takes the capture token from a session URL (its fragment).
func capToken(t *testing.T, url string) string {
	t.Helper()
	_, tok, ok := strings.Cut(url, "#")
	if !ok || len(tok) != 64 {
		t.Fatalf("session url %q: want the 64-hex token in the fragment", url)
	}
	return tok
}

func TestCaptureSessionFlow(t *testing.T) {
	env := tuServer(t)
	co := env.tuCompany("acme")
	client := env.tuUserLoggedIn(bonafide.RoleClient, co.ID, "client@acme.test")
	check := oaChecker(t)
	valid := func(r *tuResp) *tuResp {
		t.Helper()
		if err := check.Response(r.Method, strings.SplitN(r.Path, "?", 2)[0], r.Status, r.Header, r.Body); err != nil {
			t.Fatalf("%s: not as api/openapi.yaml says: %v", r, err)
		}
		return r
	}
	link := func(path, token string) *tuResp {
		t.Helper()
		return valid(env.tuDo("GET", path, "", nil, "X-Capture-Token", token))
	}

	r := valid(env.tuDo("POST", "/api/capture/sessions", client.Token, map[string]any{
		"actions": []string{"video_selfie_left", "VIDEO_SELFIE_SMILE"}, "folder_meta_data": map[string]string{"ref": "r1"},
		"return_url": "https://example.com/back", "lang": "fr"})).tuExpect(http.StatusCreated, 0)
	s := r.Obj()
	id, url := s["session_id"].(string), s["url"].(string)
	if !strings.HasPrefix(url, env.URL+"/capture/?lang=fr#") {
		t.Fatalf("url %q: want the capture page with lang and the token in the fragment", url)
	}
	token := capToken(t, url)
	if s["state"] != "CREATED" || s["gesture_seconds"] != 3.0 || s["show_result"] != true {
		t.Fatalf("created: %s", r)
	}
	if got := s["actions"].([]any); len(got) != 2 || got[0] != "video_selfie_left" || got[1] != "video_selfie_smile" {
		t.Fatalf("actions %v, want the tags as asked, in order, lower case", got)
	}
	folderID := s["folder_id"].(string)
	f := env.tuDo("GET", "/api/folders/"+folderID, client.Token, nil).tuExpect(http.StatusOK, 0).Obj()
	if f["meta_data"].(map[string]any)["ref"] != "r1" {
		t.Fatalf("folder meta_data: %v", f["meta_data"])
	}
	got := valid(env.tuDo("GET", "/api/capture/sessions/"+id, client.Token, nil)).tuExpect(http.StatusOK, 0).Obj()
	if got["state"] != "CREATED" || got["url"] != nil || got["analysis_id"] != nil {
		t.Fatalf("GET before opening: %v (the url, holding the token, is shown only once)", got)
	}

	// The page's side: no token, a wrong one, then the link's.
	link("/api/capture/link", "").tuExpect(http.StatusUnauthorized, 6)
	link("/api/capture/link", strings.Repeat("ab", 32)).tuExpect(http.StatusUnauthorized, 7)
	link("/api/capture/link", client.Token).tuExpect(http.StatusUnauthorized, 7)
	page := link("/api/capture/link", token).tuExpect(http.StatusOK, 0).Obj()
	if page["state"] != "OPENED" || page["return_url"] != "https://example.com/back" {
		t.Fatalf("link: %v", page)
	}
	if st := env.tuDo("GET", "/api/capture/sessions/"+id, client.Token, nil).Obj()["state"]; st != "OPENED" {
		t.Fatalf("state after opening %v", st)
	}
	// The capture token opens nothing else.
	env.tuDo("GET", "/api/folders/"+folderID, "", nil, "X-Capture-Token", token).tuExpect(http.StatusUnauthorized, 6)
	env.tuDo("GET", "/api/folders/"+folderID, token, nil).tuExpect(http.StatusUnauthorized, 7)

	// Uploads that do not fit the session are refused and leave the link usable.
	upload := func(token string, form tuForm) *tuResp {
		t.Helper()
		return valid(env.tuDo("POST", "/api/capture/link/media", "", form, "X-Capture-Token", token))
	}
	upload(token, capClips(t, capWebM())).tuExpect(http.StatusBadRequest, 4)
	upload(token, capClips(t, capWebM(), tuJPEG(t))).tuExpect(http.StatusBadRequest, 5)
	upload(strings.Repeat("cd", 32), capClips(t, capWebM(), capWebM())).tuExpect(http.StatusUnauthorized, 7)
	up := upload(token, capClips(t, capWebM(), capWebM())).tuExpect(http.StatusCreated, 0).Obj()
	result := up["result_token"].(string)
	analysisID := up["analysis_id"].(string)

	// The clips carry the server's tags, in the order asked; the analysis bounds their length.
	ms, err := env.Store.ListMedia(tuCtx(), folderID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("ListMedia: %v %d", err, len(ms))
	}
	slices.SortFunc(ms, func(a, b *bonafide.Media) int { return strings.Compare(a.FieldName, b.FieldName) })
	if !slices.Equal(ms[0].Tags, []string{"video_selfie", "video_selfie_left"}) || !slices.Equal(ms[1].Tags, []string{"video_selfie", "video_selfie_smile"}) {
		t.Fatalf("tags %v %v", ms[0].Tags, ms[1].Tags)
	}
	a, err := env.Store.GetAnalysis(tuCtx(), analysisID)
	if err != nil {
		t.Fatal(err)
	}
	var params bonafide.AnalysisParams
	_ = json.Unmarshal(a.Params, &params)
	if a.Type != "QUALITY" || a.State != bonafide.StateProcessing || params.MaxClipSeconds != 3+bonafide.GestureSlackSeconds || len(a.SourceMedia) != 2 {
		t.Fatalf("analysis %+v params %s", a, a.Params)
	}
	if got := env.Enq.Analyses(); !slices.Equal(got, []string{analysisID}) {
		t.Fatalf("enqueued %v, want the one analysis", got)
	}

	// The link is used: it is refused everywhere; the result token only reads the verdict.
	link("/api/capture/link", token).tuExpect(http.StatusForbidden, 9)
	upload(token, capClips(t, capWebM(), capWebM())).tuExpect(http.StatusForbidden, 9)
	upload(result, capClips(t, capWebM(), capWebM())).tuExpect(http.StatusUnauthorized, 7)
	link("/api/capture/link/result", token).tuExpect(http.StatusUnauthorized, 7)
	res := link("/api/capture/link/result", result).tuExpect(http.StatusOK, 0).Obj()
	if res["state"] != "UPLOADED" || res["resolution_status"] != nil {
		t.Fatalf("result while analysing: %v", res)
	}
	if st := env.tuDo("GET", "/api/capture/sessions/"+id, client.Token, nil).Obj()["state"]; st != "UPLOADED" {
		t.Fatalf("state after the upload %v", st)
	}
	details := &bonafide.Evidence{LivenessEvidence: &bonafide.LivenessEvidence{Reasons: []bonafide.Reason{{Code: "CHALLENGE_NOT_MET", Message: "x"}}}}
	a.State, a.Resolution, a.ResultsData = bonafide.StateFinished, bonafide.ResolutionDeclined, json.RawMessage(`{"confidence_spoofing":0.7}`)
	a.Results = []bonafide.MediaResult{{MediaID: ms[0].ID, Kind: bonafide.KindVideo, Resolution: "DECLINED", Details: details}}
	if err := env.Store.FinishAnalysis(tuCtx(), a); err != nil {
		t.Fatal(err)
	}
	res = link("/api/capture/link/result", result).tuExpect(http.StatusOK, 0).Obj()
	if res["state"] != "FINISHED" || res["resolution_status"] != "DECLINED" || fmt.Sprint(res["reasons"]) != "[CHALLENGE_NOT_MET]" {
		t.Fatalf("result: %v", res)
	}
	got = valid(env.tuDo("GET", "/api/capture/sessions/"+id, client.Token, nil)).tuExpect(http.StatusOK, 0).Obj()
	if got["state"] != "FINISHED" || got["resolution_status"] != "DECLINED" || got["analysis_id"] != analysisID {
		t.Fatalf("session after the analysis: %v", got)
	}
	// The result token lasts its lifetime.
	env.Clock.Advance(bonafide.CaptureResultLifetime + time.Second)
	link("/api/capture/link/result", result).tuExpect(http.StatusUnauthorized, 8)

	// Another company's user cannot see the session.
	other := env.tuUserLoggedIn(bonafide.RoleClientAdmin, env.tuCompany("other").ID, "admin@other.test")
	env.tuDo("GET", "/api/capture/sessions/"+id, other.Token, nil).tuExpect(http.StatusNotFound, 10)
}

// A server that dies between claiming a session (the link dies) and starting its analysis leaves
// it UPLOADED without an analysis: after CaptureClaimGrace the link works again, the clips can be
// sent again and the session finishes; until then it counts as used.
func TestCaptureSessionLostUpload(t *testing.T) {
	env := tuServer(t)
	co := env.tuCompany("acme")
	client := env.tuUserLoggedIn(bonafide.RoleClient, co.ID, "client@acme.test")
	s := env.tuDo("POST", "/api/capture/sessions", client.Token, map[string]any{"actions": []string{"video_selfie_blank"}}).
		tuExpect(http.StatusCreated, 0).Obj()
	id, token := s["session_id"].(string), capToken(t, s["url"].(string))
	env.tuDo("GET", "/api/capture/link", "", nil, "X-Capture-Token", token).tuExpect(http.StatusOK, 0)

	// The claim of an upload whose process then died: what uploadCapture writes first.
	c, err := env.Store.GetCaptureSession(tuCtx(), id)
	if err != nil {
		t.Fatal(err)
	}
	claimed := *c
	claimed.State, claimed.AnalysisID, claimed.ResultHash = bonafide.CaptureUploaded, "4a7b7f0e-0000-4000-8000-000000000001", strings.Repeat("0", 64)
	if err := env.Store.UpdateCaptureSession(tuCtx(), &claimed, bonafide.CaptureOpened); err != nil {
		t.Fatal(err)
	}
	env.tuDo("GET", "/api/capture/link", "", nil, "X-Capture-Token", token).tuExpect(http.StatusForbidden, 9)
	if st := env.tuDo("GET", "/api/capture/sessions/"+id, client.Token, nil).Obj()["state"]; st != "UPLOADED" {
		t.Fatalf("state within the grace %v, want UPLOADED (the upload may still be storing)", st)
	}

	env.Clock.Advance(bonafide.CaptureClaimGrace + time.Second) // the store stamps Updated with the real time
	if st := env.tuDo("GET", "/api/capture/sessions/"+id, client.Token, nil).Obj()["state"]; st != "OPENED" {
		t.Fatalf("state after the grace %v, want OPENED", st)
	}
	page := env.tuDo("GET", "/api/capture/link", "", nil, "X-Capture-Token", token).tuExpect(http.StatusOK, 0).Obj()
	if page["state"] != "OPENED" {
		t.Fatalf("link after a lost upload: %v", page)
	}
	up := env.tuDo("POST", "/api/capture/link/media", "", capClips(t, capWebM()), "X-Capture-Token", token).tuExpect(http.StatusCreated, 0).Obj()
	if _, err := env.Store.GetAnalysis(tuCtx(), up["analysis_id"].(string)); err != nil {
		t.Fatalf("the second upload's analysis: %v", err)
	}
	env.tuDo("GET", "/api/capture/link", "", nil, "X-Capture-Token", token).tuExpect(http.StatusForbidden, 9)

	// A lost upload whose link has expired stays dead.
	s = env.tuDo("POST", "/api/capture/sessions", client.Token, map[string]any{"actions": []string{"video_selfie_blank"}, "expires_in": 60}).
		tuExpect(http.StatusCreated, 0).Obj()
	id2, token2 := s["session_id"].(string), capToken(t, s["url"].(string))
	c, _ = env.Store.GetCaptureSession(tuCtx(), id2)
	claimed = *c
	claimed.State, claimed.AnalysisID = bonafide.CaptureUploaded, "4a7b7f0e-0000-4000-8000-000000000002"
	if err := env.Store.UpdateCaptureSession(tuCtx(), &claimed, bonafide.CaptureCreated); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(bonafide.CaptureClaimGrace + time.Second) // the store stamps Updated with the real time
	env.tuDo("GET", "/api/capture/link", "", nil, "X-Capture-Token", token2).tuExpect(http.StatusUnauthorized, 8)
	if st := env.tuDo("GET", "/api/capture/sessions/"+id2, client.Token, nil).Obj()["state"]; st != "EXPIRED" {
		t.Fatalf("state of an expired lost upload %v, want EXPIRED", st)
	}
}

func TestCaptureSessionExpiresAndHides(t *testing.T) {
	env := tuServer(t)
	co := env.tuCompany("acme")
	client := env.tuUserLoggedIn(bonafide.RoleClientService, co.ID, "svc@acme.test")
	s := env.tuDo("POST", "/api/capture/sessions", client.Token, map[string]any{"random": 3, "expires_in": 30, "show_result": false}).
		tuExpect(http.StatusCreated, 0).Obj()
	actions := s["actions"].([]any)
	if len(actions) != 3 {
		t.Fatalf("random 3 drew %v", actions)
	}
	for i, a := range actions {
		if !bonafide.ValidGesture(a.(string)) || a == "video_selfie_blank" || (i > 0 && a == actions[i-1]) {
			t.Fatalf("drawn gestures %v: each a movement, none twice in a row", actions)
		}
	}
	token := capToken(t, s["url"].(string))
	env.Clock.Advance(31 * time.Second)
	env.tuDo("GET", "/api/capture/link", "", nil, "X-Capture-Token", token).tuExpect(http.StatusUnauthorized, 8)
	env.tuDo("POST", "/api/capture/link/media", "", capClips(t, capWebM(), capWebM(), capWebM()), "X-Capture-Token", token).tuExpect(http.StatusUnauthorized, 8)
	if st := env.tuDo("GET", "/api/capture/sessions/"+s["session_id"].(string), client.Token, nil).Obj()["state"]; st != "EXPIRED" {
		t.Fatalf("state %v, want EXPIRED", st)
	}

	// A session that does not show the verdict: the result says FINISHED and nothing else.
	s = env.tuDo("POST", "/api/capture/sessions", client.Token, map[string]any{"actions": []string{"video_selfie_blank"}, "show_result": false}).
		tuExpect(http.StatusCreated, 0).Obj()
	token = capToken(t, s["url"].(string))
	up := env.tuDo("POST", "/api/capture/link/media", "", capClips(t, capWebM()), "X-Capture-Token", token).tuExpect(http.StatusCreated, 0).Obj()
	a, err := env.Store.GetAnalysis(tuCtx(), up["analysis_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	a.State, a.Resolution, a.ResultsData = bonafide.StateFinished, bonafide.ResolutionSuccess, json.RawMessage(`{}`)
	if err := env.Store.FinishAnalysis(tuCtx(), a); err != nil {
		t.Fatal(err)
	}
	res := env.tuDo("GET", "/api/capture/link/result", "", nil, "X-Capture-Token", up["result_token"].(string)).tuExpect(http.StatusOK, 0).Obj()
	if res["state"] != "FINISHED" || res["resolution_status"] != nil || res["show_result"] != false {
		t.Fatalf("hidden result: %v", res)
	}
}

func TestCaptureSessionBadRequests(t *testing.T) {
	env := tuServer(t)
	co := env.tuCompany("acme")
	client := env.tuUserLoggedIn(bonafide.RoleClient, co.ID, "client@acme.test")
	for _, tc := range []struct {
		name string
		body any
		code int
	}{
		{"unknown gesture", map[string]any{"actions": []string{"video_selfie_dance"}}, 4},
		{"both actions and random", map[string]any{"actions": []string{"video_selfie_left"}, "random": 2}, 4},
		{"too many random", map[string]any{"random": 9}, 4},
		{"too many actions", map[string]any{"actions": slices.Repeat([]string{"video_selfie_left"}, 6)}, 4},
		{"expires too soon", map[string]any{"expires_in": 5}, 4},
		{"gesture too long", map[string]any{"gesture_seconds": 60}, 4},
		{"return url not http", map[string]any{"return_url": "javascript:alert(1)"}, 4},
		{"folder meta not an object", map[string]any{"folder_meta_data": []int{1}}, 5},
		{"actions not a list", map[string]any{"actions": "video_selfie_left"}, 5},
		{"bad lang", map[string]any{"lang": "<script>"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.tuFor(t).tuDo("POST", "/api/capture/sessions", client.Token, tc.body).tuExpect(http.StatusBadRequest, tc.code)
		})
	}
	op := env.tuUserLoggedIn(bonafide.RoleClientOperator, co.ID, "op@acme.test")
	env.tuDo("POST", "/api/capture/sessions", op.Token, map[string]any{}).tuExpect(http.StatusForbidden, 9)
	env.tuDo("POST", "/api/capture/sessions", "", map[string]any{}).tuExpect(http.StatusUnauthorized, 6)
	// No default gestures given: two are drawn.
	s := env.tuDo("POST", "/api/capture/sessions", client.Token, nil).tuExpect(http.StatusCreated, 0).Obj()
	if n := len(s["actions"].([]any)); n != bonafide.DefaultRandomGestures {
		t.Fatalf("%d gestures drawn by default", n)
	}
	env.tuDo("GET", "/api/capture/sessions/not-a-session", client.Token, nil).tuExpect(http.StatusNotFound, 10)
}
