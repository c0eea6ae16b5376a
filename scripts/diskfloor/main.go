// Command diskfloor measures how long the disk takes to flush small
// appends, the floor under the journal store's latency: a durable
// webhook waits for at least one such flush (fdatasync on Linux, fsync
// elsewhere). scripts/load-answer.sh runs it beside the journal's latency
// runs, in the folder the journal writes to, so the two compare within
// one run on a host whose disk is shared.
//
// It appends -size bytes to a new file in -dir and flushes, every
// -every, for -duration, and prints the flushes' latency: p50, p99,
// p99.9 and max (the write and the flush together, as the journal's
// writer pays them).
//
//	diskfloor -dir /var/lib/flowd -duration 5s
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "the folder to write in (the journal's filesystem)")
	duration := flag.Duration("duration", 5*time.Second, "how long to measure")
	size := flag.Int("size", 20<<10, "bytes per append (a journal flush at half its throughput carries about 20 KiB)")
	every := flag.Duration("every", 2*time.Millisecond, "time between the starts of two flushes")
	flag.Parse()
	if *size < 1 || *duration <= 0 || *every < 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: diskfloor [-dir DIR] [-duration 5s] [-size BYTES] [-every 2ms]")
		os.Exit(2)
	}
	f, err := os.CreateTemp(*dir, "diskfloor-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "diskfloor:", err)
		os.Exit(1)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, *size)
	var lat []time.Duration
	start := time.Now()
	for next := start; time.Since(start) < *duration; next = next.Add(*every) {
		time.Sleep(time.Until(next))
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			fmt.Fprintln(os.Stderr, "diskfloor:", err)
			os.Exit(1)
		}
		if err := flush(f); err != nil {
			fmt.Fprintln(os.Stderr, "diskfloor:", err)
			os.Exit(1)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	at := func(q float64) string {
		return fmt.Sprintf("%.3f", float64(lat[min(len(lat)-1, int(q*float64(len(lat))))])/1e6)
	}
	fmt.Printf("flushes=%d size=%d every=%v latency_ms p50=%s p99=%s p999=%s max=%s\n",
		len(lat), *size, *every, at(0.5), at(0.99), at(0.999), at(1))
}
