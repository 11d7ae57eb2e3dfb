package bonafide

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The rules of list requests (oz-api.md §1.5, §3.4): paging of every list, and the folder list
// filter. The API parses query strings with them, and the stores validate a FolderFilter with
// the same functions, so a value is refused once, with one code and one message.

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

// IsTrue reads a boolean query flag: true, 1 or yes in any case; anything else is false.
func IsTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	}
	return false
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

// ParseFolderQuery reads the query of GET /api/folders into a filter (oz-api.md §3.4): paging
// (ParsePage), total_omit, sorting (the first descriptor "field{asc|desc}"; a bare field is
// descending), time_created.min/.max and time_updated.min/.max (UNIX seconds, inclusive),
// meta_data (key==value or key!=value, repeatable) and resolution_status (ParseFolderStatus).
// Who may see which folders (CompanyID, UserID) is for the caller to add.
func ParseFolderQuery(q url.Values) (FolderFilter, error) {
	pg, err := ParsePage(q.Get("offset"), q.Get("limit"))
	if err != nil {
		return FolderFilter{}, err
	}
	f := FolderFilter{Offset: pg.Offset, Limit: pg.Limit, SortField: SortTimeCreated, WithTotal: !IsTrue(q.Get("total_omit"))}
	if v := q.Get("sorting"); v != "" {
		field, dir, _ := strings.Cut(strings.TrimSuffix(strings.Split(v, ",")[0], "}"), "{")
		if field == "" {
			field = v // "{asc}" names no field: refused as it was sent
		}
		if err := ValidateFolderSort(field); err != nil {
			return FolderFilter{}, err
		}
		f.SortField, f.SortAsc = field, dir == "asc"
	}
	for name, dst := range map[string]**time.Time{"time_created.min": &f.CreatedMin, "time_created.max": &f.CreatedMax,
		"time_updated.min": &f.UpdatedMin, "time_updated.max": &f.UpdatedMax} {
		if v := q.Get(name); v != "" {
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return FolderFilter{}, InvalidType(name, "%s must be a UNIX timestamp, got %q", name, v)
			}
			t := time.UnixMilli(int64(sec * 1000)).UTC()
			*dst = &t
		}
	}
	for _, v := range q["meta_data"] {
		if k, val, ok := strings.Cut(v, "!="); ok {
			if f.MetaNotEquals == nil {
				f.MetaNotEquals = map[string]string{}
			}
			f.MetaNotEquals[k] = val
		} else if k, val, ok := strings.Cut(v, "=="); ok {
			if f.MetaEquals == nil {
				f.MetaEquals = map[string]string{}
			}
			f.MetaEquals[k] = val
		} else {
			return FolderFilter{}, InvalidValue("meta_data", "meta_data takes key==value or key!=value, got %q", v)
		}
	}
	if f.ResolutionStatus, _, err = ParseFolderStatus(q.Get("resolution_status")); err != nil {
		return FolderFilter{}, err
	}
	return f, nil
}
