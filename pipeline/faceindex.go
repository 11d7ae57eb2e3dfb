package pipeline

import (
	"context"
	"runtime"
	"slices"
	"sync"

	"bonafide"
)

// FaceMatch is one person found by a search: its best-matching image and the cosine similarity.
type FaceMatch struct {
	PersonID, ImageID string
	Cosine            float64
}

// DefaultFaceIndexBytes is the memory a FaceIndex keeps for collections by default: 1 GiB, about
// 500,000 face images of 512 dimensions.
const DefaultFaceIndexBytes = 1 << 30

// FaceIndex holds each searched collection's vectors in memory for brute-force 1:N search (a dot
// product over unit vectors). A search is given the collection as just read from the store and
// reloads the vectors when its version moved, so a person added through another node is found at
// once.
// The collections it keeps take at most MaxBytes together: the least recently searched are let go
// (and read again from the store when next searched); a single collection larger than the budget
// is searched and not kept. It is safe for concurrent use.
type FaceIndex struct {
	// MaxBytes bounds the vectors kept (0: DefaultFaceIndexBytes).
	MaxBytes int64

	mu    sync.Mutex
	cols  map[string]*faceSet
	used  int64 // bytes of the sets in cols
	clock int64 // search counter, for least-recently-used order
}

// faceSet is one collection's vectors, flat: row i is data[i*dim:(i+1)*dim].
type faceSet struct {
	version int64
	dim     int
	persons []string
	images  []string
	data    []float32
	bytes   int64
	last    int64 // FaceIndex.clock at its last search
}

// Kept reports how many collections and bytes of vectors the index holds now.
func (x *FaceIndex) Kept() (collections int, bytes int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.cols), x.used
}

// keep stores s as collectionID's set, then lets the least recently searched others go until the
// kept sets fit the budget; a set larger than the whole budget is not kept.
func (x *FaceIndex) keep(collectionID string, s *faceSet) {
	budget := x.MaxBytes
	if budget <= 0 {
		budget = DefaultFaceIndexBytes
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.forget(collectionID)
	if s.bytes > budget {
		return
	}
	if x.cols == nil {
		x.cols = map[string]*faceSet{}
	}
	x.clock++
	s.last = x.clock
	x.cols[collectionID] = s
	x.used += s.bytes
	for x.used > budget {
		oldest := ""
		for id, c := range x.cols {
			if id != collectionID && (oldest == "" || c.last < x.cols[oldest].last) {
				oldest = id
			}
		}
		x.forget(oldest)
	}
}

// forget drops a collection's set; x.mu is held.
func (x *FaceIndex) forget(collectionID string) {
	if old, ok := x.cols[collectionID]; ok {
		x.used -= old.bytes
		delete(x.cols, collectionID)
	}
}

// NewFaceSet builds a searchable set from vectors (all of one length; others are left out).
func newFaceSet(version int64, vs []bonafide.FaceVector) *faceSet {
	s := &faceSet{version: version}
	for _, v := range vs {
		if len(v.Vector) == 0 {
			continue
		}
		if s.dim == 0 {
			s.dim = len(v.Vector)
		}
		if len(v.Vector) != s.dim {
			continue
		}
		s.persons = append(s.persons, v.PersonID)
		s.images = append(s.images, v.ImageID)
		s.data = append(s.data, v.Vector...)
		// The vector, the two IDs and their string headers.
		s.bytes += int64(4*len(v.Vector) + len(v.PersonID) + len(v.ImageID) + 32)
	}
	return s
}

// Search finds the persons of collection c (as just read from the store: its Version says whether
// the vectors held are current) whose best image has a cosine similarity of at least minCos with
// q, best first, at most limit (< 1: all).
func (x *FaceIndex) Search(ctx context.Context, src bonafide.CollectionSource, c *bonafide.Collection, q []float32, minCos float64, limit int) ([]FaceMatch, error) {
	x.mu.Lock()
	s := x.cols[c.ID]
	if s != nil {
		x.clock++
		s.last = x.clock
	}
	x.mu.Unlock()
	if s == nil || s.version != c.Version {
		version, vs, err := src.CollectionVectors(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		s = newFaceSet(version, vs)
		x.keep(c.ID, s)
	}
	return s.search(q, minCos, limit), nil
}

// Forget lets go of a collection's vectors (it was deleted).
func (x *FaceIndex) Forget(collectionID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.forget(collectionID)
}

// search scans the set in one chunk per CPU.
func (s *faceSet) search(q []float32, minCos float64, limit int) []FaceMatch {
	n := len(s.persons)
	if n == 0 || len(q) != s.dim {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, n/4096))
	hits := make([][]int32, workers)
	scores := make([][]float32, workers)
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			thr := float32(minCos)
			for i := lo; i < hi; i++ {
				if d := dot(q, s.data[i*s.dim:(i+1)*s.dim]); d >= thr {
					hits[w] = append(hits[w], int32(i))
					scores[w] = append(scores[w], d)
				}
			}
		}()
	}
	wg.Wait()
	best := map[string]FaceMatch{}
	for w := range workers {
		for j, i := range hits[w] {
			p := s.persons[i]
			if m, ok := best[p]; !ok || float64(scores[w][j]) > m.Cosine {
				best[p] = FaceMatch{PersonID: p, ImageID: s.images[i], Cosine: float64(scores[w][j])}
			}
		}
	}
	out := make([]FaceMatch, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b FaceMatch) int {
		switch {
		case a.Cosine > b.Cosine:
			return -1
		case a.Cosine < b.Cosine:
			return 1
		}
		return compareStrings(a.PersonID, b.PersonID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dot is the dot product of two vectors of one length, unrolled by four.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
