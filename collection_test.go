package bonafide

import (
	"fmt"
	"testing"
)

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
