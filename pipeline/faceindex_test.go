package pipeline

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"bonafide"
)

type fakeSource struct {
	version int64
	vs      []bonafide.FaceVector
	loads   int
}

func (f *fakeSource) GetFolder(ctx context.Context, id string) (*bonafide.Folder, error) {
	return nil, bonafide.NotFound("folder", id)
}
func (f *fakeSource) GetCollection(ctx context.Context, id string) (*bonafide.Collection, error) {
	return &bonafide.Collection{ID: id, Version: f.version}, nil
}
func (f *fakeSource) CollectionVectors(ctx context.Context, id string) (int64, []bonafide.FaceVector, error) {
	f.loads++
	return f.version, f.vs, nil
}

func randUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		n += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func TestFaceIndexSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := &fakeSource{version: 1}
	for i := range 1000 {
		src.vs = append(src.vs, bonafide.FaceVector{PersonID: fmt.Sprintf("p%d", i%500), ImageID: fmt.Sprintf("i%d", i), Vector: randUnit(r, 512)})
	}
	var x FaceIndex
	q := src.vs[42].Vector
	got, err := x.Search(t.Context(), src, &bonafide.Collection{ID: "c", Version: src.version}, q, 0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PersonID != "p42" || got[0].ImageID != "i42" || math.Abs(got[0].Cosine-1) > 1e-5 {
		t.Fatalf("search = %+v, want p42/i42 at 1", got)
	}
	if _, err := x.Search(t.Context(), src, &bonafide.Collection{ID: "c", Version: src.version}, q, 0.5, 0); err != nil || src.loads != 1 {
		t.Fatalf("second search loaded again (%d loads, %v)", src.loads, err)
	}
	// Another node added a person: the version moved, the next search sees it.
	src.version, src.vs = 2, append(src.vs, bonafide.FaceVector{PersonID: "new", ImageID: "inew", Vector: q})
	got, _ = x.Search(t.Context(), src, &bonafide.Collection{ID: "c", Version: src.version}, q, 0.5, 0)
	if src.loads != 2 || len(got) != 2 || got[0].PersonID != "new" && got[1].PersonID != "new" {
		t.Fatalf("after a change: %+v (%d loads)", got, src.loads)
	}
	got, _ = x.Search(t.Context(), src, &bonafide.Collection{ID: "c", Version: src.version}, q, 0.5, 1)
	if len(got) != 1 {
		t.Fatalf("limit 1: %d matches", len(got))
	}
	got, _ = x.Search(t.Context(), src, &bonafide.Collection{ID: "c", Version: src.version}, q, -1, 0)
	if len(got) != 501 {
		t.Fatalf("every person: %d, want 501 (best image per person)", len(got))
	}
}

// manySources serves several collections, each its own fakeSource.
type manySources map[string]*fakeSource

func (m manySources) GetFolder(ctx context.Context, id string) (*bonafide.Folder, error) {
	return nil, bonafide.NotFound("folder", id)
}
func (m manySources) GetCollection(ctx context.Context, id string) (*bonafide.Collection, error) {
	return m[id].GetCollection(ctx, id)
}
func (m manySources) CollectionVectors(ctx context.Context, id string) (int64, []bonafide.FaceVector, error) {
	return m[id].CollectionVectors(ctx, id)
}

func TestFaceIndexMemoryBudget(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := manySources{}
	for _, id := range []string{"a", "b", "c", "huge"} {
		n := 100
		if id == "huge" {
			n = 400
		}
		f := &fakeSource{version: 1}
		for i := range n {
			f.vs = append(f.vs, bonafide.FaceVector{PersonID: fmt.Sprintf("%s%d", id, i), ImageID: fmt.Sprintf("%si%d", id, i), Vector: randUnit(r, 512)})
		}
		src[id] = f
	}
	one := newFaceSet(1, src["a"].vs).bytes
	x := FaceIndex{MaxBytes: 2*one + one/2} // room for two collections of 100
	search := func(id string) {
		t.Helper()
		q := src[id].vs[7].Vector
		got, err := x.Search(t.Context(), src, &bonafide.Collection{ID: id, Version: src[id].version}, q, 0.99, 0)
		if err != nil || len(got) != 1 || got[0].PersonID != id+"7" {
			t.Fatalf("search %s = %+v, %v", id, got, err)
		}
	}
	search("a")
	search("b")
	search("a") // a is now the more recent
	search("c") // over budget: b goes
	if n, used := x.Kept(); n != 2 || used > x.MaxBytes {
		t.Fatalf("kept %d collections, %d bytes (budget %d)", n, used, x.MaxBytes)
	}
	search("a")
	if src["a"].loads != 1 {
		t.Errorf("a loaded %d times, want once (it stayed)", src["a"].loads)
	}
	search("b")
	if src["b"].loads != 2 {
		t.Errorf("b loaded %d times, want twice (it was let go)", src["b"].loads)
	}
	// A collection larger than the whole budget is searched, and not kept.
	search("huge")
	search("huge")
	if src["huge"].loads != 2 {
		t.Errorf("huge loaded %d times, want on every search", src["huge"].loads)
	}
	if _, used := x.Kept(); used > x.MaxBytes {
		t.Errorf("kept %d bytes over the budget %d", used, x.MaxBytes)
	}
}

// BenchmarkFaceIndexSearch100k is one 1:N search over 100 000 persons of 512-d vectors.
func BenchmarkFaceIndexSearch100k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	src := &fakeSource{version: 1}
	for i := range 100_000 {
		src.vs = append(src.vs, bonafide.FaceVector{PersonID: fmt.Sprint(i), ImageID: fmt.Sprint(i), Vector: randUnit(r, 512)})
	}
	var x FaceIndex
	q := randUnit(r, 512)
	if _, err := x.Search(context.Background(), src, &bonafide.Collection{ID: "c", Version: src.version}, q, 0.5, 10); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.Search(context.Background(), src, &bonafide.Collection{ID: "c", Version: src.version}, q, 0.5, 10); err != nil {
			b.Fatal(err)
		}
	}
}
