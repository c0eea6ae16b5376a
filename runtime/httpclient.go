package runtime

import (
	"errors"
	"net"
	"net/http"
	"time"
)

// httpClient sends the requests of flows' http nodes: one client for
// the process, so connections to a CRM are kept alive between webhooks,
// with bounded idle connections. Each request's timeout comes from its
// node (its context); redirects are followed only to the same host and
// scheme, at most 3, so a request never carries its headers (secrets) to
// another host.
type httpClient struct{ c *http.Client }

// NewHTTPClient returns the client http nodes use by default.
func NewHTTPClient() *httpClient {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		MaxConnsPerHost:       256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &httpClient{c: &http.Client{Transport: t, CheckRedirect: sameHostRedirect}}
}

var errRedirect = errors.New("redirected to another host")

func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("too many redirects")
	}
	first := via[0].URL
	if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		return errRedirect
	}
	return nil
}

// Do implements flow.HTTP.
func (h *httpClient) Do(_ string, req *http.Request) (*http.Response, error) {
	return h.c.Do(req)
}
