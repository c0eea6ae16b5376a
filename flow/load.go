package flow

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Compile decodes, checks and compiles one flow file. The graph is nil
// when any diagnostic is an error; warnings come back with a graph.
func Compile(path string, src []byte) (*Graph, Diagnostics) {
	f, ds := Decode(path, src)
	if f != nil {
		ds = append(ds, Check(f)...)
	}
	ds.Sort()
	if f == nil || ds.HasErrors(false) {
		return nil, ds
	}
	g, err := compile(f)
	if err != nil {
		// The checker accepts only what xmlgen can write; reaching here is a
		// bug in flowd, reported at the file rather than hidden.
		ds = append(ds, Diagnostic{Pos: Pos{File: path}, Severity: Error, Code: CodeValue, Message: err.Error()})
		return nil, ds
	}
	return g, ds
}

// Set is a group of flows loaded together, as `flowd validate` and
// `flowd serve` load a folder.
type Set struct {
	Graphs map[string]*Graph // by flow name
	Diags  Diagnostics
	Files  int
}

// IsFlowFile reports whether a path names a flow file: .yaml or .yml, not
// a flow test (*_test.yaml), and not hidden or an editor's leftover (.x.yaml,
// Emacs' .#x.yaml lock and #x.yaml# autosave; x.yaml~ and .x.yaml.swp
// fail the extension test).
func IsFlowFile(path string) bool {
	ext := filepath.Ext(path)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	if base := filepath.Base(path); strings.HasPrefix(base, ".") || strings.HasPrefix(base, "#") {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(path, ext), "_test")
}

// FindFiles expands paths into flow files: files are taken as given,
// folders are searched recursively for flow files. The result is sorted.
func FindFiles(paths []string, match func(string) bool) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
					return filepath.SkipDir
				}
				return nil
			}
			if match(path) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadFiles compiles every file and reports every problem of every file in
// one run, including flow names used twice.
func LoadFiles(files []string) (*Set, error) {
	s := &Set{Graphs: map[string]*Graph{}, Files: len(files)}
	first := map[string]Pos{}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		g, ds := Compile(path, src)
		s.Diags = append(s.Diags, ds...)
		if g == nil {
			continue
		}
		if p, ok := first[g.Name]; ok {
			s.Diags = append(s.Diags, Diagnostic{Pos: g.NamePos, Severity: Error, Code: CodeDuplicateFlow,
				Message: fmt.Sprintf("flow %s is already defined at %s; give this file another flow: name, or remove one of the two", g.Name, p)})
			continue
		}
		first[g.Name] = g.NamePos
		s.Graphs[g.Name] = g
	}
	linkFolder(s)
	return s, nil
}
