package bonafide

import (
	"context"
	"encoding/json"
	"time"
)

// Collection is a blacklist (Oz "collection", oz-api.md §10): persons with face images, searched
// 1:N by the COLLECTION analysis.
type Collection struct {
	ID        string
	CompanyID string
	Alias     string
	MetaData  json.RawMessage
	// Version moves on every change of the collection's persons or their images: a node holding
	// the collection's vectors in memory reloads them when the stored version differs.
	Version int64
	Created time.Time
	Updated time.Time
}

// Person is one person of a collection.
type Person struct {
	ID           string
	CollectionID string
	MetaData     json.RawMessage // person:meta_data, e.g. {"person_info": {"first_name": ...}}
	Created      time.Time
	Updated      time.Time
}

// PersonImage is one image of a person: what was sent and the face embedding computed from it.
// The image bytes themselves are not kept (only what the search needs).
type PersonImage struct {
	ID           string
	PersonID     string
	CollectionID string
	OriginalName string
	ContentType  string
	Size         int64
	SHA256       string
	Tags         []string
	// Embedding is the unit-length face embedding; nil when no face was found in the image.
	Embedding []float32
	Created   time.Time
}

// FaceVector is one searchable face of a collection.
type FaceVector struct {
	PersonID, ImageID string
	Vector            []float32
}

// CollectionStore persists collections, persons and their images (both stores implement it as
// part of Store).
type CollectionStore interface {
	CreateCollection(ctx context.Context, c *Collection) error
	GetCollection(ctx context.Context, id string) (*Collection, error)
	// ListCollections lists a company's collections ("" every company's), oldest first.
	ListCollections(ctx context.Context, companyID string) ([]*Collection, error)
	// UpdateCollection writes alias and meta_data; Updated is set to now.
	UpdateCollection(ctx context.Context, c *Collection) error
	// DeleteCollection deletes the collection with its persons and their images.
	DeleteCollection(ctx context.Context, id string) error

	// CreatePerson stores the person and its images in one transaction and moves the
	// collection's version.
	CreatePerson(ctx context.Context, p *Person, images []*PersonImage) error
	GetPerson(ctx context.Context, id string) (*Person, error)
	// ListPersons lists one page of a collection's persons, oldest first.
	ListPersons(ctx context.Context, collectionID string, page Page) ([]*Person, error)
	// UpdatePerson writes the person's meta_data; Updated is set to now. The collection's
	// version stays (the search does not read meta_data).
	UpdatePerson(ctx context.Context, p *Person) error
	// DeletePerson deletes the person and its images and moves the collection's version.
	DeletePerson(ctx context.Context, id string) error
	// AddPersonImages adds images to a person and moves the collection's version.
	AddPersonImages(ctx context.Context, personID string, images []*PersonImage) error
	GetPersonImage(ctx context.Context, id string) (*PersonImage, error)
	// ListPersonImages lists a person's images, oldest first.
	ListPersonImages(ctx context.Context, personID string) ([]*PersonImage, error)
	// DeletePersonImage deletes one image and moves the collection's version.
	DeletePersonImage(ctx context.Context, id string) error
	// CollectionVectors returns, read together, the collection's version and every image
	// embedding of its persons (images without a face left out).
	CollectionVectors(ctx context.Context, collectionID string) (version int64, vectors []FaceVector, err error)
}

// Embedder computes the face embedding of one photo or video: unit length, nil when no face was
// found. Implemented by package pipeline; an error is a *MediaError when the file is at fault.
type Embedder interface {
	EmbedFace(ctx context.Context, m *Media, data []byte) ([]float32, error)
}

// CollectionParams are the params of a COLLECTION analysis (oz-api.md §5.1, old iOS SDK):
// collection_id (required), decision_threshold (a confidence; default the biometry threshold)
// and decision_count (the most matches per media; default 10).
type CollectionParams struct {
	CollectionID      string   `json:"collection_id"`
	DecisionThreshold *float64 `json:"decision_threshold"`
	DecisionCount     *int     `json:"decision_count"`
}

// DefaultDecisionCount is how many matches per media a COLLECTION analysis returns at most when
// decision_count is not given.
const DefaultDecisionCount = 10

// ParseCollectionParams reads the params; mistyped values are ignored, as Oz does.
func ParseCollectionParams(raw json.RawMessage) CollectionParams {
	var p CollectionParams
	if len(raw) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			_ = json.Unmarshal(m["collection_id"], &p.CollectionID)
			var f float64
			if json.Unmarshal(m["decision_threshold"], &f) == nil && f > 0 && f < 1 {
				p.DecisionThreshold = &f
			}
			var n int
			if json.Unmarshal(m["decision_count"], &n) == nil && n > 0 {
				p.DecisionCount = &n
			}
		}
	}
	return p
}

// CollectionSource is what the COLLECTION analysis reads from the store: the folder (its
// company), the collection and its vectors.
type CollectionSource interface {
	GetFolder(ctx context.Context, id string) (*Folder, error)
	GetCollection(ctx context.Context, id string) (*Collection, error)
	CollectionVectors(ctx context.Context, collectionID string) (int64, []FaceVector, error)
}
