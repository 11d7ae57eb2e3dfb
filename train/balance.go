package train

import (
	"bytes"
	"path/filepath"

	"bonafide/eval"
)

// balanceFile is the table, under the training directory, of the live media whose apparent skin
// tone the groups table gives (passive.py fit --balance reads it).
const balanceFile = "balance-skin.tsv"

// writeBalance writes dir/balanceFile: each usable live entry whose apparent skin tone g gives
// (not "unknown"), named as in the crops' index (relative to base), with that group. It returns how
// many media it lists.
func writeBalance(dir string, entries []eval.Entry, base string, g *eval.Groups) (string, int, error) {
	skin := g.Key("skin")
	var b bytes.Buffer
	b.WriteString("media\tgroup\n")
	n := 0
	for _, e := range entries {
		if e.Error != "" || e.Label != eval.Live {
			continue
		}
		v := skin(eval.Sample{Path: e.Path, Label: e.Label, Subject: e.Subject})
		if v == "" || v == "unknown" {
			continue
		}
		b.WriteString(relName(base, e.Path) + "\t" + v + "\n")
		n++
	}
	path := filepath.Join(dir, balanceFile)
	return path, n, writeAtomic(path, b.Bytes())
}
