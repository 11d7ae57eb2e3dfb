package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"bonafide/eval"
	"bonafide/liveness"
	"bonafide/media"
)

// analyzeOutput is one file's verdict: the Oz-shaped fields first, then the evidence.
type analyzeOutput struct {
	File        string `json:"file"`
	SHA256      string `json:"sha256,omitempty"`
	ResultsData *struct {
		ConfidenceSpoofing float64 `json:"confidence_spoofing"`
	} `json:"results_data,omitempty"`
	*liveness.Result
	BestShotFile string     `json:"best_shot_file,omitempty"`
	Error        *fileError `json:"error,omitempty"`
}

type fileError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("analyze", analyzeUsage, stderr)
	var ef engineFlags
	ef.register(fs, true)
	tags := fs.String("tags", "", "comma-separated Oz media tags, e.g. video_selfie_blank or video_selfie_eyes")
	bestDir := fs.String("best-shot", "", "write each file's best face crop as JPEG into this directory")
	asJSON := fs.Bool("json", false, "print machine-readable JSON (one object per file, as a JSON array)")
	if code, done := parse(fs, args); done {
		return code
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintln(stderr, "bonafide analyze: no files given (see 'bonafide analyze --help')")
		return 2
	}
	if *bestDir != "" {
		if err := os.MkdirAll(*bestDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "bonafide analyze: --best-shot: %v\n", err)
			return 2
		}
	}
	eng, closeFn, err := ef.open()
	if err != nil {
		fmt.Fprintf(stderr, "bonafide analyze: %v\n", err)
		return 1
	}
	defer closeFn()

	var outs []analyzeOutput
	failed := 0
	for i, path := range files {
		if ctx.Err() != nil {
			break
		}
		out := analyzeFile(ctx, eng, path, strings.Split(*tags, ","), *bestDir)
		if out.Error != nil {
			failed++
			fmt.Fprintf(stderr, "bonafide analyze: %s\n", out.Error.Message)
		}
		if *asJSON {
			outs = append(outs, out)
		} else {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			printHuman(stdout, out)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(outs); err != nil {
			fmt.Fprintf(stderr, "bonafide analyze: %v\n", err)
			return 1
		}
	}
	if failed > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}

func analyzeFile(ctx context.Context, eng *liveness.Engine, path string, tags []string, bestDir string) analyzeOutput {
	out := analyzeOutput{File: path}
	data, err := os.ReadFile(path)
	if err != nil {
		out.Error = &fileError{Code: "READ_ERROR", Message: fmt.Sprintf("%s: cannot read the file: %v", path, eval.UnwrapPath(err))}
		return out
	}
	sum := sha256.Sum256(data)
	out.SHA256 = hex.EncodeToString(sum[:])
	res, err := eng.Analyze(ctx, liveness.Input{Name: path, Data: data, Tags: tags})
	if err != nil {
		var me *media.Error
		if errors.As(err, &me) {
			out.Error = &fileError{Code: string(me.Code), Message: me.Error()}
		} else {
			out.Error = &fileError{Code: "INTERNAL", Message: fmt.Sprintf("%s: %v", path, err)}
		}
		return out
	}
	out.Result = res
	out.ResultsData = &struct {
		ConfidenceSpoofing float64 `json:"confidence_spoofing"`
	}{res.ConfidenceSpoofing}
	if bestDir != "" && res.BestShot != nil {
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".best.jpg"
		p := filepath.Join(bestDir, name)
		shot, err := res.BestShot.JPEG()
		if err == nil {
			err = os.WriteFile(p, shot, 0o644)
		}
		if err != nil {
			out.Error = &fileError{Code: "WRITE_ERROR", Message: fmt.Sprintf("%s: writing the best shot: %v", path, err)}
		} else {
			out.BestShotFile = p
		}
	}
	return out
}

