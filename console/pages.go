package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"bonafide"
)

// Mount serves the console under /console/, answers GET / with a redirect to it, and leaves every
// other path (the whole Oz API, /static/, /healthz, ...) to api, untouched.
func (c *Console) Mount(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	h := c.Handler()
	if c.cfg.Instrument != nil {
		h = c.cfg.Instrument(h)
	}
	mux.Handle("/console/", h)
	mux.Handle("/console", http.RedirectHandler(Path, http.StatusSeeOther))
	mux.Handle("GET /{$}", http.RedirectHandler(Path, http.StatusSeeOther))
	mux.Handle("/", api)
	return mux
}

// --- the folder list --------------------------------------------------------------------------

// listFilter is the list page's query: the filters a person types, and the page.
type listFilter struct {
	From, To           string // dates, YYYY-MM-DD (UTC), inclusive
	Verdict            string // a folder verdict or status (bonafide.ParseFolderStatus)
	Type               string // an analysis type
	MetaKey, MetaValue string
	Page               int // from 1
}

// query is the filter as a URL query, for links that keep it (page links).
func (f listFilter) query(page int) string {
	q := url.Values{}
	for k, v := range map[string]string{"from": f.From, "to": f.To, "verdict": f.Verdict, "type": f.Type, "meta_key": f.MetaKey, "meta_value": f.MetaValue} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return Path
	}
	return Path + "?" + q.Encode()
}

const maxFilterLen = 200

// parseList reads the list query into the store's filter (code 4 naming the field on bad input).
func (c *Console) parseList(q url.Values) (listFilter, bonafide.FolderFilter, error) {
	lf := listFilter{From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Verdict: strings.ToUpper(strings.TrimSpace(q.Get("verdict"))), Type: strings.TrimSpace(q.Get("type")),
		MetaKey: strings.TrimSpace(q.Get("meta_key")), MetaValue: q.Get("meta_value"), Page: 1}
	ff := bonafide.FolderFilter{SortField: bonafide.SortTimeCreated, Limit: c.cfg.PageSize, WithTotal: true}
	for name, v := range map[string]string{"meta_key": lf.MetaKey, "meta_value": lf.MetaValue, "type": lf.Type} {
		if len(v) > maxFilterLen {
			return lf, ff, bonafide.InvalidValue(name, "%s has %d characters; at most %d", name, len(v), maxFilterLen)
		}
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1_000_000 {
			return lf, ff, bonafide.InvalidValue("page", "page %q is not a page number", p)
		}
		lf.Page = n
	}
	ff.Offset = (lf.Page - 1) * c.cfg.PageSize
	day := func(name, v string, end bool) (*time.Time, error) {
		if v == "" {
			return nil, nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return nil, bonafide.InvalidValue(name, "%s %q is not a date (YYYY-MM-DD)", name, v)
		}
		if end {
			t = t.Add(24*time.Hour - time.Millisecond)
		}
		return &t, nil
	}
	var err error
	if ff.CreatedMin, err = day("from", lf.From, false); err != nil {
		return lf, ff, err
	}
	if ff.CreatedMax, err = day("to", lf.To, true); err != nil {
		return lf, ff, err
	}
	if lf.Verdict != "" {
		if _, _, err := bonafide.ParseFolderStatus(lf.Verdict); err != nil {
			return lf, ff, err
		}
		ff.ResolutionStatus = lf.Verdict
	}
	if lf.Type != "" {
		t, ok := bonafide.LookupOzAnalysisType(lf.Type)
		if !ok {
			return lf, ff, bonafide.NotAnOzAnalysisType(lf.Type)
		}
		ff.AnalysisType = t.Name
		lf.Type = t.Name
	}
	if lf.MetaKey != "" {
		ff.MetaEquals = map[string]string{lf.MetaKey: lf.MetaValue}
	} else if lf.MetaValue != "" {
		return lf, ff, bonafide.InvalidValue("meta_key", "a meta_data value needs the key it belongs to")
	}
	return lf, ff, nil
}

// listRow is one folder of the list.
type listRow struct {
	ID, Created, Status, Verdict string
	Types                        []string
	Decisions                    []string // the operators' decisions, one per decided analysis
	Meta                         string   // meta_data, shortened
}

