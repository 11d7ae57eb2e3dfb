// Package train makes a passive anti-spoof model from labelled captures: the engine writes the
// crops it would feed the model (crops.go), the Python code beside this file fine-tunes and
// exports it (python.go runs it), and the result is a model directory the engine loads.
package train

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"bonafide/eval"
	"bonafide/liveness"
	"bonafide/media"
)

// IndexFile is the crops' table under the crops folder: one row per face crop set.
const IndexFile = "index.tsv"

// CropConfig says which crops to write.
type CropConfig struct {
	Views    []liveness.View
	Close    []float64 // close-range cuts to simulate (liveness.CropOptions.Close)
	Workers  int       // media at once
	Progress io.Writer // progress bar; nil for none
	MaxBytes int64     // files larger than this are skipped with a message (0: no limit)
}

// CropStats count what WriteCrops did.
type CropStats struct {
	Media, Skipped, Reused, Crops int
	Errors                        []string // one line per media that could not be used
}

// cropHeader is the index's columns before the per-view ones.
var cropHeader = []string{"id", "media", "label", "species", "subject", "group", "frame", "close", "context"}

// WriteCrops runs the engine's crop rule over every usable entry and writes dir/<view>/<id>.png
// and dir/index.tsv. base is the manifest's folder: media are named relative to it, and a row
// without a subject is grouped by its first folder under it. It resumes: a media whose crops were
// written by an earlier run (dir/media/<key>.tsv) is not decoded again.
func WriteCrops(ctx context.Context, eng *liveness.Engine, entries []eval.Entry, base, dir string, c CropConfig) (CropStats, error) {
	var st CropStats
	if len(c.Views) == 0 {
		return st, errors.New("train: no view to write")
	}
	for _, sub := range append(viewDirs(c.Views), "media") {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return st, err
		}
	}
	rows := make([][]string, len(entries))
	errs := make([]string, len(entries))
	var reused, skipped atomic.Int64
	var mu sync.Mutex
	sig := cropSignature(c)
	bar := eval.NewBar(c.Progress, len(entries), "crops")
	err := eval.ForEach(ctx, len(entries), c.Workers, bar, func(i int) {
		e := entries[i]
		if e.Error != "" {
			errs[i] = e.Error
			skipped.Add(1)
			return
		}
		name := relName(base, e.Path)
		key := mediaKey(name)
		done := filepath.Join(dir, "media", key+"-"+sig+".tsv") // rows of an earlier run with the same views and cuts
		if data, err := os.ReadFile(done); err == nil {
			// The crops depend on the media only; its label and subject come from this manifest,
			// which may have corrected them since.
			rows[i] = []string{relabel(string(data), e, name)}
			reused.Add(1)
			return
		}
		out, err := cropMedia(ctx, eng, e, name, key, base, dir, c)
		if err != nil {
			mu.Lock()
			errs[i] = fmt.Sprintf("%s: %v", name, err)
			mu.Unlock()
			skipped.Add(1)
			return
		}
		if err := writeAtomic(done, []byte(out)); err != nil {
			errs[i] = fmt.Sprintf("%s: %v", name, err)
			return
		}
		rows[i] = []string{out}
	})
	if err != nil {
		return st, err
	}
	var idx bytes.Buffer
	header := append([]string{}, cropHeader...)
	for _, v := range c.Views {
		header = append(header, v.String(), v.String()+"_landmarks")
	}
	idx.WriteString(strings.Join(header, "\t") + "\n")
	for i, r := range rows {
		if errs[i] != "" {
			st.Errors = append(st.Errors, errs[i])
		}
		for _, part := range r {
			idx.WriteString(part)
			st.Crops += strings.Count(part, "\n")
		}
	}
	st.Media, st.Reused, st.Skipped = len(entries), int(reused.Load()), int(skipped.Load())
	return st, writeAtomic(filepath.Join(dir, IndexFile), idx.Bytes())
}

