package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/wallclock"
)

// Registry holds the flows being served: the current version of each for
// new calls, and every version live calls are pinned to. Reloading swaps
// the current set atomically; a file that no longer validates keeps its
// last good version serving, and so does a flow that two files define.
type Registry struct {
	// QuietPeriod is how long the flows folder must go without a change
	// before Watch reloads it (DefaultQuietPeriod when zero). Set it before
	// Watch.
	QuietPeriod time.Duration
	// Params are the values flowd serve was given for params (--param,
	// FLOWD_PARAM_<NAME>, --params), checked against the flows when it
	// started. A reload checks each new version against them too: one
	// whose params cannot be resolved is rejected like a broken file.
	Params map[string]string

	dir     string
	log     *slog.Logger
	current atomic.Pointer[map[string]*flow.Graph]
	// catalog is what GET /v1/flows lists: the flows served and the files
	// rejected by the latest reload.
	catalog atomic.Pointer[catalog]
	// byFile remembers which flow each file served, so a broken file keeps
	// its last good graph.
	mu       sync.Mutex
	byFile   map[string]*flow.Graph
	versions sync.Map // "flow@version" → *flowVersion
	onReload func(ok bool)
	// unsettled tells Watch that a reload found a file changing while it
	// read it: Watch waits another quiet period and reloads again.
	unsettled chan struct{}
	// readFile reads a flow file: flow.ReadFile, but for tests.
	readFile func(string) ([]byte, error)
	// now says when a version began serving (wallclock.Now).
	now func() time.Time
}

// DefaultQuietPeriod is how long a flow file must stay unchanged before
// Watch loads it. An editor writing a file in place, a slow copy (scp,
// rsync without --delay-updates, a network share) or a script appending
// to it pauses for tens or hundreds of milliseconds between writes — the
// reported half-loaded file had a 400 ms pause — so the period must be
// well past that; yet a person who saves a flow and calls it should not
// wait long to hear the change. Two seconds is both. Files replaced by
// rename (ConfigMaps, mv, most editors' safe write) are whole at once and
// need no quiet period at all.
const DefaultQuietPeriod = 2 * time.Second

// FlowInfo is a flow being served: its current version, the file it was
// loaded from and when that version began serving.
type FlowInfo struct {
	Name, Version, Source string
	LoadedAt              time.Time
}

// RejectedFile is a flow file the latest reload did not serve from, and
// why. It stays listed until it loads cleanly or is removed.
type RejectedFile struct {
	Path        string
	Diagnostics flow.Diagnostics
}

// catalog is an immutable snapshot of what a reload served and rejected.
type catalog struct {
	flows    map[string]FlowInfo         // by flow name
	rejected map[string]flow.Diagnostics // by path
}

// flowVersion is a compiled flow version and when a call last used it.
// Versions no call has used for versionIdle are dropped from memory at
// the next reload; a late call rebuilds its version from the store.
type flowVersion struct {
	g    *flow.Graph
	used atomic.Int64 // unix nanoseconds
}

const versionIdle = time.Hour

func (r *Registry) keep(g *flow.Graph) {
	v := &flowVersion{g: g}
	v.used.Store(time.Now().UnixNano())
	r.versions.Store(g.Name+"@"+g.Version, v)
}

// prune drops idle versions that are not current.
func (r *Registry) prune(current map[string]*flow.Graph) {
	cutoff := time.Now().Add(-versionIdle).UnixNano()
	r.versions.Range(func(k, v any) bool {
		ver := v.(*flowVersion)
		if cur := current[ver.g.Name]; cur != ver.g && ver.used.Load() < cutoff {
			r.versions.Delete(k)
		}
		return true
	})
}

// NewRegistry returns an empty registry for the flows under dir.
func NewRegistry(dir string, log *slog.Logger) *Registry {
	r := &Registry{dir: dir, log: log, byFile: map[string]*flow.Graph{},
		unsettled: make(chan struct{}, 1), readFile: flow.ReadFile, now: wallclock.Now}
	empty := map[string]*flow.Graph{}
	r.current.Store(&empty)
	r.catalog.Store(&catalog{flows: map[string]FlowInfo{}, rejected: map[string]flow.Diagnostics{}})
	return r
}

// Current returns the version of a flow that new calls start on.
func (r *Registry) Current(name string) *flow.Graph {
	return (*r.current.Load())[name]
}