// list answers GET /console/: the folders the caller may see, newest first, filtered and paged in
// the store (one page of rows and their analyses are read, whatever the number of folders).
func (c *Console) list(w http.ResponseWriter, r *http.Request) error {
	s := current(r)
	lf, ff, err := c.parseList(r.URL.Query())
	if err != nil {
		return err
	}
	if ff.CompanyID, ff.UserID, err = bonafide.FolderScope(s.User); err != nil {
		return err
	}
	folders, total, err := c.store.ListFolders(r.Context(), ff)
	if err != nil {
		return err
	}
	rows := make([]listRow, 0, len(folders))
	for _, f := range folders {
		as, err := c.store.ListAnalyses(r.Context(), f.ID)
		if err != nil {
			return err
		}
		status, verdict := bonafide.FolderStatus(as)
		row := listRow{ID: f.ID, Created: stamp(f.Created), Status: status, Verdict: verdict, Meta: shortJSON(f.MetaData, 80)}
		seen := map[string]bool{}
		for _, a := range as {
			if !seen[a.Type] {
				seen[a.Type] = true
				row.Types = append(row.Types, a.Type)
			}
			if a.Decision != nil {
				row.Decisions = append(row.Decisions, a.Decision.Resolution)
			}
		}
		rows = append(rows, row)
	}
	pages := max(1, (total+c.cfg.PageSize-1)/c.cfg.PageSize)
	body := map[string]any{"Filter": lf, "Rows": rows, "Total": total, "Page": lf.Page, "Pages": pages,
		"From": min(ff.Offset+1, total), "To": ff.Offset + len(rows),
		"Verdicts": []string{bonafide.ResolutionSuccess, bonafide.ResolutionDeclined, bonafide.ResolutionOperatorRequired,
			bonafide.StateProcessing, bonafide.StateFailed, bonafide.StatusInitial},
		"Types": []string{"QUALITY", "BIOMETRY", "COLLECTION"}}
	if lf.Page > 1 {
		body["Prev"] = lf.query(lf.Page - 1)
		body["First"] = lf.query(1)
	}
	if lf.Page < pages {
		body["Next"] = lf.query(lf.Page + 1)
		body["Last"] = lf.query(pages)
	}
	c.render(w, http.StatusOK, "list", pageData{Title: "Folders", Session: s, Body: body})
	return nil
}

// --- the folder page --------------------------------------------------------------------------

type mediaView struct {
	ID, Name, Kind, URL string
	Tags                []string
	Video, Image        bool
}

type analysisView struct {
	ID, Type, State, System, Error, Created, Updated string
	Confidence                                       string
	Decision                                         *decisionView
	CanDecide                                        bool
	Results                                          []resultView
}

type decisionView struct {
	Resolution, By, At, Comment string
}

type resultView struct {
	MediaID, MediaName, Resolution, Confidence, Error, BestShot string
	Reasons                                                     []reasonView
	Signals                                                     []signalView
	Challenges                                                  []challengeView
	Engine                                                      *engineView
	Chart                                                       *chart
	Extra                                                       string // results_data of a non-QUALITY result, shortened
}

type reasonView struct{ Code, Message string }

type signalView struct {
	Name, Score, Value, Weight, Detail string
}

type challengeView struct {
	Tag, Action, Measured, Needed, Detail string
	Met                                   bool
}

type engineView struct {
	Version, Calibration string
	Models               []modelView
}

type modelView struct{ Name, File, SHA256 string }

// folder answers GET /console/folders/{id}: another tenant's folder is 404, as in the API.
func (c *Console) folder(w http.ResponseWriter, r *http.Request) error {
	s := current(r)
	id := r.PathValue("id")
	f, err := c.store.GetFolder(r.Context(), id)
	if err != nil {
		return err
	}
	if !bonafide.CanSeeFolder(s.User, f) {
		return bonafide.NotFound("folder", id)
	}
	// A view of a folder's faces is a read of biometric data: no view without its record.
	if err := bonafide.Audit(r.Context(), c.store, bonafide.AuditEntry{Actor: s.User.ID, CompanyID: f.CompanyID,
		Action: bonafide.AuditFolderView, Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjFolder, f.ID)}}); err != nil {
		return err
	}
	trail, err := c.folderAudit(r, s.User, f)
	if err != nil {
		return err
	}
	ms, err := c.store.ListMedia(r.Context(), f.ID)
	if err != nil {
		return err
	}
	as, err := c.store.ListAnalyses(r.Context(), f.ID)
	if err != nil {
		return err
	}
	status, verdict := bonafide.FolderStatus(as)
	byID := map[string]*bonafide.Media{}
	var media []mediaView
	for _, m := range ms {
		byID[m.ID] = m
		media = append(media, mediaView{ID: m.ID, Name: m.OriginalName, Kind: string(m.Kind), URL: c.localURL(m.BlobKey),
			Tags: m.Tags, Video: m.Kind == bonafide.KindVideo, Image: m.Kind == bonafide.KindImage})
	}
	canDecide := bonafide.CanDecide(s.User, f)
	users := map[string]string{}
	var analyses []analysisView
	for i := len(as) - 1; i >= 0; i-- { // newest first
		analyses = append(analyses, c.analysisView(r, as[i], byID, canDecide, users))
	}
	// After a decision (post, redirect, get) the page says it is saved: only for a decided analysis
	// of this folder, so a link cannot make it say anything else.
	done := ""
	for _, a := range as {
		if a.ID == r.URL.Query().Get("decided") && a.Decision != nil {
			done = a.ID
		}
	}
	company := f.CompanyID // its name when it can be read
	if co, err := c.store.GetCompany(r.Context(), f.CompanyID); err == nil && co.Name != "" {
		company = co.Name
	}
	body := map[string]any{"Folder": f, "Company": company, "ID": f.ID, "Created": stamp(f.Created), "Updated": stamp(f.Updated),
		"Status": status, "Verdict": verdict, "Meta": metaRows(f.MetaData), "Media": media, "Analyses": analyses,
		"CSRF": s.CSRF, "Done": done, "Audit": trail}
	c.render(w, http.StatusOK, "folder", pageData{Title: "Folder " + f.ID, Session: s, Body: body})
	return nil
}

