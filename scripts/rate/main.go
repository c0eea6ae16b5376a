// Command rate sends flowd's answer webhook at a fixed rate and reports
// the latency distribution, for scripts/load-answer.sh (wrk2 is not
// packaged by Debian).
//
// Requests are scheduled at fixed intervals whatever the server does, and
// each latency is measured from the time its request was due, not from
// when a connection was free to send it: a server that stalls is charged
// for the requests that queued behind the stall (no coordinated omission,
// as wrk2 measures). Every request carries a fresh CallUUID.
//
//	rate -url http://127.0.0.1:PORT/flows/ivr/answer -rate 5000 -conns 16 -duration 10s
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// formHead is the answer webhook's body up to the CallUUID, the same
// parameters as scripts/answer.lua and runtime/bench_test.go send.
const formHead = "From=%2B14155550100&To=%2B14155550199&Direction=inbound&CallStatus=ringing" +
	"&Event=StartApp&CallerName=Jane+Doe&BillRate=0.0085&ParentAuthID=MAXXXXXXXXXXXXXXXXXX" +
	"&RequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b&ALegRequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b" +
	"&SessionStart=2025-01-01+12%3A00%3A00.000000&STIRAttestation=A&STIRVerification=Verified" +
	"&CallUUID="

func main() {
	target := flag.String("url", "", "the answer URL (http only), required: http://127.0.0.1:PORT/flows/ivr/answer")
	rate := flag.Float64("rate", 1000, "requests per second")
	conns := flag.Int("conns", 16, "connections (requests in flight at most)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send at the rate")
	warmup := flag.Duration("warmup", time.Second, "sent at the rate before the measured duration, not counted")
	slow := flag.Duration("slow", 0, "when set, also print each stretch of requests that took longer than this: when it began (wall clock, and seconds into the run), how long it lasted, how many requests, the slowest")
	prefix := flag.Uint("prefix", uint(time.Now().UnixNano()&0xffffffff), "32-bit run id in every CallUUID, so runs never repeat one")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintf(os.Stderr, "rate: -url must be an http:// URL, got %q\n", *target)
		os.Exit(2)
	}
	if *rate <= 0 || *conns <= 0 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "rate: -rate, -conns and -duration must be positive")
		os.Exit(2)
	}
	path := u.RequestURI()

	total := int(*rate * (*warmup + *duration).Seconds())
	skip := int(*rate * warmup.Seconds())
	lat := make([]time.Duration, total) // by request index; -1 = not answered
	for i := range lat {
		lat[i] = -1
	}
	due := make(chan int, total)
	var refused atomic.Int64
	var firstErr atomic.Value
	start := time.Now().Add(50 * time.Millisecond)
	// Stop waiting for a server that cannot keep up: every request due
	// by then and not answered counts as failed.
	deadline := start.Add(*warmup + *duration + 5*time.Second)
	at := func(i int) time.Time { return start.Add(time.Duration(float64(i) / *rate * float64(time.Second))) }

	var wg sync.WaitGroup
	for c := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &client{addr: u.Host, host: u.Host, path: path}
			defer cl.close()
			var body []byte
			for i := range due {
				if time.Now().After(deadline) {
					continue
				}
				body = form(body[:0], uint32(*prefix), uint16(c), uint64(i))
				code, err := cl.post(body, deadline)
				if err != nil || code != 200 {
					if err == nil {
						refused.Add(1)
						err = fmt.Errorf("HTTP %d", code)
					}
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[i] = time.Since(at(i))
			}
		}()
	}
	// Release each request when it is due, waking every releasePeriod,
	// and keep how late each was released: the instrument's own share of
	// every latency below.
	wait, stopTicker, err := newTicker(releasePeriod)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rate: %v\n", err)
		os.Exit(1)
	}
	late := make([]time.Duration, total)
	released := 0
	for i := 0; i < total; {
		now := time.Now()
		for ; i < total && !at(i).After(now); i++ {
			late[i] = now.Sub(at(i))
			due <- i
		}
		released = i
		if now.After(deadline) {
			break
		}
		wait()
	}
	stopTicker()
	close(due)
	wg.Wait()
	elapsed := time.Since(start.Add(*warmup))

	var ok []time.Duration
	for _, d := range lat[skip:] {
		if d >= 0 {
			ok = append(ok, d)
		}
	}
	slices.Sort(ok)
	measured := total - skip
	fmt.Printf("rate=%.0f/s conns=%d duration=%s due=%d ok=%d failed=%d non200=%d achieved=%.0f/s\n",
		*rate, *conns, *duration, measured, len(ok), measured-len(ok), refused.Load(), float64(len(ok))/elapsed.Seconds())
	if len(ok) == 0 {
		fmt.Println("no successful requests")
		os.Exit(1)
	}
	ms := func(q float64) string { return quantile(ok, q) }
	fmt.Printf("latency_ms p50=%s p90=%s p99=%s p999=%s max=%s\n", ms(0.50), ms(0.90), ms(0.99), ms(0.999), ms(1))
	// Of the measured requests released (not those a stalled server left
	// unreleased past the deadline).
	if late = late[min(skip, released):released]; len(late) > 0 {
		slices.Sort(late)
		fmt.Printf("release_late_ms median=%s p99th=%s max=%s\n", quantile(late, 0.5), quantile(late, 0.99), quantile(late, 1))
	}
	if e := firstErr.Load(); e != nil {
		fmt.Printf("first error: %s\n", e)
	}
	if *slow > 0 {
		printStretches(lat[skip:], skip, *slow, at)
	}
}

