package eval

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SyntheticWarning is the line a report carries when its attacks include synthetic media.
const SyntheticWarning = "Attacks include synthetic media made by `bonafide synth`: these figures are a development check, not accuracy."

// Files WriteReport writes into its directory.
const (
	MetricsFile    = "metrics.json"
	ScoresFile     = "scores.tsv"
	DETFile        = "det.png"
	DETSignalsFile = "det_signals.png"
	HistFile       = "hist.png"
	MarkdownFile   = "report.md"
	HTMLFile       = "report.html"
)

// scoresColumns are the fixed leading columns of scores.tsv; score columns follow (the fusion,
// then each signal).
var scoresColumns = []string{"path", "label", "species", "subject", "sha256", "fta", "error", "reasons"}

// WriteReport creates dir and writes the report of one evaluation run into it: metrics.json,
// scores.tsv (enough to recompute every metric), the DET curves (det.png, det_signals.png), the
// score histograms (hist.png), report.md and a self-contained report.html.
func WriteReport(dir string, r *Report) error {
	if r == nil {
		return errors.New("eval: nil report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}

	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: %s: %w", MetricsFile, err)
	}
	if err := write(MetricsFile, append(js, '\n')); err != nil {
		return err
	}

	signals := reportSignals(r)
	var tsv bytes.Buffer
	if err := WriteScoresTSV(&tsv, r.Samples, signals); err != nil {
		return err
	}
	if err := write(ScoresFile, tsv.Bytes()); err != nil {
		return err
	}

	species := reportSpecies(r)
	figures := []struct {
		file, alt string
		draw      func() ([]byte, error)
	}{
		{DETFile, "DET curves of the fusion score, per attack species and worst species", func() ([]byte, error) { return plotDET(r, species) }},
		{DETSignalsFile, "DET curves of the fusion and of each signal alone", func() ([]byte, error) { return plotDETSignals(r, signals) }},
		{HistFile, "Fusion score histograms of live presentations and of each attack species", func() ([]byte, error) { return plotHist(r, species) }},
	}
	view := buildView(r)
	for _, f := range figures {
		png, err := f.draw()
		if err != nil {
			return fmt.Errorf("eval: %s: %w", f.file, err)
		}
		if err := write(f.file, png); err != nil {
			return err
		}
		view.Figures = append(view.Figures, figureView{
			File: f.file,
			Alt:  f.alt,
			Data: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		})
	}

	if err := write(MarkdownFile, []byte(renderMarkdown(view))); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := htmlReport.Execute(&page, view); err != nil {
		return fmt.Errorf("eval: %s: %w", HTMLFile, err)
	}
	return write(HTMLFile, page.Bytes())
}

// reportSignals are the signal columns of a report: r.Signals, or every score the samples carry
// besides the fusion when the report names none.
func reportSignals(r *Report) []string {
	if len(r.Signals) > 0 {
		return r.Signals
	}
	var out []string
	for _, name := range ScoreNames(r.Samples) {
		if name != FusionScore {
			out = append(out, name)
		}
	}
	return out
}

// reportSpecies are the attack species with a fusion score in a report, sorted.
func reportSpecies(r *Report) []string {
	seen := map[string]bool{}
	for _, m := range r.Metrics {
		if m.Score == FusionScore {
			for sp := range m.Species {
				seen[sp] = true
			}
		}
	}
	for _, s := range r.Samples {
		if v, ok := s.Scores[FusionScore]; ok && !math.IsNaN(v) && s.Label == Attack && s.Error == "" {
			seen[s.Species] = true
		}
	}
	out := make([]string, 0, len(seen))
	for sp := range seen {
		out = append(out, sp)
	}
	sort.Strings(out)
	return out
}

// tsvField makes a value safe for one cell of a tab-separated file.
func tsvField(s string) string {
	return strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// formatScore writes a score with 6 decimals, or with every digit it needs when 6 would not read
// back to the same float64, so that metrics recomputed from scores.tsv are exactly those reported.
func formatScore(v float64) string {
	s := strconv.FormatFloat(v, 'f', 6, 64)
	if back, err := strconv.ParseFloat(s, 64); err == nil && back == v {
		return s
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// WriteScoresTSV writes one row per sample: path, label, species, subject, sha256, fta (1 or 0),
// error, reasons (the result's reason codes, comma-separated), then the fusion score and each signal's score (an empty cell when not measured).
func WriteScoresTSV(w io.Writer, samples []Sample, signals []string) error {
	bw := bufio.NewWriter(w)
	scores := append([]string{FusionScore}, signals...)
	header := append(append([]string{}, scoresColumns...), scores...)
	for i := range header {
		header[i] = tsvField(header[i])
	}
	bw.WriteString(strings.Join(header, "\t"))
	bw.WriteByte('\n')
	row := make([]string, 0, len(header))
	for _, s := range samples {
		fta := "0"
		if s.FTA {
			fta = "1"
		}
		row = append(row[:0], s.Path, s.Label, s.Species, s.Subject, s.SHA256, fta, s.Error, strings.Join(s.Reasons, ","))
		for i := range row {
			row[i] = tsvField(row[i])
		}
		for _, name := range scores {
			cell := ""
			if v, ok := s.Scores[name]; ok {
				cell = formatScore(v)
			}
			row = append(row, cell)
		}
		bw.WriteString(strings.Join(row, "\t"))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseScoresTSV reads a scores.tsv back into samples, with Scores filled from its score columns
// (every column after the fixed ones; empty cells are scores not measured).
func ParseScoresTSV(r io.Reader) ([]Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("eval: scores.tsv: empty file")
	}
	header := strings.Split(strings.TrimSuffix(sc.Text(), "\r"), "\t")
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, name := range []string{"path", "label"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("eval: scores.tsv: no %q column", name)
		}
	}
	fixed := map[string]bool{}
	for _, name := range scoresColumns {
		fixed[name] = true
	}
	var samples []Sample
	line := 1
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if text == "" {
			continue
		}
		cells := strings.Split(text, "\t")
		if len(cells) != len(header) {
			return nil, fmt.Errorf("eval: scores.tsv line %d: %d cells, want %d", line, len(cells), len(header))
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return cells[i]
			}
			return ""
		}
		s := Sample{
			Path:    get("path"),
			Label:   get("label"),
			Species: get("species"),
			Subject: get("subject"),
			SHA256:  get("sha256"),
			Error:   get("error"),
		}
		if r := get("reasons"); r != "" {
			s.Reasons = strings.Split(r, ",")
		}
		switch f := get("fta"); f {
		case "", "0", "false":
		case "1", "true":
			s.FTA = true
		default:
			return nil, fmt.Errorf("eval: scores.tsv line %d: bad fta %q", line, f)
		}
		for i, name := range header {
			if fixed[name] || cells[i] == "" {
				continue
			}
			v, err := strconv.ParseFloat(cells[i], 64)
			if err != nil {
				return nil, fmt.Errorf("eval: scores.tsv line %d: %s: %w", line, name, err)
			}
			if s.Scores == nil {
				s.Scores = map[string]float64{}
			}
			s.Scores[name] = v
		}
		samples = append(samples, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return samples, nil
}

// The report's content, shared by report.md and report.html.

type reportView struct {
	Title     string
	Synthetic bool
	Warning   string
	// WarningHTML is Warning for report.html, with its command as code.
	WarningHTML template.HTML
	Info        [][2]string // label, value
	Models      []string
	Counts      [][2]string
	Sections    []sectionView
	Figures     []figureView
	Breakdowns  []Breakdown
	Meanings    [][2]string // metric, sentence
}

type sectionView struct {
	Title string
	Note  string
	Rows  []rowView
}

type rowView struct {
	Metric    string
	Value     string
	Counts    string
	CI        string
	Threshold string
	Strong    bool // a headline figure
}

type figureView struct {
	File string
	Alt  string
	Data template.URL
}

const naText = "n/a"

func fmtPct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return naText
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}

func fmtThr(t float64) string {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return naText
	}
	return strconv.FormatFloat(t, 'f', 4, 64)
}

func rateRow(metric string, r Rate, threshold float64) rowView {
	row := rowView{Metric: metric, Value: naText, Counts: fmt.Sprintf("%d/%d", r.Count, r.Total), CI: naText, Threshold: fmtThr(threshold)}
	if r.Defined {
		row.Value = fmtPct(r.Value)
		row.CI = fmtPct(r.CI.Low) + " – " + fmtPct(r.CI.High)
	}
	return row
}

func buildView(r *Report) *reportView {
	v := &reportView{Title: r.Title, Synthetic: r.Synthetic}
	if v.Title == "" {
		v.Title = "Bonafide liveness evaluation"
	}
	if r.Synthetic {
		v.Warning = SyntheticWarning
		v.WarningHTML = template.HTML(strings.Replace(template.HTMLEscapeString(SyntheticWarning),
			"`bonafide synth`", "<code>bonafide synth</code>", 1))
	}
	orDash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	created := "—"
	if !r.Created.IsZero() {
		created = r.Created.UTC().Format(time.RFC3339)
	}
	v.Info = [][2]string{
		{"Input", orDash(r.Input)},
		{"Engine", orDash(r.Engine)},
		{"Calibration", orDash(r.Calibration)},
		{"Threshold", strconv.FormatFloat(r.Threshold, 'g', -1, 64) + " (a media is declared an attack when its score is ≥ the threshold)"},
		{"Created", created},
		{"Run", fmt.Sprintf("%.1f s, %d results from the cache", r.Seconds, r.Cached)},
	}
	v.Models = r.Models

	// Counts over the samples themselves.
	var live, attacks, fta, errs int
	perSpecies := map[string]int{}
	for _, s := range r.Samples {
		switch {
		case s.Error != "":
			errs++
			continue
		case s.Label == Live:
			live++
		case s.Label == Attack:
			attacks++
			perSpecies[s.Species]++
		}
		if s.FTA {
			fta++
		}
	}
	if errs == 0 {
		errs = r.Errors
	}
	v.Counts = [][2]string{
		{"Samples", strconv.Itoa(len(r.Samples))},
		{"Live", strconv.Itoa(live)},
		{"Attacks", strconv.Itoa(attacks)},
	}
	for _, sp := range sortedKeys(perSpecies) {
		v.Counts = append(v.Counts, [2]string{"Attacks: " + sp, strconv.Itoa(perSpecies[sp])})
	}
	v.Counts = append(v.Counts,
		[2]string{"No face acquired (FTA)", strconv.Itoa(fta)},
		[2]string{"Errors (left out of every rate)", strconv.Itoa(errs)},
	)

	for _, m := range r.Metrics {
		v.Sections = append(v.Sections, metricsSection(m))
	}
	v.Breakdowns = r.Breakdowns
	v.Meanings = metricMeanings
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func metricsSection(m Metrics) sectionView {
	title := "Fusion"
	if m.Score != FusionScore {
		title = "Signal alone: " + m.Score
	}
	sec := sectionView{
		Title: title,
		Note: fmt.Sprintf("Score %q: %d live and %d attack samples scored, %d without this score (left out).",
			m.Score, m.Live, m.Attacks, m.Missing),
	}
	at := m.AtThreshold
	for _, sp := range sortedKeys(at.APCER) {
		sec.Rows = append(sec.Rows, rateRow("APCER "+sp, at.APCER[sp], at.Threshold))
	}
	maxRow := rateRow("max APCER", at.MaxAPCER, at.Threshold)
	if at.WorstSpecies != "" {
		maxRow.Metric += " (" + at.WorstSpecies + ")"
	}
	maxRow.Strong = true
	bp := rateRow("BPCER", at.BPCER, at.Threshold)
	bp.Strong = true
	sec.Rows = append(sec.Rows, maxRow, bp)

	acer := rowView{Metric: "ACER", Value: naText, Counts: "—", CI: "—", Threshold: fmtThr(at.Threshold)}
	if at.MaxAPCER.Defined && at.BPCER.Defined {
		acer.Value = fmtPct(at.ACER)
	}
	eer := rowView{Metric: "EER", Value: naText, Counts: "—", CI: "—", Threshold: naText}
	if m.Live > 0 && m.Attacks > 0 {
		eer.Value, eer.Threshold = fmtPct(m.EER), fmtThr(m.EERThreshold)
	}
	sec.Rows = append(sec.Rows, acer, eer,
		rateRow("BPCER20 (BPCER at max APCER ≤ 5%)", m.BPCER20.BPCER, m.BPCER20.Threshold),
		rateRow("BPCER100 (BPCER at max APCER ≤ 1%)", m.BPCER100.BPCER, m.BPCER100.Threshold),
		rateRow("max APCER at BPCER ≤ 1%", m.APCERAtBPCER1.MaxAPCER, m.APCERAtBPCER1.Threshold),
		rateRow("max APCER at BPCER ≤ 5%", m.APCERAtBPCER5.MaxAPCER, m.APCERAtBPCER5.Threshold),
	)
	fta := rateRow("FTA", m.FTA, math.NaN())
	fta.Threshold = "—"
	sec.Rows = append(sec.Rows, fta)
	return sec
}

var metricMeanings = [][2]string{
	{"APCER", "Attack presentation classification error rate of one attack species: the share of its attacks accepted as live at the threshold."},
	{"max APCER", "The APCER of the worst species, the headline APCER, since an attacker chooses the weakest spot."},
	{"BPCER", "Bona fide presentation classification error rate: the share of live presentations rejected as attacks at the threshold."},
	{"ACER", "The mean of max APCER and BPCER; an academic convenience, never to be quoted instead of the figures above."},
	{"EER", "The equal error rate, where max APCER and BPCER meet as the threshold moves, with the threshold where that happens."},
	{"BPCER20", "The BPCER at the highest threshold whose max APCER is at most 5% (one attack in 20 accepted)."},
	{"BPCER100", "The BPCER at the highest threshold whose max APCER is at most 1% (one attack in 100 accepted)."},
	{"APCER@BPCER", "The max APCER at the lowest threshold whose BPCER is at most 1% or 5% of live presentations rejected."},
	{"FTA", "Failure to acquire: the share of analysed media where no face was found; they keep their fail-closed attack score of 1 in the rates above and are counted here as well."},
	{"Wilson interval", "The 95% Wilson score confidence interval of a proportion k/n, which stays honest for small sets and for rates near 0% or 100%."},
}

// mdCell makes text safe for one markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

func renderMarkdown(v *reportView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", strings.ReplaceAll(v.Title, "\n", " "))
	if v.Warning != "" {
		fmt.Fprintf(&b, "> **⚠ WARNING: %s**\n\n", v.Warning)
	}
	for _, kv := range v.Info {
		fmt.Fprintf(&b, "- **%s:** %s\n", kv[0], kv[1])
	}
	if len(v.Models) > 0 {
		b.WriteString("- **Models:**\n")
		for _, m := range v.Models {
			fmt.Fprintf(&b, "  - `%s`\n", m)
		}
	}
	b.WriteString("\n## Counts\n\n| | count |\n|---|---:|\n")
	for _, kv := range v.Counts {
		fmt.Fprintf(&b, "| %s | %s |\n", mdCell(kv[0]), kv[1])
	}
	for _, sec := range v.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", sec.Title, sec.Note)
		b.WriteString("| metric | value | k/n | 95% Wilson interval | threshold |\n|---|---:|---:|---|---:|\n")
		for _, row := range sec.Rows {
			metric, value := mdCell(row.Metric), row.Value
			if row.Strong {
				metric, value = "**"+metric+"**", "**"+value+"**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", metric, value, row.Counts, row.CI, row.Threshold)
		}
	}
	for _, bd := range v.Breakdowns {
		b.WriteString(bd.markdown())
	}
	if len(v.Figures) > 0 {
		b.WriteString("\n## Figures\n\n")
		for _, f := range v.Figures {
			fmt.Fprintf(&b, "![%s](%s)\n\n", f.Alt, f.File)
		}
	}
	b.WriteString("\n## What each metric means\n\n")
	for _, kv := range v.Meanings {
		fmt.Fprintf(&b, "- **%s**: %s\n", kv[0], kv[1])
	}
	return b.String()
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{"rate": rateCell, "auc": aucCell}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #222; background: #fff; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; }
.warning { background: #fff3cd; border: 2px solid #e0a800; color: #6b4f00; padding: .8rem 1rem; border-radius: 6px; font-weight: 600; font-size: 1.05rem; }
dl.info { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dl.info dt { font-weight: 600; }
dl.info dd { margin: 0; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .93rem; }
th, td { padding: .32rem .7rem; border-bottom: 1px solid #e3e3e3; text-align: left; }
th { background: #f4f5f7; border-bottom: 2px solid #ccc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.strong td { font-weight: 700; }
tbody tr:nth-child(even) { background: #fafafa; }
.note { color: #555; font-size: .92rem; }
code { background: #f4f5f7; padding: .05rem .3rem; border-radius: 3px; font-size: .88em; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; border: 1px solid #e3e3e3; }
figcaption { color: #555; font-size: .9rem; }
dl.meanings dt { font-weight: 700; margin-top: .5rem; }
dl.meanings dd { margin-left: 1.2rem; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Warning}}<p class="warning">&#9888; WARNING: {{.WarningHTML}}</p>
{{end}}<dl class="info">
{{range .Info}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>
{{end}}{{if .Models}}<dt>Models</dt><dd>{{range .Models}}<code>{{.}}</code><br>{{end}}</dd>
{{end}}</dl>
<h2>Counts</h2>
<table>
<tbody>
{{range .Counts}}<tr><td>{{index . 0}}</td><td class="num">{{index . 1}}</td></tr>
{{end}}</tbody>
</table>
{{range .Sections}}<h2>{{.Title}}</h2>
<p class="note">{{.Note}}</p>
<table>
<thead><tr><th>metric</th><th>value</th><th>k/n</th><th>95% Wilson interval</th><th>threshold</th></tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Strong}} class="strong"{{end}}><td>{{.Metric}}</td><td class="num">{{.Value}}</td><td class="num">{{.Counts}}</td><td class="num">{{.CI}}</td><td class="num">{{.Threshold}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{range .Breakdowns}}<h2>{{.Title}}</h2>
{{if .Note}}<p class="note">{{.Note}}</p>
{{end}}<table><thead><tr><th scope="col">group</th><th scope="col">live</th><th scope="col">BPCER</th><th scope="col">FTA</th><th scope="col">attacks</th><th scope="col">APCER</th><th scope="col">AUC</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Group}}</td><td class="num">{{.Live}}</td><td class="num">{{rate .BPCER}}</td><td class="num">{{.FTA}}</td><td class="num">{{.Attacks}}</td><td class="num">{{rate .APCER}}</td><td class="num">{{auc .AUC}}</td></tr>
{{end}}</tbody></table>
{{with .Differential}}<p>BPCER differential (worst group {{.Worst}} over best group {{.Best}}): {{printf "%.2f" .Value}} (95% CI {{printf "%.2f" .CI.Low}}–{{printf "%.2f" .CI.High}}).</p>
{{end}}{{end}}{{if .Figures}}<h2>Figures</h2>
{{range .Figures}}<figure><img src="{{.Data}}" alt="{{.Alt}}"><figcaption>{{.Alt}} ({{.File}})</figcaption></figure>
{{end}}{{end}}<h2>What each metric means</h2>
<dl class="meanings">
{{range .Meanings}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>
{{end}}</dl>
</body>
</html>
`))
