package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"bonafide"
	"bonafide/internal/storeutil"
)

// asciiLower lowers ASCII letters only, like SQLite's NOCASE and LIKE (Syntax.FoldedLike).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// --- companies --------------------------------------------------------------------------------

const companyCols = `id, name, webhook_secret, created_at, updated_at`

// companySelect is what a read selects: the inserted columns and the retention setting.
const companySelect = companyCols + `, retention_media, retention_folders`

func scanCompany(r Row) (*bonafide.Company, error) {
	var c bonafide.Company
	var created, updated int64
	var media, folders *int64
	if err := r.Scan(&c.ID, &c.Name, &c.WebhookSecret, &created, &updated, &media, &folders); err != nil {
		return nil, err
	}
	c.Created, c.Updated = storeutil.FromStamp(created), storeutil.FromStamp(updated)
	c.Retention = bonafide.Retention{Media: msDuration(media), Folders: msDuration(folders)}
	return &c, nil
}

// CreateCompany inserts c, filling an empty ID and zero times.
func (s *Store[T]) CreateCompany(ctx context.Context, c *bonafide.Company) error {
	storeutil.FillID(&c.ID)
	s.codec.SetTimes(&c.Created, &c.Updated)
	_, err := s.db.Exec(ctx, `INSERT INTO companies (`+companyCols+`) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.WebhookSecret, storeutil.Stamp(c.Created), storeutil.Stamp(c.Updated))
	if s.violates(err, pkCompany) {
		return storeutil.AlreadyExists("company", c.ID)
	}
	return s.wrap("create company", err)
}

// UpdateCompany changes a company's name and webhook secret.
func (s *Store[T]) UpdateCompany(ctx context.Context, c *bonafide.Company) error {
	c.Updated = s.codec.Now()
	n, err := s.db.Exec(ctx, `UPDATE companies SET name = ?, webhook_secret = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.WebhookSecret, storeutil.Stamp(c.Updated), c.ID)
	if err != nil {
		return s.wrap("update company", err)
	}
	return mustAffect(n, "company", c.ID)
}

// GetCompany returns one company.
func (s *Store[T]) GetCompany(ctx context.Context, id string) (*bonafide.Company, error) {
	return get(ctx, s, "get company", "company", id, scanCompany, `SELECT `+companySelect+` FROM companies WHERE id = ?`, id)
}

// ListCompanies returns the companies whose name contains search (case-insensitive, ASCII) or whose
// id equals it; every company when search is empty. Ordered by name (ASCII case-insensitive, then
// bytes), then id.
func (s *Store[T]) ListCompanies(ctx context.Context, search string) ([]*bonafide.Company, error) {
	q := `SELECT ` + companySelect + ` FROM companies`
	var args []any
	if search != "" {
		q += ` WHERE ` + s.sx.FoldedLike("name") + ` OR id = ?`
		args = append(args, "%"+storeutil.LikeEscape(asciiLower(search))+"%", search)
	}
	q += ` ORDER BY ` + s.sx.FoldedOrder("name") + `, id`
	return list(ctx, s, "list companies", scanCompany, q, args...)
}

// --- users ------------------------------------------------------------------------------------

const userCols = `id, company_id, email, first_name, last_name, middle_name, role, password_hash,
	disabled, can_quality, can_biometry, created_at, updated_at`

func scanUser(r Row) (*bonafide.User, error) {
	var u bonafide.User
	var company *string
	var role string
	var created, updated int64
	if err := r.Scan(&u.ID, &company, &u.Email, &u.FirstName, &u.LastName, &u.MiddleName, &role, &u.PasswordHash,
		&u.Disabled, &u.CanQuality, &u.CanBiometry, &created, &updated); err != nil {
		return nil, err
	}
	u.CompanyID, u.Role = storeutil.Deref(company), bonafide.Role(role)
	u.Created, u.Updated = storeutil.FromStamp(created), storeutil.FromStamp(updated)
	return &u, nil
}

