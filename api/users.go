package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/internal/password"
)

// accountRoutes registers the users and companies endpoints.
//
// Who may do what (oz-api.md §2.5):
//   - users: ADMIN manages everyone; OPERATOR reads everyone; CLIENT ADMIN manages its company's
//     CLIENT* users; CLIENT OPERATOR reads its company's users; everyone reads and edits (names and
//     password only) their own account. A user the caller may not see is "not exist" (code 10).
//   - the reserved company "global" holds every ADMIN and OPERATOR and no client user; it is
//     never created, renamed or deleted through the API (bonafide.GlobalCompany creates it).
//   - companies: ADMIN creates, reads and renames; OPERATOR reads; the CLIENT roles read their own.
//     The webhook secret is shown to ADMIN and to the company's CLIENT ADMIN.
func (s *Server) accountRoutes(route func(method, path string, h handlerFunc, auth bool)) {
	route("GET", "/api/users", s.listUsers, true)
	route("POST", "/api/users", s.createUser, true)
	route("GET", "/api/users/me", s.getMe, true)
	route("GET", "/api/users/{id}", s.getUser, true)
	route("PATCH", "/api/users/{id}", s.patchUser, true)
	route("DELETE", "/api/users/{id}", s.deleteUser, true)

	route("GET", "/api/companies", s.listCompanies, true)
	route("POST", "/api/companies", s.createCompany, true)
	route("GET", "/api/companies/{id}", s.getCompany, true)
	route("PATCH", "/api/companies/{id}", s.patchCompany, true)
	route("DELETE", "/api/companies/{id}", s.deleteCompany, true)
	route("GET", "/api/companies/{id}/webhook_secret", s.getWebhookSecret, true)
	route("POST", "/api/companies/{id}/webhook_secret", s.rotateWebhookSecret, true)
}

// userRequest is the body of POST and PATCH /api/users. Pointers tell "absent" from "empty".
// Both flag spellings are read (oz-api.md §2.5); is_admin and is_service are the pre-6.0 way of
// saying CLIENT ADMIN and CLIENT SERVICE and only count when user_type is absent.
type userRequest struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
	// CurrentPassword is required when users change their own password.
	CurrentPassword *string `json:"current_password"`
	UserType        *string `json:"user_type"`
	CompanyID       *string `json:"company_id"`
	FirstName       *string `json:"first_name"`
	LastName        *string `json:"last_name"`
	MiddleName      *string `json:"middle_name"`
	CanQuality      *bool   `json:"can_start_analysis_quality"`
	CanBiometry     *bool   `json:"can_start_analysis_biometry"`
	CanQuality2     *bool   `json:"can_start_analyse_quality"`
	CanBiometry2    *bool   `json:"can_start_analyse_biometry"`
	IsAdmin         *bool   `json:"is_admin"`
	IsService       *bool   `json:"is_service"`
	IsActive        *bool   `json:"is_active"`
}

// legacyRole applies the pre-6.0 flags is_admin / is_service to a company-bound role.
func legacyRole(role bonafide.Role, isAdmin, isService *bool) (bonafide.Role, error) {
	if role.Global() || (isAdmin == nil && isService == nil) {
		return role, nil
	}
	if isAdmin != nil && isService != nil && *isAdmin && *isService {
		return "", invalidValue("is_admin", "a user cannot be both is_admin and is_service; send user_type instead")
	}
	if isAdmin != nil {
		if *isAdmin {
			role = bonafide.RoleClientAdmin
		} else if role == bonafide.RoleClientAdmin {
			role = bonafide.RoleClient
		}
	}
	if isService != nil {
		if *isService {
			role = bonafide.RoleClientService
		} else if role == bonafide.RoleClientService {
			role = bonafide.RoleClient
		}
	}
	return role, nil
}

