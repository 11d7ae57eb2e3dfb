package storeutil

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"bonafide"
)

// Codec turns a store's domain objects into column values and back: its clock (for times) and its
// JSON rules. Methods that fill IDs, times and defaults change the objects they are given, as the
// bonafide.Store methods promise.
type Codec struct {
	Clock
	JSON
}

// --- folders ----------------------------------------------------------------------------------

// FolderRow is a folder's JSON columns, validated.
type FolderRow struct {
	F          *bonafide.Folder
	Meta, Tech string
}

// FolderRow validates f's JSON (empty becomes {}).
func (c Codec) FolderRow(f *bonafide.Folder) (FolderRow, error) {
	r := FolderRow{F: f}
	var err error
	if r.Meta, err = c.Text("meta_data", f.MetaData, "{}"); err != nil {
		return FolderRow{}, err
	}
	if r.Tech, err = c.Text("technical_meta_data", f.TechnicalMetaData, "{}"); err != nil {
		return FolderRow{}, err
	}
	return r, nil
}

// PrepareFolder fills f's empty ID and zero times and validates its JSON, for an insert.
func (c Codec) PrepareFolder(f *bonafide.Folder) (FolderRow, error) {
	FillID(&f.ID)
	c.SetTimes(&f.Created, &f.Updated)
	return c.FolderRow(f)
}

// Fill gives the inserted folder the JSON defaults it was stored with.
func (r FolderRow) Fill() {
	if len(r.F.MetaData) == 0 {
		r.F.MetaData = []byte(r.Meta)
	}
	if len(r.F.TechnicalMetaData) == 0 {
		r.F.TechnicalMetaData = []byte(r.Tech)
	}
}

// FolderCols are the folder columns that need decoding, as scanned.
type FolderCols struct {
	Meta, Tech       string
	Created, Updated int64
}

// Decode sets f's fields from the columns.
func (c *FolderCols) Decode(f *bonafide.Folder) {
	f.MetaData, f.TechnicalMetaData = []byte(c.Meta), []byte(c.Tech)
	f.Created, f.Updated = FromStamp(c.Created), FromStamp(c.Updated)
}

// --- media ------------------------------------------------------------------------------------

// MediaRow is a media with its JSON columns encoded.
type MediaRow struct {
	M          *bonafide.Media
	Tags, Meta string
	Info       any
}

// MediaRow validates and encodes m's JSON columns.
func (c Codec) MediaRow(m *bonafide.Media) (MediaRow, error) {
	r := MediaRow{M: m}
	var err error
	if r.Tags, err = Array(c.JSON, "tags", m.Tags); err != nil {
		return MediaRow{}, err
	}
	if r.Meta, err = c.Text("meta_data", m.MetaData, "{}"); err != nil {
		return MediaRow{}, err
	}
	if r.Info, err = c.Nullable("info", m.Info); err != nil {
		return MediaRow{}, err
	}
	return r, nil
}

