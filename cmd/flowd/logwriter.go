package main

import (
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Log lines are written in batches. flowd serve logs a line per webhook,
// and a write to stderr per line cost about 5 % of a webhook's CPU: the
// same share as the log line's formatting. So serve's log goes through a
// logWriter, as nginx's access_log with buffer= and flush= does:
//   - a line is written at most logFlushDelay after it was logged, or at
//     once when logBufSize bytes are waiting;
//   - a line at Warn or above is written before its Handle returns,
//     with every line before it (jsonlog.NewFlushing);
//   - everything is written when serve returns.
//
// What a crash can lose is the Info lines of the last logFlushDelay: a
// panic's own message goes straight to stderr, after the lines written
// before it. A terminal gets every line at once (bufferLog).
const (
	logFlushDelay = 50 * time.Millisecond
	logBufSize    = 64 << 10
)

// logWriter batches the writes to w.
type logWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	delay time.Duration
	timer *time.Timer // armed while bytes wait
	armed bool
}

// newLogWriter writes what it is given to w at most delay later.
func newLogWriter(w io.Writer, delay time.Duration) *logWriter {
	l := &logWriter{w: w, buf: make([]byte, 0, logBufSize), delay: delay}
	l.timer = time.AfterFunc(time.Hour, l.Flush)
	l.timer.Stop()
	return l
}

// Write keeps p to be written with the lines around it. It never fails:
// an error writing to w (stderr closed) loses lines, as writing them one
// by one would.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 && len(l.buf)+len(p) > logBufSize {
		l.flushLocked()
	}
	if len(p) >= logBufSize {
		_, _ = l.w.Write(p)
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	if !l.armed {
		l.armed = true
		l.timer.Reset(l.delay)
	}
	return len(p), nil
}

// Flush writes what waits.
func (l *logWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *logWriter) flushLocked() {
	if l.armed {
		l.armed = false
		l.timer.Stop()
	}
	if len(l.buf) == 0 {
		return
	}
	_, _ = l.w.Write(l.buf)
	l.buf = l.buf[:0]
}

// bufferLog returns the writer serve logs and reports to in place of
// stderr, and the function that writes what is left when serve returns.
// Every line goes through the one buffer so they keep their order. A
// terminal is written to as lines come: someone is reading it.
func bufferLog(stderr io.Writer) (io.Writer, func()) {
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		return stderr, func() {}
	}
	l := newLogWriter(stderr, logFlushDelay)
	return l, l.Flush
}

// isTerminal reports whether f is a terminal: a character device such as
// /dev/null is not one.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}