// firstBool returns the first flag that was sent.
func firstBool(vs ...*bool) *bool {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// companyFor checks that a company id names an existing company (code 4 otherwise).
func (s *Server) companyFor(ctx context.Context, id string) error {
	if _, err := s.store.GetCompany(ctx, id); err != nil {
		if bonafide.CodeOf(err) == bonafide.CodeNotExist {
			return invalidValue("company_id", "company_id %s names no company (list them with GET /api/companies)", id)
		}
		return err
	}
	return nil
}

// globalCompany returns the reserved company of the global roles, creating it when missing.
func (s *Server) globalCompany(ctx context.Context) (*bonafide.Company, error) {
	return bonafide.GlobalCompany(ctx, s.store, bonafide.NewWebhookSecret)
}

// placeByRole applies bonafide.ValidateUserCompany to a user about to be stored, and puts a
// global role (ADMIN, OPERATOR) into the reserved company "global". A client role's company is
// u.CompanyID; a global role's is the company_id the request named (requested, nil when it named
// none), so a user made ADMIN leaves its client company.
func (s *Server) placeByRole(ctx context.Context, u *bonafide.User, requested *string) error {
	g, err := s.globalCompany(ctx)
	if err != nil {
		return err
	}
	ref := func(id string) *bonafide.Company {
		if id == g.ID {
			return g
		}
		return &bonafide.Company{ID: id} // whether it exists is companyFor's to say
	}
	var c *bonafide.Company
	switch {
	case u.Role.Global() && requested != nil && strings.TrimSpace(*requested) != "":
		c = ref(strings.TrimSpace(*requested))
	case u.Role.Global():
	case u.CompanyID != "":
		c = ref(u.CompanyID)
	case requested != nil:
		c = &bonafide.Company{} // named, but empty
	}
	if err := bonafide.ValidateUserCompany(u.Role, c); err != nil {
		return err
	}
	if u.Role.Global() {
		u.CompanyID = g.ID
	}
	return nil
}

// listUsers answers GET /api/users[?company_id=].
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	pg, err := pageOf(r)
	if err != nil {
		return err
	}
	company, err := bonafide.UserListScope(p.user, r.URL.Query().Get("company_id"))
	if err != nil {
		return err
	}
	us, err := s.store.ListUsers(r.Context(), company)
	if err != nil {
		return err
	}
	items := make([]userBody, 0, len(us))
	for _, u := range us {
		items = append(items, s.renderUser(u))
	}
	writePage(w, pg, items)
	return nil
}

// getMe answers GET /api/users/me with the caller's own account.
func (s *Server) getMe(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.renderUser(caller(r).user))
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	t, err := s.visibleUser(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderUser(t))
	return nil
}

// createUser answers POST /api/users: ADMIN creates any user; CLIENT ADMIN creates CLIENT* users
// in its own company (company_id defaults to it).
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !bonafide.CanCreateUsers(p.user) {
		return forbidden("only ADMIN and CLIENT ADMIN users create users")
	}
	var in userRequest
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Email == nil {
		return missingField("email")
	}
	if in.Password == nil {
		return missingField("password")
	}
	u := &bonafide.User{ID: uuid.NewString(), Email: bonafide.NormalizeEmail(*in.Email),
		Role: bonafide.RoleClient, CanQuality: true, CanBiometry: true}
	if err := bonafide.ValidateEmail(u.Email); err != nil {
		return err
	}
	if err := bonafide.ValidatePassword(*in.Password); err != nil {
		return err
	}
	if in.UserType != nil {
		role, err := bonafide.ParseRole(*in.UserType)
		if err != nil {
			return err
		}
		u.Role = role
	} else {
		role, err := legacyRole(u.Role, in.IsAdmin, in.IsService)
		if err != nil {
			return err
		}
		u.Role = role
	}
	if in.CompanyID != nil {
		u.CompanyID = strings.TrimSpace(*in.CompanyID)
	}
	if p.user.Role == bonafide.RoleClientAdmin && u.CompanyID == "" {
		u.CompanyID = p.user.CompanyID // a CLIENT ADMIN's users join its company
	}
	if err := bonafide.MayCreateUser(p.user, u); err != nil {
		return err
	}
	if err := s.placeByRole(r.Context(), u, in.CompanyID); err != nil {
		return err
	}
	if u.CompanyID != "" {
		if err := s.companyFor(r.Context(), u.CompanyID); err != nil {
			return err
		}
	}
	for field, v := range map[string]*string{"first_name": in.FirstName, "last_name": in.LastName, "middle_name": in.MiddleName} {
		if v != nil {
			if err := bonafide.ValidatePersonName(field, *v); err != nil {
				return err
			}
		}
	}
	if in.FirstName != nil {
		u.FirstName = strings.TrimSpace(*in.FirstName)
	}
	if in.LastName != nil {
		u.LastName = strings.TrimSpace(*in.LastName)
	}
	if in.MiddleName != nil {
		u.MiddleName = strings.TrimSpace(*in.MiddleName)
	}
	if v := firstBool(in.CanQuality, in.CanQuality2); v != nil {
		u.CanQuality = *v
	}
	if v := firstBool(in.CanBiometry, in.CanBiometry2); v != nil {
		u.CanBiometry = *v
	}
	if in.IsActive != nil {
		u.Disabled = !*in.IsActive
	}
	hash, err := password.Hash(*in.Password)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		return err
	}
	s.audited(r, bonafide.AuditUserCreate, u.CompanyID, map[string]string{"role": string(u.Role)}, bonafide.Obj(bonafide.ObjUser, u.ID))
	s.log.InfoContext(r.Context(), "user created", "user_id", u.ID, "role", u.Role, "company_id", u.CompanyID, "by", p.user.ID)
	writeJSON(w, http.StatusCreated, s.renderUser(u))
	return nil
}

