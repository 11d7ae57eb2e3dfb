// Package importcheck checks the import rules of docs/architecture.md over the module's packages
// (their non-test imports, as `go list` reports them). `make test` runs it.
package importcheck

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "bonafide"

// The module's packages by role. Every package must be in one: a new package fails the test until
// it is placed, so the rules keep up with the tree.
var (
	root = module
	// adapters implement the root interfaces over one dependency each; only cmd/bonafide wires them.
	adapters = []string{"api", "blob", "console", "jobs", "pipeline", "postgres", "sqlite", "sweep", "webhook", "web/capture"}
	// engine is the analysis code: bytes or frames in, scores and reasons out; models holds the
	// shipped passive weights, train makes new ones.
	engine = []string{"liveness", "media", "media/sniff", "onnx", "eval", "train", "models"}
	// leaves import nothing of the module: media/sniff, which the API uses to tell an upload's
	// kind with the decoder's own rule.
	leaves = []string{"media/sniff"}
	// shared helpers that adapters may use.
	helpers = []string{"internal/storeutil", "internal/sqlstore", "internal/assets", "internal/synth", "internal/oascheck", "internal/password", "internal/service"}
	// test support: imported by tests only (storetest is the stores' conformance suite).
	testSupport = []string{"internal/testkit", "storetest", "internal/importcheck", "internal/browsertest"}
	commands    = []string{"cmd/bonafide"}
)

// pending are the violations known when the check was written, each with the change that removes
// it. An entry that no longer matches a real import fails the test too, so the list only shrinks:
// empty it as those changes merge.
var pending = map[[2]string]string{}

// pkg is one package of the module: its direct imports and all its dependencies, module-relative.
type pkg struct {
	imports, deps []string
}

func load(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 3 {
			t.Fatalf("go list line %q", sc.Text())
		}
		pkgs[rel(parts[0])] = pkg{imports: ours(parts[1]), deps: ours(parts[2])}
	}
	return pkgs
}

// rel is a module path relative to the module ("" for the root package).
func rel(path string) string {
	if path == module {
		return ""
	}
	return strings.TrimPrefix(path, module+"/")
}

// ours keeps the module's own packages of a space-separated list, module-relative.
func ours(list string) []string {
	var out []string
	for _, p := range strings.Fields(list) {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, rel(p))
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	pkgs := load(t)
	if _, ok := pkgs["jobs"]; !ok || len(pkgs) < 10 {
		t.Fatalf("go list found %d packages of %s; run from inside the module", len(pkgs), module)
	}
	known := slices.Concat([]string{""}, adapters, engine, helpers, testSupport, commands)
	for name := range pkgs {
		if !slices.Contains(known, name) {
			t.Errorf("package %s/%s has no role in internal/importcheck: add it to one (and to the rules if needed)", module, name)
		}
	}
	used := map[[2]string]bool{}
	violation := func(from, to, rule string) {
		if _, ok := pending[[2]string{from, to}]; ok {
			used[[2]string{from, to}] = true
			return
		}
		t.Errorf("%s imports %s: %s", show(from), show(to), rule)
	}
	for name, p := range pkgs {
		switch {
		case name == "":
			// The root package holds domain types and service interfaces only.
			for _, d := range p.deps {
				if slices.Contains(adapters, d) || slices.Contains(engine, d) {
					violation(name, d, "the root package imports no adapter and no engine package")
				}
			}
		case slices.Contains(adapters, name):
			for _, d := range p.imports {
				if slices.Contains(adapters, d) {
					violation(name, d, "adapters never import each other; only cmd/bonafide wires them")
				}
			}
			if name == "api" || name == "jobs" {
				for _, d := range p.deps {
					if d == "liveness" || d == "media" || d == "onnx" || d == "train" || d == "models" {
						violation(name, d, "api and jobs reach the engine through the root package's interface, not directly")
					}
				}
			}
		case slices.Contains(engine, name):
			for _, d := range p.deps {
				if slices.Contains(adapters, d) {
					violation(name, d, "the engine knows nothing about HTTP, SQL or tenants")
				}
			}
		}
		if slices.Contains(leaves, name) {
			for _, d := range p.deps {
				violation(name, d, "a leaf package imports nothing of the module")
			}
		}
		if !slices.Contains(testSupport, name) {
			for _, d := range p.deps {
				if slices.Contains(testSupport, d) {
					violation(name, d, "test support is for tests only")
				}
			}
		}
	}
	for pair, why := range pending {
		if !used[pair] {
			t.Errorf("pending exception %s -> %s (%s) no longer happens: remove it from the list", show(pair[0]), show(pair[1]), why)
		}
	}
}

func show(name string) string {
	if name == "" {
		return module
	}
	return module + "/" + name
}
