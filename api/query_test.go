package api

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"bonafide"
)

func TestParseFolderQuery(t *testing.T) {
	q := url.Values{"limit": {"7"}, "offset": {"2"}, "total_omit": {"True"}, "sorting": {"time_updated{asc},time_created"},
		"time_created.min": {"1700000000.5"}, "meta_data": {"a==1", "b!=x==y"}, "resolution_status": {" success "}}
	f, err := parseFolderQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	if f.Limit != 7 || f.Offset != 2 || f.WithTotal || f.SortField != "time_updated" || !f.SortAsc ||
		f.CreatedMin == nil || !f.CreatedMin.Equal(time.UnixMilli(1700000000500)) || f.CreatedMax != nil ||
		f.MetaEquals["a"] != "1" || f.MetaNotEquals["b"] != "x==y" || f.ResolutionStatus != "SUCCESS" {
		t.Errorf("parseFolderQuery = %+v", f)
	}
	f, err = parseFolderQuery(url.Values{})
	if err != nil || f.Limit != 100 || !f.WithTotal || f.SortField != "time_created" || f.SortAsc {
		t.Errorf("defaults: %+v, %v", f, err)
	}
	for _, c := range []struct {
		q     url.Values
		code  bonafide.Code
		field string
		words string
	}{
		{url.Values{"limit": {"6000"}}, 4, "limit", "exceed max"},
		{url.Values{"sorting": {"name{asc}"}}, 4, "sorting", `sorting by "name"`},
		{url.Values{"sorting": {"{asc}"}}, 4, "sorting", `sorting by "{asc}"`},
		{url.Values{"time_updated.max": {"yesterday"}}, 5, "time_updated.max", "UNIX timestamp"},
		{url.Values{"meta_data": {"a=1"}}, 4, "meta_data", "key==value"},
		{url.Values{"resolution_status": {"DONE"}}, 4, "resolution_status", "is not one of INITIAL"},
	} {
		_, err := parseFolderQuery(c.q)
		var e *bonafide.Error
		if !errors.As(err, &e) || e.Code != c.code || !strings.Contains(e.Message, c.words) {
			t.Errorf("%s: %v, want code %d (%s) mentioning %q", c.q.Encode(), err, c.code, c.field, c.words)
		}
	}
}

func TestIsTrue(t *testing.T) {
	for v, want := range map[string]bool{"true": true, " TRUE ": true, "1": true, "yes": true, "": false, "0": false, "no": false, "on": false} {
		if got := isTrue(v); got != want {
			t.Errorf("isTrue(%q) = %v", v, got)
		}
	}
}
