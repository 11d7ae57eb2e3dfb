package bonafide

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Operator decisions ("Make Decision", oz-api.md §5.4), shared by the API and the operator console
// so that both answer the same way; who may decide is a rule of roles.go (CanDecide).

// Decision is an operator's verdict on a finished analysis. It is stored beside the system's
// verdict (Analysis.Resolution), which never changes: the API shows the decision as the analysis'
// resolution_status and keeps the engine's as system_resolution.
type Decision struct {
	Resolution string    // SUCCESS or DECLINED
	UserID     string    // who decided
	Comment    string    // why (may be empty)
	At         time.Time // when
}

// MaxDecisionComment bounds a decision's comment, in characters.
const MaxDecisionComment = 2000

// ParseDecision checks a decision's resolution (SUCCESS or DECLINED, in any case) and comment
// (at most MaxDecisionComment characters, valid UTF-8), as code 4 naming the field.
func ParseDecision(resolution, comment string) (res, com string, err error) {
	res = strings.ToUpper(strings.TrimSpace(resolution))
	if res != ResolutionSuccess && res != ResolutionDeclined {
		return "", "", InvalidValue("resolution_status", "an operator's decision is SUCCESS or DECLINED, not %q", resolution)
	}
	if !utf8.ValidString(comment) {
		return "", "", InvalidValue("resolution_comment", "resolution_comment must be valid UTF-8 text")
	}
	com = strings.TrimSpace(comment)
	if n := utf8.RuneCountInString(com); n > MaxDecisionComment {
		return "", "", InvalidValue("resolution_comment", "resolution_comment has %d characters; at most %d", n, MaxDecisionComment)
	}
	return res, com, nil
}

// Decide records u's decision on the analysis: the caller must see its folder (else NotExist, as
// for any other tenant's id), may decide there (else code 5), and the analysis must be FINISHED
// (code 4: a processing analysis has no verdict to confirm, a failed one none to overrule). A new
// decision replaces an earlier one. It returns the analysis as stored.
func Decide(ctx context.Context, s Store, u *User, analysisID, resolution, comment string, now time.Time) (*Analysis, error) {
	res, com, err := ParseDecision(resolution, comment)
	if err != nil {
		return nil, err
	}
	a, err := s.GetAnalysis(ctx, analysisID)
	if err != nil {
		return nil, err
	}
	f, err := s.GetFolder(ctx, a.FolderID)
	if err != nil {
		return nil, err
	}
	if !CanSeeFolder(u, f) {
		return nil, NotFound("analysis", analysisID)
	}
	if !CanDecide(u, f) {
		return nil, Errorf(CodeForbidden, "You have not access to this resource: only ADMIN, OPERATOR, and CLIENT ADMIN or CLIENT OPERATOR of the folder's company set a decision, not %s", u.Role)
	}
	if a.State != StateFinished {
		return nil, InvalidValue("state", "only a FINISHED analysis takes an operator's decision; this one is %s", a.State)
	}
	d := &Decision{Resolution: res, UserID: u.ID, Comment: com, At: now.UTC().Truncate(time.Millisecond)}
	if err := s.DecideAnalysis(ctx, analysisID, d); err != nil {
		return nil, err
	}
	a.Decision = d
	return a, nil
}

// LatestDecision is the most recent operator decision on any of the analyses (nil when none): the
// folder's resolution_comment is its comment.
func LatestDecision(analyses []*Analysis) *Decision {
	var last *Decision
	for _, a := range analyses {
		if d := a.Decision; d != nil && (last == nil || d.At.After(last.At)) {
			last = d
		}
	}
	return last
}