// Names returns the names of the flows being served.
func (r *Registry) Names() []string {
	m := *r.current.Load()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Add serves graphs directly, without files: for tests and embedding.
func (r *Registry) Add(gs ...*flow.Graph) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := map[string]*flow.Graph{}
	for k, v := range *r.current.Load() {
		next[k] = v
	}
	old := r.catalog.Load()
	cat := &catalog{flows: maps.Clone(old.flows), rejected: old.rejected}
	for _, g := range gs {
		next[g.Name] = g
	}
	// Graphs that run subflows are linked with the flows served.
	linked, _ := flow.Link(next, nil)
	for _, g := range gs {
		if l := linked[g.Name]; l != nil {
			g = l
		}
		next[g.Name] = g
		r.keep(g)
		cat.flows[g.Name] = FlowInfo{Name: g.Name, Version: g.Version, Source: g.Path, LoadedAt: r.now().UTC()}
	}
	r.current.Store(&next)
	r.catalog.Store(cat)
}

// Flows returns the flows being served, by name, and the files the latest
// reload rejected, by path.
func (r *Registry) Flows() ([]FlowInfo, []RejectedFile) {
	cat := r.catalog.Load()
	flows := slices.SortedFunc(maps.Values(cat.flows), func(a, b FlowInfo) int { return strings.Compare(a.Name, b.Name) })
	rejected := make([]RejectedFile, 0, len(cat.rejected))
	for _, path := range slices.Sorted(maps.Keys(cat.rejected)) {
		rejected = append(rejected, RejectedFile{Path: path, Diagnostics: slices.Clone(cat.rejected[path])})
	}
	return flows, rejected
}

// versionRecoverer is a store shared by several processes that can have
// a missing flow version written back by a process that still knows it
// (Redis, after it lost its data), and wait for it.
type versionRecoverer interface {
	RecoverVersion(ctx context.Context, flowName, version string) ([]byte, error)
}

// Version returns the graph of a flow version, from memory or, when this
// process never compiled it (after a restart, or on another replica),
// from the source kept in the store. When the store lost the source, a
// shared store may get it back from a replica that knows it.
func (r *Registry) Version(ctx context.Context, st Store, name, version string) (*flow.Graph, error) {
	key := name + "@" + version
	if v, ok := r.versions.Load(key); ok {
		ver := v.(*flowVersion)
		ver.used.Store(time.Now().UnixNano())
		return ver.g, nil
	}
	src, err := st.GetVersion(ctx, name, version)
	if rv, ok := st.(versionRecoverer); ok && errors.Is(err, ErrNotFound) {
		src, err = rv.RecoverVersion(ctx, name, version)
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("flow %s version %s is no longer kept", name, version)
		}
		return nil, err
	}
	g, ds := flow.Rebuild(name, src)
	if g == nil {
		return nil, fmt.Errorf("flow %s version %s does not compile: %v", name, version, ds)
	}
	r.keep(g)
	return g, nil
}

