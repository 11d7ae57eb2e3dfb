package bonafide

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// The reserved company of the global roles (ADMIN, OPERATOR). No client user joins it, so a
// CLIENT ADMIN never shares a company with an ADMIN and never sees or deletes its folders.
const (
	GlobalCompanyName = "global"
	// GlobalCompanyID is the id the global company is created with, the same on every node, so
	// that nodes starting at once create it once. (An older install may hold a "global" company
	// with another id; it is the one used then.)
	GlobalCompanyID = "0df0196c-62f6-52ff-be68-3f4540dd0aea"
)

// IsGlobalCompanyName reports the reserved name, in any case and spacing.
func IsGlobalCompanyName(name string) bool {
	return strings.EqualFold(strings.TrimSpace(name), GlobalCompanyName)
}

// CompanyNamed returns the oldest company named name (case-insensitive), or nil when there is none.
func CompanyNamed(ctx context.Context, s Store, name string) (*Company, error) {
	cs, err := s.ListCompanies(ctx, name)
	if err != nil {
		return nil, err
	}
	var found *Company
	for _, c := range cs {
		if strings.EqualFold(c.Name, name) && (found == nil || c.Created.Before(found.Created)) {
			found = c
		}
	}
	return found, nil
}

// EnsureCompany returns the company named name, creating it (with id, when not empty, and a
// webhook secret from newSecret) when missing. The API, the CLI and start-up all create companies
// by name through here.
func EnsureCompany(ctx context.Context, s Store, name, id string, newSecret func() (string, error)) (*Company, error) {
	c, err := CompanyNamed(ctx, s, name)
	if err != nil || c != nil {
		return c, err
	}
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	c = &Company{ID: id, Name: name, WebhookSecret: secret}
	if err := s.CreateCompany(ctx, c); err != nil {
		if CodeOf(err) == CodeAlreadyExist && id != "" {
			return s.GetCompany(ctx, id) // another node created it a moment ago
		}
		return nil, fmt.Errorf("create company %q: %w", name, err)
	}
	return c, nil
}

// GlobalCompany returns the reserved company of the global roles, creating it when missing.
func GlobalCompany(ctx context.Context, s Store, newSecret func() (string, error)) (*Company, error) {
	return EnsureCompany(ctx, s, GlobalCompanyName, GlobalCompanyID, newSecret)
}

// MoveGlobalUsers puts every global-role user (ADMIN, OPERATOR) that sits outside the reserved
// company into it, creating the company when missing: older installs put the bootstrap ADMIN in
// the client company "default". It is run at every start (it changes nothing the second time) and
// returns how many users it moved. Their folders stay where they were created (the store has no
// way to move a folder yet). A client user found in the reserved company is only logged: which
// company it belongs to is for an administrator to say.
func MoveGlobalUsers(ctx context.Context, s Store, newSecret func() (string, error), log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.Default()
	}
	users, err := s.ListUsers(ctx, "")
	if err != nil {
		return 0, err
	}
	var global *Company
	moved := 0
	for _, u := range users {
		if global == nil {
			if global, err = GlobalCompany(ctx, s, newSecret); err != nil {
				return moved, err
			}
		}
		switch {
		case u.Role.Global() && u.CompanyID != global.ID:
			from := u.CompanyID
			// Its folders first (a crash in between leaves the user to be moved again at the
			// next start): left in the client company, its CLIENT ADMIN could read and delete them.
			folders, err := s.MoveUserFolders(ctx, u.ID, global.ID)
			if err != nil {
				return moved, fmt.Errorf("move the folders of %s %s into company %q: %w", u.Role, u.ID, GlobalCompanyName, err)
			}
			u.CompanyID = global.ID
			if err := s.UpdateUser(ctx, u); err != nil {
				return moved, fmt.Errorf("move %s %s into company %q: %w", u.Role, u.ID, GlobalCompanyName, err)
			}
			moved++
			log.Info("moved a global-role user into the reserved company", "user_id", u.ID, "role", u.Role,
				"from_company_id", from, "company_id", global.ID, "folders", folders)
		case !u.Role.Global() && u.CompanyID == global.ID:
			log.Warn("a client user sits in the reserved company of the global roles; move it to its company",
				"user_id", u.ID, "role", u.Role, "company_id", global.ID)
		}
	}
	return moved, nil
}

// DisableUser disables the account and ends every session it has: a disabled account keeps no
// way in, and enabling it again later does not bring old tokens (five-year service tokens among
// them) back to life. The API and `bonafide user disable` both disable through here.
func DisableUser(ctx context.Context, s Store, u *User) error {
	u.Disabled = true
	if err := s.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := s.DeleteUserSessions(ctx, u.ID, ""); err != nil {
		return fmt.Errorf("end the sessions of disabled user %s: %w", u.ID, err)
	}
	return nil
}

// ChangePassword stores u with its new password hash (and whatever else the caller changed in u)
// and ends every session of u but keepTokenHash's: the caller's own current session when users
// change their own password, "" otherwise. A password that may have leaked stops opening the
// sessions made with it. The API and `bonafide user password` both change passwords through here.
func ChangePassword(ctx context.Context, s Store, u *User, passwordHash, keepTokenHash string) error {
	if passwordHash == "" {
		return errors.New("change password: empty hash")
	}
	u.PasswordHash = passwordHash
	if err := s.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := s.DeleteUserSessions(ctx, u.ID, keepTokenHash); err != nil {
		return fmt.Errorf("end the sessions of user %s after a password change: %w", u.ID, err)
	}
	return nil
}