// auditView is one audit entry on a folder's page.
type auditView struct {
	Time, Actor, Action, Objects, Client string
}

// auditSection is the audit part of a folder's page.
type auditSection struct{ Entries []auditView }

// auditRows is how many of a folder's audit entries its page shows, newest first.
const auditRows = 50

// folderAudit is the folder's audit trail as u may read it (bonafide.AuditScope): nil for those
// who may not, who see no section.
func (c *Console) folderAudit(r *http.Request, u *bonafide.User, f *bonafide.Folder) (*auditSection, error) {
	company, err := bonafide.AuditScope(u)
	if err != nil || (company != "" && company != f.CompanyID) {
		return nil, nil
	}
	entries, _, err := c.store.ListAudit(r.Context(), bonafide.AuditFilter{CompanyID: company, ObjectID: f.ID, Limit: auditRows})
	if err != nil {
		return nil, err
	}
	users := map[string]string{}
	out := []auditView{}
	for _, e := range entries {
		actor := e.Actor
		if actor != bonafide.AuditSystem && actor != bonafide.AuditAnonymous {
			actor = c.userName(r, actor, users)
		}
		var objs []string
		for _, o := range e.Objects {
			if o.ID != f.ID {
				objs = append(objs, o.Type+" "+o.ID)
			}
		}
		out = append(out, auditView{Time: stamp(e.Time), Actor: actor, Action: e.Action, Objects: strings.Join(objs, ", "), Client: e.ClientAddr})
	}
	return &auditSection{Entries: out}, nil
}

// localURL is the path and query of a signed URL: the browser fetches it from the console's own
// origin (the Content-Security-Policy allows only that), whatever base URL the API renders.
func (c *Console) localURL(key string) string {
	if key == "" {
		return ""
	}
	u, err := url.Parse(c.cfg.SignURL(key))
	if err != nil {
		return ""
	}
	return u.RequestURI()
}

func (c *Console) analysisView(r *http.Request, a *bonafide.Analysis, media map[string]*bonafide.Media, canDecide bool, users map[string]string) analysisView {
	v := analysisView{ID: a.ID, Type: a.Type, State: a.State, System: a.State, Error: a.Error,
		Created: stamp(a.Created), Updated: stamp(a.Updated), CanDecide: canDecide && a.State == bonafide.StateFinished}
	if a.State == bonafide.StateFinished {
		v.System = a.Resolution
	}
	var rd struct {
		Confidence *float64 `json:"confidence_spoofing"`
	}
	if json.Unmarshal(a.ResultsData, &rd) == nil && rd.Confidence != nil {
		v.Confidence = num(*rd.Confidence, 4)
	}
	if d := a.Decision; d != nil {
		v.Decision = &decisionView{Resolution: d.Resolution, At: stamp(d.At), Comment: d.Comment, By: c.userName(r, d.UserID, users)}
	}
	for _, res := range a.Results {
		v.Results = append(v.Results, c.resultView(res, media))
	}
	return v
}

// userName shows who decided: the email where bonafide.CanSeeDeciderEmail allows it, else the id.
func (c *Console) userName(r *http.Request, id string, cache map[string]string) string {
	if n, ok := cache[id]; ok {
		return n
	}
	name := id
	viewer := current(r).User
	if u, err := c.store.GetUser(r.Context(), id); err == nil && bonafide.CanSeeDeciderEmail(viewer, u) {
		name = u.Email
	}
	cache[id] = name
	return name
}