// Reload reads the flows folder again. Files that compile replace the
// flows they serve; files that do not keep their last good version and
// their diagnostics are logged and listed (Flows); removed files stop
// serving new calls. A flow that two files define is not replaced: the
// version already serving stays (none, if none was), and the error names
// both files. A file that changes while it is read is left as it was, and
// Watch reloads it after another quiet period. Reload does not wait for a
// quiet period itself (SIGHUP means "now"); Watch does.
// It reports whether every file compiled.
func (r *Registry) Reload() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := flow.FindFiles([]string{r.dir}, flow.IsFlowFile)
	if err != nil {
		r.log.Error("reload failed", "dir", r.dir, "err", err)
		r.reloaded(false)
		return false
	}
	prev := *r.current.Load()
	prevCat := r.catalog.Load()
	ok, unsettled := true, false
	rejected := map[string]flow.Diagnostics{}
	// claims lists, for each flow name, the files that define it, in path
	// order: a broken file claims the flow of its last good graph.
	type claim struct {
		path  string
		g     *flow.Graph
		stale bool // the file's last good graph, not what it holds now
	}
	claims := map[string][]claim{}
	var names []string
	addClaim := func(c claim) {
		if claims[c.g.Name] == nil {
			names = append(names, c.g.Name)
		}
		claims[c.g.Name] = append(claims[c.g.Name], c)
	}
	for _, path := range files {
		src, changing, err := r.readWhole(path)
		if changing {
			// Being written: neither loaded nor rejected yet.
			r.log.Warn("flow file changed while it was read; it keeps what it served until it has been quiet", "file", path)
			unsettled = true
			if ds, was := prevCat.rejected[path]; was {
				// Its own diagnostics; whether it defines a flow twice is
				// found again below.
				ds = slices.DeleteFunc(slices.Clone(ds), func(d flow.Diagnostic) bool { return d.Code == flow.CodeDuplicateFlow })
				if len(ds) > 0 {
					rejected[path] = ds
				}
			}
			if g := r.byFile[path]; g != nil {
				addClaim(claim{path, g, true})
			}
			continue
		}
		if err != nil {
			r.log.Error("flow file unreadable", "file", path, "err", err)
			ok = false
			rejected[path] = flow.Diagnostics{{Pos: flow.Pos{File: path}, Severity: flow.Error, Code: flow.CodeUnreadable, Message: "cannot read the file: " + err.Error()}}
			if g := r.byFile[path]; g != nil {
				addClaim(claim{path, g, true})
			}
			continue
		}
		g, ds := flow.Compile(path, src)
		for _, d := range ds {
			level := slog.LevelWarn
			if d.Severity == flow.Error {
				level = slog.LevelError
			}
			r.log.Log(context.Background(), level, d.Message, "file", d.Pos.File, "line", d.Pos.Line, "col", d.Pos.Col, "code", string(d.Code))
		}
		if g == nil {
			ok = false
			rejected[path] = ds
			if old := r.byFile[path]; old != nil {
				r.log.Error("flow file does not validate; its last good version keeps serving", "file", path, "flow", old.Name, "version", old.Version)
				addClaim(claim{path, old, true})
			}
			continue
		}
		addClaim(claim{path, g, false})
	}

	now := r.now().UTC()
	byFile := map[string]*flow.Graph{}
	next := map[string]*flow.Graph{}
	cat := &catalog{flows: map[string]FlowInfo{}, rejected: rejected}
	for _, name := range names {
		cs := claims[name]
		if len(cs) == 1 {
			c := cs[0]
			byFile[c.path] = c.g
			next[name] = c.g
			info, was := prevCat.flows[name]
			if !was || info.Version != c.g.Version {
				info = FlowInfo{Name: name, Version: c.g.Version, LoadedAt: now}
			}
			info.Source = c.path
			cat.flows[name] = info
			continue
		}
		// Defined twice: which file is meant is for a person to say (a
		// backup copy, an editor's artifact, a file copied to be renamed).
		// Neither replaces the version serving, as `flowd validate`
		// rejects the folder.
		ok = false
		paths := make([]string, len(cs))
		for i, c := range cs {
			paths[i] = c.path
		}
		serving := prev[name]
		if serving != nil {
			next[name] = serving
			if info, was := prevCat.flows[name]; was {
				cat.flows[name] = info
			}
			r.log.Error("flow defined in more than one file; the version serving stays until one is renamed or removed", "flow", name, "files", paths, "version", serving.Version)
		} else {
			r.log.Error("flow defined in more than one file; it is not served until one is renamed or removed", "flow", name, "files", paths)
		}
		for i, c := range cs {
			if old := r.byFile[c.path]; old != nil && old.Name == name {
				byFile[c.path] = old
			}
			others := slices.Delete(slices.Clone(paths), i, i+1)
			at := flow.Pos{File: c.path}
			if !c.stale {
				at = c.g.NamePos
			}
			what := "the version serving stays"
			if serving == nil {
				what = "it is not served"
			}
			rejected[c.path] = append(rejected[c.path], flow.Diagnostic{Pos: at, Severity: flow.Error, Code: flow.CodeDuplicateFlow,
				Message: fmt.Sprintf("flow %s is also defined in %s; %s until one of the files is renamed or removed", name, strings.Join(others, ", "), what)})
			rejected[c.path].Sort()
		}
	}
	// Subflows are resolved across files: a flow that cannot be linked
	// (its subflow is missing, or runs it back) is not served anew, and
	// the version serving, if any, stays.
	linked, lds := flow.Link(next, nil, slices.Collect(maps.Values(prev))...)
	reject := func(ds flow.Diagnostics) {
		for _, d := range ds {
			ok = false
			r.log.Error(d.Message, "file", d.Pos.File, "line", d.Pos.Line, "col", d.Pos.Col, "code", string(d.Code))
			rejected[d.Pos.File] = append(rejected[d.Pos.File], d)
			rejected[d.Pos.File].Sort()
		}
	}
	reject(lds)
	for _, name := range slices.Sorted(maps.Keys(next)) {
		l := linked[name]
		var ds flow.Diagnostics
		if l != nil {
			ds = r.paramProblems(l, prev[name])
			reject(ds)
		}
		if l == nil || len(ds) > 0 {
			// Not served anew: the version serving, if any, stays.
			if serving := prev[name]; serving != nil {
				next[name] = serving
				if info, was := prevCat.flows[name]; was {
					cat.flows[name] = info
				}
			} else {
				delete(next, name)
				delete(cat.flows, name)
			}
			continue
		}
		next[name] = l
		if info := cat.flows[name]; info.Version != l.Version {
			info.Version, info.LoadedAt = l.Version, now
			if was, ok := prevCat.flows[name]; ok && was.Version == l.Version {
				info.LoadedAt = was.LoadedAt
			}
			cat.flows[name] = info
		}
	}
	for _, g := range next {
		if _, ok := r.versions.Load(g.Name + "@" + g.Version); !ok {
			r.keep(g)
		}
	}
	r.byFile = byFile
	r.current.Store(&next)
	r.catalog.Store(cat)
	r.prune(next)
	r.warnUndeclared(next)
	r.log.Info("flows loaded", "dir", r.dir, "flows", len(next), "files", len(files), "ok", ok)
	if unsettled {
		select {
		case r.unsettled <- struct{}{}:
		default:
		}
	}
	r.reloaded(ok)
	return ok
}

