package api

// Who may do what (oz-api.md §2.5), in one place: every permission check of the handlers, and
// the loaders that return only what the caller may see (anything else is "not exist", code 10).

import (
	"net/http"
	"strings"

	"bonafide"
)

func forbidden(format string, args ...any) error {
	return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: "+format, args...)
}

// isClientRole reports the company-bound roles.
func isClientRole(r bonafide.Role) bool { return r.Valid() && !r.Global() }

// canSeeUser: yourself; ADMIN and OPERATOR everyone; CLIENT ADMIN and CLIENT OPERATOR their
// company's users.
func canSeeUser(p *principal, t *bonafide.User) bool {
	u := p.user
	switch {
	case u.ID == t.ID, u.Role.Global():
		return true
	case u.Role == bonafide.RoleClientAdmin, u.Role == bonafide.RoleClientOperator:
		return u.CompanyID != "" && t.CompanyID == u.CompanyID
	}
	return false
}

// canManageUser: ADMIN everyone; CLIENT ADMIN the company-bound users of its own company.
func canManageUser(p *principal, t *bonafide.User) bool {
	u := p.user
	switch u.Role {
	case bonafide.RoleAdmin:
		return true
	case bonafide.RoleClientAdmin:
		return u.CompanyID != "" && t.CompanyID == u.CompanyID && !t.Role.Global()
	}
	return false
}

// userListScope is the company whose users the caller lists (asked: the company_id asked for,
// "" for all): any for ADMIN and OPERATOR, only their own for CLIENT ADMIN and CLIENT OPERATOR,
// none for the others.
func userListScope(p *principal, asked string) (string, error) {
	u := p.user
	switch u.Role {
	case bonafide.RoleAdmin, bonafide.RoleOperator:
		return asked, nil
	case bonafide.RoleClientAdmin, bonafide.RoleClientOperator:
		if asked != "" && asked != u.CompanyID {
			return "", forbidden("%s users list only their own company's users", u.Role)
		}
		if u.CompanyID == "" {
			return "", forbidden("your account belongs to no company")
		}
		return u.CompanyID, nil
	}
	return "", forbidden("%s users cannot list users; GET /api/users/me shows your own account", u.Role)
}

// canCreateUsers: ADMIN and CLIENT ADMIN.
func canCreateUsers(p *principal) bool {
	return p.user.Role == bonafide.RoleAdmin || p.user.Role == bonafide.RoleClientAdmin
}

// mayCreateUser: ADMIN creates any user; CLIENT ADMIN only CLIENT* users of its own company.
func mayCreateUser(p *principal, u *bonafide.User) error {
	if p.user.Role != bonafide.RoleClientAdmin {
		return nil
	}
	if !isClientRole(u.Role) {
		return forbidden("CLIENT ADMIN users create only CLIENT, CLIENT ADMIN, CLIENT OPERATOR and CLIENT SERVICE users, not %s", u.Role)
	}
	if u.CompanyID != p.user.CompanyID {
		return forbidden("CLIENT ADMIN users create users only in their own company (%s)", p.user.CompanyID)
	}
	return nil
}

// mayChangeUser checks a change of user t into next, where changed names the fields changed
// beyond names and password: users change their own names and password; changing anything else
// needs the right to manage t (canManageUser), and nobody changes their own role or company or
// disables themselves; a CLIENT ADMIN assigns only CLIENT* roles, in its own company.
func mayChangeUser(p *principal, t, next *bonafide.User, changed []string) error {
	self := t.ID == p.user.ID
	if len(changed) > 0 {
		switch {
		case !canManageUser(p, t):
			return forbidden("you may change your own first_name, last_name, middle_name and password only, not %s", strings.Join(changed, ", "))
		case self && (next.Role != t.Role || next.Disabled || next.CompanyID != t.CompanyID):
			return forbidden("you cannot change your own user_type or company_id, or disable your own account; ask another administrator")
		}
	}
	if p.user.Role == bonafide.RoleClientAdmin {
		if !isClientRole(next.Role) {
			return forbidden("CLIENT ADMIN users assign only CLIENT, CLIENT ADMIN, CLIENT OPERATOR and CLIENT SERVICE, not %s", next.Role)
		}
		if next.CompanyID != p.user.CompanyID {
			return forbidden("CLIENT ADMIN users cannot move users to another company")
		}
	}
	return nil
}

