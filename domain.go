package bonafide

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Role is a user type (oz-api.md §2.5).
type Role string

// The Oz roles.
const (
	RoleAdmin          Role = "ADMIN"
	RoleOperator       Role = "OPERATOR"
	RoleClient         Role = "CLIENT"
	RoleClientAdmin    Role = "CLIENT ADMIN"
	RoleClientOperator Role = "CLIENT OPERATOR"
	RoleClientService  Role = "CLIENT SERVICE"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleOperator, RoleClient, RoleClientAdmin, RoleClientOperator, RoleClientService:
		return true
	}
	return false
}

// Global roles see every company's data.
func (r Role) Global() bool { return r == RoleAdmin || r == RoleOperator }

// Company is a tenant.
type Company struct {
	ID            string
	Name          string
	WebhookSecret string    // base64 secret for Standard Webhooks signatures ("whsec_" + base64)
	Retention     Retention // how long its biometric data is kept (Store.SetCompanyRetention writes it)
	Created       time.Time
	Updated       time.Time
}

// User is an account.
type User struct {
	ID           string
	CompanyID    string
	Email        string
	FirstName    string
	LastName     string
	MiddleName   string
	Role         Role
	PasswordHash string
	Disabled     bool
	CanQuality   bool // can_start_analysis_quality
	CanBiometry  bool // can_start_analysis_biometry
	Created      time.Time
	Updated      time.Time
}

// IsService reports a service account (long-lived tokens).
func (u *User) IsService() bool { return u.Role == RoleClientService }

// Session is an access token pair; only hashes are stored.
type Session struct {
	TokenHash  string // sha256 hex of the access token
	ExpireHash string // sha256 hex of the refresh (expire) token
	UserID     string
	Expires    time.Time
	LongLived  bool
	Created    time.Time
	// Replaces is the token hash of the session this one was refreshed from: that pair stays
	// valid until this one is first used (RetireReplaced), as Oz documents.
	Replaces string
}

// MediaKind is how a media is analysed.
type MediaKind string

// Media kinds and their Oz media_type strings.
const (
	KindImage   MediaKind = "IMAGE_FOLDER"
	KindVideo   MediaKind = "VIDEO_FOLDER"
	KindShotSet MediaKind = "SHOTS_SET_FOLDER"
)

// Folder is an Oz folder ("order"): media and the analyses run on them.
type Folder struct {
	ID                 string
	CompanyID          string
	UserID             string
	MetaData           json.RawMessage // free-form JSON object
	TechnicalMetaData  json.RawMessage
	ResolutionEndpoint string // webhook URL
	Created            time.Time
	Updated            time.Time
}

// Media is one uploaded file.
type Media struct {
	ID           string
	FolderID     string
	Kind         MediaKind
	OriginalName string
	FieldName    string // the multipart field it came in
	BlobKey      string // where the bytes are in blob storage
	ContentType  string
	Size         int64
	SHA256       string
	Tags         []string
	MetaData     json.RawMessage
	Info         json.RawMessage // width, height, duration, fps when known
	// Deleted is when the media's file and best shots were deleted (by the retention run; the
	// row stays with the folder's analyses); nil while they are kept. DeletedReason says why.
	Deleted       *time.Time
	DeletedReason string
	Created       time.Time
	Updated       time.Time
}

// Analysis states and resolutions (oz-api.md §5.4).
const (
	StateProcessing = "PROCESSING"
	StateFinished   = "FINISHED"
	StateFailed     = "FAILED"

	ResolutionSuccess  = "SUCCESS"
	ResolutionDeclined = "DECLINED"
)

// Analysis is one requested analysis.
type Analysis struct {
	ID          string
	FolderID    string
	GroupID     string
	Type        string // QUALITY
	State       string
	Resolution  string // "" until finished; SUCCESS or DECLINED
	Params      json.RawMessage
	MetaData    json.RawMessage
	SourceMedia []string
	ResultsData json.RawMessage // analysis-level results_data
	Results     []MediaResult
	Error       string // why it FAILED
	// Decision is an operator's verdict beside Resolution (the system's, never changed); nil
	// until an operator decides (Store.DecideAnalysis).
	Decision *Decision
	Created  time.Time
	Updated  time.Time
}

