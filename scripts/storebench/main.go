// Command storebench measures candidate engines for flowd's durable
// session store on the write a webhook makes: read a call's hot record,
// write it back with a compare-and-set on its revision, append one trace
// entry and drop the one leaving the trace window, in one atomic, fsynced
// write; plus the expiry sweep and the reuse of freed space.
//
// Engines: bolt (bbolt with group commit, as runtime/bolt.go), boltnfs
// (the same without a freelist written on every commit), pebble, and two
// floors, the cost of durability alone: the same bytes logged with one
// fdatasync per group, appended to a plain file (append) or written in
// place in a file prepared beforehand (floor). Every selected engine runs
// in each round, in alternating order, so a shared machine's noise shows
// as the spread over rounds. Data goes to a temporary folder, removed at
// the end.
//
//	go run .                                  # about 4 minutes on 2 cores
//	go run . -engine boltnfs,pebble -sessions 1000000 -settle 120s
//	go run . -engine boltnfs,pebble -rate 2500 # the same load for both
//
// See docs/store-engines.md for the figures and what they decided.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	engines     []string
	floor       bool
	rounds      int
	sessions    int
	small       int
	conc        int
	steps       int
	live        int
	window      time.Duration
	rate        float64
	ttl         time.Duration
	sweepBatch  int
	sweepPause  time.Duration
	loadBatch   int
	cacheMB     int
	rangeDel    bool
	settle      time.Duration
	parent      string
	granularity time.Duration
}

func main() {
	var c config
	var engines string
	flag.StringVar(&engines, "engine", "bolt,boltnfs,pebble", "engines to measure, comma-separated: bolt, boltnfs, pebble")
	flag.BoolVar(&c.floor, "floor", true, "also measure the floors: the same bytes logged to a file, one fdatasync per group, appended (append) or written in place (floor)")
	flag.IntVar(&c.rounds, "rounds", 2, "rounds; each runs every engine, in alternating order")
	flag.IntVar(&c.sessions, "sessions", 100_000, "sessions stored before the large-store window, expired and swept, then stored again")
	flag.IntVar(&c.small, "small", 10_000, "sessions stored before the small-store window")
	flag.IntVar(&c.conc, "concurrency", 32, "concurrent webhook writers")
	flag.IntVar(&c.steps, "steps", 5, "webhooks per call (trace entries per session)")
	flag.IntVar(&c.live, "live", 1024, "calls in flight across the writers")
	flag.DurationVar(&c.window, "window", 4*time.Second, "length of each measured window of webhooks")
	flag.Float64Var(&c.rate, "rate", 0, "webhooks a second, sent on a fixed schedule (0: as fast as the engine acknowledges them)")
	flag.DurationVar(&c.ttl, "ttl", 4*time.Hour, "session time to live")
	flag.IntVar(&c.sweepBatch, "sweep-batch", 900, "records (hot, trace and index entries) deleted per sweep transaction at most; 900 is 128 sessions of 5 webhooks")
	flag.DurationVar(&c.sweepPause, "sweep-pause", 0, "pause between sweep transactions (0: sweep flat out)")
	flag.IntVar(&c.loadBatch, "load-batch", 2000, "sessions per bulk-load transaction")
	flag.IntVar(&c.cacheMB, "pebble-cache-mb", 128, "pebble block cache, MiB")
	flag.BoolVar(&c.rangeDel, "pebble-rangedel", false, "pebble sweep drops trace entries with a range deletion per call")
	flag.DurationVar(&c.settle, "settle", 15*time.Second, "after a bulk load, wait at most this long for pebble's compactions before measuring")
	flag.StringVar(&c.parent, "dir", "", "folder for the temporary data (default: the system's temp folder)")
	flag.DurationVar(&c.granularity, "expiry-granularity", time.Minute, "rounding of the expiry index")
	flag.Parse()
	for _, name := range strings.Split(engines, ",") {
		if name = strings.TrimSpace(name); name != "" {
			switch name {
			case "bolt", "boltnfs", "pebble":
				c.engines = append(c.engines, name)
			default:
				fatalf("unknown engine %q", name)
			}
		}
	}
	if c.small > c.sessions || c.steps < 1 || c.conc < 1 || c.rounds < 1 {
		fatalf("want -small <= -sessions, and -steps, -concurrency, -rounds >= 1")
	}
	expiryGranularity = int64(c.granularity)

	top, err := os.MkdirTemp(c.parent, "storebench-")
	if err != nil {
		fatalf("%v", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		os.RemoveAll(top)
		fmt.Fprintln(os.Stderr, "interrupted; removed", top)
		os.Exit(1)
	}()

	printSetup(os.Stdout, c, top)
	names := slices.Clone(c.engines)
	if c.floor {
		names = append([]string{"append", "floor"}, names...)
	}
	var results []result
	for r := range c.rounds {
		order := slices.Clone(names)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			res, err := runEngine(c, name, r, top)
			if err != nil {
				os.RemoveAll(top)
				fatalf("%s round %d: %v", name, r+1, err)
			}
			results = append(results, res)
			res.print(os.Stdout)
		}
	}
	os.RemoveAll(top)
	report(os.Stdout, c, names, results)
}

func fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "storebench: "+f+"\n", a...)
	os.Exit(1)
}

func logf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+f+"\n", a...)
}

func printSetup(w io.Writer, c config, top string) {
	fmt.Fprintf(w, "# storebench\n\n")
	fmt.Fprintf(w, "%s %s/%s, GOMAXPROCS %d, NumCPU %d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "go.etcd.io/bbolt" || d.Path == "github.com/cockroachdb/pebble/v2" {
				fmt.Fprintf(w, "%s %s\n", d.Path, d.Version)
			}
		}
	}
	fmt.Fprintf(w, "engines %v (floor %v), rounds %d, sessions %d (small %d), concurrency %d, rate %v/s (0: saturation), steps %d, live calls %d, window %s, sweep batch %d records (pause %s), pebble cache %d MiB, pebble range deletion %v\n",
		c.engines, c.floor, c.rounds, c.sessions, c.small, c.conc, c.rate, c.steps, c.live, c.window, c.sweepBatch, c.sweepPause, c.cacheMB, c.rangeDel)
	fmt.Fprintf(w, "data under %s\n\n", filepath.Dir(top))
}

// result is one engine's figures in one round.
type result struct {
	engine, order string
	round         int
	small, large  windowResult // webhooks after -small and after -sessions sessions
	during        windowResult // webhooks while the sweep runs
	after         windowResult // webhooks after the sweep freed the space of -sessions sessions
	sweep         sweepResult
	fill          time.Duration // bulk load from -small to -sessions sessions
	// apparent sizes, bytes: after the large window, after the sweep,
	// after storing -sessions more, and after compactions settled.
	size1, size2, size3, size4 int64
	alloc1, alloc3             int64
	freePages                  int
	// pebble's write stalls while the sweep ran, and over the whole round
	stallsDuring, stallsTotal int64
	stalledDuring, stalledAll time.Duration
}

func openEngine(c config, name, dir string) (Engine, error) {
	switch name {
	case "bolt":
		return openBolt(dir, false)
	case "boltnfs":
		return openBolt(dir, true)
	case "pebble":
		return openPebble(dir, c.cacheMB, c.rangeDel)
	case "append":
		return openFloor(dir, false)
	case "floor":
		return openFloor(dir, true)
	}
	return nil, fmt.Errorf("unknown engine %q", name)
}

