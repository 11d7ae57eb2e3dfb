package api

import (
	"context"
	"encoding/json"

	"bonafide"
)

// userBody is a user as the API shows it (never the password hash).
type userBody struct {
	UserID      string  `json:"user_id"`
	UserType    string  `json:"user_type"`
	CompanyID   string  `json:"company_id"`
	Email       string  `json:"email"`
	FirstName   string  `json:"first_name"`
	LastName    string  `json:"last_name"`
	MiddleName  string  `json:"middle_name"`
	IsAdmin     bool    `json:"is_admin"`
	IsService   bool    `json:"is_service"`
	IsActive    bool    `json:"is_active"`
	CanQuality  bool    `json:"can_start_analysis_quality"`
	CanBio      bool    `json:"can_start_analysis_biometry"`
	CanQuality2 bool    `json:"can_start_analyse_quality"`
	CanBio2     bool    `json:"can_start_analyse_biometry"`
	Created     float64 `json:"time_created"`
	Updated     float64 `json:"time_updated"`
}

func (s *Server) renderUser(u *bonafide.User) userBody {
	return userBody{UserID: u.ID, UserType: string(u.Role), CompanyID: u.CompanyID, Email: u.Email,
		FirstName: u.FirstName, LastName: u.LastName, MiddleName: u.MiddleName,
		IsAdmin: u.Role == bonafide.RoleAdmin || u.Role == bonafide.RoleClientAdmin, IsService: u.IsService(),
		IsActive: !u.Disabled, CanQuality: u.CanQuality, CanBio: u.CanBiometry, CanQuality2: u.CanQuality, CanBio2: u.CanBiometry,
		Created: epoch(u.Created), Updated: epoch(u.Updated)}
}

// mediaBody is a media object.
type mediaBody struct {
	MediaID           string             `json:"media_id"`
	FolderID          string             `json:"folder_id"`
	MediaType         bonafide.MediaKind `json:"media_type"`
	OriginalName      string             `json:"original_name"`
	OriginalURL       string             `json:"original_url"`
	VideoURL          string             `json:"video_url,omitempty"`
	Tags              []string           `json:"tags"`
	MetaData          json.RawMessage    `json:"meta_data"`
	TechnicalMetaData json.RawMessage    `json:"technical_meta_data"`
	Info              json.RawMessage    `json:"info,omitempty"`
	Images            []imageBody        `json:"images,omitempty"` // shot sets: one a frame (frames.go)
	Created           float64            `json:"time_created"`
	Updated           float64            `json:"time_updated"`
	// Deleted: the media's file and best shots were deleted (by the retention run) at
	// DeletedTime, for DeletedReason; its URLs answer 410 and its analyses stay.
	Deleted       bool     `json:"deleted"`
	DeletedReason string   `json:"deleted_reason,omitempty"`
	DeletedTime   *float64 `json:"time_deleted,omitempty"`
}

func (s *Server) url(key string) string { return s.signedURL(key) }

func (s *Server) renderMedia(m *bonafide.Media) mediaBody {
	b := mediaBody{MediaID: m.ID, FolderID: m.FolderID, MediaType: m.Kind, OriginalName: m.OriginalName,
		OriginalURL: s.url(m.BlobKey), Tags: m.Tags, MetaData: obj(m.MetaData),
		TechnicalMetaData: json.RawMessage(`{}`), Info: m.Info, Images: s.frameImages(m), Created: epoch(m.Created), Updated: epoch(m.Updated)}
	if m.Kind != bonafide.KindImage {
		b.VideoURL = b.OriginalURL
	}
	if m.Deleted != nil {
		at := epoch(*m.Deleted)
		b.Deleted, b.DeletedReason, b.DeletedTime = true, m.DeletedReason, &at
	}
	if b.Tags == nil {
		b.Tags = []string{}
	}
	return b
}