func (c *Console) resultView(res bonafide.MediaResult, media map[string]*bonafide.Media) resultView {
	v := resultView{MediaID: res.MediaID, Resolution: res.Resolution, Error: res.Error, BestShot: c.localURL(res.BestShotKey)}
	if m, ok := media[res.MediaID]; ok {
		v.MediaName = m.OriginalName
	}
	if res.ConfidenceSpoofing != nil {
		v.Confidence = num(*res.ConfidenceSpoofing, 4)
	}
	ev := res.Details
	if ev == nil {
		return v
	}
	if l := ev.LivenessEvidence; l != nil {
		livenessView(&v, l)
	}
	if len(ev.ResultsData) > 0 {
		v.Extra = shortJSON(ev.ResultsData, 400)
	}
	return v
}

// livenessView shows the engine's evidence: reasons, signals by weight, challenges, the engine and
// the per-frame chart.
func livenessView(v *resultView, ev *bonafide.LivenessEvidence) {
	for _, x := range ev.Reasons {
		v.Reasons = append(v.Reasons, reasonView{Code: x.Code, Message: x.Message})
	}
	signals := slices.Clone(ev.Signals)
	sort.SliceStable(signals, func(i, j int) bool { return signals[i].Weight > signals[j].Weight })
	for _, x := range signals {
		sv := signalView{Name: x.Name, Value: num(x.Value, 3), Weight: num(x.Weight, 3), Detail: x.Detail, Score: "not measured"}
		if x.Score != nil {
			sv.Score = num(*x.Score, 3)
		}
		v.Signals = append(v.Signals, sv)
	}
	for _, x := range ev.Challenges {
		v.Challenges = append(v.Challenges, challengeView{Tag: x.Tag, Action: x.Action, Met: x.Met,
			Measured: num(x.Measured, 3), Needed: num(x.Needed, 3), Detail: x.Detail})
	}
	ek := &engineView{Version: ev.Engine.Version, Calibration: ev.Engine.Calibration}
	for _, m := range ev.Engine.Models {
		ek.Models = append(ek.Models, modelView{Name: m.Name, File: m.File, SHA256: m.SHA256})
	}
	v.Engine = ek
	if len(ev.Frames) > 0 {
		v.Chart = newChart(ev.Frames)
	}
}

// decide answers POST /console/analyses/{id}/decision (CSRF-checked by authed) with the rule of
// PATCH /api/analyses/{id}, then shows the folder again (post, redirect, get).
func (c *Console) decide(w http.ResponseWriter, r *http.Request) error {
	s := current(r)
	a, err := bonafide.Decide(r.Context(), c.store, s.User, r.PathValue("id"), r.PostFormValue("resolution"), r.PostFormValue("comment"), c.cfg.Now())
	if err != nil {
		return err
	}
	c.cfg.Log.Info("operator decision", "analysis_id", a.ID, "folder_id", a.FolderID, "user_id", s.User.ID,
		"resolution", a.Decision.Resolution, "system_resolution", a.Resolution, "via", "console")
	company := ""
	if f, err := c.store.GetFolder(r.Context(), a.FolderID); err == nil {
		company = f.CompanyID
	}
	if err := bonafide.Audit(r.Context(), c.store, bonafide.AuditEntry{Actor: s.User.ID, CompanyID: company, Action: bonafide.AuditDecision,
		Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjAnalysis, a.ID), bonafide.Obj(bonafide.ObjFolder, a.FolderID)},
		Details: map[string]string{"resolution": a.Decision.Resolution, "system_resolution": a.Resolution, "via": "console"}}); err != nil {
		c.cfg.Log.Error("audit entry not recorded", "action", bonafide.AuditDecision, "err", err) // the decision is saved
	}
	http.Redirect(w, r, Path+"folders/"+url.PathEscape(a.FolderID)+"?decided="+url.QueryEscape(a.ID)+"#analysis-"+url.PathEscape(a.ID), http.StatusSeeOther)
	return nil
}

// --- formatting -------------------------------------------------------------------------------

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func num(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

// shortJSON is a JSON value in one line, cut at n characters.
func shortJSON(raw json.RawMessage, n int) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "{}" || s == "null" {
		return ""
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

type metaRow struct{ Key, Value string }

// metaRows is a meta_data object's top-level keys in order, each value as JSON text (strings bare).
func metaRows(raw json.RawMessage) []metaRow {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	rows := make([]metaRow, 0, len(m))
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = shortJSON(v, 400)
		}
		rows = append(rows, metaRow{Key: k, Value: s})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	return rows
}
