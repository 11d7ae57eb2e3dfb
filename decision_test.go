package bonafide

import (
	"strings"
	"testing"
	"time"
)

func TestParseDecision(t *testing.T) {
	for _, c := range []struct {
		res, comment, wantRes, wantComment string
		ok                                 bool
	}{
		{" success ", "  fine  ", ResolutionSuccess, "fine", true},
		{"DECLINED", "", ResolutionDeclined, "", true},
		{"declined", strings.Repeat("é", MaxDecisionComment), ResolutionDeclined, strings.Repeat("é", MaxDecisionComment), true},
		{"OPERATOR_REQUIRED", "", "", "", false},
		{"", "", "", "", false},
		{"SUCCESS", strings.Repeat("x", MaxDecisionComment+1), "", "", false},
		{"SUCCESS", "bad \xff utf-8", "", "", false},
	} {
		res, com, err := ParseDecision(c.res, c.comment)
		if (err == nil) != c.ok || res != c.wantRes || com != c.wantComment {
			t.Errorf("ParseDecision(%q, %d chars) = %q, %d chars, %v", c.res, len(c.comment), res, len(com), err)
		}
		if err != nil && CodeOf(err) != CodeInvalidValue {
			t.Errorf("ParseDecision(%q): code %d, want 4", c.res, CodeOf(err))
		}
	}
}

func TestLatestDecision(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	as := []*Analysis{{}, {Decision: &Decision{Comment: "old", At: t0}}, {Decision: &Decision{Comment: "new", At: t0.Add(time.Second)}}, {}}
	if d := LatestDecision(as); d == nil || d.Comment != "new" {
		t.Errorf("LatestDecision: %+v", d)
	}
	if d := LatestDecision([]*Analysis{{}}); d != nil {
		t.Errorf("LatestDecision without decisions: %+v", d)
	}
}
