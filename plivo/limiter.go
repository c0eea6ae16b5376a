package plivo

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// Clock is the time source of a Client and a Limiter: Now, and Sleep,
// which waits d or until ctx is done (returning ctx.Err()). Tests pass a
// fake clock so that rate limits and retry delays take no real time.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock (time.Now and a timer).
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Limiter paces the requests that create outbound calls to a number of
// calls per second (CPS), the way Plivo dequeues an account's outbound
// calls. It is a token bucket (kept as a "theoretical arrival time", the
// GCRA form): a full bucket holds burst tokens, one token comes back every
// 1/cps seconds.
//
// A request that creates n calls (a "<"-separated to list) waits for one
// token and takes n: it is sent as soon as the bucket allows one call, and
// the calls it creates delay the requests after it, as they would sit in
// Plivo's queue ahead of them.
//
// A nil *Limiter never waits. A Limiter is safe for concurrent use and can
// be shared by several clients of the same account (Config.Limiter).
type Limiter struct {
	mu       sync.Mutex
	interval time.Duration // one token every interval
	tau      time.Duration // (burst-1) * interval
	tat      time.Time     // theoretical arrival time of the next token
	clock    Clock
}

// NewLimiter returns a limiter of cps calls per second with bursts of up
// to burst calls (burst < 1 means 1), timed by clock (nil means
// SystemClock). cps <= 0 (or NaN) returns nil: no limit.
func NewLimiter(cps float64, burst int, clock Clock) *Limiter {
	if !(cps > 0) || math.IsInf(cps, 1) {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	if clock == nil {
		clock = SystemClock
	}
	interval := time.Duration(float64(time.Second) / cps)
	if interval <= 0 {
		interval = 1
	}
	return &Limiter{interval: interval, tau: time.Duration(burst-1) * interval, clock: clock}
}

// Interval returns the time between two calls at the limiter's rate (0
// for a nil Limiter).
func (l *Limiter) Interval() time.Duration {
	if l == nil {
		return 0
	}
	return l.interval
}

// Wait waits for one call. See WaitN.
func (l *Limiter) Wait(ctx context.Context) error { return l.WaitN(ctx, 1) }

// WaitN waits until a request creating n calls may be sent, and takes n
// tokens. It returns ctx's error if ctx ends first, or at once (with an
// error wrapping context.DeadlineExceeded) if ctx's deadline comes before
// the wait would end; the tokens are then given back.
func (l *Limiter) WaitN(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	cost := time.Duration(n) * l.interval
	l.mu.Lock()
	now := l.clock.Now()
	tat := l.tat
	if tat.Before(now) {
		tat = now
	}
	at := tat.Add(-l.tau) // when the bucket holds a token again
	wait := at.Sub(now)
	if wait > 0 {
		if dl, ok := ctx.Deadline(); ok && dl.Before(at) {
			l.mu.Unlock()
			return fmt.Errorf("plivo: waiting %v for the calls-per-second limit would pass the deadline: %w", wait, context.DeadlineExceeded)
		}
	}
	newTat := tat.Add(cost)
	l.tat = newTat
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	if err := l.clock.Sleep(ctx, wait); err != nil {
		l.mu.Lock()
		if l.tat.Equal(newTat) { // nobody queued behind us: give the tokens back
			l.tat = newTat.Add(-cost)
		}
		l.mu.Unlock()
		return err
	}
	return nil
}