// MediaResult is one media's result within an analysis.
type MediaResult struct {
	MediaID            string    `json:"media_id"`
	Kind               MediaKind `json:"kind"`
	ConfidenceSpoofing *float64  `json:"confidence_spoofing,omitempty"`
	Resolution         string    `json:"resolution"`
	BestShotKey        string    `json:"best_shot_key,omitempty"`
	Error              string    `json:"error,omitempty"`
	Details            *Evidence `json:"details,omitempty"` // why: the engine's evidence, or the analysis type's own
}

// FolderFilter selects folders to list.
type FolderFilter struct {
	CompanyID        string // "" = every company
	UserID           string // "" = every user
	CreatedMin       *time.Time
	CreatedMax       *time.Time
	UpdatedMin       *time.Time
	UpdatedMax       *time.Time
	MetaEquals       map[string]string // meta_data key == value
	MetaNotEquals    map[string]string
	ResolutionStatus string
	// AnalysisType keeps the folders with at least one analysis of this type (canonical, e.g.
	// QUALITY); "" = any.
	AnalysisType  string
	SortField     string // time_created or time_updated
	SortAsc       bool
	Offset, Limit int // Limit < 0: no limit
	WithTotal     bool
}

// Store persists everything. Implementations: sqlite (embedded), postgres (scale-out).
type Store interface {
	CreateCompany(ctx context.Context, c *Company) error
	GetCompany(ctx context.Context, id string) (*Company, error)
	UpdateCompany(ctx context.Context, c *Company) error
	ListCompanies(ctx context.Context, search string) ([]*Company, error)

	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	UpdateUser(ctx context.Context, u *User) error
	ListUsers(ctx context.Context, companyID string) ([]*User, error)
	CountUsers(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, tokenHash string) (*Session, error)
	GetSessionByExpireHash(ctx context.Context, expireHash string) (*Session, error)
	ExtendSession(ctx context.Context, tokenHash string, expires time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	// RetireReplaced is the first use of a refreshed session: it deletes the session that
	// tokenHash's replaces (if still there) and clears the link, in one transaction. A session
	// without the link is left as it is; an unknown one is NotExist.
	RetireReplaced(ctx context.Context, tokenHash string) error
	// DeleteUserSessions logs a user out everywhere but the session whose token hash is
	// exceptTokenHash ("" keeps none).
	DeleteUserSessions(ctx context.Context, userID, exceptTokenHash string) error
	// DeleteExpiredSessions removes the sessions that expired before now and says how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// CreateFolder stores the folder and its media in one transaction.
	CreateFolder(ctx context.Context, f *Folder, media []*Media) error
	GetFolder(ctx context.Context, id string) (*Folder, error)
	ListFolders(ctx context.Context, filter FolderFilter) (folders []*Folder, total int, err error)
	UpdateFolder(ctx context.Context, f *Folder) error
	// MoveUserFolders moves every folder the user created into the company, and returns how many
	// moved (a global-role user leaving a client company takes its folders along).
	MoveUserFolders(ctx context.Context, userID, companyID string) (int, error)
	DeleteFolder(ctx context.Context, id string) error

	AddMedia(ctx context.Context, folderID string, media []*Media) error
	GetMedia(ctx context.Context, id string) (*Media, error)
	ListMedia(ctx context.Context, folderID string) ([]*Media, error)
	UpdateMedia(ctx context.Context, m *Media) error
	DeleteMedia(ctx context.Context, id string) error
	// ReferencedBlobKeys returns which of keys a row refers to: a media's file or an analysis
	// result's best shot. Keys name their folder first ("<folder_id>/<file>", as the API and the
	// workers write them) and only the rows of the folders they name are searched, so a batch
	// costs indexed lookups. The periodic sweep of unreferenced files calls it.
	ReferencedBlobKeys(ctx context.Context, keys []string) (map[string]bool, error)

	// CreateAnalyses stores the analyses and, in the same transaction, enqueues one job per
	// PROCESSING analysis, so an accepted analysis is never lost. Times set by the caller are kept
	// (a data migration imports finished analyses this way, with their operators' decisions); the folder's updated time moves to
	// its newest analysis, never backwards.
	CreateAnalyses(ctx context.Context, analyses []*Analysis) error
	GetAnalysis(ctx context.Context, id string) (*Analysis, error)
	ListAnalyses(ctx context.Context, folderID string) ([]*Analysis, error)
	// FinishAnalysis writes the final state and results, and in the same transaction enqueues
	// the folder's webhook delivery when the folder has a resolution_endpoint and no analysis
	// is still processing. Only a PROCESSING analysis is finished: for any other it changes
	// nothing and returns ErrAlreadyFinished (the first finish wins).
	FinishAnalysis(ctx context.Context, a *Analysis) error
	// DecideAnalysis stores an operator's decision on a FINISHED analysis (replacing an earlier
	// one) and moves its folder's updated time to the decision's; the system's resolution, the
	// analysis' own times and its results stay as they are. An unknown analysis is NotExist, one
	// not FINISHED is code 4 (InvalidValue "state").
	DecideAnalysis(ctx context.Context, id string, d *Decision) error

	// Setting returns the stored value of a server-wide setting, storing value first when there is
	// none: every process of an installation gets the value the first one stored.
	Setting(ctx context.Context, name, value string) (string, error)

	CollectionStore
	CaptureStore
	RetentionStore
	ErasureStore
	LoginThrottleStore
	AuditStore

	Close() error
}

// BlobInfo describes one stored object.
type BlobInfo struct {
	Key     string
	Size    int64
	ModTime time.Time // when it was last written
}

// Blobs stores media bytes.
type Blobs interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Upload stores what r yields under key, streaming it: the object is never held whole in
	// memory. Nothing is left under key when it fails.
	Upload(ctx context.Context, key string, r io.Reader, contentType string) error
	// List calls fn with every stored object whose key starts with prefix ("" lists all); an
	// error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(BlobInfo) error) error
	Get(ctx context.Context, key string) ([]byte, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	Close() error
}

const (
	StatusInitial              = "INITIAL"           // folder without analyses
	ResolutionOperatorRequired = "OPERATOR_REQUIRED" // a verdict that needs a human (never for QUALITY)
)

// FolderStatus derives a folder's resolution_status and system_resolution (its verdict) from its
// analyses (oz-api.md §5.4):
//
//   - resolutionStatus: INITIAL without analyses, PROCESSING if any is processing, FAILED if any
//     failed, else FINISHED.
//   - systemResolution: INITIAL without analyses, PROCESSING while any is processing, else the verdict
//     of the last-finished group, the group of the analysis updated last (at millisecond precision,
//     ties to the greater GroupID): FAILED if any of its analyses failed, DECLINED if any was declined,
//     SUCCESS if all succeeded, OPERATOR_REQUIRED if some need an operator, DECLINED otherwise (an
//     unknown resolution never passes).
//
// ListFolders's ResolutionStatus filter computes the same in SQL.
func FolderStatus(analyses []*Analysis) (resolutionStatus, systemResolution string) {
	if len(analyses) == 0 {
		return StatusInitial, StatusInitial
	}
	var processing, failed bool
	var last *Analysis
	for _, a := range analyses {
		switch a.State {
		case StateProcessing:
			processing = true
		case StateFailed:
			failed = true
		}
		if last == nil {
			last = a
			continue
		}
		am, lm := a.Updated.UnixMilli(), last.Updated.UnixMilli()
		if am > lm || (am == lm && a.GroupID > last.GroupID) {
			last = a
		}
	}
	if processing {
		return StateProcessing, StateProcessing
	}
	resolutionStatus = StateFinished
	if failed {
		resolutionStatus = StateFailed
	}
	var groupFailed, declined, operator, allSuccess = false, false, false, true
	for _, a := range analyses {
		if a.GroupID != last.GroupID {
			continue
		}
		if a.State == StateFailed {
			groupFailed = true
		}
		switch a.Resolution {
		case ResolutionDeclined:
			declined = true
		case ResolutionOperatorRequired:
			operator = true
		}
		if a.Resolution != ResolutionSuccess {
			allSuccess = false
		}
	}
	switch {
	case groupFailed:
		return resolutionStatus, StateFailed
	case declined:
		return resolutionStatus, ResolutionDeclined
	case allSuccess:
		return resolutionStatus, ResolutionSuccess
	case operator:
		return resolutionStatus, ResolutionOperatorRequired
	}
	return resolutionStatus, ResolutionDeclined
}
