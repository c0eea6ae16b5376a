package fastserve

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rawPair returns a raw connection (as the server's listener accepts
// it) and the plain TCP connection at its other end, on loopback.
func rawPair(t *testing.T) (*rawConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	c, err := retryListener{Listener: ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc, ok := c.(*rawConn)
	if !ok {
		t.Fatalf("accepted a %T, want *rawConn", c)
	}
	return rc, peer.(*net.TCPConn)
}

// The bytes arrive whole and in order both ways, across partial writes
// and waits for room (32 MiB, more than loopback's socket buffers hold),
// and a read after the peer's close-write is io.EOF.
func TestRawConnReadWrite(t *testing.T) {
	c, peer := rawPair(t)
	out := make([]byte, 32<<20)
	for i := range out {
		out[i] = byte(i * 7 / 3)
	}
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(peer); got <- b }()
	n, err := c.Write(out)
	if n != len(out) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(out))
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, out) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(out))
	}

	go func() {
		peer.Write(out)
		peer.CloseWrite()
	}()
	in, err := io.ReadAll(c) // many reads, each waiting in the poller for the next bytes
	if err != nil || !bytes.Equal(in, out) {
		t.Fatalf("read %d bytes (%v), not the %d the peer wrote", len(in), err, len(out))
	}
	if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer's close-write = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

// The deadlines hold, with the errors net.TCPConn gives: a read with
// nothing to read and a write with no room end at their deadline with a
// timeout, named "read" and "write".
func TestRawConnDeadlines(t *testing.T) {
	c, _ := rawPair(t) // the peer never reads nor writes
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 8))
	checkTimeout(t, err, "read")

	if err := c.SetWriteBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<20) // more than loopback's buffers hold
	if err := c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Write(big)
	checkTimeout(t, err, "write")
	if n <= 0 || n >= len(big) {
		t.Errorf("Write wrote %d bytes before its deadline; want some, not all %d", n, len(big))
	}
}

func checkTimeout(t *testing.T, err error, op string) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != op || !oe.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s past its deadline: %v (%T); want a net.OpError %q that is a timeout", op, err, err, op)
	}
}

// A closed connection's reads and writes fail with net.ErrClosed; a
// reset one's with the system's error, named as net.TCPConn names it.
func TestRawConnClosed(t *testing.T) {
	c, peer := rawPair(t)
	if err := peer.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	peer.Close() // a reset
	var err error
	for range 100 {
		if _, err = c.Write([]byte("x")); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var oe *net.OpError
	var se *os.SyscallError
	if !errors.As(err, &oe) || oe.Op != "write" || !errors.As(err, &se) || se.Syscall != "write" ||
		!(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Errorf("Write to a reset connection: %v; want a net.OpError \"write\" of the write call's ECONNRESET or EPIPE", err)
	}

	c.Close()
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v; want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v; want net.ErrClosed", err)
	}
}

// A read and a write that need not wait allocate nothing: the calls'
// functions are bound once per connection.
func TestRawConnAllocs(t *testing.T) {
	c, peer := rawPair(t)
	msg, buf := []byte("POST /flows/ivr/answer HTTP/1.1\r\n\r\n"), make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(peer, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Write(msg); err != nil {
			t.Fatal(err)
		}
		// The bytes are on c's socket once the peer's write returns
		// (loopback delivers within the write).
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a raw write and read allocated %.1f times; want 0", allocs)
	}
}

// Reads and writes from several goroutines at once each get whole
// bytes of their own (run with -race).
func TestRawConnConcurrent(t *testing.T) {
	c, peer := rawPair(t)
	const writers, each = 4, 1000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := c.Write([]byte{byte('a' + w)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	counts := make(map[byte]int)
	buf := make([]byte, 256)
	for n := 0; n < writers*each; {
		k, err := peer.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range buf[:k] {
			counts[b]++
		}
		n += k
	}
	wg.Wait()
	for w := range writers {
		if counts[byte('a'+w)] != each {
			t.Fatalf("the peer read %v; want %d of each writer's byte", counts, each)
		}
	}

	go peer.Write(bytes.Repeat([]byte("x"), writers*each))
	var got sync.Map
	var total atomic.Int64
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, 64)
			for total.Load() < writers*each {
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				k, err := c.Read(b)
				if k > 0 {
					total.Add(int64(k))
					got.Store(string(b[:k]), true)
				} else if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if total.Load() != writers*each {
		t.Fatalf("read %d bytes, want %d", total.Load(), writers*each)
	}
	got.Range(func(k, _ any) bool {
		if strings.Trim(k.(string), "x") != "" {
			t.Fatalf("a read got %q, not the peer's bytes", k)
		}
		return true
	})
}
