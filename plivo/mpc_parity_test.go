package plivo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/flowd-dev/flowd/plivo/plivotest"
	"github.com/flowd-dev/flowd/xmlgen"
)

// The MultiPartyCall facts — names, ranges, allowed values, defaults —
// are written three times, each its own reading of Plivo's documents:
// xmlgen's table (the <MultiPartyCall> element), this package's checks of
// Add Participant (AddParticipantParams.Validate) and plivotest's fake,
// which answers as Plivo would. These tests hold the three to one another
// by asking each about the same values. An XML attribute is compared with
// the REST argument of the same name in snake case (relayDTMFInputs is
// relay_dtmf_inputs).
//
// Where Plivo's documents really differ between the XML element (seed
// 002, Plivo's MultiPartyCall XML page) and the REST API (seed 000,
// Plivo's Add a participant page), the difference is named below, with
// the documents' words. Any other difference fails.

// mpcXMLOnly are the <MultiPartyCall> attributes Add Participant has no
// argument for.
//
// Seed 002 does not list them and seed 000 has no argument like them:
// xmlgen/elements.go keeps waitForAgent and recordCoachVoice from Plivo's
// MultiPartyCall XML page, and the recording audio ones from the Node
// SDK's element, which writes them (see the comments on the element).
var mpcXMLOnly = []string{
	"start_recording_audio", "start_recording_audio_method",
	"stop_recording_audio", "stop_recording_audio_method",
	"wait_for_agent",
	"record_coach_voice",
}

// mpcRESTOnly are the Add Participant arguments <MultiPartyCall> has no
// attribute for: they make or move the participant's call, where the
// element adds the call that runs it. Seed 002: "The MultiPartyCall
// element can add a participant to an ongoing multiparty call (MPC) or
// start a new multiparty call and to add a participant to it."
var mpcRESTOnly = []string{
	// "The “from” number to use as the caller ID for this outbound call."
	"from",
	// "A single destination or a list of destinations (numbers or
	// endpoints) to call."
	"to",
	// "The UUID of the call that should be transferred to the MPC
	// specified in the API request."
	"call_uuid",
	// "If set to a string, caller name will be set to this string value."
	"caller_name",
	// "Plivo invokes this URL when the call state changes. Only events
	// for newly initiated calls are transmitted."
	"call_status_callback_url", "call_status_callback_method",
	// "If a value is provided, the call recipient must enter the key
	// specified to be bridged into the MPC."
	"confirm_key", "confirm_key_sound_url", "confirm_key_sound_method",
	// Seed 001 (Plivo's MultiPartyCall summary), not seed 000:
	// "dial_music ... Music/ringtone while connecting. Use real for
	// ringback or URL."
	"dial_music",
	// "The number of seconds to wait for the call to be answered, counted
	// from the call initiation time."
	"ring_timeout",
	// "The number of seconds to wait before dialing out the ‘to’
	// destination(s)."
	"delay_dial",
	// "List of SIP headers in the form of key=value pairs, separated by
	// commas." and "For Multiple “to” numbers “sip_headers” must be
	// delimited by ”<”".
	"sip_headers",
}

// mpcRESTOnlyValues are values of an argument both have that Add
// Participant takes and the XML element does not.
var mpcRESTOnlyValues = map[string][]string{
	// Seed 002, statusCallbackEvents: "Allowed values: mpc-state-changes,
	// participant-state-changes, participant-digit-input-events,
	// participant-speak-events, add-participant-api-events (in any order,
	// separated by commas)". Seed 000, status_callback_events: "Allowed
	// values: mpc-state-changes, participant-state-changes,
	// participant-digit-input-events, participant-speak-events,
	// add-participant-api-events, participant-audio-events (in any order,
	// with multiple values separated by commas)".
	"status_callback_events": {"participant-audio-events"},
}

// TestMPCParityNames: the XML element's attributes and Add Participant's
// arguments are the same, but for the differences named.
func TestMPCParityNames(t *testing.T) {
	xml := map[string]bool{}
	for _, a := range mpcElement(t).Attrs {
		xml[snake(a.Name)] = true
	}
	rest := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[AddParticipantParams]()) {
		rest[jsonName(f)] = true
	}
	var xmlOnly, restOnly []string
	for n := range xml {
		if !rest[n] {
			xmlOnly = append(xmlOnly, n)
		}
	}
	for n := range rest {
		if !xml[n] {
			restOnly = append(restOnly, n)
		}
	}
	if got, want := sorted(xmlOnly), sorted(mpcXMLOnly); !slices.Equal(got, want) {
		t.Errorf("attributes of <MultiPartyCall> without an Add Participant argument:\n got %v\nwant %v (mpcXMLOnly)", got, want)
	}
	if got, want := sorted(restOnly), sorted(mpcRESTOnly); !slices.Equal(got, want) {
		t.Errorf("Add Participant arguments without a <MultiPartyCall> attribute:\n got %v\nwant %v (mpcRESTOnly)", got, want)
	}
}

