// Command hostnoise measures how steady the CPU it runs on is, the
// ground under every latency figure taken on a shared machine: it runs
// two fixed pieces of work back to back for -duration, counting how many
// of each fit in every -window, and prints for each the median count per
// window, the lowest, the first percentile, and how many windows fell
// under 80 % of the median.
//
//   - compute: arithmetic in registers. It slows when the host takes the
//     CPU itself (steal).
//   - memory: reads and writes at random in -buffer bytes (8 MiB: more
//     than a core's own caches, less than a socket's shared cache). It
//     also slows when other tenants of the host contend for the shared
//     cache and the memory bus, which flowd's answers, reading a store
//     of calls and the kernel's socket buffers, feel too.
//
// On the machine the capacity figures in docs/store-engines.md come from,
// one hour the compute windows stayed within 5 % of their median while
// the memory windows ranged over 4×; a fixed-rate run in such an hour
// has a tail that the server did not make. Run it pinned to the server's
// CPU, before and after a load run (scripts/load-answer.sh, rate-ab.sh):
//
//	taskset -c 0 go run ./scripts/hostnoise -duration 20s
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"
)

func main() {
	duration := flag.Duration("duration", 20*time.Second, "how long to measure each kind of work")
	window := flag.Duration("window", 100*time.Millisecond, "the window each count is taken over")
	buffer := flag.Int("buffer", 8<<20, "bytes the memory work reads and writes at random (a power of two)")
	flag.Parse()
	if *duration <= 0 || *window <= 0 || *duration < *window || *buffer < 4096 || *buffer&(*buffer-1) != 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "hostnoise: -duration and -window must be positive, -duration at least -window, -buffer a power of two of 4096 or more")
		os.Exit(2)
	}
	buf := make([]byte, *buffer)
	for i := range buf { // every page the process's before measuring
		buf[i] = byte(i)
	}
	var state uint64 = 1
	compute := func() {
		x := state
		for range 2000 {
			x = x*6364136223846793005 + 1442695040888963407
			x ^= x >> 17
		}
		state = x
	}
	mask := uint64(len(buf) - 1)
	memory := func() {
		x := state
		for range 2000 {
			x = x*6364136223846793005 + 1442695040888963407
			buf[(x>>20)&mask]++
		}
		state = x
	}
	for _, w := range []struct {
		name string
		work func()
	}{{"compute", compute}, {"memory", memory}} {
		fmt.Println(summary(w.name, counts(w.work, *duration, *window)))
	}
}

// counts runs work over and over for d and returns how many runs ended
// in each window.
func counts(work func(), d, window time.Duration) []int {
	var per []int
	for end := time.Now().Add(d); time.Now().Before(end); {
		n, t0 := 0, time.Now()
		for time.Since(t0) < window {
			work()
			n++
		}
		per = append(per, n)
	}
	return per
}

func summary(name string, per []int) string {
	s := slices.Clone(per)
	slices.Sort(s)
	med := s[len(s)/2]
	under := 0
	for _, v := range per {
		if v*5 < med*4 {
			under++
		}
	}
	return fmt.Sprintf("%-8s windows=%d median=%d min=%d (%.2f of the median) p1=%d under_80pct=%d",
		name, len(s), med, s[0], float64(s[0])/float64(med), s[len(s)/100], under)
}
