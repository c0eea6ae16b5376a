package fastserve

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// rawConn is a TCP connection whose reads and writes are raw system
// calls on its non-blocking socket: Go's scheduler does not see them, as
// it does not see any other short computation. When a socket is not
// ready (EAGAIN) the goroutine waits in Go's poller, with the
// connection's deadlines, as net.TCPConn's own Read and Write do.
//
// Why: Go marks its processor idle-able for the length of every system
// call a goroutine makes through package syscall, and the runtime's
// monitor (sysmon) hands the processor to another thread when it finds
// one call lasting over two of its ticks (20 µs or more). On loopback
// and on a busy host a socket write often does: the kernel delivers the
// segment to the receiver within the write. With one processor (flowd
// serve on one CPU) every such hand-over is a wake-up of a second thread
// and two context switches, and while they keep happening the monitor
// wakes every 20 µs. Measured with flowd serve on one CPU answering
// 17,000 webhooks a second (scripts/rate), three alternating rounds of
// each: 15.3–17.7 k context switches a second with Go's calls against
// 6.6–7.9 k with raw ones, and 46–48 µs of CPU per answer against 38–43;
// perf put 10 % of the CPU in the monitor against 2.4 %. At saturation
// (wrk, 64 connections) the two were within the noise.
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn
	// The calls' arguments and results, so that read and write, bound
	// once per connection, allocate nothing per call. rmu and wmu keep
	// them to one Read and one Write at a time (net.Conn's methods may be
	// called from several goroutines at once).
	rmu, wmu    sync.Mutex
	rbuf, wbuf  []byte
	rn, wn      int
	rerr, werr  error
	read, write func(fd uintptr) bool
}

// wrapConn gives c raw reads and writes when it is a TCP connection.
func wrapConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConn{TCPConn: tc, rc: rc}
	r.read, r.write = r.readFD, r.writeFD
	return r
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, nil
	err := c.rc.Read(c.read)
	n, rerr := c.rn, c.rerr
	c.rbuf, c.rerr = nil, nil
	switch {
	case err != nil:
		return 0, asOp(err, "read") // closed, or the read deadline passed
	case rerr != nil:
		return 0, c.opError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readFD reads into rbuf; false (wait for the socket, then again) when
// nothing is there yet.
func (c *rawConn) readFD(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case 0:
			c.rn = int(r)
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.rerr = e
			return true
		}
	}
}

func (c *rawConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr = p, 0, nil
	err := c.rc.Write(c.write)
	n, werr := c.wn, c.werr
	c.wbuf, c.werr = nil, nil
	switch {
	case err != nil:
		return n, asOp(err, "write") // closed, or the write deadline passed
	case werr != nil:
		return n, c.opError("write", werr)
	}
	return n, nil
}

// writeFD writes what is left of wbuf; false (wait for room, then again)
// when the socket's buffer is full.
func (c *rawConn) writeFD(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[c.wn])), uintptr(len(c.wbuf)-c.wn))
		switch {
		case e == 0 && r == 0:
			c.werr = io.ErrUnexpectedEOF // as poll.FD.Write says of a write that wrote nothing
			return true
		case e == 0:
			c.wn += int(r)
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return false
		default:
			c.werr = e
			return true
		}
	}
	return true
}

// opError wraps a system call's error as net.TCPConn's methods do
// ("read tcp A->B: read: connection reset by peer").
func (c *rawConn) opError(op string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// asOp names a RawConn's error (net.OpError "raw-read", "raw-write") as
// the Read or Write of a net.TCPConn would.
func asOp(err error, op string) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
	}
	return err
}