// TestMPCParityValues asks xmlgen, Validate and the fake about the same
// values of every range and set of values the XML element and Add
// Participant share: all three accept or all three refuse, but for the
// values named in mpcRESTOnlyValues, which only the REST API takes.
func TestMPCParityValues(t *testing.T) {
	fake := newFake(t)
	probe := &mpcProbe{t: t, fk: fake}
	seen := map[string]bool{}
	for _, a := range mpcElement(t).Attrs {
		name := snake(a.Name)
		if slices.Contains(mpcXMLOnly, name) {
			continue
		}
		for _, v := range xmlProbes(&a) {
			xmlOK := a.Validate(v) == ""
			restOK := probe.rest(name, v)
			fakeOK := probe.fake(name, v, a.Kind == xmlgen.Int)
			if only := restOnlyValue(name, v); only != "" {
				seen[name+" "+only] = true
				if xmlOK || !restOK || !fakeOK {
					t.Errorf("%s %q (REST only): xmlgen accepts %v, Validate %v, the fake %v; want false, true, true", name, v, xmlOK, restOK, fakeOK)
				}
				continue
			}
			if xmlOK != restOK || xmlOK != fakeOK {
				t.Errorf("%s %q: xmlgen accepts %v, Validate %v, the fake %v", name, v, xmlOK, restOK, fakeOK)
			}
		}
	}
	for name, vs := range mpcRESTOnlyValues {
		for _, v := range vs {
			if !seen[name+" "+v] {
				t.Errorf("mpcRESTOnlyValues names %s %q, which no probe tried", name, v)
			}
		}
	}
}

// TestMPCParityRESTOnly asks Validate and the fake about the ranges and
// sets of values of the arguments only Add Participant has.
func TestMPCParityRESTOnly(t *testing.T) {
	fake := newFake(t)
	probe := &mpcProbe{t: t, fk: fake}
	check := func(name, v string, number bool) {
		t.Helper()
		if restOK, fakeOK := probe.rest(name, v), probe.fake(name, v, number); restOK != fakeOK {
			t.Errorf("%s %q: Validate accepts %v, the fake %v", name, v, restOK, fakeOK)
		}
	}
	for _, name := range []string{"ring_timeout", "delay_dial"} {
		for n := -1; n <= 130; n++ {
			check(name, strconv.Itoa(n), true)
		}
	}
	for c := byte('!'); c <= '~'; c++ {
		check("confirm_key", string(c), false)
	}
	check("confirm_key", "12", false)
	for _, v := range []string{"real", "Real", "https://example.com/ring.mp3", "ringing"} {
		check("dial_music", v, false)
	}
}