// mayDisableUser: whoever manages t (canManageUser), never oneself.
func mayDisableUser(p *principal, t *bonafide.User) error {
	if t.ID == p.user.ID {
		return forbidden("you cannot disable your own account; ask another administrator")
	}
	if !canManageUser(p, t) {
		return forbidden("only ADMIN, and CLIENT ADMIN within its company, disable users")
	}
	return nil
}

// visibleUser loads a user the caller may see; any other is "not exist".
func (s *Server) visibleUser(r *http.Request) (*bonafide.User, error) {
	id := r.PathValue("id")
	t, err := s.store.GetUser(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !canSeeUser(caller(r), t) {
		return nil, bonafide.NotFound("user", id)
	}
	return t, nil
}

// canSeeCompany: ADMIN and OPERATOR every company; the others their own.
func canSeeCompany(p *principal, companyID string) bool {
	return p.user.Role.Global() || (p.user.CompanyID != "" && p.user.CompanyID == companyID)
}

// canManageCompanies: only ADMIN creates, renames and deletes companies.
func canManageCompanies(p *principal) bool { return p.user.Role == bonafide.RoleAdmin }

// visibleCompany loads a company the caller may see; any other is "not exist".
func (s *Server) visibleCompany(r *http.Request) (*bonafide.Company, error) {
	id := r.PathValue("id")
	if !canSeeCompany(caller(r), id) {
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
	if !canReadWebhookSecret(p, c) {
		return nil, forbidden("only ADMIN and the company's CLIENT ADMIN read its webhook secret")
	}
	return c, nil
}

// folderScope is the part of the folders the caller may list (bonafide.FolderScope, which the
// console shares).
func folderScope(p *principal) (companyID, userID string, err error) {
	return bonafide.FolderScope(p.user)
}

// canReadWebhookSecret: ADMIN, and the company's own CLIENT ADMIN.
func canReadWebhookSecret(p *principal, c *bonafide.Company) bool {
	return p.user.Role == bonafide.RoleAdmin || (p.user.Role == bonafide.RoleClientAdmin && p.user.CompanyID == c.ID)
}

// canSee says whether the caller may read the folder (bonafide.CanSeeFolder, which the console
// shares): ADMIN and OPERATOR everything; CLIENT its own folders; the other CLIENT roles their
// company's.
func canSee(p *principal, f *bonafide.Folder) bool { return bonafide.CanSeeFolder(p.user, f) }

// canWrite says whether the caller may add to folders at all (operators only read).
func canWrite(p *principal) bool {
	r := p.user.Role
	return r != bonafide.RoleOperator && r != bonafide.RoleClientOperator
}

// canStartAnalysis says whether the caller's account may start analyses of the type (the
// account's can_start_analysis_* flags): QUALITY needs can_start_analysis_quality, BIOMETRY
// can_start_analysis_biometry; other types need no flag.
func canStartAnalysis(p *principal, analysisType string) bool {
	switch strings.ToUpper(analysisType) {
	case "QUALITY":
		return p.user.CanQuality
	case "BIOMETRY":
		return p.user.CanBiometry
	}
	return true
}

// canDelete: ADMIN and CLIENT ADMIN delete folders and files.
func canDelete(p *principal) bool {
	r := p.user.Role
	return r == bonafide.RoleAdmin || r == bonafide.RoleClientAdmin
}

// folder loads a folder the caller may see; another tenant's folder is "not exist", never data.
func (s *Server) folder(r *http.Request, id string) (*bonafide.Folder, error) {
	f, err := s.store.GetFolder(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !canSee(caller(r), f) {
		return nil, bonafide.NotFound("folder", id)
	}
	return f, nil
}
