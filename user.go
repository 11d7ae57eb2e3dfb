package bonafide

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// The rules of accounts. The API (POST and PATCH /api/users, /api/companies) and the CLI
// (`bonafide user create|password`, the first ADMIN of `serve`) check users and companies with
// these functions and no others, so both refuse the same values with the same message. Each error
// is a *Error with its Oz code (4 for a bad value, 3 for a missing one) naming the field in
// Details {"key_path": field}; the API field names are used, and the messages say what to do in
// words that fit the API and the CLI alike.

// Limits on account fields.
const (
	MinPasswordLen    = 8    // characters (runes), not bytes
	MaxPasswordLen    = 1024 // bytes: argon2id takes any length; this only bounds the work per request
	MaxEmailLen       = 254  // bytes (RFC 5321)
	MaxPersonNameLen  = 150  // characters, for first_name, last_name, middle_name
	MaxCompanyNameLen = 200  // characters
)

// NormalizeEmail is the form an email is stored, looked up and compared in: trimmed, lower case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidateEmail checks a normalized email (NormalizeEmail): an address like name@example.com
// (a domain with a dot, or localhost), without a display name, of at most MaxEmailLen bytes.
func ValidateEmail(email string) error {
	if email == "" {
		return InvalidValue("email", "email is empty")
	}
	if len(email) > MaxEmailLen {
		return InvalidValue("email", "email is longer than %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	domain := email[strings.LastIndexByte(email, '@')+1:]
	if err != nil || a.Address != email || !strings.Contains(domain, ".") && domain != "localhost" {
		return InvalidValue("email", "email %q is not an email address like name@example.com", email)
	}
	return nil
}

// ValidatePassword checks a new password: at least MinPasswordLen characters (counted in runes,
// so "пароль12" is 8) and at most MaxPasswordLen bytes.
func ValidatePassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return InvalidValue("password", "password must have at least %d characters (it has %d)", MinPasswordLen, n)
	}
	if len(pw) > MaxPasswordLen {
		return InvalidValue("password", "password must have at most %d bytes (it has %d)", MaxPasswordLen, len(pw))
	}
	return nil
}

// ValidatePersonName checks first_name, last_name or middle_name (field names which).
func ValidatePersonName(field, v string) error {
	if utf8.RuneCountInString(v) > MaxPersonNameLen {
		return InvalidValue(field, "%s is longer than %d characters", field, MaxPersonNameLen)
	}
	return nil
}

// ParseRole reads a user_type leniently: any case, '_' for a space, extra spaces
// ("client_admin" is CLIENT ADMIN).
func ParseRole(v string) (Role, error) {
	r := Role(strings.ToUpper(strings.Join(strings.Fields(strings.ReplaceAll(v, "_", " ")), " ")))
	if !r.Valid() {
		return "", InvalidValue("user_type", "unknown role %q: user_type is one of ADMIN, OPERATOR, CLIENT, CLIENT ADMIN, CLIENT OPERATOR, CLIENT SERVICE", v)
	}
	return r, nil
}

// IsGlobalCompany reports the reserved company of the global roles: the one with
// GlobalCompanyID, or (on an older install) the one named GlobalCompanyName.
func IsGlobalCompany(c *Company) bool {
	return c != nil && (c.ID == GlobalCompanyID || IsGlobalCompanyName(c.Name))
}

// ValidateUserCompany applies the rule of the reserved company to a user of a valid role placed
// in company: nil when the request names none, a Company without ID and name when it names an
// empty one (the API names companies by company_id, the CLI by --company). A global role (ADMIN,
// OPERATOR) belongs to the reserved company "global" and to no other, so naming none or that one
// is fine; a client role belongs to a client company, which it must name, and never to the
// reserved one.
func ValidateUserCompany(role Role, company *Company) error {
	empty := company != nil && company.ID == "" && company.Name == ""
	reserved := IsGlobalCompany(company)
	switch {
	case role.Global() && company != nil && !empty && !reserved:
		return InvalidValue("company_id", "%s is a global role: its users belong to the reserved company %q, never to a client company; leave the company out",
			role, GlobalCompanyName)
	case role.Global():
	case company == nil:
		return MissingField("company_id", string(role)+" users belong to a company; name it (company_id in the API, --company in the CLI)")
	case empty:
		return InvalidValue("company_id", "the company is empty; %s users belong to a company; name it (company_id in the API, --company in the CLI)", role)
	case reserved:
		return InvalidValue("company_id", "the reserved company %q holds only the ADMIN and OPERATOR users; %s users belong to a client company",
			GlobalCompanyName, role)
	}
	return nil
}

// ValidateCompanyName trims a company name and checks it: not empty, at most MaxCompanyNameLen
// characters, and not the reserved name "global" (in any case).
func ValidateCompanyName(name string) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", InvalidValue("name", "the company name is empty")
	case utf8.RuneCountInString(n) > MaxCompanyNameLen:
		return "", InvalidValue("name", "the company name is longer than %d characters", MaxCompanyNameLen)
	case IsGlobalCompanyName(n):
		return "", InvalidValue("name", "the name %q is reserved for the company of the ADMIN and OPERATOR users; choose another name", GlobalCompanyName)
	}
	return n, nil
}

// CompanyNameFree refuses (code 13) a name that another company than exceptID ("" for none)
// already has, in any case: names identify companies in `bonafide user create --company`.
func CompanyNameFree(ctx context.Context, s Store, name, exceptID string) error {
	cs, err := s.ListCompanies(ctx, name)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.ID != exceptID && strings.EqualFold(c.Name, name) {
			return &Error{Code: CodeAlreadyExist, Message: fmt.Sprintf("a company named %q already exists (%s)", c.Name, c.ID),
				Details: map[string]string{"company_id": c.ID}}
		}
	}
	return nil
}