func printHuman(w io.Writer, o analyzeOutput) {
	if o.Error != nil {
		fmt.Fprintf(w, "%s  ERROR  %s\n", o.File, o.Error.Message)
		return
	}
	r := o.Result
	fmt.Fprintf(w, "%s  %s  confidence_spoofing=%.4f (threshold %.2f)\n", o.File, r.ResolutionStatus, r.ConfidenceSpoofing, r.Threshold)
	m := r.Media
	desc := fmt.Sprintf("%s %s %dx%d", m.Kind, m.Format, m.Width, m.Height)
	if m.Codec != "" {
		desc += fmt.Sprintf(" %s %.1fs", m.Codec, m.Duration)
	}
	fmt.Fprintf(w, "  media:   %s, %d frames analysed in %.0f ms, sha256 %s\n", desc, m.Frames, r.Timing.TotalMS, o.SHA256)
	if len(r.Tags) > 0 {
		fmt.Fprintf(w, "  tags:    %s\n", strings.Join(r.Tags, ","))
	}
	if len(r.Reasons) == 0 {
		fmt.Fprintln(w, "  reasons: none")
	}
	for _, x := range r.Reasons {
		fmt.Fprintf(w, "  reason:  %-20s %s\n", x.Code, x.Message)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  signal\tscore\tweight\tvalue\tdetail")
	for _, s := range r.Signals {
		score := "-"
		if s.Score != nil {
			score = fmt.Sprintf("%.3f", *s.Score)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.1f\t%.4f\t%s\n", s.Name, score, s.Weight, s.Value, s.Detail)
	}
	tw.Flush()
	for _, c := range r.Challenges {
		met := "NOT MET"
		if c.Met {
			met = "met"
		}
		fmt.Fprintf(w, "  challenge %s (%s): %s, measured %.2f, needed %.2f\n", c.Tag, c.Action, met, c.Measured, c.Needed)
	}
	if b := r.BestShot; b != nil {
		fmt.Fprintf(w, "  best shot: frame %d at %.2fs, box %.0f,%.0f-%.0f,%.0f, quality %.2f", b.Frame, b.Time, b.Box.X1, b.Box.Y1, b.Box.X2, b.Box.Y2, b.Quality)
		if o.BestShotFile != "" {
			fmt.Fprintf(w, " -> %s", o.BestShotFile)
		}
		fmt.Fprintln(w)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  frame\ttime\tfaces\tbox\tsize\tsharp\tbright\tquality\tpassive\tyaw\tpitch\t")
	for _, f := range r.Frames {
		if f.Box == nil {
			fmt.Fprintf(tw, "  %d\t%.2f\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t\n", f.Index, f.Time, f.Faces)
			continue
		}
		q := f.Quality
		if q == nil {
			q = &liveness.Quality{}
		}
		fmt.Fprintf(tw, "  %d\t%.2f\t%d\t%.0f,%.0f-%.0f,%.0f\t%.2f\t%.0f\t%.0f\t%.2f\t%s\t%s\t%s\t\n", f.Index, f.Time, f.Faces,
			f.Box.X1, f.Box.Y1, f.Box.X2, f.Box.Y2, q.FaceRatio, q.Sharpness, q.Brightness, q.Score,
			opt(f.Passive, "%.3f"), opt(f.Yaw, "%.1f"), opt(f.Pitch, "%.1f"))
	}
	tw.Flush()
	fmt.Fprintf(w, "  engine:  %s, calibration %s\n", r.Engine.Version, r.Engine.Calibration)
	for _, mi := range r.Engine.Models {
		fmt.Fprintf(w, "    %-10s %-19s sha256:%s\n", mi.Name, mi.File, mi.SHA256)
	}
}

func opt(p *float64, format string) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf(format, *p)
}

const analyzeUsage = `Usage: bonafide analyze [flags] FILE...

Analyses each photo (JPEG, PNG, WebP, BMP), video (mp4, mov, webm, mkv, avi, mpeg) or zip shot set
and prints how likely it is that the face was not a live person (confidence_spoofing), the verdict
at the threshold (SUCCESS or DECLINED), the reasons, every signal, a per-frame summary and the
best shot. A file that cannot be read is reported and the others are still analysed; the exit
status is 1 when any file failed, 0 otherwise (a DECLINED verdict is not a failure).

Flags:
`