// PrepareMedia fills IDs, folder IDs and times, and validates the JSON, before a transaction starts.
func (c Codec) PrepareMedia(folderID string, media []*bonafide.Media) ([]MediaRow, error) {
	rows := make([]MediaRow, 0, len(media))
	for _, m := range media {
		FillID(&m.ID)
		m.FolderID = folderID
		c.SetTimes(&m.Created, &m.Updated)
		if m.Kind == "" {
			return nil, bonafide.Errorf(bonafide.CodeInvalidValue, "media %s has no kind", m.ID)
		}
		r, err := c.MediaRow(m)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Fill gives the inserted media the defaults it was stored with.
func (r MediaRow) Fill() {
	if len(r.M.MetaData) == 0 {
		r.M.MetaData = []byte(r.Meta)
	}
	if r.M.Tags == nil {
		r.M.Tags = []string{}
	}
}

// MediaCols are the media columns that need decoding, as scanned.
type MediaCols struct {
	Kind, Tags, Meta string
	Info             *string
	Created, Updated int64
}

// Decode sets m's fields from the columns.
func (c *MediaCols) Decode(m *bonafide.Media) error {
	var err error
	if m.Tags, err = DecodeArray[string]("tags", c.Tags); err != nil {
		return err
	}
	m.Kind, m.MetaData, m.Info = bonafide.MediaKind(c.Kind), []byte(c.Meta), RawOrNil(c.Info)
	m.Created, m.Updated = FromStamp(c.Created), FromStamp(c.Updated)
	return nil
}

// --- analyses ---------------------------------------------------------------------------------

// AnalysisRow is an analysis ready to insert.
type AnalysisRow struct {
	A                     *bonafide.Analysis
	Params, ResultsData   any
	Meta, Source, Results string
	Decision              any // the operator's decision (DecisionJSON), nil when none
}

// AnalysisBatch is what CreateAnalyses inserts and enqueues.
type AnalysisBatch struct {
	Rows    []AnalysisRow
	Folders []string         // the analyses' folders, in order of first appearance
	Latest  map[string]int64 // each folder's newest analysis update (a Stamp)
	Queue   []string         // IDs of the PROCESSING analyses, to enqueue
}

// PrepareAnalyses validates the analyses and fills their IDs, group, state and times before a
// transaction starts. Analyses without a GroupID share one new group ID; the state defaults to
// PROCESSING.
func (c Codec) PrepareAnalyses(analyses []*bonafide.Analysis) (AnalysisBatch, error) {
	b := AnalysisBatch{Rows: make([]AnalysisRow, 0, len(analyses)), Latest: map[string]int64{}}
	group := ""
	for _, a := range analyses {
		if a.FolderID == "" {
			return AnalysisBatch{}, bonafide.Errorf(bonafide.CodeInvalidValue, "analysis has no folder")
		}
		if a.Type == "" {
			return AnalysisBatch{}, bonafide.Errorf(bonafide.CodeInvalidValue, "analysis has no type")
		}
		FillID(&a.ID)
		if a.GroupID == "" {
			if group == "" {
				group = NewID()
			}
			a.GroupID = group
		}
		if a.State == "" {
			a.State = bonafide.StateProcessing
		}
		c.SetTimes(&a.Created, &a.Updated)
		r := AnalysisRow{A: a}
		var err error
		if r.Params, err = c.Nullable("params", a.Params); err != nil {
			return AnalysisBatch{}, err
		}
		if r.Meta, err = c.Text("meta_data", a.MetaData, "{}"); err != nil {
			return AnalysisBatch{}, err
		}
		if r.ResultsData, err = c.Nullable("results_data", a.ResultsData); err != nil {
			return AnalysisBatch{}, err
		}
		if r.Source, err = Array(c.JSON, "source_media", a.SourceMedia); err != nil {
			return AnalysisBatch{}, err
		}
		if r.Results, err = Array(c.JSON, "results", a.Results); err != nil {
			return AnalysisBatch{}, err
		}
		if a.Decision != nil { // an imported analysis keeps its operator's decision
			if a.State != bonafide.StateFinished {
				return AnalysisBatch{}, NotFinished(a.ID, a.State)
			}
			dec, err := DecisionJSON(a.Decision)
			if err != nil {
				return AnalysisBatch{}, err
			}
			r.Decision = dec
		}
		b.Rows = append(b.Rows, r)
		if _, seen := b.Latest[a.FolderID]; !seen {
			b.Folders = append(b.Folders, a.FolderID)
		}
		b.Latest[a.FolderID] = max(b.Latest[a.FolderID], Stamp(a.Updated))
		if a.State == bonafide.StateProcessing {
			b.Queue = append(b.Queue, a.ID)
		}
	}
	return b, nil
}

// Fill gives the inserted analyses the defaults they were stored with.
func (b AnalysisBatch) Fill() {
	for _, r := range b.Rows {
		a := r.A
		if len(a.MetaData) == 0 {
			a.MetaData = []byte(r.Meta)
		}
		if a.SourceMedia == nil {
			a.SourceMedia = []string{}
		}
		if a.Results == nil {
			a.Results = []bonafide.MediaResult{}
		}
	}
}

// FinishRow is what FinishAnalysis writes besides the plain fields.
type FinishRow struct {
	A           *bonafide.Analysis
	ResultsData any
	Results     string
}

// PrepareFinish checks that a's state is final, encodes its results and sets Updated to now.
func (c Codec) PrepareFinish(a *bonafide.Analysis) (FinishRow, error) {
	if a.State != bonafide.StateFinished && a.State != bonafide.StateFailed {
		return FinishRow{}, bonafide.Errorf(bonafide.CodeInvalidValue, "cannot finish analysis %s with state %q", a.ID, a.State)
	}
	r := FinishRow{A: a}
	var err error
	if r.ResultsData, err = c.Nullable("results_data", a.ResultsData); err != nil {
		return FinishRow{}, err
	}
	if r.Results, err = Array(c.JSON, "results", a.Results); err != nil {
		return FinishRow{}, err
	}
	a.Updated = c.Now()
	return r, nil
}

// Fill gives the finished analysis the defaults it was stored with.
func (r FinishRow) Fill() {
	if r.A.Results == nil {
		r.A.Results = []bonafide.MediaResult{}
	}
}

// AnalysisCols are the analysis columns that need decoding, as scanned.
type AnalysisCols struct {
	Params, ResultsData   *string
	Decision              *string // the operator's decision (DecisionJSON); NULL when none
	Meta, Source, Results string
	Created, Updated      int64
}

// Decode sets a's fields from the columns.
func (c *AnalysisCols) Decode(a *bonafide.Analysis) error {
	var err error
	if a.SourceMedia, err = DecodeArray[string]("source_media", c.Source); err != nil {
		return err
	}
	if a.Results, err = DecodeArray[bonafide.MediaResult]("results", c.Results); err != nil {
		return err
	}
	a.Params, a.MetaData, a.ResultsData = RawOrNil(c.Params), []byte(c.Meta), RawOrNil(c.ResultsData)
	a.Created, a.Updated = FromStamp(c.Created), FromStamp(c.Updated)
	a.Decision = nil
	if c.Decision != nil && *c.Decision != "" && *c.Decision != "null" {
		var d decisionRow
		if err := json.Unmarshal([]byte(*c.Decision), &d); err != nil {
			return fmt.Errorf("decode decision: %w", err)
		}
		a.Decision = &bonafide.Decision{Resolution: d.Resolution, UserID: d.UserID, Comment: d.Comment, At: FromStamp(d.At)}
	}
	return nil
}

// decisionRow is how the analyses' decision column holds an operator's decision.
type decisionRow struct {
	Resolution string `json:"resolution"`
	UserID     string `json:"user_id"`
	Comment    string `json:"comment"`
	At         int64  `json:"at"` // a Stamp
}

// DecisionJSON is the decision column's value for d; it checks what every store refuses the same
// way: a resolution other than SUCCESS or DECLINED, a comment that is too long, no user.
func DecisionJSON(d *bonafide.Decision) (string, error) {
	if d == nil || d.UserID == "" {
		return "", bonafide.Errorf(bonafide.CodeInvalidValue, "a decision names the user who made it")
	}
	if _, _, err := bonafide.ParseDecision(d.Resolution, d.Comment); err != nil {
		return "", err
	}
	data, err := json.Marshal(decisionRow{Resolution: d.Resolution, UserID: d.UserID, Comment: d.Comment, At: Stamp(d.At)})
	return string(data), err
}

// NotFinished is DecideAnalysis's answer for an analysis that is not FINISHED.
func NotFinished(id, state string) error {
	return bonafide.InvalidValue("state", "only a FINISHED analysis takes an operator's decision; analysis %s is %s", id, state)
}

// --- folder listing ---------------------------------------------------------------------------

// FolderQuery is the validated, driver-neutral reading of a bonafide.FolderFilter; the stores turn
// it into SQL.
type FolderQuery struct {
	Status        string   // the resolution status to match (upper case); "" matches any
	Verdict       bool     // Status is a verdict (system_resolution), not a resolution_status
	ByUpdated     bool     // sort by update time, not creation time
	MetaEquals    []string // the keys of filter.MetaEquals, sorted
	MetaNotEquals []string // the keys of filter.MetaNotEquals, sorted
}

// ParseFolderFilter reads filter for the SQL of a store; its resolution status and sort field
// are checked by the rules the API parses them with (bonafide.ParseFolderStatus,
// bonafide.ValidateFolderSort).
func ParseFolderFilter(filter bonafide.FolderFilter) (FolderQuery, error) {
	status, verdict, err := bonafide.ParseFolderStatus(filter.ResolutionStatus)
	if err != nil {
		return FolderQuery{}, err
	}
	if err := bonafide.ValidateFolderSort(filter.SortField); err != nil {
		return FolderQuery{}, err
	}
	return FolderQuery{Status: status, Verdict: verdict, ByUpdated: filter.SortField == bonafide.SortTimeUpdated,
		MetaEquals: SortedKeys(filter.MetaEquals), MetaNotEquals: SortedKeys(filter.MetaNotEquals)}, nil
}

// SortedKeys is m's keys in order.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- migrations -------------------------------------------------------------------------------

// Migration is one embedded migration file, NNNN_name.sql.
type Migration struct {
	Version int
	Name    string // the file's base name
}

// Migrations lists the files matching pattern in fsys in version order; a file's version is the
// positive number before the first '_' of its name, and no two files may share one.
func Migrations(fsys fs.FS, pattern string) ([]Migration, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		ms = append(ms, Migration{v, base})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}
