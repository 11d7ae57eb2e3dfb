package bonafide

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention is how long a company keeps biometric data before the periodic retention run deletes
// it. A nil duration is the server's default (RetentionPolicy); zero keeps the data for ever.
type Retention struct {
	// Media is how long media files and best shots stay after their folder's last analysis
	// finished (never-analysed folders: after the media was uploaded). The folder, its analyses
	// and their scores stay; each media then shows it was deleted.
	Media *time.Duration
	// Folders is how long a whole folder (rows and files) stays after its creation.
	Folders *time.Duration
}

// RetentionPolicy is the server's default retention, used by companies without their own setting:
// zero keeps for ever.
type RetentionPolicy struct {
	Media, Folders time.Duration
}

// Effective is the retention that applies to a company with the setting r under the default p.
func (p RetentionPolicy) Effective(r Retention) RetentionPolicy {
	out := p
	if r.Media != nil {
		out.Media = *r.Media
	}
	if r.Folders != nil {
		out.Folders = *r.Folders
	}
	return out
}

// DeletedByRetention is the deleted_reason of a media whose files the retention run removed.
const DeletedByRetention = "retention"

// ParseRetention reads a retention duration: "0" (keep for ever), or a whole number followed by
// one unit, s, m, h or d ("30d", "12h"). At most 100 years.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}
	if len(s) < 2 {
		return 0, fmt.Errorf("retention %q: want \"0\" or a whole number with a unit s, m, h or d (\"30d\")", s)
	}
	unit, ok := units[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if !ok || err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("retention %q: want \"0\" or a whole number with a unit s, m, h or d (\"30d\")", s)
	}
	const most = 100 * 365 * 24 * time.Hour
	if n > int64(most/unit) {
		return 0, fmt.Errorf("retention %q: at most 100 years", s)
	}
	return time.Duration(n) * unit, nil
}

// FormatRetention writes d as ParseRetention reads it, in the largest unit that divides it
// ("0" for zero; whole seconds, any remainder below a second is dropped).
func FormatRetention(d time.Duration) string {
	if d < time.Second {
		return "0"
	}
	for _, u := range []struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// MediaDeletion is a media marked deleted whose files are still to be removed: its own file and
// the best shots of the analysis results made from it.
type MediaDeletion struct {
	MediaID  string
	FolderID string
	Keys     []string // blob keys: the media's file first, then its best shots
}

// RetentionStore is what the retention run needs of the store. Each step is idempotent, and the
// run goes mark, remove files, finish, so a crash anywhere leaves rows that say what is still to
// do and never a row that claims a file already gone.
type RetentionStore interface {
	// SetCompanyRetention stores a company's retention setting (nil durations: the default).
	SetCompanyRetention(ctx context.Context, companyID string, r Retention) error
	// MarkMediaForRetention marks deleted (reason "retention", at now) up to limit media that are
	// due under their company's setting or def: their folder has no analysis processing, and
	// both the media's upload and its folder's last analysis (its creation, when it has none)
	// are at least the retention ago. It returns how many it marked.
	MarkMediaForRetention(ctx context.Context, now time.Time, def RetentionPolicy, limit int) (int, error)
	// PendingMediaDeletions lists up to limit media marked deleted whose files are not yet
	// removed, oldest mark first.
	PendingMediaDeletions(ctx context.Context, limit int) ([]MediaDeletion, error)
	// FinishMediaDeletions records that the files of the media are removed.
	FinishMediaDeletions(ctx context.Context, mediaIDs []string, now time.Time) error
	// MarkFoldersForRetention marks for removal up to limit folders created at least their
	// company's (or def's) folder retention ago, with no analysis processing, and marks their
	// media deleted; it returns how many folders it marked.
	MarkFoldersForRetention(ctx context.Context, now time.Time, def RetentionPolicy, limit int) (int, error)
	// PendingFolderDeletions lists up to limit folders marked for removal, oldest mark first.
	// Store.DeleteFolder finishes each once its files are removed.
	PendingFolderDeletions(ctx context.Context, limit int) ([]string, error)
}
