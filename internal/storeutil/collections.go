package storeutil

import "bonafide"

// The row readers of collections, persons and person images, in the column order both stores
// select (each store's collectionCols, personCols, imageCols); scan is the row's Scan.

// ScanCollection reads id, company_id, alias, meta_data (text), version, created_at, updated_at.
func ScanCollection(scan func(dest ...any) error) (*bonafide.Collection, error) {
	var c bonafide.Collection
	var meta string
	var created, updated int64
	if err := scan(&c.ID, &c.CompanyID, &c.Alias, &meta, &c.Version, &created, &updated); err != nil {
		return nil, err
	}
	c.MetaData, c.Created, c.Updated = []byte(meta), FromStamp(created), FromStamp(updated)
	return &c, nil
}

// ScanPerson reads id, collection_id, meta_data (text), created_at, updated_at.
func ScanPerson(scan func(dest ...any) error) (*bonafide.Person, error) {
	var p bonafide.Person
	var meta string
	var created, updated int64
	if err := scan(&p.ID, &p.CollectionID, &meta, &created, &updated); err != nil {
		return nil, err
	}
	p.MetaData, p.Created, p.Updated = []byte(meta), FromStamp(created), FromStamp(updated)
	return &p, nil
}

// ScanPersonImage reads id, person_id, collection_id, original_name, content_type, size, sha256,
// tags (JSON text), embedding (EncodeVector bytes), created_at.
func ScanPersonImage(scan func(dest ...any) error) (*bonafide.PersonImage, error) {
	var im bonafide.PersonImage
	var tags string
	var emb []byte
	var created int64
	if err := scan(&im.ID, &im.PersonID, &im.CollectionID, &im.OriginalName, &im.ContentType, &im.Size, &im.SHA256, &tags, &emb, &created); err != nil {
		return nil, err
	}
	var err error
	if im.Tags, err = DecodeArray[string]("tags", tags); err != nil {
		return nil, err
	}
	if im.Embedding, err = DecodeVector(emb); err != nil {
		return nil, err
	}
	im.Created = FromStamp(created)
	return &im, nil
}