func runEngine(c config, name string, round int, top string) (result, error) {
	res := result{engine: name, round: round}
	dir, err := os.MkdirTemp(top, name+"-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	e, err := openEngine(c, name, dir)
	if err != nil {
		return res, err
	}
	defer func() {
		if e != nil {
			e.Close()
		}
	}()
	seed := uint64(time.Now().UnixNano())
	// The loaded sessions expire two hours from now, the webhooks' in -ttl:
	// the sweep, run as if the two hours had passed, finds exactly the
	// loaded sessions expired.
	loadedExpiry := time.Now().Add(2 * time.Hour).UnixNano()
	sweepAt := loadedExpiry + 2*int64(c.granularity)
	if c.ttl <= 2*time.Hour+2*c.granularity {
		return res, fmt.Errorf("-ttl must exceed 2h plus two -expiry-granularity")
	}

	logf("%s round %d: storing %d sessions", name, round+1, c.small)
	if err := load(e, c.small, c.steps, c.loadBatch, loadedExpiry, seed); err != nil {
		return res, err
	}
	settle(c, e)
	logf("%s round %d: webhooks on %d sessions", name, round+1, c.small)
	if res.small, err = runWindow(e, c.conc, c.live, c.steps, c.rate, c.window, nil, c.ttl, seed+1); err != nil {
		return res, err
	}
	if name == "floor" || name == "append" {
		return res, nil
	}

	logf("%s round %d: storing %d sessions more", name, round+1, c.sessions-c.small)
	t := time.Now()
	if err := load(e, c.sessions-c.small, c.steps, c.loadBatch, loadedExpiry, seed+2); err != nil {
		return res, err
	}
	res.fill = time.Since(t)
	settle(c, e)
	logf("%s round %d: webhooks on %d sessions", name, round+1, c.sessions)
	if res.large, err = runWindow(e, c.conc, c.live, c.steps, c.rate, c.window, nil, c.ttl, seed+3); err != nil {
		return res, err
	}
	res.size1, res.alloc1 = diskSize(dir)

	logf("%s round %d: sweeping %d expired sessions under webhooks", name, round+1, c.sessions)
	stalls := func() (int64, time.Duration) {
		if p, ok := e.(*pebbleEngine); ok {
			return p.Stalls()
		}
		return 0, 0
	}
	n0, d0 := stalls()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var err error
		res.during, err = runWindow(e, c.conc, c.live, c.steps, c.rate, time.Hour, stop, c.ttl, seed+4)
		done <- err
	}()
	res.sweep, err = sweep(e, sweepAt, c.sweepBatch, c.sweepPause)
	close(stop)
	if werr := <-done; err == nil {
		err = werr
	}
	if err != nil {
		return res, err
	}
	n1, d1 := stalls()
	res.stallsDuring, res.stalledDuring = n1-n0, d1-d0
	if res.sweep.entries < c.sessions {
		return res, fmt.Errorf("swept %d index entries, want %d", res.sweep.entries, c.sessions)
	}
	res.size2, _ = diskSize(dir)
	if b, ok := e.(*boltEngine); ok {
		res.freePages, _ = b.FreePages()
	}
	logf("%s round %d: webhooks after the sweep", name, round+1)
	if res.after, err = runWindow(e, c.conc, c.live, c.steps, c.rate, c.window, nil, c.ttl, seed+6); err != nil {
		return res, err
	}

	logf("%s round %d: storing %d new sessions", name, round+1, c.sessions)
	if err := load(e, c.sessions, c.steps, c.loadBatch, loadedExpiry+int64(4*time.Hour), seed+5); err != nil {
		return res, err
	}
	res.size3, res.alloc3 = diskSize(dir)
	res.size4 = res.size3
	if _, ok := e.(*pebbleEngine); ok {
		settle(c, e)
		res.size4, _ = diskSize(dir)
	}
	res.stallsTotal, res.stalledAll = stalls()
	err = e.Close()
	e = nil
	return res, err
}