// releasePeriod is how often the requests due are released. At 20,000
// requests a second it is one request's interval.
const releasePeriod = 50 * time.Microsecond

// quantile formats the q quantile of sorted (not empty), in
// milliseconds; 1 is its largest.
func quantile(sorted []time.Duration, q float64) string {
	i := min(int(q*float64(len(sorted))), len(sorted)-1)
	return strconv.FormatFloat(float64(sorted[i])/1e6, 'f', 3, 64)
}

// printStretches prints the stretches of requests, in the order they were
// due, that took over slow (or were not answered): what to set beside a
// server's log, such as its collector's cycles (GODEBUG=gctrace=1), to see
// what stalled it. Requests due less than 10 ms apart are one stretch.
func printStretches(lat []time.Duration, first int, slow time.Duration, at func(int) time.Time) {
	run := at(first)
	var begin, end, n int
	var worst time.Duration
	flush := func() {
		if n == 0 {
			return
		}
		t := at(first + begin)
		fmt.Printf("slow %s (%.3fs in): %.1f ms, %d requests, slowest %.1f ms\n", t.Format("15:04:05.000"),
			t.Sub(run).Seconds(), float64(at(first+end).Sub(t)+max(lat[end], 0))/1e6, n, float64(worst)/1e6)
		n, worst = 0, 0
	}
	for i, d := range lat {
		if d >= 0 && d <= slow {
			continue
		}
		if n > 0 && at(first+i).Sub(at(first+end)) > 10*time.Millisecond {
			flush()
		}
		if n == 0 {
			begin = i
		}
		end, n = i, n+1
		worst = max(worst, d)
	}
	flush()
}

// form appends the answer body with a CallUUID unique to (run, conn, i)
// whose first group is a hash, so keys do not arrive in sorted order.
func form(b []byte, run uint32, conn uint16, i uint64) []byte {
	b = append(b, formHead...)
	b = hex(b, (i*0x9E3779B97F4A7C15)>>32^uint64(run), 8)
	b = append(b, '-')
	b = hex(b, uint64(conn), 4)
	b = append(b, "-4000-8000-"...)
	b = hex(b, i, 12)
	return b
}

func hex(b []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		b = append(b, "0123456789abcdef"[(v>>(4*uint(i)))&15])
	}
	return b
}

// client is one keep-alive HTTP/1.1 connection, written by hand so the
// load generator costs far less CPU than the server it measures.
type client struct {
	addr, host, path string
	conn             net.Conn
	r                *bufio.Reader
	req              []byte
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
	}
}

func (c *client) post(body []byte, deadline time.Time) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 2*time.Second)
		if err != nil {
			return 0, err
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	_ = c.conn.SetDeadline(deadline)
	c.req = append(c.req[:0], "POST "...)
	c.req = append(c.req, c.path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.host...)
	c.req = append(c.req, "\r\nUser-Agent: PlivoHTTP\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	code, err := c.roundTrip()
	if err != nil {
		c.conn.Close()
		c.conn = nil
	}
	return code, err
}

func (c *client) roundTrip() (int, error) {
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(line)
	if len(f) < 2 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	closing := false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := strings.Cut(string(h), ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			length, err = strconv.Atoi(value)
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case "connection":
			closing = strings.EqualFold(value, "close")
		case "transfer-encoding":
			return 0, errors.New("chunked responses are not supported")
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	if _, err := c.r.Discard(length); err != nil {
		return 0, err
	}
	if closing {
		c.conn.Close()
		c.conn = nil // reconnect for the next request
	}
	return code, nil
}
