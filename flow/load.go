package flow

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Compile decodes, checks and compiles one flow file. The graph is nil
// when any diagnostic is an error; warnings come back with a graph.
func Compile(path string, src []byte) (*Graph, Diagnostics) {
	g, _, _, _, ds := compileFile(path, src)
	return g, ds
}

// brokenFile is a flow file with errors, as the flows of its folder see
// it: they are told that a subflow's file has errors rather than that it
// does not exist, and a flow that it runs is not said to be run by none.
type brokenFile struct {
	path string
	// calls are its subflow nodes, returns its return nodes; known unless
	// its YAML is broken (unknown).
	calls, returns []brokenSite
	unknown        bool
	// given says the file was loaded to be checked itself (not only found
	// in its folder): the problems its folder shows are reported with its
	// own, so that fixing it does not bring up new ones.
	given bool
}

// brokenSite is a node of a broken file that its folder has a say on: a
// subflow node (the flow it runs, written at pos) or a return node.
type brokenSite struct {
	node, flow string
	pos        Pos
}

// compileFile is Compile, also returning the file's flow name and where
// it is declared, known when the file has errors too (unless its YAML
// is broken: then the file's base name), and, when it has errors, what
// its folder needs to know of it.
func compileFile(path string, src []byte) (g *Graph, name string, namePos Pos, broken *brokenFile, ds Diagnostics) {
	f, ds := Decode(path, src)
	namePos = Pos{File: path, Line: 1, Col: 1}
	name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if f != nil {
		ds = append(ds, Check(f)...)
		name, namePos = f.Name, f.NamePos
	}
	ds.Sort()
	if f == nil || ds.HasErrors(false) {
		broken = &brokenFile{path: path, unknown: f == nil}
		if f != nil {
			for _, nd := range f.Nodes {
				switch a := nd.action.(type) {
				case *subflowDecl:
					if a.name != "" {
						broken.calls = append(broken.calls, brokenSite{node: nd.ID, flow: a.name, pos: a.namePos})
					}
				case *returnDecl:
					broken.returns = append(broken.returns, brokenSite{node: nd.ID, pos: nd.Pos})
				}
			}
		}
		return nil, name, namePos, broken, ds
	}
	g, err := compile(f)
	if err != nil {
		// The checker accepts only what xmlgen can write; reaching here is a
		// bug in flowd, reported at the file rather than hidden.
		ds = append(ds, Diagnostic{Pos: Pos{File: path}, Severity: Error, Code: CodeValue, Message: err.Error()})
		return nil, name, namePos, &brokenFile{path: path}, ds
	}
	return g, name, namePos, nil, ds
}

// Set is a group of flows loaded together, as `flowd validate` and
// `flowd serve` load a folder.
type Set struct {
	Graphs map[string]*Graph // by flow name
	Diags  Diagnostics
	Files  int
	// broken are the flows whose files have errors, by name.
	broken map[string]*brokenFile
}

// MaxFileSize bounds a flow file (and the other files flowd reads beside
// flows: flow tests, params, recorded answers). A flow of a thousand nodes
// is under 100 KiB; a file far larger is a mistake — a log named .yaml, a
// link to /dev/zero — that would otherwise take the server's memory on a
// reload.
const MaxFileSize = 4 << 20

// ReadFile reads a file flowd loads: only a regular file (a named pipe
// would block the reload forever, a device never end), and at most
// MaxFileSize bytes. Its errors say which, for a diagnostic.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		switch t := fi.Mode().Type(); {
		case t&fs.ModeDir != 0:
			what = "a folder"
		case t&fs.ModeNamedPipe != 0:
			what = "a named pipe"
		case t&fs.ModeSocket != 0:
			what = "a socket"
		case t&fs.ModeDevice != 0:
			what = "a device"
		}
		return nil, fmt.Errorf("%s is %s, not a file", path, what)
	}
	if fi.Size() > MaxFileSize {
		return nil, tooLarge(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		return nil, tooLarge(path) // it grew since Stat
	}
	return src, nil
}

func tooLarge(path string) error {
	return fmt.Errorf("%s is larger than %d MiB, the most a flow file may be", path, MaxFileSize>>20)
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
	s := &Set{Graphs: map[string]*Graph{}, Files: len(files), broken: map[string]*brokenFile{}}
	first := map[string]Pos{}
	for _, path := range files {
		src, err := ReadFile(path)
		if err != nil {
			// One file that cannot be read is that file's error; the
			// others are still checked.
			s.Diags = append(s.Diags, Diagnostic{Pos: Pos{File: path}, Severity: Error, Code: CodeUnreadable, Message: "cannot read the file: " + err.Error()})
			continue
		}
		g, name, namePos, broken, ds := compileFile(path, src)
		s.Diags = append(s.Diags, ds...)
		// A name is taken by the first file that declares it, with errors
		// or not: the second is reported either way.
		if p, ok := first[name]; ok {
			s.Diags = append(s.Diags, Diagnostic{Pos: namePos, Severity: Error, Code: CodeDuplicateFlow,
				Message: fmt.Sprintf("flow %s is already defined at %s; give this file another flow: name, or remove one of the two", name, p)})
			continue
		}
		first[name] = namePos
		if g == nil {
			broken.given = true
			s.broken[name] = broken
			continue
		}
		s.Graphs[g.Name] = g
	}
	linkFolder(s)
	return s, nil
}
