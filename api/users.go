package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/internal/password"
	"bonafide/webhook"
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

// --- permissions --------------------------------------------------------------------------------

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

// canSeeCompany: ADMIN and OPERATOR every company; the others their own.
func canSeeCompany(p *principal, companyID string) bool {
	return p.user.Role.Global() || (p.user.CompanyID != "" && p.user.CompanyID == companyID)
}

func forbidden(format string, args ...any) error {
	return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: "+format, args...)
}

func invalidValue(field, format string, args ...any) error {
	return bonafide.InvalidValue(field, format, args...)
}

// --- request bodies ---------------------------------------------------------------------------

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

// decodeBody reads a JSON body leniently (any content type: old clients send form content types
// with JSON bodies; an empty body is {}), and reports a field of the wrong type as
// code 5 naming the field, and a body that is not an object as code 3.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return &bonafide.Error{Code: bonafide.CodeInvalidStructure,
					Message: "Invalid body structure: the body must be a JSON object, not a JSON " + te.Value}
			}
			return &bonafide.Error{Code: bonafide.CodeInvalidType,
				Message: fmt.Sprintf("Invalid param type: %s must be a %s, not a JSON %s", te.Field, typeName(te.Type.Kind().String()), te.Value),
				Details: map[string]string{"key_path": te.Field}}
		}
		return &bonafide.Error{Code: bonafide.CodeInvalidStructure, Message: "Invalid body structure: the body is not valid JSON: " + err.Error()}
	}
	return nil
}

