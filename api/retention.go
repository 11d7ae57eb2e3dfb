package api

// Retention (issue 20, section 1): a company's setting in the company object, and the 410 of the
// URLs of media the retention run deleted.

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"bonafide"
)

// retentionBody is a company's retention as the API shows and takes it: a duration ("30d"), "0"
// (keep for ever), or null (the server's default).
type retentionBody struct {
	Media   *string `json:"media"`
	Folders *string `json:"folders"`
}

func renderRetention(r bonafide.Retention) retentionBody {
	show := func(d *time.Duration) *string {
		if d == nil {
			return nil
		}
		s := bonafide.FormatRetention(*d)
		return &s
	}
	return retentionBody{Media: show(r.Media), Folders: show(r.Folders)}
}

// retentionText is a retention setting for a log line: the duration, or "default".
func retentionText(d *time.Duration) string {
	if d == nil {
		return "default"
	}
	return bonafide.FormatRetention(*d)
}

// readRetention applies a PATCH's "retention" to cur: each key present is set (null: the server's
// default), each key absent is left; "retention": null sets both to the default.
func readRetention(raw json.RawMessage, cur bonafide.Retention) (bonafide.Retention, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return bonafide.Retention{}, nil
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return cur, invalidValue("retention", "must be an object {\"media\": \"30d\", \"folders\": \"365d\"}")
	}
	out := cur
	for k, v := range in {
		var dst **time.Duration
		switch k {
		case "media":
			dst = &out.Media
		case "folders":
			dst = &out.Folders
		default:
			return cur, invalidValue("retention."+k, "is not a retention setting (media, folders)")
		}
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			*dst = nil
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return cur, invalidValue("retention."+k, "must be a string such as \"30d\", \"0\" or null")
		}
		d, err := bonafide.ParseRetention(s)
		if err != nil {
			return cur, invalidValue("retention."+k, "%v", err)
		}
		*dst = &d
	}
	return out, nil
}

// goneFile answers a stored file's URL whose media the retention run deleted: 410 with why. key
// is "<folder_id>/<file>"; a best shot's file names its media ("best_shot_<analysis>_<media>.jpg").
// It returns nil for any other file.
func (s *Server) goneFile(ctx context.Context, key string) error {
	folderID, file, _ := strings.Cut(key, "/")
	ms, err := s.store.ListMedia(ctx, folderID)
	if err != nil {
		return nil
	}
	shotOf := ""
	if rest, ok := strings.CutPrefix(file, "best_shot_"); ok {
		rest = strings.TrimSuffix(rest, ".jpg")
		if i := strings.LastIndexByte(rest, '_'); i >= 0 {
			shotOf = rest[i+1:]
		}
	}
	for _, m := range ms {
		if m.Deleted == nil || (m.BlobKey != key && m.ID != shotOf) {
			continue
		}
		what := "media"
		if m.BlobKey != key {
			what = "best shot of media"
		}
		return &bonafide.Error{Code: bonafide.CodeGone,
			Message: "The " + what + " " + m.ID + " was deleted on " + m.Deleted.UTC().Format(time.RFC3339) +
				" by its company's data retention policy (" + m.DeletedReason + "); the folder's analyses and scores remain",
			Details: map[string]any{"media_id": m.ID, "deleted_reason": m.DeletedReason, "time_deleted": epoch(*m.Deleted)}}
	}
	return nil
}
