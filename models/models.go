// Package models holds Bonafide's own passive anti-spoof models, trained by `bonafide train` on the
// development set and shipped inside the binary: passive.json (the models, each pinned by sha256,
// and the view each reads), the ONNX files, and calibration.json (the fusion fitted with them).
// README.md beside this file is their model card: data, licence terms, figures, and the command
// that rebuilds them.
package models

import (
	"embed"
	"io/fs"
)

//go:embed passive.json calibration.json *.onnx
var files embed.FS

// FS is the shipped passive model set, laid out as a directory `bonafide train` writes.
var FS fs.FS = files

// Calibration is the shipped fusion calibration (calibration.json).
func Calibration() []byte {
	data, err := files.ReadFile("calibration.json")
	if err != nil {
		panic("models: calibration.json is not embedded: " + err.Error())
	}
	return data
}
