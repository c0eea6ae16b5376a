package main

import (
	"os"
	goruntime "runtime"
)

// heapFloorSize is the heap below which serve's collector does not run.
const heapFloorSize = 64 << 20

// heapFloor makes the collector wait until the heap has grown by about
// heapFloorSize, rather than by as much as it holds live, unless GOGC or
// GOMEMLIMIT is set (whoever sets them chose their own policy). It
// returns the function that keeps the floor until serve returns.
//
// The floor is a ballast: one pointer-free allocation that the collector
// counts as live but never scans, and that nothing writes, so the kernel
// never gives it memory: it shows in Go's heap metrics, not in the
// process's resident memory. flowd's live heap is small (the memory and
// journal stores keep calls in blocks of their own), while each webhook
// allocates a few kilobytes: without a floor, a new server with few
// calls collected three times a second (18 collections in its first 6 s
// at 9,000 webhooks a second, 5 with the floor), and each one's marking
// and pauses take the CPU the webhooks use.
func heapFloor() (keep func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	ballast := make([]byte, heapFloorSize)
	return func() { goruntime.KeepAlive(ballast) }
}
