package bonafide_test

import (
	"testing"

	"bonafide"
)

func TestParsePage(t *testing.T) {
	for _, c := range []struct {
		offset, limit string
		want          bonafide.Page
		words         string // "" when accepted
	}{
		{"", "", bonafide.Page{Offset: 0, Limit: 100}, ""},
		{"5", "0", bonafide.Page{Offset: 5, Limit: 0}, ""},
		{"0", "-1", bonafide.Page{Limit: -1}, ""},
		{"", "5000", bonafide.Page{Limit: 5000}, ""},
		{"-1", "", bonafide.Page{}, "Invalid offset value for pagination"},
		{"x", "", bonafide.Page{}, "Invalid offset value for pagination"},
		{"", "-2", bonafide.Page{}, "Invalid limit value for pagination"},
		{"", "1.5", bonafide.Page{}, "Invalid limit value for pagination"},
		{"", "5001", bonafide.Page{}, "Invalid limit value for pagination - exceed max available"},
	} {
		got, err := bonafide.ParsePage(c.offset, c.limit)
		if c.words == "" {
			if err != nil || got != c.want {
				t.Errorf("ParsePage(%q, %q) = %+v, %v; want %+v", c.offset, c.limit, got, err, c.want)
			}
			continue
		}
		field := "limit"
		if c.offset != "" {
			field = "offset"
		}
		checkRule(t, "page "+c.offset+"/"+c.limit, err, bonafide.CodeInvalidValue, field, c.words)
	}
	for _, c := range []struct {
		p         bonafide.Page
		n, lo, hi int
	}{{bonafide.Page{Limit: 100}, 3, 0, 3}, {bonafide.Page{Offset: 2, Limit: 5}, 10, 2, 7}, {bonafide.Page{Offset: 9, Limit: -1}, 4, 4, 4},
		{bonafide.Page{Offset: 1, Limit: 0}, 4, 1, 1}} {
		if lo, hi := c.p.Bounds(c.n); lo != c.lo || hi != c.hi {
			t.Errorf("%+v.Bounds(%d) = %d, %d; want %d, %d", c.p, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestParseFolderStatus(t *testing.T) {
	for v, want := range map[string][2]any{"": {"", false}, "finished": {"FINISHED", false}, "OPERATOR_REQUIRED": {"OPERATOR_REQUIRED", true}} {
		st, verdict, err := bonafide.ParseFolderStatus(v)
		if err != nil || st != want[0] || verdict != want[1] {
			t.Errorf("ParseFolderStatus(%q) = %q, %v, %v", v, st, verdict, err)
		}
	}
}
