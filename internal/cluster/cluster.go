package cluster

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// ApologyXML is what flowd answers a known call when its session store
// fails (flow.ApologyXML): a real call hears it and ends.
var ApologyXML = flow.ApologyXML

// ---------------------------------------------------------------------
// The load balancer

// Pool sizes a Proxy's pool of idle connections to the replicas (the
// fields of http.Transport of the same names).
type Pool struct {
	MaxIdleConns, MaxIdleConnsPerHost int
	IdleConnTimeout                   time.Duration
}

// Proxy is a round-robin reverse proxy, as a load balancer in front of
// flowd replicas: each request goes to the next replica in turn, and to
// the one after it when a replica cannot be reached or drops the
// connection (the request is buffered, so it can be sent again). flowd
// answers a webhook it already answered with the same XML, so resending
// is safe.
//
// Proxy is also the http.RoundTripper behind its Handler. Its methods are
// safe for concurrent use.
type Proxy struct {
	tr *http.Transport

	mu   sync.RWMutex
	ups  []string
	hits []atomic.Int64

	next      atomic.Uint64
	failovers atomic.Int64 // attempts that failed over to the next replica
	failed    atomic.Int64 // requests no replica answered (502)
}

// NewProxy returns a Proxy to the replicas at upstreams (host:port; none
// until SetUpstreams when empty), which dials them with a 2 s timeout and
// keeps idle connections to them as pool says.
func NewProxy(upstreams []string, pool Pool) *Proxy {
	p := &Proxy{tr: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        pool.MaxIdleConns,
		MaxIdleConnsPerHost: pool.MaxIdleConnsPerHost,
		IdleConnTimeout:     pool.IdleConnTimeout,
	}}
	p.SetUpstreams(upstreams)
	return p
}

// Handler returns the reverse proxy to serve: it passes each request on
// with X-Forwarded-* headers and the client's Host, through RoundTrip, and
// answers 502 when no replica answered.
func (p *Proxy) Handler() http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "replica"
			pr.Out.Host = pr.In.Host
		},
		Transport: p,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.failed.Add(1)
			http.Error(w, "proxy: no replica answered: "+err.Error(), http.StatusBadGateway)
		},
	}
}

// SetUpstreams sets the replicas' addresses (host:port) and sets their
// counts of requests served to 0.
func (p *Proxy) SetUpstreams(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ups = slices.Clone(addrs)
	p.hits = make([]atomic.Int64, len(addrs))
}

// Served returns how many requests each replica answered, in the order of
// the upstreams.
func (p *Proxy) Served() []int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]int64, len(p.hits))
	for i := range p.hits {
		out[i] = p.hits[i].Load()
	}
	return out
}

// Failovers returns how many attempts failed and went on to the next
// replica.
func (p *Proxy) Failovers() int64 { return p.failovers.Load() }

// Failed returns how many requests no replica answered (answered 502 by
// Handler).
func (p *Proxy) Failed() int64 { return p.failed.Load() }

// CloseIdleConnections closes the idle connections to the replicas.
func (p *Proxy) CloseIdleConnections() { p.tr.CloseIdleConnections() }

// RoundTrip sends the request to the replicas in turn, from the next one,
// until one answers; it returns the last error when none does.
func (p *Proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	p.mu.RLock()
	ups := p.ups
	p.mu.RUnlock()
	if len(ups) == 0 {
		return nil, errors.New("no replicas")
	}
	start := int(p.next.Add(1) - 1)
	var last error
	for k := range ups {
		i := (start + k) % len(ups)
		out := req.Clone(req.Context())
		out.URL.Host = ups[i]
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.ContentLength = int64(len(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := p.tr.RoundTrip(out)
		if err == nil {
			p.mu.RLock()
			if i < len(p.hits) {
				p.hits[i].Add(1)
			}
			p.mu.RUnlock()
			return resp, nil
		}
		last = err
		if req.Context().Err() != nil {
			break
		}
		p.failovers.Add(1)
	}
	return nil, last
}

// readBody reads and closes the request's body; nil when it has none.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	return b, err
}

// ---------------------------------------------------------------------
// Plivo's retries

// Retry is an http.RoundTripper that resends a webhook that failed, as
// Plivo does: on a connection error, a 5xx answer, or flowd's apology XML
// (which flowd answers when its store failed; a real call would hear it
// and end, the simulated caller tries again so that the call can be
// checked to the end). The backoff starts at 25 ms and doubles, to at most
// 800 ms; it gives up after Attempts attempts and returns the last answer
// or error. The request body is buffered to be sent again; the answer's
// body is read in full before it is returned.
//
// Set the exported fields before first use; the methods are safe for
// concurrent use.
type Retry struct {
	// Next sends each attempt.
	Next http.RoundTripper
	// Attempts is the most attempts per request; 0 means 10.
	Attempts int
	// Observe, when set, gets each request that was answered, and the time
	// from the request to its last answer, retries included.
	Observe func(req *http.Request, d time.Duration)
	// Bearer, when set, is sent as Authorization: Bearer on requests
	// that carry no Authorization of their own: flowd's /v1 needs it.
	Bearer string

	retries   atomic.Int64 // webhooks sent again
	apologies atomic.Int64 // apology answers seen
	errs      atomic.Int64 // connection errors and 5xx seen
}

// Retries returns how many times a request was sent again.
func (p *Retry) Retries() int64 { return p.retries.Load() }

// Apologies returns how many apology answers (ApologyXML) were seen.
func (p *Retry) Apologies() int64 { return p.apologies.Load() }

// Errors returns how many connection errors and 5xx answers were seen.
func (p *Retry) Errors() int64 { return p.errs.Load() }

// RoundTrip sends the request through Next until it is answered with
// neither a 5xx nor the apology, the attempts run out or the request's
// context ends.
func (p *Retry) RoundTrip(req *http.Request) (*http.Response, error) {
	t0 := time.Now()
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 10
	}
	delay := 25 * time.Millisecond
	for a := 1; ; a++ {
		r := req.Clone(req.Context())
		if p.Bearer != "" && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+p.Bearer)
		}
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := p.Next.RoundTrip(r)
		retry := false
		if err != nil {
			retry = true
			p.errs.Add(1)
		} else {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			switch {
			case rerr != nil:
				retry, err, resp = true, rerr, nil
				p.errs.Add(1)
			case resp.StatusCode >= 500:
				retry = true
				p.errs.Add(1)
			case resp.StatusCode == http.StatusOK && bytes.Equal(b, ApologyXML):
				retry = true
				p.apologies.Add(1)
			}
		}
		if !retry || a >= attempts || req.Context().Err() != nil {
			if p.Observe != nil && err == nil {
				p.Observe(req, time.Since(t0))
			}
			return resp, err
		}
		p.retries.Add(1)
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 800*time.Millisecond)
	}
}
