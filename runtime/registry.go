package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/flowd-dev/flowd/flow"
)

// Registry holds the flows being served: the current version of each for
// new calls, and every version live calls are pinned to. Reloading swaps
// the current set atomically; a file that no longer validates keeps its
// last good version serving.
type Registry struct {
	dir     string
	log     *slog.Logger
	current atomic.Pointer[map[string]*flow.Graph]
	// byFile remembers which flow each file served, so a broken file keeps
	// its last good graph.
	mu       sync.Mutex
	byFile   map[string]*flow.Graph
	versions sync.Map // "flow@version" → *flowVersion
	onReload func(ok bool)
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
	r := &Registry{dir: dir, log: log, byFile: map[string]*flow.Graph{}}
	empty := map[string]*flow.Graph{}
	r.current.Store(&empty)
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
	for _, g := range gs {
		next[g.Name] = g
		r.keep(g)
	}
	r.current.Store(&next)
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
	g, ds := flow.Compile(name+".yaml", src)
	if g == nil {
		return nil, fmt.Errorf("flow %s version %s does not compile: %v", name, version, ds)
	}
	g.Name = name
	r.keep(g)
	return g, nil
}

// Reload reads the flows folder again. Files that compile replace the
// flows they serve; files that do not keep their last good version and
// their diagnostics are logged; removed files stop serving new calls.
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
	ok := true
	byFile := map[string]*flow.Graph{}
	next := map[string]*flow.Graph{}
	owner := map[string]string{}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			r.log.Error("flow file unreadable", "file", path, "err", err)
			ok = false
			if g := r.byFile[path]; g != nil {
				byFile[path] = g
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
			if old := r.byFile[path]; old != nil {
				r.log.Error("flow file does not validate; its last good version keeps serving", "file", path, "flow", old.Name, "version", old.Version)
				g = old
			} else {
				continue
			}
		}
		if first, dup := owner[g.Name]; dup {
			r.log.Error("flow defined twice; the first file wins", "flow", g.Name, "file", path, "first", first)
			ok = false
			continue
		}
		owner[g.Name] = path
		byFile[path] = g
		next[g.Name] = g
		if _, ok := r.versions.Load(g.Name + "@" + g.Version); !ok {
			r.keep(g)
		}
	}
	r.byFile = byFile
	r.current.Store(&next)
	r.prune(next)
	r.log.Info("flows loaded", "dir", r.dir, "flows", len(next), "files", len(files), "ok", ok)
	r.reloaded(ok)
	return ok
}

func (r *Registry) reloaded(ok bool) {
	if r.onReload != nil {
		r.onReload(ok)
	}
}

// Watch reloads when a file in the flows folder changes, until ctx ends.
// Bursts of events (an editor's save, a git checkout) are coalesced.
func (r *Registry) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := addTree(w, r.dir); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		// Bursts are coalesced: a reload 100 ms after the last event, but
		// never more than a second after the first, so a folder that keeps
		// changing still reloads.
		var timer *time.Timer
		var first time.Time
		fire := make(chan struct{}, 1)
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
				if first.IsZero() {
					first = time.Now()
				}
				wait := 100 * time.Millisecond
				if left := time.Second - time.Since(first); left < wait {
					wait = max(left, 0)
				}
				if timer == nil {
					timer = time.AfterFunc(wait, func() {
						select {
						case fire <- struct{}{}:
						default:
						}
					})
				} else {
					timer.Reset(wait)
				}
			case <-fire:
				first = time.Time{}
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
