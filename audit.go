package bonafide

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// The audit trail: an append-only record, in the database, of who read biometric data, who decided,
// deleted, logged in, or changed users and settings. Entries name ids, never faces: they carry no
// media bytes, tokens or passwords, and have no foreign keys, so they outlive the folders, users and
// persons they name (an erasure removes the face, not the record that it was erased).

// Audit actions. The names are stable: they are stored and filtered on.
const (
	AuditMediaRead        = "media.read"          // a media file downloaded (API or signed URL)
	AuditBestShotRead     = "best_shot.read"      // a best shot downloaded
	AuditPersonImageRead  = "person_image.read"   // a collection person's image read
	AuditFolderView       = "folder.view"         // a folder's page opened in the operator console
	AuditDecision         = "analysis.decision"   // an operator's decision on an analysis
	AuditFolderDelete     = "folder.delete"       // a folder deleted with its media
	AuditMediaDelete      = "media.delete"        // one media deleted
	AuditCollectionDelete = "collection.delete"   // a collection deleted with its persons
	AuditPersonDelete     = "person.delete"       // a collection person deleted
	AuditPersonImageDel   = "person_image.delete" // one image of a person deleted
	AuditLogin            = "login"               // a successful login
	AuditLoginFailed      = "login.failed"        // a refused login (bad credentials or a blocked account)
	AuditUserCreate       = "user.create"
	AuditUserUpdate       = "user.update" // names, role, company, flags or password changed
	AuditUserDisable      = "user.disable"
	AuditCompanyCreate    = "company.create"
	AuditCompanyUpdate    = "company.update" // name or settings changed
	AuditCompanyDelete    = "company.delete"
	AuditWebhookSecret    = "company.webhook_secret" // the webhook secret rotated
	AuditRetentionRun     = "retention.run"          // a retention sweep removed data
	AuditErasure          = "erasure"                // an erasure on request
	AuditPurge            = "audit.purge"            // audit entries older than their retention removed
)

// Actors that are no user.
const (
	AuditSystem    = "system"    // what the server does by itself (retention, purges)
	AuditAnonymous = "anonymous" // the holder of a signed URL, or a login naming no account
)

// Object types an entry names.
const (
	ObjFolder     = "folder"
	ObjMedia      = "media"
	ObjAnalysis   = "analysis"
	ObjUser       = "user"
	ObjCompany    = "company"
	ObjCollection = "collection"
	ObjPerson     = "person"
	ObjImage      = "person_image"
	ObjErasure    = "erasure"
)

// AuditObject is one object an entry is about.
type AuditObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Obj is an AuditObject.
func Obj(typ, id string) AuditObject { return AuditObject{Type: typ, ID: id} }

// AuditEntry is one record of the audit trail.
type AuditEntry struct {
	ID         string
	Time       time.Time // the store's clock fills a zero time
	Actor      string    // a user id, or AuditSystem
	CompanyID  string    // the company whose data it is ("" when none)
	Action     string
	Objects    []AuditObject
	ClientAddr string            // the caller's address ("" for the system)
	RequestID  string            // the API request id ("" outside a request)
	Details    map[string]string // small facts: never bytes, tokens or passwords
}

// Bounds of an entry.
const (
	MaxAuditObjects      = 32
	MaxAuditDetails      = 16
	MaxAuditDetailLength = 256
)

// forbiddenDetail names detail keys an entry never carries.
var forbiddenDetail = []string{"password", "token", "secret", "hash"}