// warnUndeclared warns of a value flowd serve was given for a param no
// flow serving declares any more: this process goes on, but flowd serve
// started again with the same values refuses to start (a value that names
// no declared param is a mistake it reports).
func (r *Registry) warnUndeclared(flows map[string]*flow.Graph) {
	for _, name := range slices.Sorted(maps.Keys(r.Params)) {
		declared := false
		for _, g := range flows {
			declared = declared || slices.ContainsFunc(g.Params, func(p flow.ParamDecl) bool { return p.Name == name })
		}
		if !declared {
			r.log.Warn("a param given to flowd serve is declared by no flow any more: flowd serve started again with the same values would refuse to start", "param", name)
		}
	}
}

// paramProblems says why a flow version newly loaded cannot be served
// with the deployment's params: a param with neither a value nor a
// default, or a value it cannot take (flowd serve refuses to start on
// either). Its calls would speak an empty value or all fail.
func (r *Registry) paramProblems(g, serving *flow.Graph) flow.Diagnostics {
	if serving != nil && serving.Version == g.Version {
		return nil
	}
	_, errs := g.ResolveParams(r.Params)
	var ds flow.Diagnostics
	for _, e := range errs {
		at := flow.Pos{File: g.Path}
		for _, p := range g.Params {
			if p.Name == e.Param {
				at = p.Pos
			}
		}
		what := "the version serving stays"
		if serving == nil {
			what = "it is not served"
		}
		ds = append(ds, flow.Diagnostic{Pos: at, Severity: flow.Error, Code: flow.CodeParamValue,
			Message: fmt.Sprintf("param %s of flow %s %v (give it to flowd serve with --param %s=..., %s or --params, and restart); %s", e.Param, g.Name, e.Err, e.Param, "FLOWD_PARAM_"+strings.ToUpper(strings.ReplaceAll(e.Param, "-", "_")), what)})
	}
	return ds
}

// readWhole reads a flow file and reports whether it changed while it was
// read (its size or modification time moved, or it went away), in which
// case what was read may be half a file.
func (r *Registry) readWhole(path string) (src []byte, changing bool, err error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, false, err
	}
	src, err = r.readFile(path)
	if err != nil {
		return nil, false, err
	}
	after, err := os.Stat(path)
	if err != nil {
		return nil, true, nil
	}
	if before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) || int64(len(src)) != after.Size() {
		return nil, true, nil
	}
	return src, false, nil
}

func (r *Registry) reloaded(ok bool) {
	if r.onReload != nil {
		r.onReload(ok)
	}
}

func (r *Registry) quietPeriod() time.Duration {
	if r.QuietPeriod > 0 {
		return r.QuietPeriod
	}
	return DefaultQuietPeriod
}

// Watch reloads when a file in the flows folder changes, until ctx ends.
// It reloads once the folder has been quiet — no flow file written,
// created, renamed or removed — for the quiet period: each change starts
// the wait again, so a file written in place in several goes is loaded
// whole, and a burst (a git checkout) is one reload. A folder whose flow
// files never stop changing is not reloaded until they do.
func (r *Registry) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := addTree(w, r.dir); err != nil {
		w.Close()
		return err
	}
	quiet := r.quietPeriod()
	go func() {
		defer w.Close()
		timer := time.NewTimer(quiet)
		timer.Stop()
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
						_ = addTree(w, ev.Name)
					}
				}
				if changesFlows(ev) {
					timer.Reset(quiet)
				}
			case <-r.unsettled:
				timer.Reset(quiet)
			case <-timer.C:
				r.Reload()
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				r.log.Error("watching flows failed", "err", err)
			}
		}
	}()
	return nil
}

// changesFlows reports whether an event may change what the folder
// serves: one on a flow file, a folder, or something that went away (it
// may have been a folder). Other files — an editor's swap file saved every
// few seconds, a backup — neither reload nor hold a reload back.
func changesFlows(ev fsnotify.Event) bool {
	if flow.IsFlowFile(ev.Name) {
		return true
	}
	info, err := os.Stat(ev.Name)
	if err != nil {
		return true
	}
	return info.IsDir()
}

func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return w.Add(path)
		}
		return nil
	})
}
