package bonafide

import (
	"context"
	"fmt"
	"time"
)

// Erasure states: a real erasure is IN_PROGRESS from its request until every target is gone
// (a crash in between finishes it on restart); a dry run is FINISHED at once.
const (
	ErasureInProgress = "IN_PROGRESS"
	ErasureFinished   = "FINISHED"
)

// MaxErasureTargets is how many folders, and how many persons, one erasure may select: a request
// that matches more is refused (code 4), so that one request stays bounded; the caller splits it.
const MaxErasureTargets = 1000

// ErasureSelector picks what an erasure removes (GDPR Art. 17). A folder is selected when its id
// is in FolderIDs or when its meta_data has every key of FolderMeta with that string value; a
// collection person when its meta_data has every key of PersonMeta with that value. Keys are
// top-level keys of the meta_data object. An empty selector selects nothing and is refused.
type ErasureSelector struct {
	FolderMeta map[string]string `json:"folder_meta_data,omitempty"`
	FolderIDs  []string          `json:"folder_ids,omitempty"`
	PersonMeta map[string]string `json:"person_meta_data,omitempty"`
}

// Empty reports a selector that names nothing.
func (s ErasureSelector) Empty() bool {
	return len(s.FolderMeta) == 0 && len(s.FolderIDs) == 0 && len(s.PersonMeta) == 0
}

// Validate checks the selector's values: not empty, no empty key, id or value, at most
// MaxErasureTargets folder ids.
func (s ErasureSelector) Validate() error {
	if s.Empty() {
		return &Error{Code: CodeInvalidValue, Message: "Invalid param value: the erasure selects nothing: give folder_meta_data, folder_ids or person_meta_data (an empty selector never means everything)"}
	}
	for k := range s.FolderMeta {
		if k == "" {
			return InvalidValue("folder_meta_data", "a key must not be empty")
		}
	}
	for k := range s.PersonMeta {
		if k == "" {
			return InvalidValue("person_meta_data", "a key must not be empty")
		}
	}
	if len(s.FolderIDs) > MaxErasureTargets {
		return InvalidValue("folder_ids", "at most %d folder ids per erasure, not %d: split the request", MaxErasureTargets, len(s.FolderIDs))
	}
	for i, id := range s.FolderIDs {
		if id == "" {
			return InvalidValue(fmt.Sprintf("folder_ids[%d]", i), "a folder id must not be empty")
		}
	}
	return nil
}

// Erasure is the receipt of one erasure request: what was asked, by whom, and what was removed.
// It holds what an audit entry needs (time, actor, company, object ids, client address, request
// id) and outlives the data it removed; it names ids and counts, never faces.
type Erasure struct {
	ID        string
	CompanyID string // the scope: only this company's data is selected; "" = every company (ADMIN)
	UserID    string // who asked
	Selector  ErasureSelector
	DryRun    bool
	Status    string // ErasureInProgress or ErasureFinished
	// Counts: for a dry run what would be removed; otherwise what has been removed so far.
	Folders, Media, BestShots, Persons int
	// FolderIDs and PersonIDs are the selected targets (sorted).
	FolderIDs, PersonIDs []string
	ClientAddr           string // the requester's address
	RequestID            string // the request's X-Request-Id
	Created              time.Time
	Finished             time.Time // zero until FINISHED
}

// ErasureStore persists erasures (both stores implement it as part of Store). A real erasure is
// worked by a job: ErasureFolders lists what is left, the worker removes each folder's files and
// then its rows (EraseFolder, one transaction per folder), and FinishErasure removes the persons
// and closes the receipt. Each step is idempotent, so a job rescued after a crash finishes it.
type ErasureStore interface {
	// CreateErasure selects the targets within e.CompanyID and stores the receipt with them (ID,
	// Created, Status and the target lists are set). A dry run is stored FINISHED with the counts
	// of what would go; a real one IN_PROGRESS, its job enqueued in the same transaction. More
	// than MaxErasureTargets folders or persons selected is code 4 and stores nothing.
	CreateErasure(ctx context.Context, e *Erasure) error
	GetErasure(ctx context.Context, id string) (*Erasure, error)
	// ErasureFolders lists the erasure's folders not yet erased.
	ErasureFolders(ctx context.Context, id string) ([]string, error)
	// EraseFolder deletes the folder's rows (folder, media, analyses) and, in the same
	// transaction, records it erased in the receipt with its counts of media and best shots (the
	// files are the caller's, removed before). A folder already recorded changes nothing; one
	// already gone is recorded without counts.
	EraseFolder(ctx context.Context, erasureID, folderID string) error
	// FinishErasure deletes the erasure's persons with their images (moving their collections'
	// versions) and marks it FINISHED, in one transaction; a FINISHED erasure is left as it is.
	FinishErasure(ctx context.Context, id string) error
}
