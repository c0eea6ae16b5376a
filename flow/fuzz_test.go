package flow_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/flowd-dev/flowd/flow"
)

// FuzzCompile compiles arbitrary input as a flow file. It must never
// panic; every diagnostic must point inside the file (line and column at
// least 1, and at most one past the end of a line); and a compiled graph
// must have a start node.
//
//	go test ./flow -run XXX -fuzz FuzzCompile -fuzztime 5m
//
// Inputs that failed are kept in testdata/fuzz/FuzzCompile and run by
// go test as regression cases.
func FuzzCompile(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{
		"testdata/broken/*.yaml", "testdata/broken/*/*.yaml", "testdata/pos/*.yaml", "../examples/flows/*.yaml",
	} {
		m, _ := filepath.Glob(pattern)
		seeds = append(seeds, m...)
	}
	for _, path := range seeds {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		g, ds := flow.Compile("f.yaml", src)
		lines := yamlLines(src)
		for _, d := range ds {
			if d.Pos.File != "f.yaml" {
				t.Errorf("diagnostic names another file: %s", d)
			}
			if d.Pos.Line < 1 || d.Pos.Col < 1 {
				t.Fatalf("diagnostic without a place: %s", d)
			}
			if d.Pos.Line > len(lines) {
				t.Fatalf("line %d is past the end of a %d-line file: %s", d.Pos.Line, len(lines), d)
			}
			if n := utf8.RuneCount(lines[d.Pos.Line-1]); d.Pos.Col > n+1 {
				t.Fatalf("column %d is past the end of line %d (%d characters): %s", d.Pos.Col, d.Pos.Line, n, d)
			}
			if d.Message == "" || d.Code == "" {
				t.Fatalf("diagnostic without a message or code: %#v", d)
			}
		}
		if g == nil {
			if !ds.HasErrors(false) {
				t.Fatalf("no graph and no error:\n%s", ds.Error())
			}
			return
		}
		if ds.HasErrors(false) {
			t.Fatalf("a graph despite errors:\n%s", ds.Error())
		}
		if g.Start == nil {
			t.Fatal("compiled graph has no start node")
		}
		if g.Node(g.Start.ID) != g.Start {
			t.Fatalf("start node %s is not in the graph", g.Start.ID)
		}
	})
}

// yamlLines splits src into lines as YAML counts them: at LF, CR LF, a
// lone CR, and yaml.v3's Unicode breaks NEL, LS and PS.
func yamlLines(src []byte) [][]byte {
	var lines [][]byte
	start := 0
	for i := 0; i < len(src); {
		n := 0
		switch {
		case bytes.HasPrefix(src[i:], []byte("\r\n")):
			n = 2
		case src[i] == '\r' || src[i] == '\n':
			n = 1
		case bytes.HasPrefix(src[i:], []byte("\u0085")):
			n = 2
		case bytes.HasPrefix(src[i:], []byte("\u2028")), bytes.HasPrefix(src[i:], []byte("\u2029")):
			n = 3
		}
		if n == 0 {
			i++
			continue
		}
		lines = append(lines, src[start:i])
		i += n
		start = i
	}
	return append(lines, src[start:])
}
