package storeutil

import "strings"

// KeyFolders returns the distinct folder ids that blob keys ("<folder_id>/<file>") name; a key
// without a folder names none.
func KeyFolders(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		f, _, ok := strings.Cut(k, "/")
		if !ok || f == "" || seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, f)
	}
	return out
}
