package runtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/testenv"
)

// greetFlow is a flow any prefix of which past its first line compiles:
// half of it is a valid-looking flow that says half a sentence.
const greetFlow = "nodes:\n  greet:\n    Speak: Thanks for calling Example Corp. Your call may be recorded for quality.\n    next: bye\n  bye:\n    Hangup: {}\n"

func supportFlow(prompt string) string {
	return "flow: support\nnodes:\n  greet:\n    Speak: " + prompt + "\n    next: bye\n  bye:\n    Hangup: {}\n"
}

func version(t *testing.T, path, src string) string {
	t.Helper()
	g, ds := flow.Compile(path, []byte(src))
	if g == nil {
		t.Fatalf("%s does not compile: %v", path, ds)
	}
	return g.Version
}

func writeFlowFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// recordingRegistry is a registry on a fresh folder that records, at each
// reload, the version it made current for each flow.
func recordingRegistry(t *testing.T) (reg *Registry, dir string, logs *testenv.Buffer, current func(name string) []string) {
	dir = t.TempDir()
	logs = &testenv.Buffer{}
	reg = NewRegistry(dir, slog.New(slog.NewTextHandler(logs, nil)))
	var mu sync.Mutex
	seen := map[string][]string{}
	reg.onReload = func(bool) {
		mu.Lock()
		defer mu.Unlock()
		for name, g := range *reg.current.Load() {
			if vs := seen[name]; len(vs) == 0 || vs[len(vs)-1] != g.Version {
				seen[name] = append(vs, g.Version)
			}
		}
	}
	return reg, dir, logs, func(name string) []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen[name])
	}
}

// TestWatchWaitsForQuiet: a file written in place in two goes, with a
// pause shorter than the quiet period (but longer than an editor's burst
// of events), is loaded whole; its first half, a valid flow, never serves.
func TestWatchWaitsForQuiet(t *testing.T) {
	reg, dir, _, versions := recordingRegistry(t)
	reg.QuietPeriod = 300 * time.Millisecond
	reg.Reload()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := reg.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "greet.yaml")
	half := greetFlow[:60]
	halfVersion, wholeVersion := version(t, path, half), version(t, path, greetFlow)

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(half); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if _, err := f.WriteString(greetFlow[len(half):]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	waitUntil(t, 5*time.Second, func() bool { g := reg.Current("greet"); return g != nil && g.Version == wholeVersion }, "the whole file to serve")
	got := versions("greet")
	if slices.Contains(got, halfVersion) {
		t.Fatalf("the half-written file served (versions %v; half %s, whole %s)", got, halfVersion, wholeVersion)
	}
	if !slices.Equal(got, []string{wholeVersion}) {
		t.Errorf("versions served %v, want only the whole file's %s", got, wholeVersion)
	}
}

// TestReloadFileChangingWhileRead: a file that grows while a reload reads
// it is not loaded from what was read; the version serving stays, Watch is
// told to come back after a quiet period, and the next reload loads it.
func TestReloadFileChangingWhileRead(t *testing.T) {
	reg, dir, _, versions := recordingRegistry(t)
	path := filepath.Join(dir, "support.yaml")
	v1, v2 := supportFlow("One."), supportFlow("Two. And a longer prompt than one.")
	writeFlowFile(t, path, v1)
	if !reg.Reload() {
		t.Fatal("first load failed")
	}
	// The writer starts the new version while the reload reads: it reads
	// the first part, then the writer finishes.
	writeFlowFile(t, path, v2[:40])
	reg.readFile = func(p string) ([]byte, error) {
		src, err := os.ReadFile(p)
		writeFlowFile(t, p, v2)
		return src, err
	}
	reg.Reload()
	if got := reg.Current("support").Version; got != version(t, path, v1) {
		t.Fatalf("serving %s after a reload that read a changing file, want the old %s", got, version(t, path, v1))
	}
	select {
	case <-reg.unsettled:
	default:
		t.Fatal("the reload did not ask Watch to come back")
	}
	if _, rejected := reg.Flows(); len(rejected) != 0 {
		t.Errorf("a file being written is listed as rejected: %+v", rejected)
	}
	reg.readFile = os.ReadFile
	if !reg.Reload() {
		t.Fatal("the reload of the finished file failed")
	}
	want := []string{version(t, path, v1), version(t, path, v2)}
	if got := versions("support"); !slices.Equal(got, want) {
		t.Fatalf("versions served %v, want %v", got, want)
	}
}

