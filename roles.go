package bonafide

import "strings"

// Who may do what (oz-api.md §2.5), every rule in this one file: the API and the operator console
// both ask here, so that the two answer the same way. Each rule is a pure function of the caller's
// account (and of the object asked about); loading an object and answering "not exist" for one the
// caller may not see is the transport's part.
//
// The roles: ADMIN and OPERATOR are global (every company); CLIENT ADMIN, CLIENT OPERATOR, CLIENT
// and CLIENT SERVICE belong to one company. Operators only read; ADMIN and CLIENT ADMIN delete.

// forbidden is code 9 with the lamb message and why.
func forbidden(format string, args ...any) *Error {
	return Errorf(CodeForbidden, "You have not access to this resource: "+format, args...)
}

// isClientRole reports the company-bound roles.
func isClientRole(r Role) bool { return r.Valid() && !r.Global() }

// --- folders and analyses ---------------------------------------------------------------------

// CanSeeFolder says whether u may read the folder: ADMIN and OPERATOR everything; CLIENT its own
// folders; the other CLIENT roles their company's.
func CanSeeFolder(u *User, f *Folder) bool {
	switch {
	case u.Role.Global():
		return true
	case u.Role == RoleClient:
		return f.UserID == u.ID
	default:
		return u.CompanyID != "" && f.CompanyID == u.CompanyID
	}
}

// FolderScope is the part of the folders u may list: every folder for ADMIN and OPERATOR (""), its
// own for CLIENT, its company's for the other CLIENT roles.
func FolderScope(u *User) (companyID, userID string, err error) {
	switch {
	case u.Role.Global():
		return "", "", nil
	case u.Role == RoleClient:
		return u.CompanyID, u.ID, nil
	case u.CompanyID == "":
		return "", "", forbidden("this %s account belongs to no company", u.Role)
	}
	return u.CompanyID, "", nil
}

// CanWrite says whether u may add to folders and collections at all (operators only read).
func CanWrite(u *User) bool {
	return u.Role != RoleOperator && u.Role != RoleClientOperator
}

// CanDelete says whether u may delete folders, files and collections: ADMIN and CLIENT ADMIN.
func CanDelete(u *User) bool {
	return u.Role == RoleAdmin || u.Role == RoleClientAdmin
}

// CanStartAnalysis says whether u's account may start analyses of the type (the account's
// can_start_analysis_* flags): QUALITY needs can_start_analysis_quality, BIOMETRY
// can_start_analysis_biometry; other types need no flag.
func CanStartAnalysis(u *User, analysisType string) bool {
	switch strings.ToUpper(analysisType) {
	case "QUALITY":
		return u.CanQuality
	case "BIOMETRY":
		return u.CanBiometry
	}
	return true
}

// CanDecide says whether u may set an operator's decision on the analyses of a folder it sees:
// ADMIN and OPERATOR on every folder, CLIENT ADMIN and CLIENT OPERATOR on their company's. CLIENT
// and CLIENT SERVICE accounts never decide (a client does not judge its own checks).
func CanDecide(u *User, f *Folder) bool {
	switch u.Role {
	case RoleAdmin, RoleOperator:
		return true
	case RoleClientAdmin, RoleClientOperator:
		return u.CompanyID != "" && f.CompanyID == u.CompanyID
	}
	return false
}

// --- collections ------------------------------------------------------------------------------

// CollectionCompany is the company of a collection u creates, asked naming one ("" for its own):
// ADMIN and OPERATOR create in any company, the others only in their own.
func CollectionCompany(u *User, asked string) (string, error) {
	if asked == "" || asked == u.CompanyID {
		return u.CompanyID, nil
	}
	if !u.Role.Global() {
		return "", forbidden("%s users create collections only in their own company", u.Role)
	}
	return asked, nil
}

// CollectionScope is the company whose collections u lists (asked: the company_id asked for, ""
// for all): any for ADMIN and OPERATOR, only their own for the others.
func CollectionScope(u *User, asked string) (string, error) {
	if u.Role.Global() {
		return asked, nil
	}
	if u.CompanyID == "" {
		return "", forbidden("this %s account belongs to no company", u.Role)
	}
	return u.CompanyID, nil
}

// --- erasures ---------------------------------------------------------------------------------

// ErasureScope is the company whose data u may erase on request (asked: the company_id named in
// the request, "" for none): ADMIN any one, or every company when it names none ("" scope);
// CLIENT ADMIN only its own, whatever it names; every other role none.
func ErasureScope(u *User, asked string) (string, error) {
	switch u.Role {
	case RoleAdmin:
		return asked, nil
	case RoleClientAdmin:
		if u.CompanyID == "" {
			return "", forbidden("this %s account belongs to no company", u.Role)
		}
		if asked != "" && asked != u.CompanyID {
			return "", forbidden("a CLIENT ADMIN erases only its own company's data")
		}
		return u.CompanyID, nil
	}
	return "", forbidden("only ADMIN and CLIENT ADMIN erase data on request, not %s", u.Role)
}

// CanSeeErasure says whether u may read the receipt of erasure e: ADMIN every one, CLIENT ADMIN
// those scoped to its company (never an ADMIN's erasure over every company).
func CanSeeErasure(u *User, e *Erasure) bool {
	switch u.Role {
	case RoleAdmin:
		return true
	case RoleClientAdmin:
		return u.CompanyID != "" && e.CompanyID == u.CompanyID
	}
	return false
}

// --- users ------------------------------------------------------------------------------------

