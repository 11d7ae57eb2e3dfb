package bonafide_test

import (
	"strings"
	"testing"

	"bonafide"
)

// Each rule refuses with its code, names the field, and says what is wrong.
func TestAccountRules(t *testing.T) {
	client := &bonafide.Company{ID: "c1", Name: "acme"}
	global := &bonafide.Company{ID: bonafide.GlobalCompanyID, Name: bonafide.GlobalCompanyName}
	oldGlobal := &bonafide.Company{ID: "c0", Name: "Global"} // an older install's
	for _, c := range []struct {
		name  string
		err   error
		code  bonafide.Code // 0: accepted
		field string
		words string
	}{
		{"email", bonafide.ValidateEmail("ann@example.com"), 0, "", ""},
		{"email localhost", bonafide.ValidateEmail("root@localhost"), 0, "", ""},
		{"email empty", bonafide.ValidateEmail(""), 4, "email", "empty"},
		{"email no domain dot", bonafide.ValidateEmail("ann@example"), 4, "email", "name@example.com"},
		{"email display name", bonafide.ValidateEmail("Ann <ann@example.com>"), 4, "email", "not an email"},
		{"email long", bonafide.ValidateEmail(strings.Repeat("a", 250) + "@x.io"), 4, "email", "254"},
		{"password", bonafide.ValidatePassword("пароль12"), 0, "", ""},                        // 8 runes, 14 bytes
		{"password runes", bonafide.ValidatePassword("пароль1"), 4, "password", "(it has 7)"}, // 13 bytes
		{"password long", bonafide.ValidatePassword(strings.Repeat("x", 1025)), 4, "password", "at most 1024 bytes"},
		{"name", bonafide.ValidatePersonName("last_name", strings.Repeat("é", 150)), 0, "", ""},
		{"name long", bonafide.ValidatePersonName("last_name", strings.Repeat("é", 151)), 4, "last_name", "150"},
		{"admin alone", bonafide.ValidateUserCompany(bonafide.RoleAdmin, nil), 0, "", ""},
		{"admin global", bonafide.ValidateUserCompany(bonafide.RoleAdmin, global), 0, "", ""},
		{"admin empty", bonafide.ValidateUserCompany(bonafide.RoleOperator, &bonafide.Company{}), 0, "", ""},
		{"admin client", bonafide.ValidateUserCompany(bonafide.RoleAdmin, client), 4, "company_id", `global role: its users belong to the reserved company "global"`},
		{"client", bonafide.ValidateUserCompany(bonafide.RoleClient, client), 0, "", ""},
		{"client alone", bonafide.ValidateUserCompany(bonafide.RoleClientAdmin, nil), 3, "company_id", "CLIENT ADMIN users belong to a company"},
		{"client empty", bonafide.ValidateUserCompany(bonafide.RoleClient, &bonafide.Company{}), 4, "company_id", "empty"},
		{"client global", bonafide.ValidateUserCompany(bonafide.RoleClient, global), 4, "company_id", `reserved company "global"`},
		{"client old global", bonafide.ValidateUserCompany(bonafide.RoleClient, oldGlobal), 4, "company_id", `reserved company "global"`},
		{"client global by name", bonafide.ValidateUserCompany(bonafide.RoleClient, &bonafide.Company{Name: " GLOBAL "}), 4, "company_id", "reserved"},
	} {
		checkRule(t, c.name, c.err, c.code, c.field, c.words)
	}

	for in, want := range map[string]bonafide.Role{"CLIENT": bonafide.RoleClient, "client_admin": bonafide.RoleClientAdmin,
		" Client  Service ": bonafide.RoleClientService, "admin": bonafide.RoleAdmin} {
		if got, err := bonafide.ParseRole(in); got != want || err != nil {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := bonafide.ParseRole("KING")
	checkRule(t, "role", err, 4, "user_type", `unknown role "KING": user_type is one of ADMIN,`)

	if got := bonafide.NormalizeEmail(" Ann@Example.COM "); got != "ann@example.com" {
		t.Errorf("NormalizeEmail = %q", got)
	}
	for in, want := range map[string]string{" Acme ": "Acme", strings.Repeat("é", 200): strings.Repeat("é", 200)} {
		if got, err := bonafide.ValidateCompanyName(in); got != want || err != nil {
			t.Errorf("ValidateCompanyName(%q) = %q, %v", in, got, err)
		}
	}
	for in, words := range map[string]string{"  ": "empty", strings.Repeat("x", 201): "200", "global": "reserved", " Global ": "reserved"} {
		_, err := bonafide.ValidateCompanyName(in)
		checkRule(t, "company "+in, err, 4, "name", words)
	}
}

func checkRule(t *testing.T, name string, err error, code bonafide.Code, field, words string) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Errorf("%s: %v, want accepted", name, err)
		}
		return
	}
	e, ok := err.(*bonafide.Error)
	if !ok {
		t.Errorf("%s: %v (%T), want a *bonafide.Error with code %d", name, err, err, code)
		return
	}
	if e.Code != code || !strings.Contains(e.Message, words) {
		t.Errorf("%s: code %d %q, want code %d mentioning %q", name, e.Code, e.Message, code, words)
	}
	if d, _ := e.Details.(map[string]string); d["key_path"] != field {
		t.Errorf("%s: details %v, want key_path %s", name, e.Details, field)
	}
}
