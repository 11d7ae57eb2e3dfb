package sqlstore

import (
	"context"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- collections (blacklists) -------------------------------------------------------------------

const collectionCols = `id, company_id, alias, meta_data, version, created_at, updated_at`

func scanCollection(r Row) (*bonafide.Collection, error) { return storeutil.ScanCollection(r.Scan) }

// CreateCollection inserts c, filling its ID and times.
func (s *Store[T]) CreateCollection(ctx context.Context, c *bonafide.Collection) error {
	storeutil.FillID(&c.ID)
	s.codec.SetTimes(&c.Created, &c.Updated)
	meta, err := s.codec.Text("meta_data", c.MetaData, "{}")
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO collections (id, company_id, alias, meta_data, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, c.ID, c.CompanyID, c.Alias, meta, c.Version, storeutil.Stamp(c.Created), storeutil.Stamp(c.Updated))
	if s.violates(err, pkCollection) {
		return storeutil.AlreadyExists("collection", c.ID)
	}
	if err != nil {
		return s.wrap("create collection", err)
	}
	c.MetaData = []byte(meta)
	return nil
}

// GetCollection returns one collection.
func (s *Store[T]) GetCollection(ctx context.Context, id string) (*bonafide.Collection, error) {
	return get(ctx, s, "get collection", "collection", id, scanCollection, `SELECT `+collectionCols+` FROM collections WHERE id = ?`, id)
}

// ListCollections lists a company's collections ("" all), oldest first.
func (s *Store[T]) ListCollections(ctx context.Context, companyID string) ([]*bonafide.Collection, error) {
	return list(ctx, s, "list collections", scanCollection, `SELECT `+collectionCols+` FROM collections
		WHERE ? = '' OR company_id = ? ORDER BY created_at, `+s.sx.InsertOrder, companyID, companyID)
}

// UpdateCollection writes alias and meta_data.
func (s *Store[T]) UpdateCollection(ctx context.Context, c *bonafide.Collection) error {
	meta, err := s.codec.Text("meta_data", c.MetaData, "{}")
	if err != nil {
		return err
	}
	c.Updated = s.codec.Now()
	n, err := s.db.Exec(ctx, `UPDATE collections SET alias = ?, meta_data = ?, updated_at = ? WHERE id = ?`,
		c.Alias, meta, storeutil.Stamp(c.Updated), c.ID)
	if err != nil {
		return s.wrap("update collection", err)
	}
	c.MetaData = []byte(meta)
	return mustAffect(n, "collection", c.ID)
}

// DeleteCollection deletes the collection, its persons and their images.
func (s *Store[T]) DeleteCollection(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx Tx[T]) error {
		if _, err := tx.Exec(ctx, `DELETE FROM person_images WHERE collection_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM persons WHERE collection_id = ?`, id); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM collections WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return mustAffect(n, "collection", id)
	})
	return s.wrap("delete collection", err)
}

// bumpCollection moves a collection's version (its persons or images changed); it locks the
// collection row until the transaction ends, so changes of one collection are serialized.
func (s *Store[T]) bumpCollection(ctx context.Context, tx Tx[T], id string) error {
	n, err := tx.Exec(ctx, `UPDATE collections SET version = version + 1, updated_at = `+s.sx.Greatest("updated_at", "?")+` WHERE id = ?`,
		storeutil.Stamp(s.codec.Now()), id)
	if err != nil {
		return err
	}
	return mustAffect(n, "collection", id)
}

// --- persons ------------------------------------------------------------------------------------

const personCols = `id, collection_id, meta_data, created_at, updated_at`

func scanPerson(r Row) (*bonafide.Person, error) { return storeutil.ScanPerson(r.Scan) }

// CreatePerson inserts the person and its images in one transaction.
func (s *Store[T]) CreatePerson(ctx context.Context, p *bonafide.Person, images []*bonafide.PersonImage) error {
	storeutil.FillID(&p.ID)
	s.codec.SetTimes(&p.Created, &p.Updated)
	meta, err := s.codec.Text("meta_data", p.MetaData, "{}")
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx Tx[T]) error {
		if err := s.bumpCollection(ctx, tx, p.CollectionID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO persons (id, collection_id, meta_data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.CollectionID, meta, storeutil.Stamp(p.Created), storeutil.Stamp(p.Updated))
		if s.violates(err, pkPerson) {
			return storeutil.AlreadyExists("person", p.ID)
		}
		if err != nil {
			return err
		}
		return s.insertImages(ctx, tx, p, images)
	})
	if err != nil {
		return s.wrap("create person", err)
	}
	p.MetaData = []byte(meta)
	return nil
}

