package api

// The loaders that return only what the caller may see (anything else is "not exist", code 10).
// Who may do what is decided by the rules of the root's roles.go, which the operator console
// asks too: the handlers call them with the caller's account (caller(r).user).

import (
	"net/http"

	"bonafide"
)

// forbidden is code 9 with the lamb message and why.
func forbidden(format string, args ...any) error {
	return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: "+format, args...)
}

// visibleUser loads a user the caller may see; any other is "not exist".
func (s *Server) visibleUser(r *http.Request) (*bonafide.User, error) {
	id := r.PathValue("id")
	t, err := s.store.GetUser(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !bonafide.CanSeeUser(caller(r).user, t) {
		return nil, bonafide.NotFound("user", id)
	}
	return t, nil
}

// visibleCompany loads a company the caller may see; any other is "not exist".
func (s *Server) visibleCompany(r *http.Request) (*bonafide.Company, error) {
	id := r.PathValue("id")
	if !bonafide.CanSeeCompany(caller(r).user, id) {
		return nil, bonafide.NotFound("company", id)
	}
	return s.store.GetCompany(r.Context(), id)
}

// secretCompany loads a company whose webhook secret the caller may read: ADMIN, or the company's
// CLIENT ADMIN.
func (s *Server) secretCompany(r *http.Request) (*bonafide.Company, error) {
	p := caller(r)
	c, err := s.visibleCompany(r)
	if err != nil {
		return nil, err
	}
	if !bonafide.CanReadWebhookSecret(p.user, c) {
		return nil, forbidden("only ADMIN and the company's CLIENT ADMIN read its webhook secret")
	}
	return c, nil
}

// folder loads a folder the caller may see; another tenant's folder is "not exist", never data.
func (s *Server) folder(r *http.Request, id string) (*bonafide.Folder, error) {
	f, err := s.store.GetFolder(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !bonafide.CanSeeFolder(caller(r).user, f) {
		return nil, bonafide.NotFound("folder", id)
	}
	return f, nil
}
