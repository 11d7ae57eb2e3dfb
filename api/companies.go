package api

// The companies endpoints: /api/companies[/{id}].

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"bonafide"
)

// listCompanies answers GET /api/companies[?search_text=]: substring of the name, or an exact id.
func (s *Server) listCompanies(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	pg, err := pageOf(r)
	if err != nil {
		return err
	}
	cs, err := s.store.ListCompanies(r.Context(), strings.TrimSpace(r.URL.Query().Get("search_text")))
	if err != nil {
		return err
	}
	items := []companyBody{}
	for _, c := range cs {
		if bonafide.CanSeeCompany(p.user, c.ID) {
			items = append(items, renderCompany(c))
		}
	}
	writePage(w, pg, items)
	return nil
}

func (s *Server) getCompany(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleCompany(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderCompany(c))
	return nil
}

// readCompanyName reads {name} from the body: valid, not the reserved name "global", and not the
// name of another company than exceptID.
func (s *Server) readCompanyName(r *http.Request, exceptID string) (string, error) {
	var in struct {
		Name *string `json:"name"`
	}
	if err := decodeBody(r, &in); err != nil {
		return "", err
	}
	if in.Name == nil {
		return "", missingField("name")
	}
	name, err := bonafide.ValidateCompanyName(*in.Name)
	if err != nil {
		return "", err
	}
	return name, bonafide.CompanyNameFree(r.Context(), s.store, name, exceptID)
}

// createCompany answers POST /api/companies (ADMIN): {name}; the webhook secret is generated.
func (s *Server) createCompany(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !bonafide.CanManageCompanies(p.user) {
		return forbidden("only ADMIN users create companies")
	}
	name, err := s.readCompanyName(r, "")
	if err != nil {
		return err
	}
	secret, err := bonafide.NewWebhookSecret()
	if err != nil {
		return err
	}
	c := &bonafide.Company{ID: uuid.NewString(), Name: name, WebhookSecret: secret}
	if err := s.store.CreateCompany(r.Context(), c); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "company created", "company_id", c.ID, "by", p.user.ID)
	s.audited(r, bonafide.AuditCompanyCreate, c.ID, nil, bonafide.Obj(bonafide.ObjCompany, c.ID))
	writeJSON(w, http.StatusCreated, renderCompany(c))
	return nil
}

// patchCompany answers PATCH /api/companies/{id} (ADMIN): {name} and/or {retention: {media,
// folders}} (durations such as "30d", "0" keeps, null is the server's default).
func (s *Server) patchCompany(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	c, err := s.visibleCompany(r)
	if err != nil {
		return err
	}
	if !bonafide.CanManageCompanies(p.user) {
		return forbidden("only ADMIN users change companies")
	}
	var in struct {
		Name      *string         `json:"name"`
		Retention json.RawMessage `json:"retention"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Name == nil && in.Retention == nil {
		return missingField("name")
	}
	if in.Name != nil {
		if bonafide.IsGlobalCompanyName(c.Name) {
			return forbidden("the company %q is reserved for the ADMIN and OPERATOR users and keeps its name", bonafide.GlobalCompanyName)
		}
		name, err := bonafide.ValidateCompanyName(*in.Name)
		if err != nil {
			return err
		}
		if err := bonafide.CompanyNameFree(r.Context(), s.store, name, c.ID); err != nil {
			return err
		}
		c.Name = name
	}
	if in.Retention != nil {
		ret, err := readRetention(in.Retention, c.Retention)
		if err != nil {
			return err
		}
		c.Retention = ret
	}
	if in.Name != nil {
		if err := s.store.UpdateCompany(r.Context(), c); err != nil {
			return err
		}
	}
	if in.Retention != nil {
		if err := s.store.SetCompanyRetention(r.Context(), c.ID, c.Retention); err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "company retention set", "company_id", c.ID, "by", p.user.ID,
			"media", retentionText(c.Retention.Media), "folders", retentionText(c.Retention.Folders))
	}
	if c, err = s.store.GetCompany(r.Context(), c.ID); err != nil {
		return err
	}
	details := map[string]string{}
	var fields []string
	if in.Name != nil {
		fields = append(fields, "name")
	}
	if in.Retention != nil {
		fields = append(fields, "retention")
		details["retention_media"] = retentionText(c.Retention.Media)
		details["retention_folders"] = retentionText(c.Retention.Folders)
	}
	details["fields"] = strings.Join(fields, ",")
	s.audited(r, bonafide.AuditCompanyUpdate, c.ID, details, bonafide.Obj(bonafide.ObjCompany, c.ID))
	writeJSON(w, http.StatusOK, renderCompany(c))
	return nil
}

// deleteCompany answers DELETE /api/companies/{id}: not realized (disable the users instead).
func (s *Server) deleteCompany(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	c, err := s.visibleCompany(r)
	if err != nil {
		return err
	}
	if !bonafide.CanManageCompanies(p.user) {
		return forbidden("only ADMIN users delete companies")
	}
	if bonafide.IsGlobalCompanyName(c.Name) {
		return forbidden("the company %q of the ADMIN and OPERATOR users cannot be deleted", bonafide.GlobalCompanyName)
	}
	return bonafide.Errorf(bonafide.CodeNotRealized,
		"Deleting a company is not realized on this server: its folders and users would be orphaned; disable its users with DELETE /api/users/{id} instead")
}
