// Package storeutil holds the driver-neutral parts of the SQL stores (sqlite and postgres): how
// domain values become column values and back (times, IDs, JSON), the preparation of rows before
// an insert and the defaults filled after it, the validation of list filters, and the errors the
// stores share. SQL text, drivers, transactions and the translation of driver errors stay in each
// store; nothing here imports database/sql or a driver.
package storeutil

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"bonafide"
)

// --- times ------------------------------------------------------------------------------------

// Stamp is a time as stored: unix milliseconds.
func Stamp(t time.Time) int64 { return t.UnixMilli() }

// FromStamp is a stored time as UTC.
func FromStamp(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Norm truncates t to what the database keeps (milliseconds, UTC).
func Norm(t time.Time) time.Time { return FromStamp(Stamp(t)) }

// Clock is a store's clock; time.Now when nil.
type Clock func() time.Time

// Now is the clock's time at storage precision.
func (c Clock) Now() time.Time {
	if c == nil {
		return Norm(time.Now())
	}
	return Norm(c())
}

// SetTimes fills zero times from the clock and normalizes both to storage precision.
func (c Clock) SetTimes(created, updated *time.Time) {
	now := c.Now()
	if created.IsZero() {
		*created = now
	}
	if updated.IsZero() {
		*updated = *created
	}
	*created, *updated = Norm(*created), Norm(*updated)
}

// --- values -----------------------------------------------------------------------------------

// NewID is a new random ID.
func NewID() string { return uuid.NewString() }

// FillID sets an empty *id to a new ID.
func FillID(id *string) {
	if *id == "" {
		*id = NewID()
	}
}

// NullStr is s for a nullable column: empty becomes NULL.
func NullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Deref is *s, or "" for NULL.
func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// --- errors -----------------------------------------------------------------------------------

// AlreadyExists is the error for an insert whose ID is taken.
func AlreadyExists(kind, id string) *bonafide.Error {
	return &bonafide.Error{
		Code:    bonafide.CodeAlreadyExist,
		Message: fmt.Sprintf("%s %s already exists", kind, id),
		Details: map[string]string{kind + "_id": id},
	}
}

// ErrNoSession is the error for a missing session; it does not echo the token hash back.
func ErrNoSession() *bonafide.Error {
	return &bonafide.Error{Code: bonafide.CodeNotExist, Message: "session does not exist"}
}

// Wrap adds context ("store: op: ...") to an error unless it is nil or already a *bonafide.Error.
func Wrap(store, op string, err error) error {
	if err == nil {
		return nil
	}
	var be *bonafide.Error
	if errors.As(err, &be) {
		return err
	}
	return fmt.Errorf("%s: %s: %w", store, op, err)
}
