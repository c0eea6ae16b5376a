package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// servePackages are the folders of the packages flowd serve runs, whose
// environment reads flowd serve -h must list.
var servePackages = []string{"cmd/flowd", "runtime", "plivo", "flow", "xmlgen", "internal/wallclock"}

// TestServeHelpListsEnvironment: flowd serve -h lists exactly the
// environment variables that the code serve runs reads with os.Getenv or
// os.LookupEnv (or a getenv function it is given), plus HOME, which os.UserHomeDir reads for the default
// store.
func TestServeHelpListsEnvironment(t *testing.T) {
	read := map[string]bool{"HOME": true}
	consts := map[string]string{}
	var calls []ast.Expr
	fset := token.NewFileSet()
	for _, dir := range servePackages {
		files, err := filepath.Glob(filepath.Join(repo, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					for i, name := range n.Names {
						if i < len(n.Values) {
							if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[name.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				case *ast.CallExpr:
					// A getenv function value (os.Getenv, passed in so a test
					// can give the environment) reads the variable too.
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "getenv" && len(n.Args) == 1 {
						calls = append(calls, n.Args[0])
					}
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && len(n.Args) == 1 {
						if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv") {
							calls = append(calls, n.Args[0])
						}
					}
				}
				return true
			})
		}
	}
	for _, arg := range calls {
		var name string
		switch a := arg.(type) {
		case *ast.BasicLit:
			name, _ = strconv.Unquote(a.Value)
		case *ast.Ident:
			name = consts[a.Name]
		case *ast.SelectorExpr:
			name = consts[a.Sel.Name]
		}
		if name == "" {
			t.Fatalf("%s: cannot tell which environment variable this reads", fset.Position(arg.Pos()))
		}
		read[name] = true
	}

	var out bytes.Buffer
	if code := run([]string{"serve", "-h"}, nil, &out, os.Stderr); code != exitOK {
		t.Fatalf("flowd serve -h: exit %d", code)
	}
	_, env, ok := strings.Cut(out.String(), "\nenvironment:\n")
	if !ok {
		t.Fatalf("flowd serve -h lists no environment:\n%s", out.String())
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([A-Z][A-Z0-9_]*) +\S`).FindAllStringSubmatch(env, -1) {
		listed[m[1]] = true
	}
	if got, want := slices.Sorted(maps.Keys(listed)), slices.Sorted(maps.Keys(read)); !slices.Equal(got, want) {
		t.Errorf("flowd serve -h lists the environment variables %v; serve reads %v", got, want)
	}
}
