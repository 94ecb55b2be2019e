// Package layout_test checks the repository's shape: dependencies point one
// way (cmd -> ingress -> actors -> persistence), the agent and the loadgen
// never import the server, and every package says what it is for.
package layout_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/nexmdm/nexmdm/"

// forbidden maps a folder to the module folders it must not import.
var forbidden = map[string][]string{
	"agent":       {"cmd", "ingress", "actors", "persistence", "migrations", "loadgen"},
	"loadgen":     {"cmd", "ingress", "actors", "persistence", "migrations"},
	"persistence": {"cmd", "ingress", "actors", "agent", "loadgen"},
	"actors":      {"cmd", "ingress", "agent", "loadgen"},
	"ingress":     {"cmd", "agent", "loadgen"},
	"migrations":  {"cmd", "ingress", "actors", "persistence", "agent", "loadgen"},
}

type pkg struct {
	imports map[string]bool
	doc     bool
	main    bool
}

func scan(t *testing.T) map[string]*pkg {
	t.Helper()
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		p := pkgs[dir]
		if p == nil {
			p = &pkg{imports: map[string]bool{}}
			pkgs[dir] = p
		}
		p.main = p.main || f.Name.Name == "main"
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") ||
			f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Command ") {
			p.doc = true
		}
		for _, imp := range f.Imports {
			p.imports[strings.Trim(imp.Path.Value, `"`)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func TestDependenciesPointOneWay(t *testing.T) {
	pkgs := scan(t)
	for _, want := range []string{"cmd/nexmdm", "actors", "ingress", "persistence/pgstore", "agent/client"} {
		if pkgs[want] == nil {
			t.Fatalf("scan did not find %s: the layout check would check nothing", want)
		}
	}
	if !pkgs["persistence/pgstore"].imports[module+"persistence"] {
		t.Fatal("scan does not see imports")
	}
	for dir, p := range pkgs {
		top := strings.SplitN(dir, "/", 2)[0]
		for imp := range p.imports {
			rest, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			target := strings.SplitN(rest, "/", 2)[0]
			for _, bad := range forbidden[top] {
				if target == bad {
					t.Errorf("%s imports %s: %s must not depend on %s", dir, imp, top, bad)
				}
			}
		}
	}
}

func TestEveryPackageSaysWhatItIsFor(t *testing.T) {
	for dir, p := range scan(t) {
		if !p.doc {
			t.Errorf("%s has no package doc comment (// Package x ... or // Command x ...)", dir)
		}
	}
}