// TestMPCParityDefaults: what the fake does with a participant given no
// optional argument, added through the API or joined by XML, is what
// xmlgen's table says Plivo defaults to.
func TestMPCParityDefaults(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	ctx := context.Background()
	el := mpcElement(t)
	def := func(attr string) string {
		t.Helper()
		a := el.Attr(attr)
		if a == nil || a.Default == "" {
			t.Fatalf("xmlgen's MultiPartyCall has no default for %s", attr)
		}
		return a.Default
	}
	byAPI, byXML := MPCByName("api"), MPCByName("xml")
	if _, err := c.AddParticipant(ctx, byAPI, &AddParticipantParams{Role: RoleSupervisor, From: "14155550100", To: "14155550101"}); err != nil {
		t.Fatal(err)
	}
	fake.Join(byXML.Name, "call-1", "14155550102", RoleSupervisor)
	for _, ref := range []MPCRef{byAPI, byXML} {
		m, err := c.GetMPC(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.ListParticipants(ctx, ref)
		if err != nil || len(list.Objects) != 1 {
			t.Fatalf("%s: participants %+v, %v", ref, list, err)
		}
		p := list.Objects[0]
		for _, d := range []struct {
			attr string
			got  any
		}{
			{"maxParticipants", *m.MaxParticipants},
			{"maxDuration", *m.MaxDuration},
			{"stayAlone", m.StayAlone},
			{"record", *m.Recording == "recording"},
			{"coachMode", p.CoachMode},
			{"mute", *p.Mute},
			{"hold", *p.Hold},
			{"startMpcOnEnter", p.StartMPCOnEnter},
			{"endMpcOnExit", p.EndMPCOnExit},
		} {
			if got := fmt.Sprint(d.got); got != def(d.attr) {
				t.Errorf("%s: the fake's %s is %s, xmlgen's default %s", ref, d.attr, got, def(d.attr))
			}
		}
	}
}

func mpcElement(t *testing.T) *xmlgen.Element {
	t.Helper()
	el := xmlgen.Lookup("MultiPartyCall")
	if el == nil {
		t.Fatal("xmlgen has no MultiPartyCall")
	}
	return el
}

// xmlProbes returns the values to ask about for an attribute of xmlgen's
// table: its range's bounds and the integers just outside them, each of
// its values (in other letter cases too), values it does not have.
// Attributes whose rule is no range or set of values (booleans, URLs,
// free text) have none: each side's types and URL checks are tested on
// their own.
func xmlProbes(a *xmlgen.Attr) []string {
	var out []string
	switch a.Kind {
	case xmlgen.Int:
		if a.HasMin {
			out = append(out, strconv.FormatInt(a.Min-1, 10), strconv.FormatInt(a.Min, 10))
		}
		if a.HasMax {
			out = append(out, strconv.FormatInt(a.Max, 10), strconv.FormatInt(a.Max+1, 10))
		}
	case xmlgen.Method:
		out = append(out, "GET", "POST", "PUT", "get")
	case xmlgen.Enum:
		for _, v := range a.Values {
			out = append(out, v, strings.ToUpper(v), strings.ToLower(v))
		}
		out = append(out, "nope")
		if a.OrURL {
			out = append(out, "https://example.com/sound.xml")
		}
	case xmlgen.List:
		// Each value alone, those REST has besides, all of xmlgen's, one
		// twice, a space after a comma, an unknown one.
		vals := slices.Concat(a.Values, statusCallbackEvents, mpcRESTOnlyValues[snake(a.Name)])
		slices.Sort(vals)
		out = append(out, slices.Compact(vals)...)
		out = append(out, strings.Join(a.Values, ","), a.Values[0]+","+a.Values[0])
		if len(a.Values) > 1 {
			out = append(out, a.Values[0]+", "+a.Values[1])
		}
		out = append(out, "nope")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// restOnlyValue returns the value of mpcRESTOnlyValues that v (one value
// or a comma list) holds, or "".
func restOnlyValue(name, v string) string {
	for item := range strings.SplitSeq(v, ",") {
		if slices.Contains(mpcRESTOnlyValues[name], item) {
			return item
		}
	}
	return ""
}

// mpcProbe asks Validate and the fake whether Add Participant takes one
// argument's value, the others being a valid dial-out.
type mpcProbe struct {
	t    *testing.T
	fk   *plivotest.Server
	mpcs int
}

// rest reports whether Validate accepts the argument name set to v.
func (p *mpcProbe) rest(name, v string) bool {
	p.t.Helper()
	params := &AddParticipantParams{Role: RoleAgent, From: "14155550100", To: "14155550101"}
	rv := reflect.ValueOf(params).Elem()
	for _, f := range reflect.VisibleFields(rv.Type()) {
		if jsonName(f) != name {
			continue
		}
		field := rv.FieldByIndex(f.Index)
		switch field.Interface().(type) {
		case string:
			field.SetString(v)
		case *int, DelayDial:
			n, err := strconv.Atoi(v)
			if err != nil {
				p.t.Fatalf("%s %q is no integer", name, v)
			}
			if _, ok := field.Interface().(DelayDial); ok {
				field.Set(reflect.ValueOf(DelayDial{n}))
			} else {
				field.Set(reflect.ValueOf(&n))
			}
		default:
			p.t.Fatalf("%s is a %s: no probe sets it", name, f.Type)
		}
		return params.Validate() == nil
	}
	p.t.Fatalf("AddParticipantParams has no argument %s", name)
	return false
}

// fake reports whether the fake adds a participant with the argument
// name set to v, sent as a JSON number when number is set.
func (p *mpcProbe) fake(name, v string, number bool) bool {
	p.t.Helper()
	args := map[string]any{"role": "agent", "from": "14155550100", "to": "14155550101"}
	args[name] = v
	if number {
		n, err := strconv.Atoi(v)
		if err != nil {
			p.t.Fatalf("%s %q is no integer", name, v)
		}
		args[name] = n
	}
	body, err := json.Marshal(args)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mpcs++ // a room each, so that no room fills up
	u := fmt.Sprintf("%s/v1/Account/%s/MultiPartyCall/name_parity%d/Participant/", p.fk.URL, p.fk.AuthID, p.mpcs)
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.SetBasicAuth(p.fk.AuthID, p.fk.AuthToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.fk.Client().Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return true
	case http.StatusBadRequest:
		return false
	}
	p.t.Fatalf("%s %q: the fake answered %s", name, v, resp.Status)
	return false
}

// snake spells an XML attribute's name as Plivo spells REST arguments:
// startMpcOnEnter is start_mpc_on_enter, relayDTMFInputs
// relay_dtmf_inputs.
func snake(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := rune(name[i])
		if unicode.IsUpper(c) && i > 0 {
			prev, next := rune(name[i-1]), rune(0)
			if i+1 < len(name) {
				next = rune(name[i+1])
			}
			if unicode.IsLower(prev) || unicode.IsLower(next) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// jsonName returns the name a field is sent as.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
