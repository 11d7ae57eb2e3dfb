package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Entry is one row of a manifest: a media file and its label.
type Entry struct {
	Path    string
	Label   string
	Species string
	Subject string
	Tags    []string
	Line    int    // manifest line (0 for a directory walk)
	Error   string // why the row is unusable (bad label, ...); the run reports it and goes on
}

// mediaExt are the file endings a directory walk takes as media.
var mediaExt = []string{".jpg", ".jpeg", ".png", ".webp", ".bmp", ".mp4", ".mov", ".webm", ".mkv", ".avi", ".mpeg", ".mpg", ".zip"}

// Load reads a manifest file (TSV or CSV with a header naming at least `path` and `label`, and
// optionally `species`, `subject`, `tags`) or walks a directory laid out as `live/...` and
// `attack/<species>/...`. Relative paths in a manifest are taken from the manifest's folder.
func Load(path string) ([]Entry, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	if st.IsDir() {
		return walk(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	return ParseManifest(f, filepath.Dir(path), path)
}

// ParseManifest reads manifest rows; base resolves relative paths; name is for messages.
func ParseManifest(r io.Reader, base, name string) ([]Entry, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("eval: %s: %w", name, err)
	}
	rows, get, err := readTable(data, name, "columns: path, label, species, subject, tags", "path", "label")
	if err != nil {
		return nil, err
	}
	var out []Entry
	for n, row := range rows[1:] {
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		e := Entry{Line: n + 2, Path: get(row, "path"), Subject: get(row, "subject")}
		if e.Path != "" && !filepath.IsAbs(e.Path) {
			e.Path = filepath.Join(base, e.Path)
		}
		e.Label, e.Species, e.Error = label(get(row, "label"), get(row, "species"))
		if e.Path == "" {
			e.Error = "the path is empty"
		}
		if t := get(row, "tags"); t != "" {
			e.Tags = append(e.Tags, strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })...)
		}
		if e.Error != "" {
			e.Error = fmt.Sprintf("%s line %d: %s", name, e.Line, e.Error)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval: %s has a header but no rows", name)
	}
	return out, nil
}

// readTable parses a TSV (when the header has a tab) or CSV file whose header names at least the
// columns need (any case, any order; # starts a comment line). get reads a row's cell by column
// name ("" when absent); about describes the format for messages.
func readTable(data []byte, name, about string, need ...string) (rows [][]string, get func(row []string, key string) string, err error) {
	text := strings.TrimPrefix(string(data), "\ufeff")
	first, _, _ := strings.Cut(text, "\n")
	cr := csv.NewReader(strings.NewReader(text))
	if strings.Contains(first, "\t") {
		cr.Comma = '\t'
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.Comment = '#'
	rows, err = cr.ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("eval: %s is not a readable TSV or CSV file: %w", name, err)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("eval: %s is empty: it needs a header with at least the columns %s", name, strings.Join(need, ", "))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, n := range need {
		if _, ok := col[n]; !ok {
			return nil, nil, fmt.Errorf("eval: %s: the header %q has no %q column (%s)", name, strings.Join(rows[0], ","), n, about)
		}
	}
	get = func(row []string, key string) string {
		i, ok := col[key]
		if !ok || i >= len(row) {
			return ""
		}
		return strings.TrimSpace(row[i])
	}
	return rows, get, nil
}

func label(l, species string) (string, string, string) {
	switch strings.ToLower(l) {
	case Live, "bonafide", "bona fide", "real", "genuine":
		return Live, "", ""
	case Attack, "spoof", "fake", "pa":
		s := strings.ToLower(strings.ReplaceAll(species, " ", "_"))
		if s == "" {
			s = "unspecified"
		}
		return Attack, s, ""
	}
	return "", "", fmt.Sprintf("the label %q is neither live nor attack", l)
}

// walk lists live/... and attack/<species>/... media files in name order.
func walk(root string) ([]Entry, error) {
	var out []Entry
	for _, top := range []string{Live, Attack} {
		dir := filepath.Join(root, top)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != dir {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !slices.Contains(mediaExt, strings.ToLower(filepath.Ext(p))) {
				return nil
			}
			e := Entry{Path: p, Label: top}
			if top == Attack {
				rel, _ := filepath.Rel(dir, p)
				parts := strings.Split(filepath.ToSlash(rel), "/")
				e.Species = "unspecified"
				if len(parts) > 1 {
					e.Species = strings.ToLower(parts[0])
				}
			}
			out = append(out, e)
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("eval: %w", err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval: %s holds no media under live/ or attack/<species>/", root)
	}
	return out, nil
}
