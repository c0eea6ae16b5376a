// Package testenv is what flowd's tests share about the world outside Go:
// the repository root, the fixed clock every test runs at, the -update
// flag, and the programs and Node.js packages some tests need.
//
// A test that needs a missing program skips with a message that says how
// to install it; under CI=true it fails instead, so CI never passes
// without running the SDK oracle, Graphviz, mermaid and Redis checks.
// Every package's TestMain runs through Main, which prints the skips in
// one summary line that `go test ./...` shows even without -v.
package testenv

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/flowd-dev/flowd/internal/wallclock"
)

// Update is the -update flag of every test binary: tests rewrite their
// golden and generated files from the actual output instead of comparing.
var Update = flag.Bool("update", false, "rewrite golden and generated files from the actual output")

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ClockEnv names the environment variable that moves the clock of a whole
// test run: "open" (the default), "closed", or an RFC 3339 time.
const ClockEnv = "FLOWD_TEST_CLOCK"

// The two instants the example flows' hours() are tested at: a Monday
// morning, inside every example's hours, and a Sunday morning, outside
// them all (America/New_York).
var (
	Open   = time.Date(2026, 11, 23, 10, 0, 0, 0, zone("America/New_York"))
	Closed = time.Date(2026, 11, 22, 10, 0, 0, 0, zone("America/New_York"))
)

func zone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// ClockStart returns the instant a test run's clock starts at: Open,
// unless FLOWD_TEST_CLOCK says otherwise. Tests that do not care which
// side of the hours they run on use it (through wallclock, or as
// `flowd serve --clock` for processes they start); running the suite
// with FLOWD_TEST_CLOCK=open and =closed proves they do not care.
func ClockStart() time.Time {
	switch v := os.Getenv(ClockEnv); v {
	case "", "open":
		return Open
	case "closed":
		return Closed
	default:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: want open, closed or an RFC 3339 time", ClockEnv, v))
		}
		return t
	}
}

var fixOnce sync.Once

// FixClock replaces the wall clock of this process with one that starts
// at ClockStart and advances with real time. Main calls it; a process a
// test re-executes (testscript's commands) calls it itself.
//
// The clock reads FLOWD_TEST_CLOCK the first time it is read, inside a
// test, where go test notices the variable: a package's cached results
// are then used only for the same FLOWD_TEST_CLOCK.
func FixClock() {
	fixOnce.Do(func() {
		var once sync.Once
		var start, base time.Time
		real := wallclock.Now
		wallclock.Now = func() time.Time {
			once.Do(func() { start, base = ClockStart(), real() })
			return start.Add(real().Sub(base))
		}
	})
}

// M is what testing.M and testscript.Main share.
type M interface{ Run() int }

// Main runs a package's tests at the fixed clock, prints the summary of
// skipped checks, and exits. Every test package calls it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m M) { os.Exit(Wrap(m).Run()) }

// Wrap returns m with Main's set-up and summary around its Run, for a
// TestMain that hands m to another runner (testscript.Main).
func Wrap(m M) M { return wrapped{m} }

type wrapped struct{ m M }

func (w wrapped) Run() int {
	FixClock()
	code := w.m.Run()
	summary()
	return code
}

var (
	skipMu sync.Mutex
	skips  = map[string][]string{} // reason → tests
)

// CI reports whether the tests run in CI (CI=true), where a missing
// program is a failure, never a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips t because of reason (what is missing and how to get it),
// or fails it under CI=true.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true and %s", reason)
		return
	}
	skipMu.Lock()
	skips[reason] = append(skips[reason], t.Name())
	skipMu.Unlock()
	t.Skip(reason)
}

// summary prints one line per reason tests were skipped for. go test
// shows a passing package's output only with -v, so without -v the line
// goes to the go command's own standard error: the skipped checks stay
// visible in `go test ./...`.
func summary() {
	skipMu.Lock()
	defer skipMu.Unlock()
	if len(skips) == 0 {
		return
	}
	w := summaryWriter()
	if c, ok := w.(io.Closer); ok {
		defer c.Close()
	}
	pkg := packageName()
	for _, reason := range slices.Sorted(maps.Keys(skips)) {
		tests := skips[reason]
		fmt.Fprintf(w, "%s: skipped %d test(s) (%s): %s\n", pkg, len(tests), strings.Join(tests, ", "), reason)
	}
}

// summaryWriter is the go command's standard error when this test binary
// was started by it (Linux: /proc), else this process's.
func summaryWriter() io.Writer {
	if testing.Verbose() {
		return os.Stdout
	}
	ppid := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return os.Stderr
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", ppid), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return os.Stderr
	}
	return f
}

// packageName is the import path of the package under test, from the
// test binary's directory (go test runs it in the package's folder).
func packageName() string {
	wd, err := os.Getwd()
	if err != nil {
		return "flowd"
	}
	rel, err := filepath.Rel(Root(), wd)
	if err != nil || strings.HasPrefix(rel, "..") {
		return filepath.Base(wd)
	}
	return "flowd/" + filepath.ToSlash(rel)
}

// LookPath returns the path of a program the test needs, or skips the test
// (fails under CI) saying how to install it.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, fmt.Sprintf("%s is not installed (%s)", name, install))
	}
	return p
}

// NodeModules returns the node_modules folder of a package.json folder
// under the repository (tools/sdk, tools/mermaid). Tests never install
// it: `.ci/run` does (or `npm ci --prefix DIR`). When Node.js or the
// packages are missing, or node_modules is older than the lockfile, the
// test skips (fails under CI).
func NodeModules(t testing.TB, dir string) string {
	t.Helper()
	LookPath(t, "node", "Debian: apt-get install nodejs npm")
	abs := filepath.Join(Root(), dir)
	mods := filepath.Join(abs, "node_modules")
	if err := NodeModulesCurrent(abs); err != nil {
		Missing(t, fmt.Sprintf("%v: run npm ci --prefix %s", err, dir))
	}
	return mods
}

// NodeModulesCurrent reports whether dir/node_modules holds what
// dir/package-lock.json locks: npm writes node_modules/.package-lock.json
// on every install, a copy of the lock's packages.
func NodeModulesCurrent(dir string) error {
	hidden, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return fmt.Errorf("%s/node_modules is not installed", filepath.Base(dir))
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	if hidden.ModTime().Before(lock.ModTime()) {
		return fmt.Errorf("%s/node_modules is older than its package-lock.json", filepath.Base(dir))
	}
	return nil
}

// CheckCommitted compares a committed generated file (a schema, the
// reference) with what generate makes now, or rewrites it under -update;
// regen is the command that does, for the failure message.
func CheckCommitted(t testing.TB, path string, generate func() ([]byte, error), regen string) {
	t.Helper()
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	if *Update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run %s (%v)", strings.TrimPrefix(path, "../"), regen, err)
	}
}

// CompileSchema compiles a generated JSON Schema (2020-12, formats
// asserted) as an editor's validator would, under its id.
func CompileSchema(t testing.TB, generate func() ([]byte, error), id string) *jsonschema.Schema {
	t.Helper()
	b, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ReadFile returns a file's bytes, or fails the test.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// LiveHeap collects garbage and returns the bytes the Go heap then
// holds: what a test of memory held off or on the heap compares.
func LiveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Buffer is a bytes.Buffer that a server's goroutines may write to while
// a test reads it (its log, a child process's output).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
