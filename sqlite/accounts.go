package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- companies --------------------------------------------------------------------------------

const companyCols = `id, name, webhook_secret, created_at, updated_at`

func scanCompany(r scanner) (*bonafide.Company, error) {
	var c bonafide.Company
	var created, updated int64
	if err := r.Scan(&c.ID, &c.Name, &c.WebhookSecret, &created, &updated); err != nil {
		return nil, err
	}
	c.Created, c.Updated = storeutil.FromStamp(created), storeutil.FromStamp(updated)
	return &c, nil
}

// CreateCompany inserts c, filling an empty ID and zero times.
func (s *Store) CreateCompany(ctx context.Context, c *bonafide.Company) error {
	storeutil.FillID(&c.ID)
	s.codec.SetTimes(&c.Created, &c.Updated)
	_, err := s.db.ExecContext(ctx, `INSERT INTO companies (`+companyCols+`) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.WebhookSecret, storeutil.Stamp(c.Created), storeutil.Stamp(c.Updated))
	if isPrimaryKey(err) {
		return storeutil.AlreadyExists("company", c.ID)
	}
	return wrap("create company", err)
}

// UpdateCompany changes a company's name and webhook secret.
func (s *Store) UpdateCompany(ctx context.Context, c *bonafide.Company) error {
	c.Updated = s.codec.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE companies SET name = ?, webhook_secret = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.WebhookSecret, storeutil.Stamp(c.Updated), c.ID)
	if err != nil {
		return wrap("update company", err)
	}
	return wrap("update company", mustAffect(res, "company", c.ID))
}

// GetCompany returns one company.
func (s *Store) GetCompany(ctx context.Context, id string) (*bonafide.Company, error) {
	c, err := scanCompany(s.db.QueryRowContext(ctx, `SELECT `+companyCols+` FROM companies WHERE id = ?`, id))
	if err != nil {
		return nil, notFoundIf(err, "get company", "company", id)
	}
	return c, nil
}

// ListCompanies returns the companies whose name contains search (case-insensitive, ASCII) or whose
// id equals it; every company when search is empty. Ordered by name, then id.
func (s *Store) ListCompanies(ctx context.Context, search string) ([]*bonafide.Company, error) {
	q := `SELECT ` + companyCols + ` FROM companies`
	var args []any
	if search != "" {
		q += ` WHERE name LIKE ? ESCAPE '\' OR id = ?`
		args = append(args, "%"+storeutil.LikeEscape(search)+"%", search)
	}
	q += ` ORDER BY name COLLATE NOCASE, id`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list companies", err)
	}
	defer rows.Close()
	out := []*bonafide.Company{}
	for rows.Next() {
		c, err := scanCompany(rows)
		if err != nil {
			return nil, wrap("list companies", err)
		}
		out = append(out, c)
	}
	return out, wrap("list companies", rows.Err())
}

// --- users ------------------------------------------------------------------------------------

const userCols = `id, company_id, email, first_name, last_name, middle_name, role, password_hash,
	disabled, can_quality, can_biometry, created_at, updated_at`

func scanUser(r scanner) (*bonafide.User, error) {
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
func userWriteErr(op string, u *bonafide.User, err error) error {
	switch {
	case err == nil:
		return nil
	case isPrimaryKey(err):
		return storeutil.AlreadyExists("user", u.ID)
	case isUnique(err):
		return bonafide.Errorf(bonafide.CodeAlreadyExist, "a user with email %s already exists", u.Email)
	case isForeignKey(err):
		return bonafide.NotFound("company", u.CompanyID)
	}
	return wrap(op, err)
}

// CreateUser inserts u; the email is stored lower-case and must be unique.
func (s *Store) CreateUser(ctx context.Context, u *bonafide.User) error {
	storeutil.FillID(&u.ID)
	s.codec.SetTimes(&u.Created, &u.Updated)
	u.Email = storeutil.NormEmail(u.Email)
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, storeutil.NullStr(u.CompanyID), u.Email, u.FirstName, u.LastName, u.MiddleName, string(u.Role), u.PasswordHash,
		b2i(u.Disabled), b2i(u.CanQuality), b2i(u.CanBiometry), storeutil.Stamp(u.Created), storeutil.Stamp(u.Updated))
	return userWriteErr("create user", u, err)
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, id string) (*bonafide.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, notFoundIf(err, "get user", "user", id)
	}
	return u, nil
}

// GetUserByEmail finds a user by email, case-insensitively.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*bonafide.User, error) {
	email = storeutil.NormEmail(email)
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, email))
	if err != nil {
		return nil, notFoundIf(err, "get user by email", "user", email)
	}
	return u, nil
}

