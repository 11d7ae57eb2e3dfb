package bonafide

import (
	"strconv"
	"strings"
)

// The rules of list requests (oz-api.md §1.5, §3.4): paging of every list, and the folder list
// filter. The API parses query strings with them (package api reads the query itself), and the
// stores validate a FolderFilter with the same functions, so a value is refused once, with one
// code and one message.

// Paging limits (lamb's defaults).
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 5000
)

// Page is a window of a list: Offset items skipped, then at most Limit (-1: all that remain).
type Page struct {
	Offset, Limit int
}

// ParsePage reads the offset and limit query parameters ("" for absent): offset an integer >= 0
// (default 0), limit an integer from -1 (no limit) to MaxPageLimit (default DefaultPageLimit);
// 0 gives only the total. Both are code 4, in lamb's words.
func ParsePage(offset, limit string) (Page, error) {
	p := Page{Limit: DefaultPageLimit}
	var err error
	if offset != "" {
		if p.Offset, err = strconv.Atoi(offset); err != nil || p.Offset < 0 {
			return Page{}, InvalidValue("offset", "Invalid offset value for pagination: %q is not a whole number from 0", offset)
		}
	}
	if limit != "" {
		if p.Limit, err = strconv.Atoi(limit); err != nil || p.Limit < -1 {
			return Page{}, InvalidValue("limit", "Invalid limit value for pagination: %q is not a whole number from -1 (no limit) to %d", limit, MaxPageLimit)
		}
		if p.Limit > MaxPageLimit {
			return Page{}, &Error{Code: CodeInvalidValue, Message: "Invalid limit value for pagination - exceed max available: at most " + strconv.Itoa(MaxPageLimit),
				Details: map[string]string{"key_path": "limit"}}
		}
	}
	return p, nil
}

// Bounds is the part [lo, hi) of a list of n items that p shows.
func (p Page) Bounds(n int) (lo, hi int) {
	lo, hi = min(max(p.Offset, 0), n), n
	if p.Limit >= 0 {
		hi = min(lo+p.Limit, n)
	}
	return lo, hi
}

// The fields folders are sorted by.
const (
	SortTimeCreated = "time_created"
	SortTimeUpdated = "time_updated"
)

// ParseFolderStatus reads a resolution_status filter in any case and spacing; status is "" when
// v is empty, and verdict says that status is a verdict (system_resolution: SUCCESS, DECLINED,
// OPERATOR_REQUIRED) rather than a resolution_status (INITIAL, PROCESSING, FAILED, FINISHED).
func ParseFolderStatus(v string) (status string, verdict bool, err error) {
	switch st := strings.ToUpper(strings.TrimSpace(v)); st {
	case "":
		return "", false, nil
	case StatusInitial, StateProcessing, StateFailed, StateFinished:
		return st, false, nil
	case ResolutionSuccess, ResolutionDeclined, ResolutionOperatorRequired:
		return st, true, nil
	}
	return "", false, InvalidValue("resolution_status", "resolution_status %q is not one of INITIAL, PROCESSING, FAILED, FINISHED, DECLINED, SUCCESS, OPERATOR_REQUIRED", v)
}

// ValidateFolderSort checks a sort field: time_created (also for ""), or time_updated.
func ValidateFolderSort(field string) error {
	switch field {
	case "", SortTimeCreated, SortTimeUpdated:
		return nil
	}
	return InvalidValue("sorting", "sorting by %q is not supported (time_created or time_updated, with {asc} or {desc})", field)
}