// Check validates an entry before it is stored: an action, an actor, bounded objects with a type
// and an id, bounded details with no secret-looking key (code 4).
func (e *AuditEntry) Check() error {
	switch {
	case e.Action == "" || len(e.Action) > 64:
		return InvalidValue("action", "an audit entry has an action of 1 to 64 bytes")
	case e.Actor == "" || len(e.Actor) > 128:
		return InvalidValue("actor", "an audit entry has an actor of 1 to 128 bytes (a user id or %q)", AuditSystem)
	case len(e.Objects) > MaxAuditObjects:
		return InvalidValue("objects", "an audit entry names at most %d objects", MaxAuditObjects)
	case len(e.Details) > MaxAuditDetails:
		return InvalidValue("details", "an audit entry has at most %d details", MaxAuditDetails)
	}
	for _, o := range e.Objects {
		if o.Type == "" || o.ID == "" || len(o.Type) > 32 || len(o.ID) > 128 {
			return InvalidValue("objects", "an audit object has a type (at most 32 bytes) and an id (at most 128)")
		}
	}
	for k, v := range e.Details {
		lk := strings.ToLower(k)
		for _, bad := range forbiddenDetail {
			if strings.Contains(lk, bad) {
				return InvalidValue("details", "an audit entry never carries a %s (detail %q)", bad, k)
			}
		}
		if len(k) > 64 || len(v) > MaxAuditDetailLength || !utf8.ValidString(v) {
			return InvalidValue("details", "audit detail %q: keys at most 64 bytes, values at most %d bytes of UTF-8", k, MaxAuditDetailLength)
		}
	}
	return nil
}

// AuditFilter selects audit entries, newest first unless OldestFirst.
type AuditFilter struct {
	CompanyID string // "" = every company
	Action    string
	Actor     string
	ObjectID  string // entries naming this object id (of any type)
	TimeMin   *time.Time
	TimeMax   *time.Time // inclusive
	Offset    int
	Limit     int // < 0: no limit
	WithTotal bool
	// OldestFirst reverses the order: oldest first, then first appended first (exports).
	OldestFirst bool
}

// AuditStore keeps the audit trail (both stores implement it as part of Store). It has no update:
// entries are only appended, listed, and removed when older than their retention.
type AuditStore interface {
	// AppendAudit stores e, filling an empty ID and a zero Time (the store's clock).
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit lists the entries f selects, newest first (then last appended first); total is
	// the count of all of them when f.WithTotal, else -1.
	ListAudit(ctx context.Context, f AuditFilter) (entries []*AuditEntry, total int, err error)
	// DeleteAuditBefore removes the entries older than t and says how many.
	DeleteAuditBefore(ctx context.Context, t time.Time) (int, error)
}

// DefaultAuditRetention is how long audit entries are kept unless configured (two years).
const DefaultAuditRetention = 2 * 365 * 24 * time.Hour

// AuditSource is where a request comes from, as the transport saw it: the API puts it in every
// request's context (WithAuditSource), so that code deeper down records it without knowing HTTP.
type AuditSource struct {
	ClientAddr string
	RequestID  string
}

type auditSourceKey struct{}

// WithAuditSource returns ctx carrying src.
func WithAuditSource(ctx context.Context, src AuditSource) context.Context {
	return context.WithValue(ctx, auditSourceKey{}, src)
}

// AuditSourceOf is the source ctx carries (zero when none).
func AuditSourceOf(ctx context.Context) AuditSource {
	src, _ := ctx.Value(auditSourceKey{}).(AuditSource)
	return src
}

// Audit records one entry: the one way code writes the audit trail. An empty actor is the system;
// an empty client address and request id come from ctx (WithAuditSource). The entry is checked
// (AuditEntry.Check) and stored; the caller decides whether a failure stops what it records (the
// API refuses a read it cannot record).
func Audit(ctx context.Context, s AuditStore, e AuditEntry) error {
	if e.Actor == "" {
		e.Actor = AuditSystem
	}
	src := AuditSourceOf(ctx)
	if e.ClientAddr == "" {
		e.ClientAddr = src.ClientAddr
	}
	if e.RequestID == "" {
		e.RequestID = src.RequestID
	}
	if err := e.Check(); err != nil {
		return err
	}
	return s.AppendAudit(ctx, &e)
}
