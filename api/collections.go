package api

// Blacklist collections (oz-api.md §10): collections of a company, their persons and the persons'
// images, whose face embeddings the COLLECTION analysis searches. Tenancy as for folders: another
// company's collection or person is "not exist" (code 10); operators only read; ADMIN and CLIENT
// ADMIN delete.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"bonafide"
)

func (s *Server) collectionRoutes(route func(method, path string, h handlerFunc, auth bool)) {
	route("POST", "/api/collections", s.createCollection, true)
	route("GET", "/api/collections", s.listCollections, true)
	route("GET", "/api/collections/{id}", s.getCollection, true)
	route("DELETE", "/api/collections/{id}", s.deleteCollection, true)
	route("GET", "/api/collections/{id}/meta_data", s.getCollectionMeta, true)
	route("POST", "/api/collections/{id}/meta_data", s.setCollectionMeta, true)
	route("PATCH", "/api/collections/{id}/meta_data", s.setCollectionMeta, true)
	route("DELETE", "/api/collections/{id}/meta_data", s.setCollectionMeta, true)
	route("POST", "/api/collections/{id}/persons", s.createPerson, true)
	route("GET", "/api/collections/{id}/persons", s.listPersons, true)
	route("GET", "/api/collections/{id}/persons/{pid}", s.getPerson, true)
	route("PATCH", "/api/collections/{id}/persons/{pid}", s.updatePerson, true)
	route("DELETE", "/api/collections/{id}/persons/{pid}", s.deletePerson, true)
	route("POST", "/api/collections/{id}/persons/{pid}/images", s.addPersonImages, true)
	route("GET", "/api/collections/{id}/persons/{pid}/images", s.listPersonImages, true)
	route("GET", "/api/collections/{id}/persons/{pid}/images/{iid}", s.getPersonImage, true)
	route("DELETE", "/api/collections/{id}/persons/{pid}/images/{iid}", s.deletePersonImage, true)
}

type collectionBody struct {
	CollectionID string          `json:"collection_id"`
	Alias        string          `json:"alias"`
	CompanyID    string          `json:"company_id"`
	MetaData     json.RawMessage `json:"meta_data"`
	Created      float64         `json:"time_created"`
	Updated      float64         `json:"time_updated"`
}

func renderCollection(c *bonafide.Collection) collectionBody {
	return collectionBody{CollectionID: c.ID, Alias: c.Alias, CompanyID: c.CompanyID, MetaData: obj(c.MetaData),
		Created: epoch(c.Created), Updated: epoch(c.Updated)}
}

type personBody struct {
	PersonID     string            `json:"person_id"`
	CollectionID string            `json:"collection_id"`
	MetaData     json.RawMessage   `json:"meta_data"`
	Created      float64           `json:"time_created"`
	Updated      float64           `json:"time_updated"`
	Images       []personImageBody `json:"images,omitempty"`
}

type personImageBody struct {
	PersonImageID string   `json:"person_image_id"`
	PersonID      string   `json:"person_id"`
	CollectionID  string   `json:"collection_id"`
	OriginalName  string   `json:"original_name"`
	Tags          []string `json:"tags"`
	FaceFound     bool     `json:"face_found"` // a face embedding was computed; without one the image is never matched
	Created       float64  `json:"time_created"`
}

func renderPerson(p *bonafide.Person, images []*bonafide.PersonImage) personBody {
	b := personBody{PersonID: p.ID, CollectionID: p.CollectionID, MetaData: obj(p.MetaData), Created: epoch(p.Created), Updated: epoch(p.Updated)}
	for _, im := range images {
		b.Images = append(b.Images, renderPersonImage(im))
	}
	return b
}

func renderPersonImage(im *bonafide.PersonImage) personImageBody {
	return personImageBody{PersonImageID: im.ID, PersonID: im.PersonID, CollectionID: im.CollectionID, OriginalName: im.OriginalName,
		Tags: nonNil(im.Tags), FaceFound: im.Embedding != nil, Created: epoch(im.Created)}
}

