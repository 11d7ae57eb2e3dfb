package liveness

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"bonafide/models"
	"bonafide/onnx"
)

// PassiveManifestFile names a passive model set's manifest inside its directory.
const PassiveManifestFile = "passive.json"

// PassiveManifest is passive.json: the passive anti-spoof models of a set, each pinned by sha256,
// with the view it reads, and the fusion calibrated with them. `bonafide train` writes one; the
// engine's shipped set is the models package's.
type PassiveManifest struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Engine      string           `json:"engine,omitempty"` // the engine that wrote the crops it was trained on
	Created     string           `json:"created,omitempty"`
	Models      []PassiveFileRef `json:"models"`
	Calibration string           `json:"calibration"` // the fusion's file in the same directory
}

// PassiveFileRef is one model of a manifest.
type PassiveFileRef struct {
	Signal string `json:"signal"` // the signal its score becomes: passive, passive_wide
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	View   View   `json:"view"`
}

// PassiveSet is a loaded set: the models the engine runs on every full frame, and their fusion.
type PassiveSet struct {
	Name        string
	Description string
	Members     []PassiveMember
	Fusion      *Fusion
}

// PassiveMember is one model of a set and the view it reads.
type PassiveMember struct {
	Signal string
	View   View
	Model  *onnx.Model
}

// passiveSignals are the signals a set's models may feed, in the order the engine reports them;
// every set has a "passive" model.
var passiveSignals = []string{"passive", "passive_wide"}

// PassiveSpec is what the engine expects of a passive model: B,G,R planes of its view in, three
// class logits out (class 0 = live).
func PassiveSpec(name, sha string, v View) onnx.Spec {
	return onnx.Spec{Name: name, File: name, SHA256: sha,
		Inputs:  []onnx.IO{{Name: "input", Shape: []int64{1, 3, int64(v.Size), int64(v.Size)}}},
		Outputs: []onnx.IO{{Name: "output", Shape: []int64{1, 3}}}}
}

// AddPassiveModel loads a passive model's bytes (whose sha256 is sha) into rt for view v. Models
// are named by content, so two sets (or a fold and the final model) never collide.
func AddPassiveModel(rt *onnx.Runtime, sha string, v View, where string, data []byte) (*onnx.Model, error) {
	return rt.AddModel(PassiveSpec("passive-"+sha[:16], sha, v), where, data)
}

// LoadPassiveSet reads a set's manifest, models and calibration from fsys (a directory written by
// `bonafide train`, or the models package) and loads the models into rt. where names the set in
// messages.
func LoadPassiveSet(rt *onnx.Runtime, fsys fs.FS, where string) (*PassiveSet, error) {
	data, err := fs.ReadFile(fsys, PassiveManifestFile)
	if err != nil {
		return nil, fmt.Errorf("passive models %s: %w", where, err)
	}
	var man PassiveManifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("passive models %s: %s is not valid JSON: %w", where, PassiveManifestFile, err)
	}
	if len(man.Models) == 0 {
		return nil, fmt.Errorf("passive models %s: %s lists no model", where, PassiveManifestFile)
	}
	set := &PassiveSet{Name: man.Name, Description: man.Description}
	for _, ref := range man.Models {
		if !slices.Contains(passiveSignals, ref.Signal) {
			return nil, fmt.Errorf("passive models %s: model %s feeds signal %q; the engine has %v", where, ref.File, ref.Signal, passiveSignals)
		}
		if slices.ContainsFunc(set.Members, func(m PassiveMember) bool { return m.Signal == ref.Signal }) {
			return nil, fmt.Errorf("passive models %s: two models feed signal %q", where, ref.Signal)
		}
		if err := ref.View.Validate(); err != nil {
			return nil, fmt.Errorf("passive models %s: model %s: %w", where, ref.File, err)
		}
		if ref.File != path.Base(ref.File) {
			return nil, fmt.Errorf("passive models %s: model file %q must be a plain name in the set's directory", where, ref.File)
		}
		b, err := fs.ReadFile(fsys, ref.File)
		if err != nil {
			return nil, fmt.Errorf("passive models %s: %w", where, err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != ref.SHA256 {
			return nil, fmt.Errorf("passive models %s: %s has sha256 %s, the manifest pins %s", where, ref.File, got, ref.SHA256)
		}
		m, err := AddPassiveModel(rt, ref.SHA256, ref.View, path.Join(where, ref.File), b)
		if err != nil {
			return nil, err
		}
		set.Members = append(set.Members, PassiveMember{Signal: ref.Signal, View: ref.View, Model: m})
	}
	if !slices.ContainsFunc(set.Members, func(m PassiveMember) bool { return m.Signal == "passive" }) {
		return nil, fmt.Errorf("passive models %s: no model feeds the signal \"passive\"", where)
	}
	slices.SortFunc(set.Members, func(a, b PassiveMember) int {
		return slices.Index(passiveSignals, a.Signal) - slices.Index(passiveSignals, b.Signal)
	})
	if man.Calibration != "" {
		cal, err := fs.ReadFile(fsys, man.Calibration)
		if err != nil {
			return nil, fmt.Errorf("passive models %s: %w", where, err)
		}
		f, err := parseFusion(cal, path.Join(where, man.Calibration))
		if err != nil {
			return nil, fmt.Errorf("passive models %s: %w", where, err)
		}
		set.Fusion = f
	}
	return set, nil
}

// ShippedPassiveManifest is the shipped set's passive.json.
func ShippedPassiveManifest() (*PassiveManifest, error) {
	data, err := fs.ReadFile(models.FS, PassiveManifestFile)
	if err != nil {
		return nil, err
	}
	var man PassiveManifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("the shipped %s: %w", PassiveManifestFile, err)
	}
	return &man, nil
}

// ShippedPassiveSet loads the passive models that ship with the engine (the models package).
func ShippedPassiveSet(rt *onnx.Runtime) (*PassiveSet, error) {
	set, err := LoadPassiveSet(rt, models.FS, "(shipped)")
	if err != nil {
		return nil, err
	}
	if set.Fusion == nil {
		return nil, errors.New("liveness: the shipped passive models have no calibration")
	}
	return set, nil
}

// Member returns the set's model for a signal, or nil.
func (s *PassiveSet) Member(signal string) *PassiveMember {
	for i := range s.Members {
		if s.Members[i].Signal == signal {
			return &s.Members[i]
		}
	}
	return nil
}