// settle waits, at most -settle, for the compactions a bulk load left
// behind, so that a window measures webhooks rather than the load's debt.
func settle(c config, e Engine) {
	runtime.GC()
	p, ok := e.(*pebbleEngine)
	if !ok {
		return
	}
	deadline := time.Now().Add(c.settle)
	for idle := 0; idle < 3 && time.Now().Before(deadline); {
		if p.Busy() {
			idle = 0
		} else {
			idle++
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "round %d %-7s small: %6.0f ops/s p50 %5.2f p99 %6.2f max %7.2f ms (%d ops, %d conflicts)\n",
		r.round+1, r.engine, r.small.opsPerSec(), r.small.pct(.5), r.small.pct(.99), r.small.maxMs(), r.small.ops, r.small.conflicts)
	if r.engine == "floor" || r.engine == "append" {
		return
	}
	fmt.Fprintf(w, "round %d %-7s large: %6.0f ops/s p50 %5.2f p99 %6.2f max %7.2f ms (%d ops); fill %.1fs\n",
		r.round+1, r.engine, r.large.opsPerSec(), r.large.pct(.5), r.large.pct(.99), r.large.maxMs(), r.large.ops, r.fill.Seconds())
	fmt.Fprintf(w, "round %d %-7s sweep: %d entries in %.1fs (%.0f/s, %d batches, hold p50 %.2f p99 %.2f max %.2f ms); webhooks meanwhile %6.0f ops/s p50 %5.2f p99 %6.2f max %7.2f ms; write stalls %d (%s), %d (%s) in the round\n",
		r.round+1, r.engine, r.sweep.entries, r.sweep.elapsed.Seconds(), float64(r.sweep.entries)/r.sweep.elapsed.Seconds(), r.sweep.batches,
		float64(r.sweep.hold(.5))/1e6, float64(r.sweep.hold(.99))/1e6, float64(r.sweep.hold(1))/1e6, r.during.opsPerSec(), r.during.pct(.5), r.during.pct(.99), r.during.maxMs(),
		r.stallsDuring, r.stalledDuring.Round(time.Millisecond), r.stallsTotal, r.stalledAll.Round(time.Millisecond))
	fmt.Fprintf(w, "round %d %-7s after sweep: %6.0f ops/s p50 %5.2f p99 %6.2f max %7.2f ms\n",
		r.round+1, r.engine, r.after.opsPerSec(), r.after.pct(.5), r.after.pct(.99), r.after.maxMs())
	fmt.Fprintf(w, "round %d %-7s size MiB: stored %.0f (allocated %.0f), swept %.0f, stored again %.0f (allocated %.0f), settled %.0f; free pages after sweep %d\n",
		r.round+1, r.engine, mb(r.size1), mb(r.alloc1), mb(r.size2), mb(r.size3), mb(r.alloc3), mb(r.size4), r.freePages)
}

// span formats the range of a figure over rounds.
func span(rs []result, f func(result) float64, format string) string {
	if len(rs) == 0 {
		return "–"
	}
	lo, hi := f(rs[0]), f(rs[0])
	for _, r := range rs[1:] {
		lo, hi = min(lo, f(r)), max(hi, f(r))
	}
	a, b := fmt.Sprintf(format, lo), fmt.Sprintf(format, hi)
	if a == b {
		return a
	}
	return a + "–" + b
}

func report(w io.Writer, c config, names []string, results []result) {
	by := map[string][]result{}
	for _, r := range results {
		by[r.engine] = append(by[r.engine], r)
	}
	fmt.Fprintf(w, "\n## Ranges over %d rounds (min–max)\n\n", c.rounds)
	fmt.Fprintf(w, "| figure | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	row := func(label string, floor bool, f func(result) float64, format string) {
		cells := make([]string, len(names))
		for i, n := range names {
			if (n == "floor" || n == "append") && !floor {
				cells[i] = "n/a"
				continue
			}
			cells[i] = span(by[n], f, format)
		}
		fmt.Fprintf(w, "| %s | %s |\n", label, strings.Join(cells, " | "))
	}
	small, large := fmt.Sprintf("%dk", c.small/1000), fmt.Sprintf("%dk", c.sessions/1000)
	row("webhooks/s, "+small+" sessions stored", true, func(r result) float64 { return r.small.opsPerSec() }, "%.0f")
	row("p50 ms, "+small, true, func(r result) float64 { return r.small.pct(.5) }, "%.2f")
	row("p99 ms, "+small, true, func(r result) float64 { return r.small.pct(.99) }, "%.1f")
	row("max ms, "+small, true, func(r result) float64 { return r.small.maxMs() }, "%.0f")
	row("webhooks/s, "+large+" sessions stored", false, func(r result) float64 { return r.large.opsPerSec() }, "%.0f")
	row("p50 ms, "+large, false, func(r result) float64 { return r.large.pct(.5) }, "%.2f")
	row("p99 ms, "+large, false, func(r result) float64 { return r.large.pct(.99) }, "%.1f")
	row("p99.9 ms, "+large, false, func(r result) float64 { return r.large.pct(.999) }, "%.0f")
	row("max ms, "+large, false, func(r result) float64 { return r.large.maxMs() }, "%.0f")
	row("bulk fill to "+large+", s", false, func(r result) float64 { return r.fill.Seconds() }, "%.0f")
	row("sweep of "+large+" expired, s", false, func(r result) float64 { return r.sweep.elapsed.Seconds() }, "%.1f")
	row("sweep batch hold, p50 ms", false, func(r result) float64 { return float64(r.sweep.hold(.5)) / 1e6 }, "%.1f")
	row("sweep batch hold, max ms", false, func(r result) float64 { return float64(r.sweep.hold(1)) / 1e6 }, "%.1f")
	row("webhooks/s during sweep", false, func(r result) float64 { return r.during.opsPerSec() }, "%.0f")
	row("p99 ms during sweep", false, func(r result) float64 { return r.during.pct(.99) }, "%.1f")
	row("p99.9 ms during sweep", false, func(r result) float64 { return r.during.pct(.999) }, "%.0f")
	row("max ms during sweep", false, func(r result) float64 { return r.during.maxMs() }, "%.0f")
	row("webhooks/s after the sweep", false, func(r result) float64 { return r.after.opsPerSec() }, "%.0f")
	row("p99 ms after the sweep", false, func(r result) float64 { return r.after.pct(.99) }, "%.1f")
	row("size MiB, "+large+" stored", false, func(r result) float64 { return mb(r.size1) }, "%.0f")
	row("size MiB, after sweep", false, func(r result) float64 { return mb(r.size2) }, "%.0f")
	row("size MiB, "+large+" new stored", false, func(r result) float64 { return mb(r.size3) }, "%.0f")
	row("size MiB, after compactions settle", false, func(r result) float64 { return mb(r.size4) }, "%.0f")
	row("growth, second "+large+" / first", false, func(r result) float64 { return float64(r.size4) / float64(r.size1) }, "%.2f")
}
