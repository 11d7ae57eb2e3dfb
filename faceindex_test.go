package bonafide

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type fakeSource struct {
	version int64
	vs      []FaceVector
	loads   int
}

func (f *fakeSource) GetFolder(ctx context.Context, id string) (*Folder, error) {
	return nil, NotFound("folder", id)
}
func (f *fakeSource) GetCollection(ctx context.Context, id string) (*Collection, error) {
	return &Collection{ID: id, Version: f.version}, nil
}
func (f *fakeSource) CollectionVectors(ctx context.Context, id string) (int64, []FaceVector, error) {
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
		src.vs = append(src.vs, FaceVector{PersonID: fmt.Sprintf("p%d", i%500), ImageID: fmt.Sprintf("i%d", i), Vector: randUnit(r, 512)})
	}
	var x FaceIndex
	q := src.vs[42].Vector
	got, err := x.Search(t.Context(), src, "c", q, 0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PersonID != "p42" || got[0].ImageID != "i42" || math.Abs(got[0].Cosine-1) > 1e-5 {
		t.Fatalf("search = %+v, want p42/i42 at 1", got)
	}
	if _, err := x.Search(t.Context(), src, "c", q, 0.5, 0); err != nil || src.loads != 1 {
		t.Fatalf("second search loaded again (%d loads, %v)", src.loads, err)
	}
	// Another node added a person: the version moved, the next search sees it.
	src.version, src.vs = 2, append(src.vs, FaceVector{PersonID: "new", ImageID: "inew", Vector: q})
	got, _ = x.Search(t.Context(), src, "c", q, 0.5, 0)
	if src.loads != 2 || len(got) != 2 || got[0].PersonID != "new" && got[1].PersonID != "new" {
		t.Fatalf("after a change: %+v (%d loads)", got, src.loads)
	}
	got, _ = x.Search(t.Context(), src, "c", q, 0.5, 1)
	if len(got) != 1 {
		t.Fatalf("limit 1: %d matches", len(got))
	}
	got, _ = x.Search(t.Context(), src, "c", q, -1, 0)
	if len(got) != 501 {
		t.Fatalf("every person: %d, want 501 (best image per person)", len(got))
	}
}

func TestVectorEncoding(t *testing.T) {
	v := []float32{1, -0.5, 3.25}
	got, err := DecodeVector(EncodeVector(v))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(v) {
		t.Fatalf("round trip %v -> %v (%v)", v, got, err)
	}
	if _, err := DecodeVector([]byte{1, 2, 3}); err == nil {
		t.Fatal("3 bytes decoded")
	}
}

// BenchmarkFaceIndexSearch100k is one 1:N search over 100 000 persons of 512-d vectors.
func BenchmarkFaceIndexSearch100k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	src := &fakeSource{version: 1}
	for i := range 100_000 {
		src.vs = append(src.vs, FaceVector{PersonID: fmt.Sprint(i), ImageID: fmt.Sprint(i), Vector: randUnit(r, 512)})
	}
	var x FaceIndex
	q := randUnit(r, 512)
	if _, err := x.Search(context.Background(), src, "c", q, 0.5, 10); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.Search(context.Background(), src, "c", q, 0.5, 10); err != nil {
			b.Fatal(err)
		}
	}
}