// patchUser answers PATCH /api/users/{id}. Users who may not manage the target (themselves
// included, unless ADMIN or CLIENT ADMIN of the company) change only names and password; sending
// another field unchanged (a GET body sent back) is accepted.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	t, err := s.visibleUser(r)
	if err != nil {
		return err
	}
	self := t.ID == p.user.ID
	if !self && !bonafide.CanManageUser(p.user, t) {
		return forbidden("only ADMIN, and CLIENT ADMIN within its company, change other users")
	}
	var in userRequest
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	next := *t
	for _, f := range []struct {
		name string
		in   *string
		dst  *string
	}{{"first_name", in.FirstName, &next.FirstName}, {"last_name", in.LastName, &next.LastName}, {"middle_name", in.MiddleName, &next.MiddleName}} {
		if f.in != nil {
			if err := bonafide.ValidatePersonName(f.name, *f.in); err != nil {
				return err
			}
			*f.dst = strings.TrimSpace(*f.in)
		}
	}
	if in.Email != nil {
		next.Email = bonafide.NormalizeEmail(*in.Email)
		if err := bonafide.ValidateEmail(next.Email); err != nil {
			return err
		}
	}
	if in.UserType != nil {
		if next.Role, err = bonafide.ParseRole(*in.UserType); err != nil {
			return err
		}
	} else if next.Role, err = legacyRole(next.Role, in.IsAdmin, in.IsService); err != nil {
		return err
	}
	if in.CompanyID != nil {
		next.CompanyID = strings.TrimSpace(*in.CompanyID)
	}
	if v := firstBool(in.CanQuality, in.CanQuality2); v != nil {
		next.CanQuality = *v
	}
	if v := firstBool(in.CanBiometry, in.CanBiometry2); v != nil {
		next.CanBiometry = *v
	}
	if in.IsActive != nil {
		next.Disabled = !*in.IsActive
	}

	// What changed beyond names and password needs the right to manage the user.
	var changed []string
	if next.Email != t.Email {
		changed = append(changed, "email")
	}
	if next.Role != t.Role {
		changed = append(changed, "user_type")
	}
	if next.CompanyID != t.CompanyID {
		changed = append(changed, "company_id")
	}
	if next.CanQuality != t.CanQuality || next.CanBiometry != t.CanBiometry {
		changed = append(changed, "can_start_analysis_*")
	}
	if next.Disabled != t.Disabled {
		changed = append(changed, "is_active")
	}
	if err := bonafide.MayChangeUser(p.user, t, &next, changed); err != nil {
		return err
	}
	if in.CompanyID != nil || next.Role != t.Role || next.Role.Global() {
		if err := s.placeByRole(r.Context(), &next, in.CompanyID); err != nil {
			return err
		}
	}
	if next.CompanyID != t.CompanyID {
		if next.CompanyID != "" {
			if err := s.companyFor(r.Context(), next.CompanyID); err != nil {
				return err
			}
		}
	}
	var newHash string
	if in.Password != nil {
		if err := bonafide.ValidatePassword(*in.Password); err != nil {
			return err
		}
		if self {
			if err := s.checkCurrentPassword(w, r, t, in.CurrentPassword); err != nil {
				return err
			}
		}
		if newHash, err = password.Hash(*in.Password); err != nil {
			return err
		}
	}
	switch {
	case next.Disabled && !t.Disabled:
		if newHash != "" {
			next.PasswordHash = newHash
		}
		err = bonafide.DisableUser(r.Context(), s.store, &next)
	case newHash != "":
		// Any password change ends the user's other sessions; the caller's own current session
		// stays when users change their own password.
		keep := ""
		if self {
			keep = p.session.TokenHash
		}
		err = bonafide.ChangePassword(r.Context(), s.store, &next, newHash, keep)
	default:
		err = s.store.UpdateUser(r.Context(), &next)
	}
	if err != nil {
		return err
	}
	if len(changed) > 0 || in.Password != nil {
		s.log.InfoContext(r.Context(), "user changed", "user_id", next.ID, "by", p.user.ID, "fields", strings.Join(changed, ","), "password", in.Password != nil)
		details := map[string]string{"fields": strings.Join(changed, ",")}
		if in.Password != nil {
			details["credentials"] = "changed" // never the password, nor its hash
		}
		if next.Role != t.Role {
			details["role"], details["previous_role"] = string(next.Role), string(t.Role)
		}
		action := bonafide.AuditUserUpdate
		if next.Disabled && !t.Disabled {
			action = bonafide.AuditUserDisable
		}
		s.audited(r, action, next.CompanyID, details, bonafide.Obj(bonafide.ObjUser, next.ID))
	}
	writeJSON(w, http.StatusOK, s.renderUser(&next))
	return nil
}