func (s *Store[T]) insertImages(ctx context.Context, tx Tx[T], p *bonafide.Person, images []*bonafide.PersonImage) error {
	for _, im := range images {
		storeutil.FillID(&im.ID)
		im.PersonID, im.CollectionID = p.ID, p.CollectionID
		if im.Created.IsZero() {
			im.Created = s.codec.Now()
		}
		im.Created = storeutil.Norm(im.Created)
		tags, err := storeutil.Array(s.codec.JSON, "tags", im.Tags)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO person_images (id, person_id, collection_id, original_name, content_type, size,
			sha256, tags, embedding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, im.ID, im.PersonID, im.CollectionID,
			im.OriginalName, im.ContentType, im.Size, im.SHA256, tags, storeutil.EncodeVector(im.Embedding), storeutil.Stamp(im.Created))
		if s.violates(err, pkPersonImage) {
			return storeutil.AlreadyExists("person_image", im.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// GetPerson returns one person.
func (s *Store[T]) GetPerson(ctx context.Context, id string) (*bonafide.Person, error) {
	return get(ctx, s, "get person", "person", id, scanPerson, `SELECT `+personCols+` FROM persons WHERE id = ?`, id)
}

// ListPersons lists a collection's persons, oldest first.
func (s *Store[T]) ListPersons(ctx context.Context, collectionID string, page bonafide.Page) ([]*bonafide.Person, error) {
	return list(ctx, s, "list persons", scanPerson, `SELECT `+personCols+` FROM persons WHERE collection_id = ?
		ORDER BY created_at, `+s.sx.InsertOrder+` LIMIT ? OFFSET ?`, collectionID, s.limit(page.Limit), max(page.Offset, 0))
}

// UpdatePerson writes the person's meta_data.
func (s *Store[T]) UpdatePerson(ctx context.Context, p *bonafide.Person) error {
	meta, err := s.codec.Text("meta_data", p.MetaData, "{}")
	if err != nil {
		return err
	}
	p.Updated = s.codec.Now()
	n, err := s.db.Exec(ctx, `UPDATE persons SET meta_data = ?, updated_at = ? WHERE id = ?`, meta, storeutil.Stamp(p.Updated), p.ID)
	if err != nil {
		return s.wrap("update person", err)
	}
	p.MetaData = []byte(meta)
	return mustAffect(n, "person", p.ID)
}

// DeletePerson deletes the person and its images.
func (s *Store[T]) DeletePerson(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx Tx[T]) error {
		var cid string
		if err := tx.QueryRow(ctx, `SELECT collection_id FROM persons WHERE id = ?`, id).Scan(&cid); err != nil {
			return s.notFoundIf(err, "delete person", "person", id)
		}
		if err := s.bumpCollection(ctx, tx, cid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM person_images WHERE person_id = ?`, id); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM persons WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return mustAffect(n, "person", id)
	})
	return s.wrap("delete person", err)
}

// AddPersonImages adds images to a person.
func (s *Store[T]) AddPersonImages(ctx context.Context, personID string, images []*bonafide.PersonImage) error {
	err := s.tx(ctx, func(tx Tx[T]) error {
		p, err := scanPerson(tx.QueryRow(ctx, `SELECT `+personCols+` FROM persons WHERE id = ?`, personID))
		if err != nil {
			return s.notFoundIf(err, "add person images", "person", personID)
		}
		if err := s.bumpCollection(ctx, tx, p.CollectionID); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `UPDATE persons SET updated_at = `+s.sx.Greatest("updated_at", "?")+` WHERE id = ?`, storeutil.Stamp(s.codec.Now()), personID)
		if err != nil {
			return err
		}
		if err := mustAffect(n, "person", personID); err != nil { // deleted meanwhile
			return err
		}
		return s.insertImages(ctx, tx, p, images)
	})
	return s.wrap("add person images", err)
}

const imageCols = `id, person_id, collection_id, original_name, content_type, size, sha256, tags, embedding, created_at`

func scanImage(r Row) (*bonafide.PersonImage, error) { return storeutil.ScanPersonImage(r.Scan) }

// GetPersonImage returns one image.
func (s *Store[T]) GetPersonImage(ctx context.Context, id string) (*bonafide.PersonImage, error) {
	return get(ctx, s, "get person image", "person_image", id, scanImage, `SELECT `+imageCols+` FROM person_images WHERE id = ?`, id)
}

// ListPersonImages lists a person's images, oldest first.
func (s *Store[T]) ListPersonImages(ctx context.Context, personID string) ([]*bonafide.PersonImage, error) {
	return list(ctx, s, "list person images", scanImage, `SELECT `+imageCols+` FROM person_images WHERE person_id = ? ORDER BY created_at, `+s.sx.InsertOrder, personID)
}

// DeletePersonImage deletes one image.
func (s *Store[T]) DeletePersonImage(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx Tx[T]) error {
		var cid string
		if err := tx.QueryRow(ctx, `SELECT collection_id FROM person_images WHERE id = ?`, id).Scan(&cid); err != nil {
			return s.notFoundIf(err, "delete person image", "person_image", id)
		}
		if err := s.bumpCollection(ctx, tx, cid); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM person_images WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return mustAffect(n, "person_image", id)
	})
	return s.wrap("delete person image", err)
}

// CollectionVectors returns the collection's version and its embeddings, read in one read-only
// transaction that sees one snapshot.
func (s *Store[T]) CollectionVectors(ctx context.Context, collectionID string) (version int64, out []bonafide.FaceVector, err error) {
	err = s.d.InTx(ctx, TxOptions{Snapshot: true}, func(tx Tx[T]) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM collections WHERE id = ?`, collectionID).Scan(&version); err != nil {
			return s.notFoundIf(err, "collection vectors", "collection", collectionID)
		}
		rows, err := tx.Query(ctx, `SELECT person_id, id, embedding FROM person_images
			WHERE collection_id = ? AND embedding IS NOT NULL ORDER BY created_at, `+s.sx.InsertOrder, collectionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v bonafide.FaceVector
			var emb []byte
			if err := rows.Scan(&v.PersonID, &v.ImageID, &emb); err != nil {
				return err
			}
			if v.Vector, err = storeutil.DecodeVector(emb); err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, s.wrap("collection vectors", err)
	}
	return version, out, nil
}
