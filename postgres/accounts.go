package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"bonafide"
	"bonafide/internal/storeutil"
)

// asciiFold lowers ASCII letters only, like SQLite's NOCASE and LIKE (the sqlite store's semantics).
const asciiFold = `translate(%s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`

func foldSQL(expr string) string { return strings.Replace(asciiFold, "%s", expr, 1) }

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
	_, err := s.pool.Exec(ctx, `INSERT INTO companies (`+companyCols+`) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, c.Name, c.WebhookSecret, storeutil.Stamp(c.Created), storeutil.Stamp(c.Updated))
	if isUnique(err, pkCompany) {
		return storeutil.AlreadyExists("company", c.ID)
	}
	return wrap("create company", err)
}

// UpdateCompany changes a company's name and webhook secret.
func (s *Store) UpdateCompany(ctx context.Context, c *bonafide.Company) error {
	c.Updated = s.codec.Now()
	tag, err := s.pool.Exec(ctx, `UPDATE companies SET name = $1, webhook_secret = $2, updated_at = $3 WHERE id = $4`,
		c.Name, c.WebhookSecret, storeutil.Stamp(c.Updated), c.ID)
	if err != nil {
		return wrap("update company", err)
	}
	return mustAffect(tag, "company", c.ID)
}

// GetCompany returns one company.
func (s *Store) GetCompany(ctx context.Context, id string) (*bonafide.Company, error) {
	c, err := scanCompany(s.pool.QueryRow(ctx, `SELECT `+companyCols+` FROM companies WHERE id = $1`, id))
	if err != nil {
		return nil, notFoundIf(err, "get company", "company", id)
	}
	return c, nil
}

// ListCompanies returns the companies whose name contains search (case-insensitive, ASCII) or whose
// id equals it; every company when search is empty. Ordered by name (ASCII case-insensitive, then
// bytes), then id.
func (s *Store) ListCompanies(ctx context.Context, search string) ([]*bonafide.Company, error) {
	q := `SELECT ` + companyCols + ` FROM companies`
	var args []any
	if search != "" {
		q += ` WHERE ` + foldSQL("name") + ` LIKE $1 ESCAPE E'\\' OR id = $2`
		args = append(args, "%"+storeutil.LikeEscape(asciiLower(search))+"%", search)
	}
	q += ` ORDER BY ` + foldSQL("name") + ` COLLATE "C", id`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list companies", err)
	}
	out, err := collect(rows, scanCompany)
	return out, wrap("list companies", err)
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
	case isUnique(err, pkUser):
		return storeutil.AlreadyExists("user", u.ID)
	case isUnique(err, uqUserEmail):
		return bonafide.Errorf(bonafide.CodeAlreadyExist, "a user with email %s already exists", u.Email)
	case isForeignKey(err, fkUserCompany):
		return bonafide.NotFound("company", u.CompanyID)
	}
	return wrap(op, err)
}

// CreateUser inserts u; the email is stored lower-case and must be unique.
func (s *Store) CreateUser(ctx context.Context, u *bonafide.User) error {
	storeutil.FillID(&u.ID)
	s.codec.SetTimes(&u.Created, &u.Updated)
	u.Email = storeutil.NormEmail(u.Email)
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		u.ID, storeutil.NullStr(u.CompanyID), u.Email, u.FirstName, u.LastName, u.MiddleName, string(u.Role), u.PasswordHash,
		u.Disabled, u.CanQuality, u.CanBiometry, storeutil.Stamp(u.Created), storeutil.Stamp(u.Updated))
	return userWriteErr("create user", u, err)
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, id string) (*bonafide.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, notFoundIf(err, "get user", "user", id)
	}
	return u, nil
}

// GetUserByEmail finds a user by email, case-insensitively (through the users_email_lower index).
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*bonafide.User, error) {
	email = storeutil.NormEmail(email)
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE lower(email) = lower($1)`, email))
	if err != nil {
		return nil, notFoundIf(err, "get user by email", "user", email)
	}
	return u, nil
}

