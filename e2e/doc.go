// Package e2e holds end-to-end tests of flowd as it runs in production:
// the flowd binary, built from ../cmd/flowd, serving ../examples/flows
// from several replicas that share one real redis-server, behind a
// round-robin reverse proxy, with internal/plivosim playing Plivo (the
// proxy and Plivo's retries are internal/cluster's).
//
// The package has no code of its own; its tests are:
//
//   - TestReplicas: every example flow walked to its end by simulated
//     calls whose webhooks spread over three replicas; duplicate
//     callbacks sent to all replicas at once; a replica killed with
//     SIGKILL and redis-server restarted while calls are in progress.
//     Every call's trace (/v1/calls/{id}) must show the expected path
//     (the scenarios and the checks are internal/scenarios').
//     Concurrent MultiPartyCall events for one call are all kept, and a
//     hangup that arrives while the store is down is answered 503 so
//     Plivo retries it.
//
// crm-routing's look-ups reach a fake CRM the test serves on a 127.0.0.1
// port (internal/scenarios' CRM), given to the replicas with --param
// crm_url and crm_token: never the flow's default URL.
//
// They need redis-server on the PATH (Debian: apt-get install
// redis-server) and take 10 to 30 s, building flowd included; they are
// skipped with -short or without redis-server:
//
//	go test ./e2e -v
//
// scripts/soak.sh runs the same kind of cluster under load.
package e2e
