package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`:                            `SELECT 1`,
		`a = ? AND b = ?`:                     `a = $1 AND b = $2`,
		`x LIKE ? ESCAPE E'\\' OR id = ?`:     `x LIKE $1 ESCAPE E'\\' OR id = $2`,
		`'?' = ? AND "a?" = ?`:                `'?' = $1 AND "a?" = $2`,
		`(m ->> ?::text) = ?::text LIMIT ?`:   `(m ->> $1::text) = $2::text LIMIT $3`,
		`json_extract(r.value, '$.k') IN (?)`: `json_extract(r.value, '$.k') IN ($1)`,
	} {
		if got := Rebind(in); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	for n, want := range map[int]string{0: "", 1: "?", 3: "?, ?, ?"} {
		if got := Placeholders(n); got != want {
			t.Errorf("Placeholders(%d) = %q, want %q", n, got, want)
		}
	}
}