// collection loads a collection the caller may see (its company's; every one for ADMIN and
// OPERATOR); any other is "not exist".
func (s *Server) collection(r *http.Request) (*bonafide.Collection, error) {
	id := r.PathValue("id")
	c, err := s.store.GetCollection(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !bonafide.CanSeeCompany(caller(r).user, c.CompanyID) {
		return nil, bonafide.NotFound("collection", id)
	}
	return c, nil
}

// person loads a person of a collection the caller may see.
func (s *Server) person(r *http.Request) (*bonafide.Collection, *bonafide.Person, error) {
	c, err := s.collection(r)
	if err != nil {
		return nil, nil, err
	}
	pid := r.PathValue("pid")
	p, err := s.store.GetPerson(r.Context(), pid)
	if err != nil {
		return nil, nil, err
	}
	if p.CollectionID != c.ID {
		return nil, nil, bonafide.NotFound("person", pid)
	}
	return c, p, nil
}

func (s *Server) createCollection(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	if !bonafide.CanWrite(p.user) {
		return forbidden("%s users cannot create collections", p.user.Role)
	}
	var in struct {
		Alias     string          `json:"alias"`
		CompanyID string          `json:"company_id"`
		MetaData  json.RawMessage `json:"meta_data"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Alias) == "" {
		return bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: alias, the collection's name, is required")
	}
	if len(in.MetaData) > 0 && string(in.MetaData) != "null" && !isObject(in.MetaData) {
		return bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: meta_data must be a JSON object")
	}
	company, err := bonafide.CollectionCompany(p.user, in.CompanyID)
	if err != nil {
		return err
	}
	if company != p.user.CompanyID { // another company's, which must exist
		if _, err := s.store.GetCompany(r.Context(), company); err != nil {
			return err
		}
	}
	c := &bonafide.Collection{CompanyID: company, Alias: strings.TrimSpace(in.Alias), MetaData: obj(in.MetaData)}
	if err := s.store.CreateCollection(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderCollection(c))
	return nil
}

// listCollections answers a bare array (the iOS SDK parses it so): the caller's company's
// collections, every company's for ADMIN and OPERATOR.
func (s *Server) listCollections(w http.ResponseWriter, r *http.Request) error {
	company, err := bonafide.CollectionScope(caller(r).user, r.URL.Query().Get("company_id"))
	if err != nil {
		return err
	}
	cs, err := s.store.ListCollections(r.Context(), company)
	if err != nil {
		return err
	}
	out := []collectionBody{}
	for _, c := range cs {
		out = append(out, renderCollection(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getCollection(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collection(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderCollection(c))
	return nil
}

func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collection(r)
	if err != nil {
		return err
	}
	if !bonafide.CanDelete(caller(r).user) {
		return forbidden("only ADMIN and CLIENT ADMIN delete collections")
	}
	if err := s.store.DeleteCollection(r.Context(), c.ID); err != nil {
		return err
	}
	s.audited(r, bonafide.AuditCollectionDelete, c.CompanyID, nil, bonafide.Obj(bonafide.ObjCollection, c.ID))
	writeJSON(w, http.StatusOK, renderCollection(c))
	return nil
}

func (s *Server) getCollectionMeta(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collection(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, obj(c.MetaData))
	return nil
}

// setCollectionMeta: POST replaces, PATCH merges, DELETE empties (as for folders).
func (s *Server) setCollectionMeta(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collection(r)
	if err != nil {
		return err
	}
	if !bonafide.CanWrite(caller(r).user) {
		return forbidden("operators only read collections")
	}
	in := map[string]json.RawMessage{}
	if r.Method != http.MethodDelete {
		if err := decodeBody(r, &in); err != nil {
			return err
		}
	}
	next := map[string]json.RawMessage{}
	if r.Method == http.MethodPatch {
		_ = json.Unmarshal(obj(c.MetaData), &next)
	}
	for k, v := range in {
		next[k] = v
	}
	c.MetaData, _ = json.Marshal(next)
	if err := s.store.UpdateCollection(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, obj(c.MetaData))
	return nil
}

// personImages reads the upload's photos and computes each one's face embedding.
func (s *Server) personImages(ctx context.Context, up *upload) ([]*bonafide.PersonImage, error) {
	emb, ok := s.analyzer.(bonafide.Embedder)
	if !ok || s.analyzer == nil {
		return nil, bonafide.Errorf(bonafide.CodeNotRealized, "this node computes no face embeddings (it runs no analyses), so it cannot add persons")
	}
	ms, err := s.newMedia("", up)
	if err != nil {
		return nil, err
	}
	var out []*bonafide.PersonImage
	for i, m := range ms {
		data, err := up.files[i].bytes()
		if err != nil {
			return nil, err
		}
		vec, err := emb.EmbedFace(ctx, m, data)
		var me *bonafide.MediaError
		if errors.As(err, &me) {
			return nil, bonafide.Errorf(bonafide.CodeInvalidValue, "Invalid param value: the file %q (%s) could not be read: %s: %s", m.FieldName, m.OriginalName, me.Code, me.Msg)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, &bonafide.PersonImage{OriginalName: m.OriginalName, ContentType: m.ContentType, Size: m.Size,
			SHA256: m.SHA256, Tags: nonNil(m.Tags), Embedding: vec})
	}
	return out, nil
}

// createPerson answers POST /api/collections/{id}/persons: multipart images and a payload with
// person:meta_data (and media:tags); the person with its images.
func (s *Server) createPerson(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collection(r)
	if err != nil {
		return err
	}
	if !bonafide.CanWrite(caller(r).user) {
		return forbidden("operators only read collections")
	}
	up, err := s.readUpload(r)
	if err != nil {
		return err
	}
	defer up.Close()
	if len(up.payload.PersonMeta) > 0 && !isObject(up.payload.PersonMeta) {
		return errPersonMeta()
	}
	images, err := s.personImages(r.Context(), up)
	if err != nil {
		return err
	}
	p := &bonafide.Person{CollectionID: c.ID, MetaData: obj(up.payload.PersonMeta)}
	if err := s.store.CreatePerson(r.Context(), p, images); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderPerson(p, images))
	return nil
}

func (s *Server) listPersons(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collection(r)
	if err != nil {
		return err
	}
	pg, err := pageOf(r)
	if err != nil {
		return err
	}
	ps, err := s.store.ListPersons(r.Context(), c.ID, pg.Page)
	if err != nil {
		return err
	}
	out := []personBody{}
	for _, p := range ps {
		out = append(out, renderPerson(p, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// errPersonMeta refuses a person:meta_data that is not an object.
func errPersonMeta() error {
	return bonafide.Errorf(bonafide.CodeInvalidType, "Invalid param type: person:meta_data must be a JSON object")
}

func (s *Server) getPerson(w http.ResponseWriter, r *http.Request) error {
	_, p, err := s.person(r)
	if err != nil {
		return err
	}
	return s.writePerson(w, r, p)
}

// writePerson answers the person with its images.
func (s *Server) writePerson(w http.ResponseWriter, r *http.Request, p *bonafide.Person) error {
	images, err := s.store.ListPersonImages(r.Context(), p.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderPerson(p, images))
	return nil
}

// updatePerson answers PATCH /api/collections/{id}/persons/{pid}: {"person:meta_data": {...}}
// (or "meta_data") replaces the person's meta_data.
func (s *Server) updatePerson(w http.ResponseWriter, r *http.Request) error {
	_, p, err := s.person(r)
	if err != nil {
		return err
	}
	if !bonafide.CanWrite(caller(r).user) {
		return forbidden("operators only read collections")
	}
	var in struct {
		PersonMeta json.RawMessage `json:"person:meta_data"`
		Meta       json.RawMessage `json:"meta_data"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	meta := in.PersonMeta
	if len(meta) == 0 {
		meta = in.Meta
	}
	if len(meta) == 0 {
		return missingField("person:meta_data")
	}
	if !isObject(meta) {
		return errPersonMeta()
	}
	p.MetaData = meta
	if err := s.store.UpdatePerson(r.Context(), p); err != nil {
		return err
	}
	return s.writePerson(w, r, p)
}

func (s *Server) deletePerson(w http.ResponseWriter, r *http.Request) error {
	c, p, err := s.person(r)
	if err != nil {
		return err
	}
	if !bonafide.CanDelete(caller(r).user) {
		return forbidden("only ADMIN and CLIENT ADMIN delete persons")
	}
	if err := s.store.DeletePerson(r.Context(), p.ID); err != nil {
		return err
	}
	s.audited(r, bonafide.AuditPersonDelete, c.CompanyID, nil, bonafide.Obj(bonafide.ObjCollection, c.ID), bonafide.Obj(bonafide.ObjPerson, p.ID))
	writeJSON(w, http.StatusOK, renderPerson(p, nil))
	return nil
}

func (s *Server) addPersonImages(w http.ResponseWriter, r *http.Request) error {
	_, p, err := s.person(r)
	if err != nil {
		return err
	}
	if !bonafide.CanWrite(caller(r).user) {
		return forbidden("operators only read collections")
	}
	up, err := s.readUpload(r)
	if err != nil {
		return err
	}
	defer up.Close()
	images, err := s.personImages(r.Context(), up)
	if err != nil {
		return err
	}
	if err := s.store.AddPersonImages(r.Context(), p.ID, images); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderPersonImages(images))
	return nil
}

// renderPersonImages is the bare array of a person's images.
func renderPersonImages(images []*bonafide.PersonImage) []personImageBody {
	out := []personImageBody{}
	for _, im := range images {
		out = append(out, renderPersonImage(im))
	}
	return out
}

func (s *Server) listPersonImages(w http.ResponseWriter, r *http.Request) error {
	c, p, err := s.person(r)
	if err != nil {
		return err
	}
	images, err := s.store.ListPersonImages(r.Context(), p.ID)
	if err != nil {
		return err
	}
	if err := s.audit(r, bonafide.AuditPersonImageRead, c.CompanyID, map[string]string{"images": strconv.Itoa(len(images))},
		bonafide.Obj(bonafide.ObjCollection, c.ID), bonafide.Obj(bonafide.ObjPerson, p.ID)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderPersonImages(images))
	return nil
}

// personImage resolves {id}/{pid}/{iid} to an image of that person (404 otherwise).
func (s *Server) personImage(r *http.Request) (*bonafide.Collection, *bonafide.PersonImage, error) {
	c, p, err := s.person(r)
	if err != nil {
		return nil, nil, err
	}
	iid := r.PathValue("iid")
	im, err := s.store.GetPersonImage(r.Context(), iid)
	if err != nil {
		return nil, nil, err
	}
	if im.PersonID != p.ID {
		return nil, nil, bonafide.NotFound("person_image", iid)
	}
	return c, im, nil
}

// personImageObjs names a person image in an audit entry.
func personImageObjs(c *bonafide.Collection, im *bonafide.PersonImage) []bonafide.AuditObject {
	return []bonafide.AuditObject{bonafide.Obj(bonafide.ObjCollection, c.ID), bonafide.Obj(bonafide.ObjPerson, im.PersonID), bonafide.Obj(bonafide.ObjImage, im.ID)}
}

func (s *Server) getPersonImage(w http.ResponseWriter, r *http.Request) error {
	c, im, err := s.personImage(r)
	if err != nil {
		return err
	}
	if err := s.audit(r, bonafide.AuditPersonImageRead, c.CompanyID, nil, personImageObjs(c, im)...); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderPersonImage(im))
	return nil
}

func (s *Server) deletePersonImage(w http.ResponseWriter, r *http.Request) error {
	c, im, err := s.personImage(r)
	if err != nil {
		return err
	}
	if !bonafide.CanDelete(caller(r).user) {
		return forbidden("only ADMIN and CLIENT ADMIN delete person images")
	}
	if err := s.store.DeletePersonImage(r.Context(), im.ID); err != nil {
		return err
	}
	s.audited(r, bonafide.AuditPersonImageDel, c.CompanyID, nil, personImageObjs(c, im)...)
	writeJSON(w, http.StatusOK, renderPersonImage(im))
	return nil
}
