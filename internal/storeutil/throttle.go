package storeutil

import (
	"fmt"
	"time"

	"bonafide"
)

// MaxLoginBackoffKey is the longest login throttle key a store accepts.
const MaxLoginBackoffKey = 64

// CheckLoginBackoffKey refuses an empty or over-long key.
func CheckLoginBackoffKey(key string) error {
	if key == "" || len(key) > MaxLoginBackoffKey {
		return fmt.Errorf("login backoff key of %d bytes: want 1 to %d", len(key), MaxLoginBackoffKey)
	}
	return nil
}

// LoginBackoffRow is an entry's stored columns: failures, last_at, until_at, end_at (0 for a zero
// time).
func LoginBackoffRow(b bonafide.LoginBackoff) (failures int, last, until, end int64) {
	return b.Failures, stampOrZero(b.Last), stampOrZero(b.Until), stampOrZero(b.End())
}

// LoginBackoffFrom is the entry of stored columns.
func LoginBackoffFrom(failures int, last, until int64) bonafide.LoginBackoff {
	return bonafide.LoginBackoff{Failures: failures, Last: timeOrZero(last), Until: timeOrZero(until)}
}

func stampOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return Stamp(t)
}

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return FromStamp(ms)
}
