package api

// The audit trail over HTTP: every request carries its source (client address, request id) for
// bonafide.Audit, the handlers record what the trail lists, and GET /api/audit reads it.

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"bonafide"
)

// withAuditSource puts the request's client address and id in its context (bonafide.AuditSource),
// where bonafide.Audit reads them. It runs inside withRequestID.
func (s *Server) withAuditSource(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := bonafide.AuditSource{RequestID: RequestID(r.Context())}
		if a := s.clientAddr(r); a.IsValid() {
			src.ClientAddr = a.String()
		}
		next.ServeHTTP(w, r.WithContext(bonafide.WithAuditSource(r.Context(), src)))
	})
}

// audit records an entry of the caller's (the authenticated user; anonymous when none): company is
// the company whose data it is ("" for the caller's own). A failure is the request's failure: no
// read of biometric data goes unrecorded.
func (s *Server) audit(r *http.Request, action, company string, details map[string]string, objects ...bonafide.AuditObject) error {
	e := bonafide.AuditEntry{Actor: bonafide.AuditAnonymous, Action: action, CompanyID: company, Objects: objects, Details: details}
	if p := caller(r); p != nil {
		e.Actor = p.user.ID
		if e.CompanyID == "" {
			e.CompanyID = p.user.CompanyID
		}
	}
	if err := bonafide.Audit(r.Context(), s.store, e); err != nil {
		s.log.ErrorContext(r.Context(), "audit entry not recorded", "action", action, "err", err)
		return err
	}
	return nil
}

// audited records an entry of what was done already (a deletion, a decision, a change): a failure
// to record it is logged (audit) and the answer stays the success it is.
func (s *Server) audited(r *http.Request, action, company string, details map[string]string, objects ...bonafide.AuditObject) {
	_ = s.audit(r, action, company, details, objects...)
}

// auditFile records the download of a stored file of folder f (key "<folder_id>/<file>"): a best
// shot ("best_shot_<analysis>_<media>.jpg", as the workers name them) or a media.
func (s *Server) auditFile(r *http.Request, f *bonafide.Folder, key, via string) error {
	details := map[string]string{"via": via}
	if zipKey, n, ok := parseFrameKey(key); ok { // a frame of a shot set is a read of that media
		key, details["frame"] = zipKey, strconv.Itoa(n)
	}
	_, file, _ := strings.Cut(key, "/")
	objs := []bonafide.AuditObject{bonafide.Obj(bonafide.ObjFolder, f.ID)}
	if rest, ok := strings.CutPrefix(file, "best_shot_"); ok {
		if aid, mid, ok := strings.Cut(strings.TrimSuffix(rest, ".jpg"), "_"); ok {
			objs = append(objs, bonafide.Obj(bonafide.ObjAnalysis, aid), bonafide.Obj(bonafide.ObjMedia, mid))
		}
		return s.audit(r, bonafide.AuditBestShotRead, f.CompanyID, details, objs...)
	}
	ms, err := s.store.ListMedia(r.Context(), f.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.BlobKey == key {
			objs = append(objs, bonafide.Obj(bonafide.ObjMedia, m.ID))
		}
	}
	return s.audit(r, bonafide.AuditMediaRead, f.CompanyID, details, objs...)
}

// auditBody is one entry as GET /api/audit shows it.
type auditBody struct {
	ID          string                 `json:"audit_id"`
	TimeCreated float64                `json:"time_created"`
	Actor       string                 `json:"actor"`
	CompanyID   *string                `json:"company_id"`
	Action      string                 `json:"action"`
	Objects     []bonafide.AuditObject `json:"objects"`
	ClientAddr  *string                `json:"client_address"`
	RequestID   *string                `json:"request_id"`
	Details     map[string]string      `json:"details"`
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RenderAudit is an entry as the API shows it (the export writes the same shape).
func RenderAudit(e *bonafide.AuditEntry) any { return renderAudit(e) }

func renderAudit(e *bonafide.AuditEntry) auditBody {
	objs := e.Objects
	if objs == nil {
		objs = []bonafide.AuditObject{}
	}
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	return auditBody{ID: e.ID, TimeCreated: epoch(e.Time), Actor: e.Actor, CompanyID: optStr(e.CompanyID), Action: e.Action,
		Objects: objs, ClientAddr: optStr(e.ClientAddr), RequestID: optStr(e.RequestID), Details: details}
}

// listAudit answers GET /api/audit with the lamb pagination envelope (ADMIN: every entry; CLIENT
// ADMIN: its company's; others 403).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	company, err := bonafide.AuditScope(caller(r).user)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pg, err := bonafide.ParsePage(q.Get("offset"), q.Get("limit"))
	if err != nil {
		return err
	}
	f := bonafide.AuditFilter{CompanyID: company, Action: q.Get("action"), Actor: q.Get("actor"), ObjectID: q.Get("object_id"),
		Offset: pg.Offset, Limit: pg.Limit, WithTotal: !isTrue(q.Get("total_omit"))}
	for name, dst := range map[string]**time.Time{"time_created.min": &f.TimeMin, "time_created.max": &f.TimeMax} {
		if v := q.Get(name); v != "" {
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return bonafide.InvalidType(name, "%s must be a UNIX timestamp, got %q", name, v)
			}
			t := time.UnixMilli(int64(sec * 1000)).UTC()
			*dst = &t
		}
	}
	entries, total, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]auditBody, 0, len(entries))
	for _, e := range entries {
		items = append(items, renderAudit(e))
	}
	var tc *int
	if f.WithTotal {
		tc = &total
	}
	writeJSON(w, http.StatusOK, map[string]any{"offset": f.Offset, "limit": f.Limit, "total_count": tc, "items": items})
	return nil
}
