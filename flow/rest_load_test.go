package flow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
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

// TestAddParticipantEvents: an add_participant that creates the MPC may
// ask for its events, and then owns their URL arguments.
func TestAddParticipantEvents(t *testing.T) {
	src := `flow: f
nodes:
  ring:
    add_participant:
      mpc: q
      role: agent
      to: sip:alice@phone.plivo.com
      recording_callback_url: https://example.com/rec
    events: [status, recording]
`
	_, ds := flow.Compile("f.yaml", []byte(src))
	want := "f.yaml:8:7: error: add_participant recording_callback_url is filled by flowd because events lists recording; remove one of the two [owned-attribute]"
	if got := ds.Error(); !strings.Contains(got, want) || len(ds) != 1 {
		t.Errorf("diagnostics:\n%s\nwant\n%s", got, want)
	}
	g, ds := flow.Compile("f.yaml", []byte(strings.Replace(src, "      recording_callback_url: https://example.com/rec\n", "", 1)))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	rest := &recordingREST{}
	w := flow.Walker{REST: rest, URL: func(node, ev string) string { return "https://flowd.test/" + node + "/" + ev }}
	if r := w.Answer(g, g.NewState(map[string]string{"CallUUID": "c", "To": "+14155550199"}, nil)); r.Err != nil || r.RESTErr != nil {
		t.Fatal(r.Err, r.RESTErr)
	}
	if p := rest.added; p == nil || p.StatusCallbackURL != "https://flowd.test/ring/status" || p.RecordingCallbackURL != "https://flowd.test/ring/recording" {
		t.Errorf("Add Participant params: %+v", p)
	}
}

// recordingREST keeps the Add Participant request it gets.
type recordingREST struct {
	flow.REST
	added *plivo.AddParticipantParams
}

func (r *recordingREST) AddParticipant(_ context.Context, _ plivo.MPCRef, p *plivo.AddParticipantParams) (*plivo.AddParticipantResponse, error) {
	r.added = p
	return &plivo.AddParticipantResponse{}, nil
}
