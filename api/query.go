package api

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"bonafide"
)

// isTrue reads a boolean query flag: true, 1 or yes in any case; anything else is false.
func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// parseFolderQuery reads the query of GET /api/folders into a filter (oz-api.md §3.4): paging
// (bonafide.ParsePage), total_omit, sorting (the first descriptor "field{asc|desc}"; a bare field is
// descending), time_created.min/.max and time_updated.min/.max (UNIX seconds, inclusive),
// meta_data (key==value or key!=value, repeatable) and resolution_status (bonafide.ParseFolderStatus).
// Who may see which folders (CompanyID, UserID) is for the caller to add.
func parseFolderQuery(q url.Values) (bonafide.FolderFilter, error) {
	pg, err := bonafide.ParsePage(q.Get("offset"), q.Get("limit"))
	if err != nil {
		return bonafide.FolderFilter{}, err
	}
	f := bonafide.FolderFilter{Offset: pg.Offset, Limit: pg.Limit, SortField: bonafide.SortTimeCreated, WithTotal: !isTrue(q.Get("total_omit"))}
	if v := q.Get("sorting"); v != "" {
		field, dir, _ := strings.Cut(strings.TrimSuffix(strings.Split(v, ",")[0], "}"), "{")
		if field == "" {
			field = v // "{asc}" names no field: refused as it was sent
		}
		if err := bonafide.ValidateFolderSort(field); err != nil {
			return bonafide.FolderFilter{}, err
		}
		f.SortField, f.SortAsc = field, dir == "asc"
	}
	for name, dst := range map[string]**time.Time{"time_created.min": &f.CreatedMin, "time_created.max": &f.CreatedMax,
		"time_updated.min": &f.UpdatedMin, "time_updated.max": &f.UpdatedMax} {
		if v := q.Get(name); v != "" {
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return bonafide.FolderFilter{}, bonafide.InvalidType(name, "%s must be a UNIX timestamp, got %q", name, v)
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
			return bonafide.FolderFilter{}, bonafide.InvalidValue("meta_data", "meta_data takes key==value or key!=value, got %q", v)
		}
	}
	if f.ResolutionStatus, _, err = bonafide.ParseFolderStatus(q.Get("resolution_status")); err != nil {
		return bonafide.FolderFilter{}, err
	}
	return f, nil
}