// CanSeeUser says whether u may see user t: itself; ADMIN and OPERATOR everyone; CLIENT ADMIN and
// CLIENT OPERATOR their company's users.
func CanSeeUser(u, t *User) bool {
	switch {
	case u.ID == t.ID, u.Role.Global():
		return true
	case u.Role == RoleClientAdmin, u.Role == RoleClientOperator:
		return u.CompanyID != "" && t.CompanyID == u.CompanyID
	}
	return false
}

// CanManageUser says whether u may change or disable user t: ADMIN everyone; CLIENT ADMIN the
// company-bound users of its own company.
func CanManageUser(u, t *User) bool {
	switch u.Role {
	case RoleAdmin:
		return true
	case RoleClientAdmin:
		return u.CompanyID != "" && t.CompanyID == u.CompanyID && !t.Role.Global()
	}
	return false
}

// UserListScope is the company whose users u lists (asked: the company_id asked for, "" for all):
// any for ADMIN and OPERATOR, only their own for CLIENT ADMIN and CLIENT OPERATOR, none for the
// others.
func UserListScope(u *User, asked string) (string, error) {
	switch u.Role {
	case RoleAdmin, RoleOperator:
		return asked, nil
	case RoleClientAdmin, RoleClientOperator:
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

// CanCreateUsers says whether u may create users at all: ADMIN and CLIENT ADMIN.
func CanCreateUsers(u *User) bool {
	return u.Role == RoleAdmin || u.Role == RoleClientAdmin
}

// MayCreateUser checks that u may create user t: ADMIN creates any user; CLIENT ADMIN only CLIENT*
// users of its own company.
func MayCreateUser(u, t *User) error {
	if u.Role != RoleClientAdmin {
		return nil
	}
	if !isClientRole(t.Role) {
		return forbidden("CLIENT ADMIN users create only CLIENT, CLIENT ADMIN, CLIENT OPERATOR and CLIENT SERVICE users, not %s", t.Role)
	}
	if t.CompanyID != u.CompanyID {
		return forbidden("CLIENT ADMIN users create users only in their own company (%s)", u.CompanyID)
	}
	return nil
}

// MayChangeUser checks a change by u of user t into next, where changed names the fields changed
// beyond names and password: users change their own names and password; changing anything else
// needs the right to manage t (CanManageUser), and nobody changes their own role or company or
// disables themselves; a CLIENT ADMIN assigns only CLIENT* roles, in its own company.
func MayChangeUser(u, t, next *User, changed []string) error {
	self := t.ID == u.ID
	if len(changed) > 0 {
		switch {
		case !CanManageUser(u, t):
			return forbidden("you may change your own first_name, last_name, middle_name and password only, not %s", strings.Join(changed, ", "))
		case self && (next.Role != t.Role || next.Disabled || next.CompanyID != t.CompanyID):
			return forbidden("you cannot change your own user_type or company_id, or disable your own account; ask another administrator")
		}
	}
	if u.Role == RoleClientAdmin {
		if !isClientRole(next.Role) {
			return forbidden("CLIENT ADMIN users assign only CLIENT, CLIENT ADMIN, CLIENT OPERATOR and CLIENT SERVICE, not %s", next.Role)
		}
		if next.CompanyID != u.CompanyID {
			return forbidden("CLIENT ADMIN users cannot move users to another company")
		}
	}
	return nil
}

// MayDisableUser checks that u may disable user t: whoever manages t (CanManageUser), never
// oneself.
func MayDisableUser(u, t *User) error {
	if t.ID == u.ID {
		return forbidden("you cannot disable your own account; ask another administrator")
	}
	if !CanManageUser(u, t) {
		return forbidden("only ADMIN, and CLIENT ADMIN within its company, disable users")
	}
	return nil
}

// --- companies --------------------------------------------------------------------------------

// CanSeeCompany says whether u may see the company: ADMIN and OPERATOR every company; the others
// their own.
func CanSeeCompany(u *User, companyID string) bool {
	return u.Role.Global() || (u.CompanyID != "" && u.CompanyID == companyID)
}

// CanManageCompanies says whether u may create, rename and delete companies: only ADMIN.
func CanManageCompanies(u *User) bool { return u.Role == RoleAdmin }

// CanReadWebhookSecret says whether u may read (and rotate) the company's webhook secret: ADMIN,
// and the company's own CLIENT ADMIN.
func CanReadWebhookSecret(u *User, c *Company) bool {
	return u.Role == RoleAdmin || (u.Role == RoleClientAdmin && u.CompanyID == c.ID)
}

// CanSeeDeciderEmail says whether viewer is shown the email of the user who decided an analysis it
// can see (rather than the id): global roles, the decider's own company and the decider itself. A
// client does not learn the operators' addresses.
func CanSeeDeciderEmail(viewer, decider *User) bool {
	return viewer.Role.Global() || decider.CompanyID == viewer.CompanyID || decider.ID == viewer.ID
}

// --- audit trail ------------------------------------------------------------------------------

// AuditScope is the company whose audit entries u reads ("" for all): every company for ADMIN,
// its own for CLIENT ADMIN; every other role is refused (code 9).
func AuditScope(u *User) (string, error) {
	switch u.Role {
	case RoleAdmin:
		return "", nil
	case RoleClientAdmin:
		if u.CompanyID == "" {
			return "", forbidden("your account belongs to no company")
		}
		return u.CompanyID, nil
	}
	return "", forbidden("only ADMIN, and CLIENT ADMIN for its company, read the audit trail, not %s", u.Role)
}
