// Package runtime serves compiled flows to Plivo: it is the answer_url,
// the hangup_url and every callback URL flowd writes into its XML. Each
// webhook loads the call's session, walks the flow's graph from where the
// call stands, stores the session and answers with Plivo XML.
package runtime
