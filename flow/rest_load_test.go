package flow_test

import (
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// TestRESTArgumentsKnownOnlyWhenFilled: REST arguments are checked at
// load as far as they are known there; Plivo's own spellings pass.
func TestRESTArgumentsKnownOnlyWhenFilled(t *testing.T) {
	for name, args := range map[string]string{
		"dial_music Real (Plivo's default, as its docs spell it)": "to: sip:alice@phone.plivo.com\n      dial_music: Real",
		"a templated call_uuid, to transfer the caller":           "call_uuid: \"{{ call.CallUUID }}\"",
		"per-destination sip_headers with a templated to":         "to: \"{{ vars.agents }}\"\n      sip_headers: \"a=1<b=2\"",
		"per-destination delay_dial with a templated to":          "to: \"{{ vars.agents }}\"\n      delay_dial: \"0<10\"",
	} {
		src := `flow: f
vars:
  agents: "sip:a@phone.plivo.com<sip:b@phone.plivo.com"
nodes:
  ring:
    add_participant:
      mpc: "q-{{ call.CallUUID }}"
      role: agent
      ` + args + `
    next: bye
  bye:
    Hangup: {}
`
		if g, ds := flow.Compile("f.yaml", []byte(src)); g == nil || ds.HasErrors(false) {
			t.Errorf("%s: refused at load: %v", name, ds)
		}
	}
}
