package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// gen makes call ids and payloads: JSON-like text of the sizes flowd
// writes, field names from a small vocabulary and random values, so that
// it compresses about as well as an encoded session (neither random bytes
// nor one repeated template).
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

var words = []string{
	"menu", "digits", "lang", "greeting", "transfer", "queue", "operator", "caller",
	"retry", "timeout", "speak", "play", "record", "hangup", "status", "node",
	"next", "input", "dtmf", "speech", "confidence", "voice", "url", "action",
	"method", "from", "to", "direction", "event", "duration", "answered", "attempt",
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

// id returns a random UUID-shaped call id, as Plivo's CallUUID.
func (g *gen) id() []byte {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		u := g.r.Uint64()
		for j := range 8 {
			b[i+j] = byte(u >> (8 * j))
		}
	}
	h := hex.EncodeToString(b[:])
	return []byte(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

// payload returns n bytes of JSON-like text about call id at step.
func (g *gen) payload(n int, id []byte, step int, kind string) []byte {
	d := make([]byte, 0, n+40)
	d = append(d, `{"`...)
	d = append(d, kind...)
	d = append(d, `":"`...)
	d = append(d, id...)
	d = append(d, `","step":`...)
	d = strconv.AppendInt(d, int64(step), 10)
	d = append(d, `,"vars":{`...)
	for len(d) < n {
		d = append(d, '"')
		d = append(d, words[g.r.IntN(len(words))]...)
		d = append(d, `":"`...)
		u := g.r.Uint64()
		k := 4 + int(u%21)
		u >>= 5
		for range k {
			if u < 64 {
				u = g.r.Uint64()
			}
			d = append(d, alnum[u&63])
			u >>= 6
		}
		d = append(d, `",`...)
	}
	d = d[:n-2]
	return append(d, "}}"...)
}

func (g *gen) hot(id []byte, step int) []byte { return g.payload(300+g.r.IntN(701), id, step, "call") }
func (g *gen) trace(id []byte, step int) []byte {
	return g.payload(300+g.r.IntN(1201), id, step, "trace")
}

// windowResult is what a window of webhooks measured.
type windowResult struct {
	ops       int
	elapsed   time.Duration
	lat       []int64 // sorted, nanoseconds
	conflicts int
}

func (w windowResult) opsPerSec() float64 { return float64(w.ops) / w.elapsed.Seconds() }

// pct returns the q-quantile latency in milliseconds.
func (w windowResult) pct(q float64) float64 {
	if len(w.lat) == 0 {
		return 0
	}
	i := min(len(w.lat)-1, int(q*float64(len(w.lat))))
	return float64(w.lat[i]) / 1e6
}

func (w windowResult) maxMs() float64 {
	if len(w.lat) == 0 {
		return 0
	}
	return float64(w.lat[len(w.lat)-1]) / 1e6
}

// runWindow runs webhooks on fresh calls from conc workers until dur
// passes or stop closes. Each worker keeps live/conc calls in flight and
// steps them round-robin (every call gets one webhook, then the next
// round), steps webhooks per call, then starts new calls: the writes of
// one moment hit many calls, as a server's do. A webhook is a Get of the
// hot record and a Write with the revision read.
//
// With rate 0 each worker sends its next webhook as soon as the last is
// acknowledged (the engine's saturation). With a rate, webhooks are sent
// on a fixed schedule of rate a second in all, and a webhook's latency
// counts from its scheduled time, so a stalled engine is charged for the
// webhooks that queued behind the stall.
func runWindow(e Engine, conc, live, steps int, rate float64, dur time.Duration, stop <-chan struct{}, ttl time.Duration, seed uint64) (windowResult, error) {
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		res       windowResult
		firstErr  error
		conflicts atomic.Int64
	)
	perWorker := max(1, live/conc)
	start := time.Now()
	deadline := start.Add(dur)
	for wk := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGen(seed + uint64(wk)*7919)
			lat := make([]int64, 0, 1<<14)
			ids := make([][]byte, perWorker)
			var interval time.Duration
			next := start
			if rate > 0 {
				interval = time.Duration(float64(conc) / rate * 1e9)
				next = start.Add(interval * time.Duration(wk) / time.Duration(conc))
			}
			err := func() error {
				for {
					for i := range ids {
						ids[i] = g.id()
					}
					for step := range steps {
						for _, id := range ids {
							select {
							case <-stop:
								return nil
							default:
							}
							if time.Now().After(deadline) {
								return nil
							}
							hot, trace := g.hot(id, step), g.trace(id, step)
							t0 := time.Now()
							if rate > 0 {
								if d := time.Until(next); d > 0 {
									time.Sleep(d)
								}
								t0, next = next, next.Add(interval)
							}
							for {
								now := time.Now().UnixNano()
								rev, _, ok, err := e.Get(id, now)
								if err != nil {
									return err
								}
								if ok != (step > 0) || (ok && rev != uint64(step)) {
									return fmt.Errorf("%s: call %s step %d: read revision %d, found %v", e.Name(), id, step, rev, ok)
								}
								err = e.Write(&Webhook{ID: id, PrevRev: rev, Hot: hot, Trace: trace, Expiry: now + int64(ttl), Now: now})
								if errors.Is(err, ErrConflict) {
									conflicts.Add(1)
									continue
								}
								if err != nil {
									return err
								}
								break
							}
							lat = append(lat, int64(time.Since(t0)))
						}
					}
				}
			}()
			mu.Lock()
			res.lat = append(res.lat, lat...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ops = len(res.lat)
	res.conflicts = int(conflicts.Load())
	slices.Sort(res.lat)
	return res, firstErr
}

// load stores n sessions of steps webhooks each, expiring at expiry, in
// batches of batch sessions (fewer when calls have long traces, so that a
// batch stays near 14 000 records: one huge bbolt transaction into an
// empty bucket is quadratic); one goroutine makes the payloads while the
// engine stores the previous batch.
func load(e Engine, n, steps, batch int, expiry int64, seed uint64) error {
	batch = max(1, min(batch, 14000/(min(steps, keepFirst+keepLast)+2)))
	ch := make(chan []Loaded, 2)
	go func() {
		defer close(ch)
		g := newGen(seed)
		for done := 0; done < n; {
			m := min(batch, n-done)
			b := make([]Loaded, m)
			for i := range b {
				id := g.id()
				l := Loaded{ID: id, Hot: g.hot(id, steps-1), Expiry: expiry, Traces: make([][]byte, steps)}
				for s := range steps {
					if s < keepFirst || s >= steps-keepLast {
						l.Traces[s] = g.trace(id, s)
					}
				}
				b[i] = l
			}
			done += m
			ch <- b
		}
	}()
	var err error
	for b := range ch {
		if err == nil {
			err = e.Load(b)
		}
	}
	return err
}

// sweepResult is what one sweep of expired sessions measured.
type sweepResult struct {
	entries int
	batches int
	elapsed time.Duration
	holds   []time.Duration // sorted
}

func (r sweepResult) hold(q float64) time.Duration {
	if len(r.holds) == 0 {
		return 0
	}
	return r.holds[min(len(r.holds)-1, int(q*float64(len(r.holds))))]
}

// sweep runs SweepBatch until nothing expired before now is left,
// pausing between batches.
func sweep(e Engine, now int64, batch int, pause time.Duration) (sweepResult, error) {
	var r sweepResult
	start := time.Now()
	for {
		n, hold, err := e.SweepBatch(now, batch)
		if err != nil {
			return r, err
		}
		if n == 0 {
			break
		}
		r.entries += n
		r.batches++
		r.holds = append(r.holds, time.Duration(hold))
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	r.elapsed = time.Since(start)
	slices.Sort(r.holds)
	return r, nil
}