// userWriteErr translates constraint failures of an insert or update of u.
func (s *Store[T]) userWriteErr(op string, u *bonafide.User, err error) error {
	switch {
	case err == nil:
		return nil
	case s.violates(err, pkUser):
		return storeutil.AlreadyExists("user", u.ID)
	case s.violates(err, uqUserEmail):
		return bonafide.Errorf(bonafide.CodeAlreadyExist, "a user with email %s already exists", u.Email)
	case s.violates(err, fkUserCompany):
		return bonafide.NotFound("company", u.CompanyID)
	}
	return s.wrap(op, err)
}

// CreateUser inserts u; the email is stored lower-case and must be unique.
func (s *Store[T]) CreateUser(ctx context.Context, u *bonafide.User) error {
	storeutil.FillID(&u.ID)
	s.codec.SetTimes(&u.Created, &u.Updated)
	u.Email = storeutil.NormEmail(u.Email)
	_, err := s.db.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, storeutil.NullStr(u.CompanyID), u.Email, u.FirstName, u.LastName, u.MiddleName, string(u.Role), u.PasswordHash,
		u.Disabled, u.CanQuality, u.CanBiometry, storeutil.Stamp(u.Created), storeutil.Stamp(u.Updated))
	return s.userWriteErr("create user", u, err)
}

// GetUser returns one user.
func (s *Store[T]) GetUser(ctx context.Context, id string) (*bonafide.User, error) {
	return get(ctx, s, "get user", "user", id, scanUser, `SELECT `+userCols+` FROM users WHERE id = ?`, id)
}

// GetUserByEmail finds a user by email, case-insensitively (Syntax.FoldedEquals: SQLite's NOCASE
// column, PostgreSQL's users_email_lower index).
func (s *Store[T]) GetUserByEmail(ctx context.Context, email string) (*bonafide.User, error) {
	email = storeutil.NormEmail(email)
	return get(ctx, s, "get user by email", "user", email, scanUser, `SELECT `+userCols+` FROM users WHERE `+s.sx.FoldedEquals("email"), email)
}

// UpdateUser writes every field of u but ID and Created; Updated is set to now.
func (s *Store[T]) UpdateUser(ctx context.Context, u *bonafide.User) error {
	u.Email = storeutil.NormEmail(u.Email)
	u.Updated = s.codec.Now()
	n, err := s.db.Exec(ctx, `UPDATE users SET company_id = ?, email = ?, first_name = ?, last_name = ?,
		middle_name = ?, role = ?, password_hash = ?, disabled = ?, can_quality = ?, can_biometry = ?, updated_at = ?
		WHERE id = ?`,
		storeutil.NullStr(u.CompanyID), u.Email, u.FirstName, u.LastName, u.MiddleName, string(u.Role), u.PasswordHash,
		u.Disabled, u.CanQuality, u.CanBiometry, storeutil.Stamp(u.Updated), u.ID)
	if err != nil {
		return s.userWriteErr("update user", u, err)
	}
	return mustAffect(n, "user", u.ID)
}

// ListUsers returns the users of one company (every user when companyID is empty), oldest first.
func (s *Store[T]) ListUsers(ctx context.Context, companyID string) ([]*bonafide.User, error) {
	q := `SELECT ` + userCols + ` FROM users`
	var args []any
	if companyID != "" {
		q += ` WHERE company_id = ?`
		args = append(args, companyID)
	}
	q += ` ORDER BY created_at, id`
	return list(ctx, s, "list users", scanUser, q, args...)
}

// CountUsers counts every user.
func (s *Store[T]) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, s.wrap("count users", err)
	}
	return n, nil
}

// Setting returns the stored value of name, storing value first when there is none.
func (s *Store[T]) Setting(ctx context.Context, name, value string) (string, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", s.wrap("store setting", err)
	}
	var v string
	if err := s.db.QueryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v); err != nil {
		return "", s.wrap("read setting", err)
	}
	return v, nil
}

// --- sessions ---------------------------------------------------------------------------------

const sessionCols = `token_hash, expire_hash, user_id, expires_at, long_lived, created_at, replaces`

