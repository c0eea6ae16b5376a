// Package cluster is the plumbing between a simulated Plivo and several
// flowd replicas that share one session store: the load balancer in front
// of the replicas, Plivo's retries of a failed webhook, and the check that
// a replica answering is the one that was started. The e2e tests
// (package e2e) and the soak program (scripts/soak) both drive their
// replicas through it.
//
// A Proxy is a round-robin reverse proxy: each request goes to the next
// replica in turn, and to the one after it when a replica cannot be
// reached or drops the connection. The request body is buffered so it can
// be sent again; flowd answers a webhook it already answered with the same
// XML, so resending is safe. Serve its Handler on the address the
// replicas' --public-url names:
//
//	p := cluster.NewProxy([]string{addrA, addrB}, // host:port of each replica
//		cluster.Pool{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second})
//	srv := httptest.NewServer(p.Handler())
//	p.Served() // requests each replica answered
//
// A Retry is an http.RoundTripper that resends a webhook as Plivo does:
// on a connection error, a 5xx answer, or flowd's apology XML
// (ApologyXML), with a backoff from 25 ms, doubling, at most 800 ms:
//
//	client := &http.Client{Transport: &cluster.Retry{Next: http.DefaultTransport}}
//	sim := &plivosim.Sim{Client: client, AuthToken: token}
//
// WaitHealthy waits until a replica answers GET /healthz and checks that
// the answer comes from the process the caller started (flowd's answer
// carries its PID and instance ID), so that a server that already had the
// port is not taken for the replica:
//
//	h, err := cluster.WaitHealthy(ctx, nil, addr, cmd.Process.Pid)
//	// errors.Is(err, cluster.ErrOtherServer): another process answers
//
// Both Proxy and Retry are safe for concurrent use.
package cluster