// UpdateUser writes every field of u but ID and Created; Updated is set to now.
func (s *Store) UpdateUser(ctx context.Context, u *bonafide.User) error {
	u.Email = storeutil.NormEmail(u.Email)
	u.Updated = s.codec.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE users SET company_id = ?, email = ?, first_name = ?, last_name = ?,
		middle_name = ?, role = ?, password_hash = ?, disabled = ?, can_quality = ?, can_biometry = ?, updated_at = ?
		WHERE id = ?`,
		storeutil.NullStr(u.CompanyID), u.Email, u.FirstName, u.LastName, u.MiddleName, string(u.Role), u.PasswordHash,
		b2i(u.Disabled), b2i(u.CanQuality), b2i(u.CanBiometry), storeutil.Stamp(u.Updated), u.ID)
	if err != nil {
		return userWriteErr("update user", u, err)
	}
	return wrap("update user", mustAffect(res, "user", u.ID))
}

// ListUsers returns the users of one company (every user when companyID is empty), oldest first.
func (s *Store) ListUsers(ctx context.Context, companyID string) ([]*bonafide.User, error) {
	q := `SELECT ` + userCols + ` FROM users`
	var args []any
	if companyID != "" {
		q += ` WHERE company_id = ?`
		args = append(args, companyID)
	}
	q += ` ORDER BY created_at, id`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	out := []*bonafide.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		out = append(out, u)
	}
	return out, wrap("list users", rows.Err())
}

// CountUsers counts every user.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}

// Setting returns the stored value of name, storing value first when there is none.
func (s *Store) Setting(ctx context.Context, name, value string) (string, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", wrap("store setting", err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v); err != nil {
		return "", wrap("read setting", err)
	}
	return v, nil
}

// --- sessions ---------------------------------------------------------------------------------

const sessionCols = `token_hash, expire_hash, user_id, expires_at, long_lived, created_at, replaces`

func scanSession(r scanner) (*bonafide.Session, error) {
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
func (s *Store) CreateSession(ctx context.Context, ss *bonafide.Session) error {
	if err := s.codec.PrepareSession(ss); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ss.TokenHash, storeutil.NullStr(ss.ExpireHash), ss.UserID, storeutil.Stamp(ss.Expires), b2i(ss.LongLived), storeutil.Stamp(ss.Created), storeutil.NullStr(ss.Replaces))
	switch {
	case err == nil:
		return nil
	case isPrimaryKey(err), isUnique(err):
		return bonafide.Errorf(bonafide.CodeAlreadyExist, "session already exists")
	case isForeignKey(err):
		return bonafide.NotFound("user", ss.UserID)
	}
	return wrap("create session", err)
}

func (s *Store) getSession(ctx context.Context, where, arg string) (*bonafide.Session, error) {
	ss, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+where+` = ?`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeutil.ErrNoSession()
	}
	if err != nil {
		return nil, wrap("get session", err)
	}
	return ss, nil
}

// GetSession finds a session by its access-token hash. Expiry is the caller's to check.
func (s *Store) GetSession(ctx context.Context, tokenHash string) (*bonafide.Session, error) {
	return s.getSession(ctx, "token_hash", tokenHash)
}

// GetSessionByExpireHash finds a session by its refresh-token hash.
func (s *Store) GetSessionByExpireHash(ctx context.Context, expireHash string) (*bonafide.Session, error) {
	if expireHash == "" {
		return nil, storeutil.ErrNoSession()
	}
	return s.getSession(ctx, "expire_hash", expireHash)
}

// ExtendSession sets a session's expiry.
func (s *Store) ExtendSession(ctx context.Context, tokenHash string, expires time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE token_hash = ?`, storeutil.Stamp(expires), tokenHash)
	if err != nil {
		return wrap("extend session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("extend session", err)
	} else if n == 0 {
		return storeutil.ErrNoSession()
	}
	return nil
}

// DeleteSession removes a session; NotExist when there was none.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return wrap("delete session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("delete session", err)
	} else if n == 0 {
		return storeutil.ErrNoSession()
	}
	return nil
}

// RetireReplaced deletes the session that tokenHash's was refreshed from and clears the link.
func (s *Store) RetireReplaced(ctx context.Context, tokenHash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var replaces *string
		err := tx.QueryRowContext(ctx, `SELECT replaces FROM sessions WHERE token_hash = ?`, tokenHash).Scan(&replaces)
		if errors.Is(err, sql.ErrNoRows) {
			return storeutil.ErrNoSession()
		}
		if err != nil || replaces == nil {
			return wrap("retire replaced session", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, *replaces); err != nil {
			return wrap("retire replaced session", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET replaces = NULL WHERE token_hash = ?`, tokenHash)
		return wrap("retire replaced session", err)
	})
}

// DeleteUserSessions removes every session of a user but exceptTokenHash's (after a password
// change, for example).
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptTokenHash string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, userID, exceptTokenHash)
	return wrap("delete user sessions", err)
}

// DeleteExpiredSessions removes the sessions that expired before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, storeutil.Stamp(now))
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("delete expired sessions", err)
}