// checkCurrentPassword verifies the current_password of a self password change. Wrong guesses
// count in the login throttle of the account and the address, so a stolen token cannot be used
// to guess the password at full speed.
func (s *Server) checkCurrentPassword(w http.ResponseWriter, r *http.Request, u *bonafide.User, current *string) error {
	if current == nil {
		return &bonafide.Error{Code: bonafide.CodeInvalidStructure,
			Message: "Could not locate field for key_path current_password from provided dict data: changing your own password needs your current password",
			Details: map[string]string{"key_path": "current_password"}}
	}
	if len(*current) > bonafide.MaxPasswordLen {
		return invalidValue("current_password", "current_password is not your current password")
	}
	addr := s.clientAddr(r)
	if wait, by, err := s.throttle.check(r.Context(), u.Email, addr, s.now()); err != nil {
		return err
	} else if wait > 0 {
		return throttledError(w, wait, by)
	}
	if !password.Check(u.PasswordHash, *current) {
		if err := s.throttle.fail(r.Context(), u.Email, addr, s.now()); err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "password change refused: wrong current password", "user_id", u.ID, "client", addr.String())
		return invalidValue("current_password", "current_password is not your current password")
	}
	return nil
}

// deleteUser answers DELETE /api/users/{id}: the account is disabled (its folders stay), and its
// tokens stop working (code 211).
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	t, err := s.visibleUser(r)
	if err != nil {
		return err
	}
	if err := bonafide.MayDisableUser(p.user, t); err != nil {
		return err
	}
	if err := bonafide.DisableUser(r.Context(), s.store, t); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "user disabled", "user_id", t.ID, "by", p.user.ID)
	s.audited(r, bonafide.AuditUserDisable, t.CompanyID, nil, bonafide.Obj(bonafide.ObjUser, t.ID))
	writeJSON(w, http.StatusOK, s.renderUser(t))
	return nil
}