// UpdateUser writes every field of u but ID and Created; Updated is set to now.
func (s *Store) UpdateUser(ctx context.Context, u *bonafide.User) error {
	u.Email = storeutil.NormEmail(u.Email)
	u.Updated = s.codec.Now()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET company_id = $1, email = $2, first_name = $3, last_name = $4,
		middle_name = $5, role = $6, password_hash = $7, disabled = $8, can_quality = $9, can_biometry = $10, updated_at = $11
		WHERE id = $12`,
		storeutil.NullStr(u.CompanyID), u.Email, u.FirstName, u.LastName, u.MiddleName, string(u.Role), u.PasswordHash,
		u.Disabled, u.CanQuality, u.CanBiometry, storeutil.Stamp(u.Updated), u.ID)
	if err != nil {
		return userWriteErr("update user", u, err)
	}
	return mustAffect(tag, "user", u.ID)
}

// ListUsers returns the users of one company (every user when companyID is empty), oldest first.
func (s *Store) ListUsers(ctx context.Context, companyID string) ([]*bonafide.User, error) {
	q := `SELECT ` + userCols + ` FROM users`
	var args []any
	if companyID != "" {
		q += ` WHERE company_id = $1`
		args = append(args, companyID)
	}
	q += ` ORDER BY created_at, id`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list users", err)
	}
	out, err := collect(rows, scanUser)
	return out, wrap("list users", err)
}

// CountUsers counts every user.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}

// Setting returns the stored value of name, storing value first when there is none.
func (s *Store) Setting(ctx context.Context, name, value string) (string, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", wrap("store setting", err)
	}
	var v string
	if err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v); err != nil {
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
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		ss.TokenHash, storeutil.NullStr(ss.ExpireHash), ss.UserID, storeutil.Stamp(ss.Expires), ss.LongLived, storeutil.Stamp(ss.Created), storeutil.NullStr(ss.Replaces))
	switch {
	case err == nil:
		return nil
	case isUnique(err, pkSession), isUnique(err, uqSessionExp):
		return bonafide.Errorf(bonafide.CodeAlreadyExist, "session already exists")
	case isForeignKey(err, fkSessionUser):
		return bonafide.NotFound("user", ss.UserID)
	}
	return wrap("create session", err)
}

func (s *Store) getSession(ctx context.Context, col, arg string) (*bonafide.Session, error) {
	ss, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+col+` = $1`, arg))
	if errors.Is(err, pgx.ErrNoRows) {
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
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET expires_at = $1 WHERE token_hash = $2`, storeutil.Stamp(expires), tokenHash)
	if err != nil {
		return wrap("extend session", err)
	}
	if tag.RowsAffected() == 0 {
		return storeutil.ErrNoSession()
	}
	return nil
}

// DeleteSession removes a session; NotExist when there was none.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	if err != nil {
		return wrap("delete session", err)
	}
	if tag.RowsAffected() == 0 {
		return storeutil.ErrNoSession()
	}
	return nil
}

// RetireReplaced deletes the session that tokenHash's was refreshed from and clears the link.
func (s *Store) RetireReplaced(ctx context.Context, tokenHash string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var replaces *string
		err := tx.QueryRow(ctx, `SELECT replaces FROM sessions WHERE token_hash = $1 FOR UPDATE`, tokenHash).Scan(&replaces)
		if errors.Is(err, pgx.ErrNoRows) {
			return storeutil.ErrNoSession()
		}
		if err != nil || replaces == nil {
			return wrap("retire replaced session", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, *replaces); err != nil {
			return wrap("retire replaced session", err)
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET replaces = NULL WHERE token_hash = $1`, tokenHash)
		return wrap("retire replaced session", err)
	})
}

// DeleteUserSessions removes every session of a user but exceptTokenHash's (after a password
// change, for example).
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptTokenHash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, userID, exceptTokenHash)
	return wrap("delete user sessions", err)
}

// DeleteExpiredSessions removes the sessions that expired before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, storeutil.Stamp(now))
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	return int(tag.RowsAffected()), nil
}
