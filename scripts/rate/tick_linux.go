package main

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// newTicker returns a function that waits until about period after its
// last return, through a timerfd read by Go's network poller, which
// wakes within microseconds of the timer. time.Sleep cannot pace requests
// this finely: when the process is otherwise idle, Go waits for its
// timers in epoll_wait, whose timeout is whole milliseconds, so a
// 100 µs sleep takes about 1 ms (up to 4 ms on a busy host), and every
// request due in that millisecond would be sent late, all at once, its
// latency charged to the server.
func newTicker(period time.Duration) (wait func(), stop func(), err error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	ts := unix.NsecToTimespec(period.Nanoseconds())
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	// A non-blocking descriptor makes a File Go's poller waits on.
	f := os.NewFile(uintptr(fd), "timerfd")
	var buf [8]byte // the count of expirations since the last read
	return func() { _, _ = f.Read(buf[:]) }, func() { f.Close() }, nil
}
