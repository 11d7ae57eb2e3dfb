package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"bonafide"
	"bonafide/api"
	"bonafide/jobs"
)

// `bonafide user create` and POST /api/users check users with the same rules (bonafide.Validate*,
// ParseRole): one table drives both, and each bad user gets the same code and message from both.
// The CLI names companies by name (--company), the API by id (company_id).
func TestUserRulesCLIAndAPIAgree(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--email", "root@example.com", "--password", "root-password", "--role", "ADMIN"},
		{"--email", "boss@acme.example.com", "--password", "boss-password", "--role", "CLIENT ADMIN", "--company", "acme"},
	} {
		if code, out, errs := run(t, append([]string{"user", "create", "--data-dir", dir}, args...)...); code != 0 {
			t.Fatalf("seed %v: %d %s %s", args, code, out, errs)
		}
	}
	var sf serverFlags
	sf.dataDir = dir
	sf.resolve()
	db, err := openDatabase(ctx, &sf, jobs.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	store := db.Store()
	defer store.Close()
	acme, err := bonafide.CompanyNamed(ctx, store, "acme")
	if err != nil || acme == nil {
		t.Fatalf("company acme: %v %v", acme, err)
	}
	companyID := map[string]string{"acme": acme.ID, "global": bonafide.GlobalCompanyID}
	srv := httptest.NewServer(api.New(api.Config{}, store, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil).Handler())
	defer srv.Close()
	post := func(path, token string, body any, out any) int {
		t.Helper()
		data, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-Forensic-Access-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: %d, not JSON: %v", path, resp.StatusCode, err)
		}
		return resp.StatusCode
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := post("/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "root@example.com", "password": "root-password"}}, &tok); code != 200 {
		t.Fatalf("login: %d", code)
	}

	for _, c := range []struct {
		name                  string
		email, pw, role, comp string
		code                  bonafide.Code // 0: both accept the user
		words                 string        // the message must say this
	}{
		{"bad email", "not-an-email", "long-enough", "CLIENT", "acme", bonafide.CodeInvalidValue, "not an email address"},
		{"email without a domain", "ann@acme", "long-enough", "CLIENT", "acme", bonafide.CodeInvalidValue, "like name@example.com"},
		{"short password in runes", "ann@acme.example.com", "пароль1", "CLIENT", "acme", bonafide.CodeInvalidValue, "at least 8 characters (it has 7)"}, // 13 bytes
		{"too long password", "ann@acme.example.com", strings.Repeat("x", 1025), "CLIENT", "acme", bonafide.CodeInvalidValue, "at most 1024 bytes"},
		{"unknown role", "ann@acme.example.com", "long-enough", "KING", "acme", bonafide.CodeInvalidValue, `unknown role "KING"`},
		{"client role without company", "ann@acme.example.com", "long-enough", "CLIENT", "", bonafide.CodeInvalidStructure, "CLIENT users belong to a company"},
		{"global role with client company", "ann@acme.example.com", "long-enough", "ADMIN", "acme", bonafide.CodeInvalidValue, "ADMIN is a global role"},
		{"reserved company", "ann@acme.example.com", "long-enough", "CLIENT OPERATOR", "global", bonafide.CodeInvalidValue, `reserved company "global" holds only`},
		{"8-rune password", "8runes@acme.example.com", "пароль12", "client_operator", "acme", 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The CLI: the message after the command's name, and the code of the error createUser returns.
			args := []string{"user", "create", "--data-dir", dir, "--email", c.email, "--password", c.pw, "--role", c.role}
			if c.comp != "" {
				args = append(args, "--company", c.comp)
			}
			cliExit, _, cliErr := run(t, args...)
			cliMsg := strings.TrimSuffix(strings.TrimPrefix(cliErr, "bonafide user create: "), "\n")

			// The API, with the same user.
			body := map[string]any{"email": c.email, "password": c.pw, "user_type": c.role}
			if c.comp != "" {
				body["company_id"] = companyID[c.comp]
			}
			if c.code == 0 {
				body["email"] = "api." + c.email
			}
			var got struct {
				Code    *bonafide.Code `json:"error_code"`
				Message string         `json:"error_message"`
				UserID  string         `json:"user_id"`
			}
			status := post("/api/users", tok.AccessToken, body, &got)

			if c.code == 0 {
				if cliExit != 0 || status != http.StatusCreated || got.UserID == "" {
					t.Fatalf("want both to accept: CLI exit %d %q; API %d %+v", cliExit, cliErr, status, got)
				}
				return
			}
			if cliExit != 1 {
				t.Errorf("CLI exit %d (%q), want 1", cliExit, cliErr)
			}
			if status != http.StatusBadRequest || got.Code == nil || *got.Code != c.code {
				t.Errorf("API: %d %+v, want 400 with code %d", status, got, c.code)
			}
			if cliMsg != got.Message {
				t.Errorf("the CLI and the API disagree:\n  CLI: %s\n  API: %s", cliMsg, got.Message)
			}
			if !strings.Contains(got.Message, c.words) {
				t.Errorf("message %q should say %q", got.Message, c.words)
			}
			if _, err := createUser(ctx, store, c.email, c.pw, bonafide.Role(c.role), c.comp); bonafide.CodeOf(err) != c.code {
				t.Errorf("createUser: %v (code %d), want code %d", err, bonafide.CodeOf(err), c.code)
			}
		})
	}
	// Neither path created a refused user.
	users, err := store.ListUsers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 4 {
		for _, u := range users {
			t.Logf("%s %s %s", u.Email, u.Role, u.CompanyID)
		}
		t.Errorf("%d users, want the 2 seeded and the 2 accepted", len(users))
	}
}
