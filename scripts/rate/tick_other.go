//go:build !linux

package main

import "time"

// newTicker returns a function that waits about period (elsewhere than
// Linux, with time.Sleep's granularity: the release lateness rate prints
// says what it cost).
func newTicker(period time.Duration) (wait func(), stop func(), err error) {
	return func() { time.Sleep(period) }, func() {}, nil
}