// cropSignature names the views and close-range cuts a media's rows were written for: a run with
// other views or cuts writes the media again rather than reuse rows with other columns.
func cropSignature(c CropConfig) string {
	var parts []string
	for _, v := range c.Views {
		parts = append(parts, v.String())
	}
	for _, k := range c.Close {
		parts = append(parts, "c"+strconv.FormatFloat(k, 'g', -1, 64))
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, ",")))
	return hex.EncodeToString(sum[:4])
}

// cropMedia writes one media's crops and returns its index rows.
func cropMedia(ctx context.Context, eng *liveness.Engine, e eval.Entry, name, key, base, dir string, c CropConfig) (string, error) {
	if c.MaxBytes > 0 {
		if st, err := os.Stat(e.Path); err == nil && st.Size() > c.MaxBytes {
			return "", fmt.Errorf("larger than %d MiB", c.MaxBytes>>20)
		}
	}
	data, err := os.ReadFile(e.Path)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	n := 0
	err = eng.TrainingCrops(ctx, liveness.Input{Name: filepath.Base(e.Path), Data: data, Tags: e.Tags},
		liveness.CropOptions{Views: c.Views, Close: c.Close}, func(tc liveness.TrainingCrop) error {
			id := fmt.Sprintf("%s_f%03d_c%g", key, tc.Frame, tc.Close)
			row := append(append([]string{id, name}, labels(e, name)...), strconv.Itoa(tc.Frame),
				strconv.FormatFloat(tc.Close, 'g', -1, 64), strconv.FormatFloat(tc.Context, 'f', 3, 64))
			for k, v := range c.Views {
				rel := filepath.ToSlash(filepath.Join(v.String(), id+".png"))
				if err := writePNG(filepath.Join(dir, rel), tc.Views[k]); err != nil {
					return err
				}
				row = append(row, rel, formatLandmarks(tc.Landmarks[k]))
			}
			out.WriteString(strings.Join(row, "\t") + "\n")
			n++
			return nil
		})
	if err != nil {
		var me *media.Error
		if errors.As(err, &me) {
			return "", fmt.Errorf("%s (%s)", me.Msg, me.Code)
		}
		return "", err
	}
	if n == 0 {
		return "", errors.New("no face found in any frame")
	}
	return out.String(), nil
}

func viewDirs(views []liveness.View) []string {
	var out []string
	for _, v := range views {
		out = append(out, v.String())
	}
	return out
}

// labels are a crop row's label, species, subject and group (the subject, or the media's first
// folder when it has none) from the manifest entry: cropHeader's columns from "label" on.
func labels(e eval.Entry, name string) []string {
	group := e.Subject
	if group == "" {
		group = strings.SplitN(filepath.ToSlash(name), "/", 2)[0]
	}
	return []string{e.Label, e.Species, e.Subject, group}
}

// relabel sets the label columns of a media's stored crop rows to the manifest entry's.
func relabel(rows string, e eval.Entry, name string) string {
	lab := labels(e, name)
	var out strings.Builder
	for line := range strings.Lines(rows) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) >= labelColumn+len(lab) {
			copy(f[labelColumn:], lab)
		}
		out.WriteString(strings.Join(f, "\t") + "\n")
	}
	return out.String()
}

// labelColumn is where labels go in a crop row.
var labelColumn = slices.Index(cropHeader, "label")

// relName is path relative to base when under it, else the path itself (slash-separated).
func relName(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(path)
}

// mediaKey names a media's crops: a hash of its manifest name.
func mediaKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:8])
}

func formatLandmarks(lm liveness.Landmarks) string {
	var b strings.Builder
	for i, p := range lm {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f %.1f", p[0], p[1])
	}
	return b.String()
}

// writePNG writes a crop losslessly: the tensor read back from it is the engine's, byte for byte.
func writePNG(path string, img *image.RGBA) error {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if _, err := w.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