func obj(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`)
	}
	return raw
}

// analysisBody is an analysis object: both analysis_id and analyse_id, both resolution and
// resolution_status, as clients read either.
type analysisBody struct {
	AnalysisID        string  `json:"analysis_id"`
	AnalyseID         string  `json:"analyse_id"`
	GroupID           string  `json:"group_id"`
	FolderID          string  `json:"folder_id"`
	Type              string  `json:"type"`
	State             string  `json:"state"`
	ResolutionStatus  string  `json:"resolution_status"`
	Resolution        string  `json:"resolution"`
	ResolutionComment *string `json:"resolution_comment"`
	// The operator's decision: resolution_status and resolution show it once made, while
	// system_resolution keeps the system's verdict (resolution_status before any decision).
	SystemResolution   string          `json:"system_resolution"`
	ResolutionOperator *string         `json:"resolution_operator"`
	ResolutionTime     *float64        `json:"resolution_time"`
	Params             json.RawMessage `json:"params"`
	ResultsData        json.RawMessage `json:"results_data"`
	SourceMedia        []sourceBody    `json:"source_media"`
	ResultsMedia       []resultBody    `json:"results_media"`
	Error              *string         `json:"error"`
	MetaData           json.RawMessage `json:"meta_data"`
	TechnicalMetaData  json.RawMessage `json:"technical_meta_data"`
	Created            float64         `json:"time_created"`
	Updated            float64         `json:"time_updated"`
}

type sourceBody struct {
	MediaID     string             `json:"media_id"`
	MediaType   bonafide.MediaKind `json:"media_type"`
	OriginalURL string             `json:"original_url"`
	Tags        []string           `json:"tags"`
	Images      []imageBody        `json:"images,omitempty"` // shot sets: one a frame (frames.go)
}

type imageBody struct {
	OriginalURL string `json:"original_url,omitempty"`
	ImageBase64 string `json:"image_b64,omitempty"`
}

// resultBody is one media's result; the engine's evidence rides along as extra fields.
type resultBody struct {
	AnalyseID        string         `json:"analyse_id"`
	SourceVideoID    string         `json:"source_video_id,omitempty"`
	SourceShotsSetID string         `json:"source_shots_set_id,omitempty"`
	SourceImageID    string         `json:"source_image_id,omitempty"`
	ResolutionStatus string         `json:"resolution_status"`
	ResultsData      map[string]any `json:"results_data"`
	OutputImages     []imageBody    `json:"output_images"`
	*evidenceBody                   // the engine's evidence (QUALITY); nil, and absent, for the other types
	PersonID         string         `json:"person_id,omitempty"`     // COLLECTION: the person matched
	CollectionID     string         `json:"collection_id,omitempty"` // COLLECTION: the collection searched
}

// evidenceBody is what the API shows of the engine's evidence beside a score (not the per-frame
// trace, the media description or the best shot's place).
type evidenceBody struct {
	Reasons    []bonafide.Reason    `json:"reasons"`
	Signals    []bonafide.Signal    `json:"signals"`
	Challenges []bonafide.Challenge `json:"challenges"`
	Engine     bonafide.EngineInfo  `json:"engine"`
}

func (s *Server) renderAnalysis(a *bonafide.Analysis, media map[string]*bonafide.Media) analysisBody {
	res := a.State
	if a.State == bonafide.StateFinished {
		res = a.Resolution
	}
	b := analysisBody{AnalysisID: a.ID, AnalyseID: a.ID, GroupID: a.GroupID, FolderID: a.FolderID, Type: a.Type,
		State: a.State, ResolutionStatus: res, Resolution: res, SystemResolution: res, Params: obj(a.Params), ResultsData: obj(a.ResultsData),
		SourceMedia: []sourceBody{}, ResultsMedia: []resultBody{}, MetaData: obj(a.MetaData),
		TechnicalMetaData: json.RawMessage(`{}`), Created: epoch(a.Created), Updated: epoch(a.Updated)}
	if d := a.Decision; d != nil {
		comment, operator, at := d.Comment, d.UserID, epoch(d.At)
		b.ResolutionStatus, b.Resolution = d.Resolution, d.Resolution
		b.ResolutionComment, b.ResolutionOperator, b.ResolutionTime = &comment, &operator, &at
	}
	if a.Error != "" {
		e := a.Error
		b.Error = &e
	}
	for _, id := range a.SourceMedia {
		if m, ok := media[id]; ok {
			b.SourceMedia = append(b.SourceMedia, sourceBody{MediaID: m.ID, MediaType: m.Kind, OriginalURL: s.url(m.BlobKey), Tags: nonNil(m.Tags),
				Images: s.frameImages(m)})
		}
	}
	for _, r := range a.Results {
		rb := resultBody{AnalyseID: a.ID, ResolutionStatus: r.Resolution, OutputImages: []imageBody{},
			ResultsData: map[string]any{"confidence_spoofing": r.ConfidenceSpoofing}}
		switch r.Kind {
		case bonafide.KindVideo:
			rb.SourceVideoID = r.MediaID
		case bonafide.KindShotSet:
			rb.SourceShotsSetID = r.MediaID
		default:
			rb.SourceImageID = r.MediaID
		}
		if r.BestShotKey != "" {
			rb.OutputImages = append(rb.OutputImages, imageBody{OriginalURL: s.url(r.BestShotKey)})
		}
		if d := r.Details; d != nil {
			if l := d.LivenessEvidence; l != nil {
				rb.evidenceBody = &evidenceBody{Reasons: l.Reasons, Signals: l.Signals, Challenges: l.Challenges, Engine: l.Engine}
			}
			rb.PersonID, rb.CollectionID = d.PersonID, d.CollectionID
			// An analysis whose results are not per media (BIOMETRY: per pair) gives its own.
			var data map[string]any
			if json.Unmarshal(d.ResultsData, &data) == nil && data != nil {
				rb.ResultsData = data
			}
		}
		b.ResultsMedia = append(b.ResultsMedia, rb)
	}
	return b
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// folderBody is a folder object.
type folderBody struct {
	FolderID           string          `json:"folder_id"`
	CompanyID          string          `json:"company_id"`
	UserID             string          `json:"user_id"`
	Created            float64         `json:"time_created"`
	Updated            float64         `json:"time_updated"`
	MetaData           json.RawMessage `json:"meta_data"`
	TechnicalMetaData  json.RawMessage `json:"technical_meta_data"`
	ResolutionStatus   string          `json:"resolution_status"`
	SystemResolution   string          `json:"system_resolution"`
	ResolutionComment  *string         `json:"resolution_comment"`
	ResolutionEndpoint *string         `json:"resolution_endpoint"`
	IsArchive          bool            `json:"is_archive"`
	Media              []mediaBody     `json:"media"`
	Analyses           *[]analysisBody `json:"analyses,omitempty"` // with_analyses=true: always there, [] when none
	User               *userBody       `json:"user,omitempty"`
	Company            *companyBody    `json:"company,omitempty"`
}

type companyBody struct {
	CompanyID string        `json:"company_id"`
	Name      string        `json:"name"`
	Retention retentionBody `json:"retention"`
	Created   float64       `json:"time_created"`
	Updated   float64       `json:"time_updated"`
}

func renderCompany(c *bonafide.Company) companyBody {
	return companyBody{CompanyID: c.ID, Name: c.Name, Retention: renderRetention(c.Retention),
		Created: epoch(c.Created), Updated: epoch(c.Updated)}
}

type folderOpts struct {
	analyses, user, company bool
}

// renderFolder loads what a folder object needs.
func (s *Server) renderFolder(ctx context.Context, f *bonafide.Folder, o folderOpts) (*folderBody, error) {
	ms, err := s.store.ListMedia(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	as, err := s.store.ListAnalyses(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	status, verdict := bonafide.FolderStatus(as)
	b := &folderBody{FolderID: f.ID, CompanyID: f.CompanyID, UserID: f.UserID, Created: epoch(f.Created), Updated: epoch(f.Updated),
		MetaData: obj(f.MetaData), TechnicalMetaData: obj(f.TechnicalMetaData), ResolutionStatus: status, SystemResolution: verdict,
		Media: []mediaBody{}}
	if d := bonafide.LatestDecision(as); d != nil {
		comment := d.Comment
		b.ResolutionComment = &comment
	}
	if f.ResolutionEndpoint != "" {
		ep := f.ResolutionEndpoint
		b.ResolutionEndpoint = &ep
	}
	byID := map[string]*bonafide.Media{}
	for _, m := range ms {
		byID[m.ID] = m
		b.Media = append(b.Media, s.renderMedia(m))
	}
	if o.analyses {
		list := []analysisBody{}
		for _, a := range as {
			list = append(list, s.renderAnalysis(a, byID))
		}
		b.Analyses = &list
	}
	if o.user {
		if u, err := s.store.GetUser(ctx, f.UserID); err == nil {
			ub := s.renderUser(u)
			b.User = &ub
		}
	}
	if o.company {
		if c, err := s.store.GetCompany(ctx, f.CompanyID); err == nil {
			cb := renderCompany(c)
			b.Company = &cb
		}
	}
	return b, nil
}

// RenderFolder is the webhook body: the folder as GET /api/folders/{id}?with_analyses=true shows it.
func (s *Server) RenderFolder(ctx context.Context, id string) ([]byte, error) {
	f, err := s.store.GetFolder(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := s.renderFolder(ctx, f, folderOpts{analyses: true})
	if err != nil {
		return nil, err
	}
	return ozJSON(b)
}