// TestReloadDuplicateFlow: a second file that defines a served flow (a
// backup copy that sorts first) replaces nothing: the version serving
// stays, the error names both files, and both are listed as rejected
// until the copy goes. A flow that two new files define is not served.
func TestReloadDuplicateFlow(t *testing.T) {
	reg, dir, logs, versions := recordingRegistry(t)
	live, backup := filepath.Join(dir, "support.yaml"), filepath.Join(dir, "support-old.yaml")
	writeFlowFile(t, live, supportFlow("Live."))
	if !reg.Reload() {
		t.Fatal("first load failed")
	}
	v1 := version(t, live, supportFlow("Live."))

	writeFlowFile(t, backup, supportFlow("Old."))
	writeFlowFile(t, live, supportFlow("Edited."))
	if reg.Reload() {
		t.Error("a reload with a flow defined twice reported success")
	}
	if got := reg.Current("support").Version; got != v1 {
		t.Fatalf("serving %s, want the version that was serving, %s", got, v1)
	}
	var errLine string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, "more than one file") {
			errLine = line
		}
	}
	if !strings.Contains(errLine, live) || !strings.Contains(errLine, backup) {
		t.Errorf("no error naming both files in the log:\n%s", logs)
	}
	flows, rejected := reg.Flows()
	if len(flows) != 1 || flows[0].Version != v1 || flows[0].Source != live {
		t.Errorf("flows listed %+v", flows)
	}
	if len(rejected) != 2 || rejected[0].Path != backup || rejected[1].Path != live {
		t.Fatalf("rejected %+v, want both files", rejected)
	}
	for i, other := range []string{live, backup} {
		ds := rejected[i].Diagnostics
		if len(ds) != 1 || ds[0].Code != flow.CodeDuplicateFlow || ds[0].Severity != flow.Error || !strings.Contains(ds[0].Message, other) {
			t.Errorf("%s: diagnostics %v, want one duplicate-flow error naming %s", rejected[i].Path, ds, other)
		}
	}

	// Removing the copy serves the edited file.
	if err := os.Remove(backup); err != nil {
		t.Fatal(err)
	}
	if !reg.Reload() {
		t.Fatal("the reload without the copy failed")
	}
	want := []string{v1, version(t, live, supportFlow("Edited."))}
	if got := versions("support"); !slices.Equal(got, want) {
		t.Fatalf("versions served %v, want %v", got, want)
	}
	if _, rejected := reg.Flows(); len(rejected) != 0 {
		t.Errorf("still rejected after the copy went: %+v", rejected)
	}

	// Two new files for one flow: neither serves.
	writeFlowFile(t, filepath.Join(dir, "sales-a.yaml"), "flow: sales\n"+greetFlow)
	writeFlowFile(t, filepath.Join(dir, "sales-b.yaml"), "flow: sales\n"+greetFlow+"# the copy\n")
	reg.Reload()
	if g := reg.Current("sales"); g != nil {
		t.Errorf("a flow two new files define serves %s from %s", g.Version, g.Path)
	}
	if reg.Current("support") == nil {
		t.Error("another flow's duplicate took support down")
	}
}

// TestReloadIgnoresEditorFiles: an editor's lock, autosave, backup and
// swap files, and hidden files, are not flows, whatever they hold.
func TestReloadIgnoresEditorFiles(t *testing.T) {
	reg, dir, _, _ := recordingRegistry(t)
	live := filepath.Join(dir, "support.yaml")
	writeFlowFile(t, live, supportFlow("Live."))
	for _, name := range []string{".#support.yaml", "#support.yaml#", "support.yaml~", ".support.yaml.swp", ".support.yaml", "support.yaml.bak"} {
		writeFlowFile(t, filepath.Join(dir, name), supportFlow("Not this one."))
	}
	writeFlowFile(t, filepath.Join(dir, ".hidden.yaml"), "flow: hidden\n"+greetFlow)
	// Emacs's lock is usually a dangling symlink.
	if err := os.Symlink("user@host.1234:1700000000", filepath.Join(dir, ".#other.yaml")); err != nil {
		t.Fatal(err)
	}
	if !reg.Reload() {
		t.Error("editor files failed the reload")
	}
	if got := reg.Current("support").Version; got != version(t, live, supportFlow("Live.")) {
		t.Errorf("support serves %s, not the live file", got)
	}
	flows, rejected := reg.Flows()
	if len(flows) != 1 || len(rejected) != 0 {
		t.Errorf("flows %+v, rejected %+v; want support alone", flows, rejected)
	}
	for _, name := range []string{"support.yaml", "sub/x.yml"} {
		if !flow.IsFlowFile(name) {
			t.Errorf("%s is not served", name)
		}
	}
}

