package bonafide

import (
	"context"
	"fmt"
)

// DisableUser disables the account and ends every session it has: a disabled account keeps no
// way in, and enabling it again later does not bring old tokens (five-year service tokens among
// them) back to life. The API and `bonafide user disable` both disable through here.
func DisableUser(ctx context.Context, s Store, u *User) error {
	u.Disabled = true
	if err := s.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := s.DeleteUserSessions(ctx, u.ID); err != nil {
		return fmt.Errorf("end the sessions of disabled user %s: %w", u.ID, err)
	}
	return nil
}
