package flow_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/testenv"
)

// updating reports whether -update was given: golden files are rewritten
// instead of compared.
func updating() bool { return *testenv.Update }

// A corpus case is one flow file compiled alone, or a folder of flow files
// loaded together as flowd validate loads a folder (duplicate flow names).
type corpusCase struct {
	name   string   // the .golden file beside the case, without .golden
	files  []string // the flow files, relative to the package
	diags  flow.Diagnostics
	graphs int // flows that compiled
}

// loadCorpus compiles every case under dir: each *.yaml file, and each
// subfolder as a set. Golden files are <file>.golden and <folder>.golden.
func loadCorpus(t testing.TB, dir string) []*corpusCase {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []*corpusCase
	for _, e := range entries {
		path := filepath.ToSlash(filepath.Join(dir, e.Name()))
		switch {
		case e.IsDir():
			files, err := filepath.Glob(filepath.Join(path, "*.yaml"))
			if err != nil || len(files) == 0 {
				t.Fatalf("%s: no flow files (%v)", path, err)
			}
			for i := range files {
				files[i] = filepath.ToSlash(files[i])
			}
			slices.Sort(files)
			set, err := flow.LoadFiles(files)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, &corpusCase{name: path, files: files, diags: set.Diags, graphs: len(set.Graphs)})
		case strings.HasSuffix(e.Name(), ".yaml"):
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g, ds := flow.Compile(path, src)
			c := &corpusCase{name: path, files: []string{path}, diags: ds}
			if g != nil {
				c.graphs = 1
			}
			cases = append(cases, c)
		}
	}
	return cases
}

func diagLines(ds flow.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if updating() {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./flow -run 'Corpus|Positions' -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func TestCorpus(t *testing.T) {
	cases := loadCorpus(t, "testdata/broken")
	broken := 0
	for _, c := range cases {
		t.Run(filepath.Base(c.name), func(t *testing.T) {
			checkGolden(t, strings.TrimSuffix(c.name, ".yaml")+".golden", diagLines(c.diags))
			for _, d := range c.diags {
				if d.Pos.Line < 1 || d.Pos.Col < 1 {
					t.Errorf("no line and column: %s", d)
				}
				if !slices.Contains(c.files, d.Pos.File) {
					t.Errorf("diagnostic names a file outside the case: %s", d)
				}
			}
		})
		if c.diags.HasErrors(false) {
			broken++
		}
	}
	if broken < 45 {
		t.Errorf("the corpus has %d broken cases, want at least 45", broken)
	}
}

// TestCorpusCoversEveryCode asserts that every documented code is produced
// by at least one corpus case, so every code's message has been read.
func TestCorpusCoversEveryCode(t *testing.T) {
	hit := map[flow.Code][]string{}
	for _, c := range loadCorpus(t, "testdata/broken") {
		for _, d := range c.diags {
			hit[d.Code] = append(hit[d.Code], c.name)
		}
	}
	// A file that cannot be read (a named pipe, a device) cannot live in a
	// corpus kept in git: TestReadFileRefuses makes one.
	hit[flow.CodeUnreadable] = []string{"TestReadFileRefuses"}
	// Nor would the dozens of files a flow needs to unfold too far.
	hit[flow.CodeUnfolds] = []string{"TestSubflowsUnfoldBounded"}
	// Only flowd serve's reload knows the deployment's param values.
	hit[flow.CodeParamValue] = []string{"runtime.TestReloadRejectsUnresolvedParams"}
	for _, doc := range flow.CodeDocs {
		if len(hit[doc.Code]) == 0 {
			t.Errorf("no corpus case produces %s (%s)", doc.Code, doc.Summary)
		}
	}
	for code := range hit {
		if !slices.ContainsFunc(flow.CodeDocs, func(d flow.CodeDoc) bool { return d.Code == code }) {
			t.Errorf("code %s is produced but not documented in CodeDocs", code)
		}
	}
}

// TestCorpusReportsEverything asserts that one run reports every mistake of
// a newcomer's flow, not just the first.
func TestCorpusReportsEverything(t *testing.T) {
	for _, name := range []string{"newcomer-support", "newcomer-twilio"} {
		path := "testdata/broken/" + name + ".yaml"
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, ds := flow.Compile(path, src)
		codes := map[flow.Code]bool{}
		for _, d := range ds {
			codes[d.Code] = true
		}
		if len(ds) < 6 || len(codes) < 5 {
			t.Errorf("%s: %d diagnostics of %d codes, want at least 6 of 5 codes:\n%s", name, len(ds), len(codes), ds.Error())
		}
	}
}

// TestPositions pins the column of expression errors inside every kind of
// YAML scalar: each line of a golden names the exact line and column.
func TestPositions(t *testing.T) {
	for _, c := range loadCorpus(t, "testdata/pos") {
		t.Run(filepath.Base(c.name), func(t *testing.T) {
			if len(c.diags) == 0 {
				t.Fatal("a position case must report something")
			}
			checkGolden(t, strings.TrimSuffix(c.name, ".yaml")+".golden", diagLines(c.diags))
		})
	}
}

func diagText(ds flow.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// A file with errors validated alone is linked with its folder too: its
// subflow nodes and return nodes are reported with its own errors, and the
// folder's other files only serve to find subflows and callers.
func TestBrokenFileAloneSeesItsFolder(t *testing.T) {
	dir := filepath.Join("testdata", "broken", "brokenlinks")
	for _, c := range []struct{ file, want string }{
		{"typo-caller.yaml", `typo-caller.yaml:5:17: error: node s runs subflow kidd, which is no flow of this folder (did you mean "kid"?) [unknown-subflow]`},
		{"lonely.yaml", `lonely.yaml:5:3: error: node done returns, but no flow of this folder runs lonely as a subflow; end the call with Hangup, or run this flow from another with subflow: lonely [return-outside-subflow]`},
	} {
		set, err := flow.LoadFiles([]string{filepath.Join(dir, c.file)})
		if err != nil {
			t.Fatal(err)
		}
		got := diagLines(set.Diags)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s alone: want the line\n%s\ngot\n%s", c.file, c.want, got)
		}
		for _, other := range []string{"caller.yaml", "broken-kid.yaml", "other.yaml", "kid.yaml"} {
			if strings.Contains(got, "/"+other+":") {
				t.Errorf("%s alone reports another file of its folder (%s):\n%s", c.file, other, got)
			}
		}
	}
}

// Another file of the folder with the same flow name, broken too, does not
// take the place of the file validated.
func TestBrokenFileAloneBesideItsNamesake(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	given := write("a.yaml", "flow: same\nnodes:\n  s: { subflow: nowhere, next: z }\n  z: { Speek: x }\n")
	write("b.yaml", "flow: same\nnodes:\n  s: { Play: {} }\n")
	set, err := flow.LoadFiles([]string{given})
	if err != nil {
		t.Fatal(err)
	}
	if got := diagLines(set.Diags); !strings.Contains(got, "a.yaml:3:17: error: node s runs subflow nowhere, which is no flow of this folder [unknown-subflow]") {
		t.Errorf("a.yaml alone, beside b.yaml of the same flow name:\n%s", got)
	}
}