func scanSession(r Row) (*bonafide.Session, error) {
	var ss bonafide.Session
	var expire, replaces *string
	var expires, created int64
	if err := r.Scan(&ss.TokenHash, &expire, &ss.UserID, &expires, &ss.LongLived, &created, &replaces); err != nil {
		return nil, err
	}
	ss.ExpireHash, ss.Replaces = storeutil.Deref(expire), storeutil.Deref(replaces)
	ss.Expires, ss.Created = storeutil.FromStamp(expires), storeutil.FromStamp(created)
	return &ss, nil
}

// CreateSession stores a session; the user must exist.
func (s *Store[T]) CreateSession(ctx context.Context, ss *bonafide.Session) error {
	if err := s.codec.PrepareSession(ss); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ss.TokenHash, storeutil.NullStr(ss.ExpireHash), ss.UserID, storeutil.Stamp(ss.Expires), ss.LongLived, storeutil.Stamp(ss.Created), storeutil.NullStr(ss.Replaces))
	switch {
	case err == nil:
		return nil
	case s.violates(err, pkSession), s.violates(err, uqSessionExp):
		return bonafide.Errorf(bonafide.CodeAlreadyExist, "session already exists")
	case s.violates(err, fkSessionUser):
		return bonafide.NotFound("user", ss.UserID)
	}
	return s.wrap("create session", err)
}

func (s *Store[T]) getSession(ctx context.Context, col, arg string) (*bonafide.Session, error) {
	ss, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+col+` = ?`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeutil.ErrNoSession()
	}
	if err != nil {
		return nil, s.wrap("get session", err)
	}
	return ss, nil
}

// GetSession finds a session by its access-token hash. Expiry is the caller's to check.
func (s *Store[T]) GetSession(ctx context.Context, tokenHash string) (*bonafide.Session, error) {
	return s.getSession(ctx, "token_hash", tokenHash)
}

// GetSessionByExpireHash finds a session by its refresh-token hash.
func (s *Store[T]) GetSessionByExpireHash(ctx context.Context, expireHash string) (*bonafide.Session, error) {
	if expireHash == "" {
		return nil, storeutil.ErrNoSession()
	}
	return s.getSession(ctx, "expire_hash", expireHash)
}

// ExtendSession sets a session's expiry.
func (s *Store[T]) ExtendSession(ctx context.Context, tokenHash string, expires time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE sessions SET expires_at = ? WHERE token_hash = ?`, storeutil.Stamp(expires), tokenHash)
	if err != nil {
		return s.wrap("extend session", err)
	}
	if n == 0 {
		return storeutil.ErrNoSession()
	}
	return nil
}

// DeleteSession removes a session; NotExist when there was none.
func (s *Store[T]) DeleteSession(ctx context.Context, tokenHash string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return s.wrap("delete session", err)
	}
	if n == 0 {
		return storeutil.ErrNoSession()
	}
	return nil
}

// RetireReplaced deletes the session that tokenHash's was refreshed from and clears the link.
func (s *Store[T]) RetireReplaced(ctx context.Context, tokenHash string) error {
	return s.tx(ctx, func(tx Tx[T]) error {
		var replaces *string
		err := tx.QueryRow(ctx, `SELECT replaces FROM sessions WHERE token_hash = ?`+s.sx.ForUpdate, tokenHash).Scan(&replaces)
		if errors.Is(err, sql.ErrNoRows) {
			return storeutil.ErrNoSession()
		}
		if err != nil || replaces == nil {
			return s.wrap("retire replaced session", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, *replaces); err != nil {
			return s.wrap("retire replaced session", err)
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET replaces = NULL WHERE token_hash = ?`, tokenHash)
		return s.wrap("retire replaced session", err)
	})
}

// DeleteUserSessions removes every session of a user but exceptTokenHash's (after a password
// change, for example).
func (s *Store[T]) DeleteUserSessions(ctx context.Context, userID, exceptTokenHash string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, userID, exceptTokenHash)
	return s.wrap("delete user sessions", err)
}

// DeleteExpiredSessions removes the sessions that expired before now.
func (s *Store[T]) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return s.count(ctx, "delete expired sessions", `DELETE FROM sessions WHERE expires_at < ?`, storeutil.Stamp(now))
}