func typeName(kind string) string {
	switch kind {
	case "bool":
		return "boolean (true or false)"
	case "ptr", "string":
		return "string"
	}
	return kind
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
	return bonafide.GlobalCompany(ctx, s.store, webhook.NewSecret)
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

// --- users --------------------------------------------------------------------------------------

// page is the lamb pagination of an in-memory list (oz-api.md §1.5).
type page struct {
	bonafide.Page
	omitTotal bool
}

func pageOf(r *http.Request) (page, error) {
	q := r.URL.Query()
	p, err := bonafide.ParsePage(q.Get("offset"), q.Get("limit"))
	return page{Page: p, omitTotal: boolParam(r, "total_omit")}, err
}

// write sends items[offset:offset+limit] in the pagination envelope.
func writePage[T any](w http.ResponseWriter, p page, items []T) {
	total := len(items)
	lo, hi := p.Bounds(total)
	out := items[lo:hi]
	if out == nil {
		out = []T{}
	}
	var tc *int
	if !p.omitTotal {
		tc = &total
	}
	writeJSON(w, http.StatusOK, map[string]any{"offset": p.Offset, "limit": p.Limit, "total_count": tc, "items": out})
}

// listUsers answers GET /api/users[?company_id=].
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	pg, err := pageOf(r)
	if err != nil {
		return err
	}
	company := r.URL.Query().Get("company_id")
	switch p.user.Role {
	case bonafide.RoleAdmin, bonafide.RoleOperator:
	case bonafide.RoleClientAdmin, bonafide.RoleClientOperator:
		if company != "" && company != p.user.CompanyID {
			return forbidden("%s users list only their own company's users", p.user.Role)
		}
		company = p.user.CompanyID
		if company == "" {
			return forbidden("your account belongs to no company")
		}
	default:
		return forbidden("%s users cannot list users; GET /api/users/me shows your own account", p.user.Role)
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
	if p.user.Role != bonafide.RoleAdmin && p.user.Role != bonafide.RoleClientAdmin {
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
	if p.user.Role == bonafide.RoleClientAdmin {
		if !isClientRole(u.Role) {
			return forbidden("CLIENT ADMIN users create only CLIENT, CLIENT ADMIN, CLIENT OPERATOR and CLIENT SERVICE users, not %s", u.Role)
		}
		if u.CompanyID == "" {
			u.CompanyID = p.user.CompanyID
		}
		if u.CompanyID != p.user.CompanyID {
			return forbidden("CLIENT ADMIN users create users only in their own company (%s)", p.user.CompanyID)
		}
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
	s.log.Info("user created", "user_id", u.ID, "role", u.Role, "company_id", u.CompanyID, "by", p.user.ID)
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
	manage := canManageUser(p, t)
	if !manage && !self {
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
	if len(changed) > 0 {
		switch {
		case !manage:
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
		s.log.Info("user changed", "user_id", next.ID, "by", p.user.ID, "fields", strings.Join(changed, ","), "password", in.Password != nil)
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
	if wait, by := s.throttle.check(u.Email, addr, s.now()); wait > 0 {
		return throttledError(w, wait, by)
	}
	if !password.Check(u.PasswordHash, *current) {
		s.throttle.fail(u.Email, addr, s.now())
		s.log.Info("password change refused: wrong current password", "user_id", u.ID, "client", addr.String())
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
	if t.ID == p.user.ID {
		return forbidden("you cannot disable your own account; ask another administrator")
	}
	if !canManageUser(p, t) {
		return forbidden("only ADMIN, and CLIENT ADMIN within its company, disable users")
	}
	if err := bonafide.DisableUser(r.Context(), s.store, t); err != nil {
		return err
	}
	s.log.Info("user disabled", "user_id", t.ID, "by", p.user.ID)
	writeJSON(w, http.StatusOK, s.renderUser(t))
	return nil
}

// --- companies ----------------------------------------------------------------------------------

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
		if canSeeCompany(p, c.ID) {
			items = append(items, renderCompany(c))
		}
	}
	writePage(w, pg, items)
	return nil
}

// visibleCompany loads a company the caller may see; any other is "not exist".
func (s *Server) visibleCompany(r *http.Request) (*bonafide.Company, error) {
	id := r.PathValue("id")
	if !canSeeCompany(caller(r), id) {
		return nil, bonafide.NotFound("company", id)
	}
	return s.store.GetCompany(r.Context(), id)
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
	if p.user.Role != bonafide.RoleAdmin {
		return forbidden("only ADMIN users create companies")
	}
	name, err := s.readCompanyName(r, "")
	if err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	c := &bonafide.Company{ID: uuid.NewString(), Name: name, WebhookSecret: secret}
	if err := s.store.CreateCompany(r.Context(), c); err != nil {
		return err
	}
	s.log.Info("company created", "company_id", c.ID, "by", p.user.ID)
	writeJSON(w, http.StatusCreated, renderCompany(c))
	return nil
}

// patchCompany answers PATCH /api/companies/{id} (ADMIN): {name}.
func (s *Server) patchCompany(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	c, err := s.visibleCompany(r)
	if err != nil {
		return err
	}
	if p.user.Role != bonafide.RoleAdmin {
		return forbidden("only ADMIN users change companies")
	}
	if bonafide.IsGlobalCompanyName(c.Name) {
		return forbidden("the company %q is reserved for the ADMIN and OPERATOR users and keeps its name", bonafide.GlobalCompanyName)
	}
	name, err := s.readCompanyName(r, c.ID)
	if err != nil {
		return err
	}
	c.Name = name
	if err := s.store.UpdateCompany(r.Context(), c); err != nil {
		return err
	}
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
	if p.user.Role != bonafide.RoleAdmin {
		return forbidden("only ADMIN users delete companies")
	}
	if bonafide.IsGlobalCompanyName(c.Name) {
		return forbidden("the company %q of the ADMIN and OPERATOR users cannot be deleted", bonafide.GlobalCompanyName)
	}
	return bonafide.Errorf(bonafide.CodeNotRealized,
		"Deleting a company is not realized on this server: its folders and users would be orphaned; disable its users with DELETE /api/users/{id} instead")
}

// secretCompany loads a company whose webhook secret the caller may read: ADMIN, or the company's
// CLIENT ADMIN.
func (s *Server) secretCompany(r *http.Request) (*bonafide.Company, error) {
	p := caller(r)
	c, err := s.visibleCompany(r)
	if err != nil {
		return nil, err
	}
	if p.user.Role != bonafide.RoleAdmin && !(p.user.Role == bonafide.RoleClientAdmin && p.user.CompanyID == c.ID) {
		return nil, forbidden("only ADMIN and the company's CLIENT ADMIN read its webhook secret")
	}
	return c, nil
}

// getWebhookSecret answers GET /api/companies/{id}/webhook_secret: the Standard Webhooks secret
// ("whsec_...") that signs this company's webhook deliveries.
func (s *Server) getWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	c, err := s.secretCompany(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"company_id": c.ID, "webhook_secret": c.WebhookSecret})
	return nil
}

// rotateWebhookSecret answers POST /api/companies/{id}/webhook_secret with a new secret; deliveries
// signed from now on use it.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	c, err := s.secretCompany(r)
	if err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	c.WebhookSecret = secret
	if err := s.store.UpdateCompany(r.Context(), c); err != nil {
		return err
	}
	s.log.Info("webhook secret rotated", "company_id", c.ID, "by", caller(r).user.ID)
	writeJSON(w, http.StatusOK, map[string]string{"company_id": c.ID, "webhook_secret": c.WebhookSecret})
	return nil
}
