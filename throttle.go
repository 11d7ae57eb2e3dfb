package bonafide

import (
	"context"
	"time"
)

// LoginBackoff is the state of one login throttle key (an account or a client address): the
// failures counted, the last one, and the time further attempts wait until. The API's throttle
// decides the delays; a store only keeps the entries.
type LoginBackoff struct {
	Failures    int
	Last, Until time.Time
}

// End is when the entry stops mattering: the later of its last failure and its delay.
func (b LoginBackoff) End() time.Time {
	if b.Until.After(b.Last) {
		return b.Until
	}
	return b.Last
}

// LoginBackoffKeep is how long a stored entry is kept after its End (sweep.SessionPurge deletes older
// ones); the throttle itself forgets an entry much sooner (api.Config.LoginWindow).
const LoginBackoffKeep = 24 * time.Hour

// LoginThrottleStore keeps login throttle entries in the database, so that every node of a
// cluster counts the same failures (both stores implement it as part of Store). Keys are opaque
// strings of at most 64 bytes.
type LoginThrottleStore interface {
	// GetLoginBackoff returns key's entry (the zero entry when there is none).
	GetLoginBackoff(ctx context.Context, key string) (LoginBackoff, error)
	// UpdateLoginBackoff replaces key's entry with next(stored entry, the zero entry when none),
	// atomically against other callers for the same key, and returns what it stored.
	UpdateLoginBackoff(ctx context.Context, key string, next func(LoginBackoff) LoginBackoff) (LoginBackoff, error)
	// DeleteLoginBackoff forgets key (a successful login); an unknown key is no error.
	DeleteLoginBackoff(ctx context.Context, key string) error
	// DeleteLoginBackoffsBefore deletes the entries whose End is before t and says how many.
	DeleteLoginBackoffsBefore(ctx context.Context, t time.Time) (int, error)
}
