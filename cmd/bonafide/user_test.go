package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bonafide"
	"bonafide/internal/password"
	"bonafide/internal/service"
	"bonafide/jobs"
	"bonafide/sweep"
)

// `bonafide user password` resets a password through bonafide.ChangePassword: the new one logs
// in and every session of the user ends. On SQLite, and on PostgreSQL when it is configured.
func TestUserPasswordEndsSessions(t *testing.T) {
	backends := map[string]func(t *testing.T) []string{
		"sqlite": func(t *testing.T) []string { return []string{"--data-dir", t.TempDir()} },
	}
	if url := os.Getenv("BONAFIDE_TEST_POSTGRES_URL"); url != "" {
		backends["postgres"] = func(t *testing.T) []string {
			return []string{"--data-dir", t.TempDir(), "--database-url", freshDatabase(t, url)}
		}
	}
	for name, flags := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			fl := flags(t)
			args := func(a ...string) []string { return append(a, fl...) }
			if code, out, errs := run(t, args("user", "create", "--email", "alice@example.com", "--password", "first-password", "--company", "acme")...); code != 0 {
				t.Fatalf("create: %d %s %s", code, out, errs)
			}
			var sf serverFlags
			sf.dataDir = fl[1]
			if len(fl) > 2 {
				sf.databaseURL = fl[3]
			}
			sf.resolve()
			db, err := openDatabase(ctx, &sf, jobs.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Store().Close()
			u, err := db.Store().GetUserByEmail(ctx, "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range []string{"tok-a", "tok-b"} {
				if err := db.Store().CreateSession(ctx, &bonafide.Session{TokenHash: tok, UserID: u.ID, Expires: time.Now().Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			if code, _, errs := run(t, args("user", "password", "--email", "alice@example.com", "--password", "short")...); code != 1 || !strings.Contains(errs, "8 characters") {
				t.Fatalf("short password: %d %s", code, errs)
			}
			pwFile := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(pwFile, []byte("second-password\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, _, errs := run(t, args("user", "password", "--email", "alice@example.com", "--password", "x", "--password-file", pwFile)...); code != 2 || !strings.Contains(errs, "not both") {
				t.Fatalf("both password flags: %d %s", code, errs)
			}
			if code, out, errs := run(t, args("user", "password", "--email", "alice@example.com", "--password-file", pwFile)...); code != 0 || !strings.Contains(out, "sessions ended") {
				t.Fatalf("password: %d %s %s", code, out, errs)
			}
			for _, tok := range []string{"tok-a", "tok-b"} {
				if _, err := db.Store().GetSession(ctx, tok); bonafide.CodeOf(err) != bonafide.CodeNotExist {
					t.Errorf("session %s after a password reset: %v, want gone", tok, err)
				}
			}
			u, err = db.Store().GetUserByEmail(ctx, "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if !password.Check(u.PasswordHash, "second-password") || password.Check(u.PasswordHash, "first-password") {
				t.Error("the new password does not log in, or the old one still does")
			}
			if code, _, _ := run(t, args("user", "password", "--email", "nobody@example.com", "--password", "second-password")...); code != 1 {
				t.Errorf("unknown email: exit %d, want 1", code)
			}
		})
	}
}

// Start-up moves an older install's ADMIN out of the client company "default" into "global"
// (bonafide.MoveGlobalUsers, run by serve's prepareAccounts) and the session purge removes expired
// sessions when it starts; here the start-up steps are run directly on the store the CLI opens.
func TestStartupMovesLegacyAdmin(t *testing.T) {
	ctx := context.Background()
	var sf serverFlags
	sf.dataDir = t.TempDir()
	sf.resolve()
	db, err := openDatabase(ctx, &sf, jobs.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Store().Close()
	def := &bonafide.Company{Name: "default"}
	if err := db.Store().CreateCompany(ctx, def); err != nil {
		t.Fatal(err)
	}
	admin := &bonafide.User{Email: "admin@bonafide.local", Role: bonafide.RoleAdmin, CompanyID: def.ID}
	if err := db.Store().CreateUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if err := db.Store().CreateSession(ctx, &bonafide.Session{TokenHash: "old", UserID: admin.ID, Expires: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := prepareAccounts(ctx, db.Store(), &sf, quiet, io.Discard); err != nil {
		t.Fatal(err)
	}
	var services service.Group // as startServices starts the purge first
	if err := services.Start(ctx, &sweep.SessionPurge{Store: db.Store(), Log: quiet}); err != nil {
		t.Fatal(err)
	}
	if err := services.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.Store().GetUser(ctx, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CompanyID != bonafide.GlobalCompanyID {
		t.Errorf("the ADMIN is in company %s after start-up, want global", got.CompanyID)
	}
	if _, err := db.Store().GetSession(ctx, "old"); bonafide.CodeOf(err) != bonafide.CodeNotExist {
		t.Errorf("an expired session survived start-up: %v", err)
	}
}