// TestFlowsList: GET /v1/flows lists each flow served — its version, file
// and when that version began serving — and each rejected file with its
// diagnostics in `flowd validate --format json`'s shape; a broken file
// keeps its last good version serving and is listed until it is fixed.
func TestFlowsList(t *testing.T) {
	reg, dir, _, _ := recordingRegistry(t)
	loaded := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("EST", -5*3600))
	reg.now = func() time.Time { return loaded }
	support, greet, broken := filepath.Join(dir, "support.yaml"), filepath.Join(dir, "greet.yaml"), filepath.Join(dir, "broken.yaml")
	writeFlowFile(t, support, supportFlow("Live."))
	writeFlowFile(t, greet, greetFlow)
	reg.Reload()
	// Later, support breaks and a broken file appears.
	reg.now = func() time.Time { return loaded.Add(time.Hour) }
	writeFlowFile(t, support, "flow: support\nnodes:\n  greet:\n    Speak: Hi\n    next: nowhere\n")
	writeFlowFile(t, broken, "nodes: [\n")
	reg.Reload()

	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	s := New(Config{Registry: reg, Store: st, APIToken: "secret"})
	// As routed under /v1 (server.go): behind the API's authentication.
	h := s
	get := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/flows", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := get(""); w.Code != http.StatusUnauthorized {
		t.Fatalf("without credentials: %d %s", w.Code, w.Body)
	}
	if w := get("Bearer wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d %s", w.Code, w.Body)
	}
	w := get("Bearer secret")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var got struct {
		Flows    []map[string]string `json:"flows"`
		Rejected []struct {
			Path        string           `json:"path"`
			Diagnostics []map[string]any `json:"diagnostics"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	wantFlows := []map[string]string{
		{"name": "greet", "version": version(t, greet, greetFlow), "source": greet, "loaded_at": "2026-03-04T10:06:07Z"},
		{"name": "support", "version": version(t, support, supportFlow("Live.")), "source": support, "loaded_at": "2026-03-04T10:06:07Z"},
	}
	if len(got.Flows) != len(wantFlows) {
		t.Fatalf("flows %v, want %v", got.Flows, wantFlows)
	}
	for i := range wantFlows {
		if !maps.Equal(got.Flows[i], wantFlows[i]) {
			t.Errorf("flow %d: %v, want %v", i, got.Flows[i], wantFlows[i])
		}
	}
	if len(got.Rejected) != 2 || got.Rejected[0].Path != broken || got.Rejected[1].Path != support {
		t.Fatalf("rejected %s", w.Body)
	}
	keys := []string{"code", "col", "file", "line", "message", "severity"}
	for _, rf := range got.Rejected {
		if len(rf.Diagnostics) == 0 {
			t.Errorf("%s rejected without diagnostics", rf.Path)
		}
		for _, d := range rf.Diagnostics {
			var ks []string
			for k := range d {
				ks = append(ks, k)
			}
			slices.Sort(ks)
			if !slices.Equal(ks, keys) || d["file"] != rf.Path || d["severity"] != "error" || d["line"].(float64) < 1 {
				t.Errorf("%s: diagnostic %v", rf.Path, d)
			}
		}
	}
	if d := got.Rejected[1].Diagnostics[0]; d["code"] != string(flow.CodeUnknownNode) {
		t.Errorf("support's diagnostic %v, want %s", d, flow.CodeUnknownNode)
	}

	// Fixed and removed, nothing is rejected; the new version's time shows.
	writeFlowFile(t, support, supportFlow("Fixed."))
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	reg.Reload()
	w = get("Bearer secret")
	body := w.Body.String()
	if !strings.Contains(body, `"rejected": []`) || !strings.Contains(body, `"loaded_at": "2026-03-04T11:06:07Z"`) || strings.Count(body, `"loaded_at": "2026-03-04T10:06:07Z"`) != 1 {
		t.Errorf("after the fix: %s", body)
	}
}

// TestReloadRefusesPipes: a named pipe or a link to a device among the
// flow files is rejected with its diagnostic, and the reload finishes and
// loads what it can: opening the pipe used to block the reload forever.
func TestReloadRefusesPipes(t *testing.T) {
	reg, dir, _, _ := recordingRegistry(t)
	live := filepath.Join(dir, "support.yaml")
	writeFlowFile(t, live, supportFlow("Live."))
	pipe := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() { done <- reg.Reload() }()
	select {
	case ok := <-done:
		if ok {
			t.Error("the reload passed with a pipe and a device among the flows")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reload did not finish")
	}
	flows, rejected := reg.Flows()
	if len(flows) != 1 || len(rejected) != 2 {
		t.Errorf("flows %+v, rejected %+v; want support served and two rejected", flows, rejected)
	}
	for _, r := range rejected {
		if len(r.Diagnostics) != 1 || r.Diagnostics[0].Code != flow.CodeUnreadable {
			t.Errorf("rejected %+v", r)
		}
	}
}

// TestReloadRejectsUnresolvedParams: a reload that brings a version whose
// param has no value (neither a default nor one given to flowd serve), or
// a value of another type, keeps the version serving — flowd serve would
// not have started on it — and says why at the param; a new flow with such
// a param is not served.
func TestReloadRejectsUnresolvedParams(t *testing.T) {
	reg, dir, logs, _ := recordingRegistry(t)
	reg.Params = map[string]string{"ring": "twenty"}
	path := filepath.Join(dir, "support.yaml")
	writeFlowFile(t, path, supportFlow("Live."))
	if !reg.Reload() {
		t.Fatal("first load failed")
	}
	v1 := reg.Current("support").Version

	for _, params := range []string{
		"params:\n  queue: {}\n",                 // no default, no value
		"params:\n  ring: { default: 20 }\n",     // "twenty" is no integer
		"params:\n  queue: { description: q }\n", // no default either
	} {
		writeFlowFile(t, path, params+supportFlow("Edited."))
		if reg.Reload() {
			t.Errorf("%q: the reload reported success", params)
		}
		if got := reg.Current("support").Version; got != v1 {
			t.Errorf("%q: serving %s, want the version that was serving, %s", params, got, v1)
		}
		_, rejected := reg.Flows()
		if len(rejected) != 1 || rejected[0].Path != path || len(rejected[0].Diagnostics) != 1 {
			t.Fatalf("%q: rejected %+v", params, rejected)
		}
		d := rejected[0].Diagnostics[0]
		if d.Code != flow.CodeParamValue || d.Pos.Line == 0 || !strings.Contains(d.Message, "the version serving stays") {
			t.Errorf("%q: diagnostic %+v", params, d)
		}
	}

	// With a default, the edit serves.
	writeFlowFile(t, path, "params:\n  queue: { default: q }\n"+supportFlow("Edited."))
	if !reg.Reload() || reg.Current("support").Version == v1 {
		t.Error("a param with a default did not serve")
	}
	// A param the deployment gives that no flow declares any more is
	// warned of: flowd serve would not start again with it.
	writeFlowFile(t, path, supportFlow("Edited."))
	reg.Reload()
	if !strings.Contains(logs.String(), `level=WARN msg="a param given to flowd serve is declared by no flow any more`) || !strings.Contains(logs.String(), "param=ring") {
		t.Errorf("no warning for the param no flow declares:\n%s", logs)
	}
	// A new flow with a param without value is not served at all.
	writeFlowFile(t, filepath.Join(dir, "sales.yaml"), "flow: sales\nparams:\n  queue: {}\n"+greetFlow)
	reg.Reload()
	if g := reg.Current("sales"); g != nil {
		t.Errorf("a new flow whose param has no value serves %s", g.Version)
	}
	if reg.Current("support") == nil {
		t.Error("another flow's param took support down")
	}
}
