package eval

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Groups are apparent demographic groups of live media, read from a table of ids such as
// docs/devset-demographics.tsv: one row per subject (every media of that subject) or per media
// path (sources whose subjects are not labelled), with a skin column (Fitzpatrick-like I-II,
// III-IV, V-VI) and an age column. Only ids are in the table, never pictures.
type Groups struct {
	subject map[string][2]string
	media   map[string][2]string
}

// MinGroupLive is the fewest live media a group needs to enter a BPCER differential.
const MinGroupLive = 20

// GroupAttrs are the attributes a Groups table gives, in column order.
var GroupAttrs = []string{"skin", "age"}

// LoadGroups reads a groups table: a TSV whose lines starting with # are comments and whose header
// names key, kind (subject or media), skin and age.
func LoadGroups(path string) (*Groups, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g := &Groups{subject: map[string][2]string{}, media: map[string][2]string{}}
	sc := bufio.NewScanner(f)
	var col map[string]int
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cells := strings.Split(text, "\t")
		if col == nil {
			col = map[string]int{}
			for i, c := range cells {
				col[strings.TrimSpace(c)] = i
			}
			for _, need := range []string{"key", "kind", "skin", "age"} {
				if _, ok := col[need]; !ok {
					return nil, fmt.Errorf("%s: the header has no %q column (want key, kind, skin, age)", path, need)
				}
			}
			continue
		}
		get := func(name string) string {
			if i := col[name]; i < len(cells) {
				return strings.TrimSpace(cells[i])
			}
			return ""
		}
		v := [2]string{get("skin"), get("age")}
		switch get("kind") {
		case "subject":
			g.subject[get("key")] = v
		case "media":
			g.media[strings.TrimPrefix(get("key"), "/")] = v
		default:
			return nil, fmt.Errorf("%s:%d: kind %q is neither subject nor media", path, line, get("kind"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(g.subject)+len(g.media) == 0 {
		return nil, fmt.Errorf("%s: no group rows", path)
	}
	return g, nil
}

// Key returns the function that gives a live sample's value of attr ("skin" or "age"): by its media
// path (matched as the path's tail, so a manifest under another folder still matches), else by its
// subject; "" for attacks and unlisted media, which BreakdownBy leaves out. A subject id of a
// combined manifest may carry a prefix ("pinned:...") and is matched as written.
func (g *Groups) Key(attr string) func(Sample) string {
	i := 0
	if attr == "age" {
		i = 1
	}
	return func(s Sample) string {
		if s.Label != Live {
			return ""
		}
		p := strings.ReplaceAll(s.Path, "\\", "/")
		for {
			if v, ok := g.media[p]; ok {
				return v[i]
			}
			j := strings.IndexByte(p, '/')
			if j < 0 {
				break
			}
			p = p[j+1:]
		}
		if v, ok := g.subject[s.Subject]; ok {
			return v[i]
		}
		return ""
	}
}

// DemographicBreakdowns are the BPCER per apparent skin tone and per apparent age of the live
// media the table covers, each with its differential (worst group's BPCER over the best's) among
// groups of at least minLive live media; "unknown" groups are shown but not compared.
func (g *Groups) DemographicBreakdowns(samples []Sample, score string, threshold float64, minLive int) []Breakdown {
	var out []Breakdown
	for _, attr := range GroupAttrs {
		key := g.Key(attr)
		title := map[string]string{"skin": "Per apparent skin tone (live media)", "age": "Per apparent age (live media)"}[attr]
		b := BreakdownBy(samples, score, threshold, title, key)
		known := b
		known.Rows = nil
		for _, r := range b.Rows {
			if r.Group != "unknown" {
				known.Rows = append(known.Rows, r)
			}
		}
		b.Differential = known.WithDifferential(minLive).Differential
		b.Note = fmt.Sprintf("Groups labelled by eye (apparent, not self-reported); the differential compares groups with at least %d live media, 'unknown' left out.", minLive)
		out = append(out, b)
	}
	return out
}
