package xmlgen

import (
	"slices"
	"strings"
	"testing"
)

func TestElementNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Elements() {
		if e.Name == "" {
			t.Errorf("element with empty name")
		}
		if seen[e.Name] {
			t.Errorf("element %s declared twice", e.Name)
		}
		seen[e.Name] = true
		if Lookup(e.Name) != e {
			t.Errorf("Lookup(%q) does not return the declared element", e.Name)
		}
	}
}

func TestAttrNamesUnique(t *testing.T) {
	for _, e := range Elements() {
		seen := map[string]bool{}
		for _, a := range e.Attrs {
			if a.Name == "" {
				t.Errorf("%s: attribute with empty name", e.Name)
			}
			if seen[a.Name] {
				t.Errorf("%s: attribute %s declared twice", e.Name, a.Name)
			}
			seen[a.Name] = true
		}
	}
}

func TestDocsPresent(t *testing.T) {
	for _, e := range Elements() {
		if e.Doc == "" {
			t.Errorf("%s: no Doc", e.Name)
		}
		for _, a := range e.Attrs {
			if a.Doc == "" {
				t.Errorf("%s %s: no Doc", e.Name, a.Name)
			}
			if strings.Contains(a.Doc, "\n") {
				t.Errorf("%s %s: Doc is not one line", e.Name, a.Name)
			}
		}
	}
}

func TestChildrenResolve(t *testing.T) {
	for _, e := range Elements() {
		seen := map[string]bool{}
		for _, c := range e.Children {
			if Lookup(c) == nil {
				t.Errorf("%s: child %q is not in the table", e.Name, c)
			}
			if seen[c] {
				t.Errorf("%s: child %q listed twice", e.Name, c)
			}
			seen[c] = true
		}
		if e.MinChildren > 0 && len(e.Children) == 0 {
			t.Errorf("%s: MinChildren %d with no allowed children", e.Name, e.MinChildren)
		}
		if (e.ChildrenNeed != "") != (e.ChildrenWhen != nil) {
			t.Errorf("%s: ChildrenNeed and ChildrenWhen must be set together", e.Name)
		}
		if e.ChildrenNeed != "" && e.Attr(e.ChildrenNeed) == nil {
			t.Errorf("%s: ChildrenNeed names unknown attribute %q", e.Name, e.ChildrenNeed)
		}
	}
}

// Every top-level element must be a child of Response, and nothing that
// only lives inside another element may be.
func TestResponseChildren(t *testing.T) {
	resp := Lookup("Response")
	if resp == nil {
		t.Fatal("no Response")
	}
	top := []string{"Speak", "Play", "Wait", "DTMF", "GetDigits", "GetInput", "Dial", "Conference", "MultiPartyCall", "Record", "Redirect", "Hangup", "PreAnswer", "Stream", "Message"}
	for _, name := range top {
		if !resp.AllowsChild(name) {
			t.Errorf("Response does not allow %s", name)
		}
	}
	for _, name := range []string{"Number", "User", "Response", "break", "say-as"} {
		if resp.AllowsChild(name) {
			t.Errorf("Response allows %s", name)
		}
	}
}

func TestDefaultsValid(t *testing.T) {
	for _, e := range Elements() {
		for i := range e.Attrs {
			a := &e.Attrs[i]
			if a.Default == "" {
				continue
			}
			if msg := a.Validate(a.Default); msg != "" {
				t.Errorf("%s %s: default %q must %s", e.Name, a.Name, a.Default, msg)
			}
		}
	}
}

func TestAttrShape(t *testing.T) {
	for _, e := range Elements() {
		for _, a := range e.Attrs {
			if (a.Kind == Enum || a.Kind == List) && len(a.Values) == 0 {
				t.Errorf("%s %s: %s without Values", e.Name, a.Name, a.Kind)
			}
			if a.Kind == Int && a.HasMin && a.HasMax && a.Min > a.Max {
				t.Errorf("%s %s: Min %d > Max %d", e.Name, a.Name, a.Min, a.Max)
			}
			if a.Kind != Int && (a.HasMin || a.HasMax) {
				t.Errorf("%s %s: range on a %s", e.Name, a.Name, a.Kind)
			}
			if a.Fold && a.Kind != Enum && a.Kind != List {
				t.Errorf("%s %s: Fold on a %s", e.Name, a.Name, a.Kind)
			}
			if a.OrURL && a.Kind != Enum {
				t.Errorf("%s %s: OrURL on a %s", e.Name, a.Name, a.Kind)
			}
			if a.Needs != "" && e.Attr(a.Needs) == nil {
				t.Errorf("%s %s: Needs unknown attribute %q", e.Name, a.Name, a.Needs)
			}
		}
	}
}

// The attributes of Plivo's MultiPartyCall XML page , in the
// page's order.
var seedMPCAttrs = []string{
	"maxDuration", "maxParticipants", "waitMusicUrl", "waitMusicMethod",
	"agentHoldMusicUrl", "agentHoldMusicMethod", "customerHoldMusicUrl",
	"customerHoldMusicMethod", "record", "recordFileFormat", "recordingCallbackUrl",
	"recordingCallbackMethod", "recordMinMemberCount", "statusCallbackUrl",
	"statusCallbackMethod", "statusCallbackEvents", "stayAlone", "role", "coachMode",
	"mute", "hold", "startMpcOnEnter", "endMpcOnExit", "enterSound", "enterSoundMethod",
	"exitSound", "exitSoundMethod", "onExitActionUrl", "onExitActionMethod",
	"relayDTMFInputs",
}

func TestMultiPartyCallAttrs(t *testing.T) {
	mpc := Lookup("MultiPartyCall")
	if mpc == nil {
		t.Fatal("no MultiPartyCall")
	}
	for _, name := range seedMPCAttrs {
		if mpc.Attr(name) == nil {
			t.Errorf("MultiPartyCall lacks %s", name)
		}
	}
	// Documented outside Plivo's MultiPartyCall XML page; the Node SDK also emits the recording audio ones.
	for _, name := range []string{"waitForAgent", "recordCoachVoice", "recordParticipantTrack", "startRecordingAudio", "startRecordingAudioMethod", "stopRecordingAudio", "stopRecordingAudioMethod"} {
		if mpc.Attr(name) == nil {
			t.Errorf("MultiPartyCall lacks %s", name)
		}
	}
	// Undocumented SDK-only attributes stay out.
	for _, name := range []string{"waitTime", "transcript", "transcriptionUrl", "relayDtmfInputs"} {
		if mpc.Attr(name) != nil {
			t.Errorf("MultiPartyCall has undocumented %s", name)
		}
	}
	// Attribute order follows the Node SDK's output for the attributes it emits.
	nodeOrder := []string{"role", "maxDuration", "maxParticipants", "recordMinMemberCount", "waitMusicMethod", "agentHoldMusicMethod", "customerHoldMusicMethod", "record", "recordFileFormat", "recordingCallbackMethod", "statusCallbackEvents", "statusCallbackMethod", "stayAlone", "coachMode", "mute", "hold", "startMpcOnEnter", "endMpcOnExit", "enterSound", "enterSoundMethod", "exitSound", "exitSoundMethod", "onExitActionMethod", "relayDTMFInputs", "startRecordingAudioMethod", "stopRecordingAudioMethod", "recordParticipantTrack"}
	assertAttrOrder(t, mpc, nodeOrder)
}

// assertAttrOrder reports when names do not appear in e.Attrs in this order.
func assertAttrOrder(t *testing.T, e *Element, names []string) {
	t.Helper()
	pos := map[string]int{}
	for i, a := range e.Attrs {
		pos[a.Name] = i
	}
	last := -1
	for _, n := range names {
		p, ok := pos[n]
		if !ok {
			t.Errorf("%s lacks %s", e.Name, n)
			continue
		}
		if p < last {
			t.Errorf("%s: %s is out of order", e.Name, n)
		}
		last = p
	}
}

func TestExcludedAttrs(t *testing.T) {
	for _, c := range []struct{ el, attr string }{
		{"Conference", "beep"},
		{"Conference", "sendDigits"},
		{"Conference", "recordWhenAlone"},
		{"Dial", "machineDetection"},
		{"Speak", "legs"},
		{"Wait", "min_silence"},
		{"DTMF", "digits"},
		{"Record", "transcriptionReportType"},
		{"Number", "sendDigitsMode"},
	} {
		if Lookup(c.el).Attr(c.attr) != nil {
			t.Errorf("%s has undocumented %s", c.el, c.attr)
		}
	}
	for _, c := range []struct{ el, attr string }{
		{"User", "sipAuthUsername"},
		{"User", "sipAuthPassword"},
		{"GetDigits", "action"},
		{"GetInput", "redirect"},
		{"Record", "method"},
		{"Dial", "action"},
		{"Conference", "redirect"},
		{"MultiPartyCall", "onExitActionUrl"},
		{"MultiPartyCall", "onExitActionMethod"},
	} {
		if Lookup(c.el).Attr(c.attr) == nil {
			t.Errorf("%s lacks %s", c.el, c.attr)
		}
	}
}

func TestAttrValues(t *testing.T) {
	cases := []struct {
		el, attr, v string
		ok          bool
	}{
		// MultiPartyCall ranges and values.
		{"MultiPartyCall", "maxDuration", "299", false},
		{"MultiPartyCall", "maxDuration", "300", true},
		{"MultiPartyCall", "maxDuration", "28800", true},
		{"MultiPartyCall", "maxDuration", "28801", false},
		{"MultiPartyCall", "maxDuration", "1h", false},
		{"MultiPartyCall", "maxParticipants", "1", false},
		{"MultiPartyCall", "maxParticipants", "2", true},
		{"MultiPartyCall", "maxParticipants", "11", false},
		{"MultiPartyCall", "recordMinMemberCount", "0", false},
		{"MultiPartyCall", "recordMinMemberCount", "2", true},
		{"MultiPartyCall", "recordMinMemberCount", "3", false},
		{"MultiPartyCall", "role", "agent", true},
		{"MultiPartyCall", "role", "AGENT", true},
		{"MultiPartyCall", "role", "Customer", true},
		{"MultiPartyCall", "role", "supervisor", true},
		{"MultiPartyCall", "role", "manager", false},
		{"MultiPartyCall", "statusCallbackEvents", "mpc-state-changes,participant-speak-events", true},
		{"MultiPartyCall", "statusCallbackEvents", "add-participant-api-events", true},
		{"MultiPartyCall", "statusCallbackEvents", "foo", false},
		{"MultiPartyCall", "statusCallbackEvents", "mpc-state-changes,mpc-state-changes", false},
		{"MultiPartyCall", "enterSound", "https://x.example/s.xml", true},
		{"MultiPartyCall", "enterSound", "none", true},
		{"MultiPartyCall", "enterSound", "beep:3", false},
		{"MultiPartyCall", "exitSound", "beep:1", true},
		{"MultiPartyCall", "exitSound", "ftp://x.example/s.xml", false},
		{"MultiPartyCall", "coachMode", "false", true},
		{"MultiPartyCall", "coachMode", "yes", false},
		{"MultiPartyCall", "waitMusicMethod", "POST", true},
		{"MultiPartyCall", "waitMusicMethod", "PUT", false},
		{"MultiPartyCall", "recordFileFormat", "ogg", false},

		// finishOnKey.
		{"GetDigits", "finishOnKey", "", true},
		{"GetDigits", "finishOnKey", "none", true},
		{"GetDigits", "finishOnKey", "#", true},
		{"GetDigits", "finishOnKey", "5", true},
		{"GetDigits", "finishOnKey", "##", false},
		{"GetDigits", "finishOnKey", "a", false},
		{"GetInput", "finishOnKey", "*", true},
		{"GetInput", "finishOnKey", "12", false},
		{"Record", "finishOnKey", "#", true},
		{"Record", "finishOnKey", "none", true},
		{"Record", "finishOnKey", "", false}, // unlike GetDigits: Record's pages list a key or none
		{"Record", "finishOnKey", "##", false},

		// confirmKey.
		{"Dial", "confirmKey", "5", true},
		{"Dial", "confirmKey", "#", true},
		{"Dial", "confirmKey", "*", true},
		{"Dial", "confirmKey", "", false},
		{"Dial", "confirmKey", "12", false},
		{"Dial", "confirmKey", "none", false},

		// validDigits.
		{"GetDigits", "validDigits", "12", true},
		{"GetDigits", "validDigits", "0*#", true},
		{"GetDigits", "validDigits", "", false},
		{"GetDigits", "validDigits", "1a", false},
		{"GetDigits", "validDigits", "1,2", false},

		// digitEndTimeout / speechEndTimeout.
		{"GetInput", "digitEndTimeout", "auto", true},
		{"GetInput", "digitEndTimeout", "2", true},
		{"GetInput", "digitEndTimeout", "10", true},
		{"GetInput", "digitEndTimeout", "1", false},
		{"GetInput", "digitEndTimeout", "11", false},
		{"GetInput", "speechEndTimeout", "5", true},
		{"GetInput", "speechEndTimeout", "Auto", false},
		{"GetInput", "speechEndTimeout", "05", false},
		{"GetInput", "executionTimeout", "4", false},
		{"GetInput", "executionTimeout", "60", true},
		{"GetInput", "executionTimeout", "61", false},
		{"GetInput", "numDigits", "32", true},
		{"GetInput", "numDigits", "33", false},
		{"GetInput", "numDigits", "0", false},
		{"GetInput", "inputType", "dtmf speech", true},
		{"GetInput", "inputType", "voice", false},

		// sipHeaders / extraHeaders.
		{"Dial", "sipHeaders", "a=1,b=2", true},
		{"Dial", "sipHeaders", "Head1=Val1", true},
		{"Dial", "sipHeaders", "a=1,", false},
		{"Dial", "sipHeaders", "a-b=1", false},
		{"Dial", "sipHeaders", "a=1 2", false},
		{"Dial", "sipHeaders", "a", false},
		{"User", "sipHeaders", "x=y", true},
		{"User", "sipHeaders", "x=", false},
		{"Stream", "extraHeaders", "a=1,b=2", true},
		{"Stream", "extraHeaders", "a:1", false},
		{"Stream", "extraHeaders", "k=" + strings.Repeat("v", 510), true},
		{"Stream", "extraHeaders", "k=" + strings.Repeat("v", 511), false},

		// Speak voice.
		{"Speak", "voice", "WOMAN", true},
		{"Speak", "voice", "MAN", true},
		{"Speak", "voice", "Polly.Joanna", true},
		{"Speak", "voice", "Polly.Joanna-Neural", true},
		{"Speak", "voice", "Polly.Léa", true},
		{"Speak", "voice", "woman", false},
		{"Speak", "voice", "Polly.", false},
		{"Speak", "voice", "Polly.Joanna.Neural", false},
		{"Speak", "voice", "Google.en-US", false},
		{"Speak", "voice", "Polly.Lea", true},
		{"Speak", "voice", "Polly.Zeina", true},
		{"Speak", "voice", "Polly.Léa-Neural", true},
		{"Speak", "voice", "Polly.Foo", false},
		{"Speak", "voice", "Polly.joanna", false},
		{"Speak", "voice", "Polly.Joanna-Standard", false},
		{"Speak", "voice", "Polly.Joanna-Neural-Neural", false},
		{"Speak", "voice", "Polly.-Neural", false},
		{"Speak", "language", "en-US", true},
		{"Speak", "language", "en-GB-WLS", true},
		{"Speak", "language", "arb", true},
		{"Speak", "language", "xx-YY", false},
		{"Speak", "language", "en-us", false},
		{"Speak", "language", "en", false},
		{"Speak", "language", "", false},
		{"Speak", "loop", "0", true},
		{"Speak", "loop", "-1", false},
		{"Play", "loop", "0", true},
		{"Play", "loop", "-1", false},

		// SSML.
		{"break", "time", "500ms", true},
		{"break", "time", "10000ms", true},
		{"break", "time", "10001ms", false},
		{"break", "time", "0ms", false},
		{"break", "time", "1s", true},
		{"break", "time", "10s", true},
		{"break", "time", "11s", false},
		{"break", "time", "0s", false},
		{"break", "time", "2", false},
		{"break", "time", "1.5s", false},
		{"break", "strength", "x-strong", true},
		{"break", "strength", "xx-strong", false},
		{"prosody", "volume", "loud", true},
		{"prosody", "volume", "+6dB", true},
		{"prosody", "volume", "-3.5dB", true},
		{"prosody", "volume", "6db", false},
		{"prosody", "volume", "louder", false},
		{"prosody", "rate", "x-fast", true},
		{"prosody", "rate", "80%", true},
		{"prosody", "rate", "-10%", false},
		{"prosody", "rate", "fastest", false},
		{"prosody", "pitch", "x-high", true},
		{"prosody", "pitch", "+10%", true},
		{"prosody", "pitch", "-5%", true},
		{"prosody", "pitch", "+10Hz", false},
		{"say-as", "interpret-as", "digits", true},
		{"say-as", "interpret-as", "money", false},
		{"say-as", "format", "yyyymmdd", true},
		{"lang", "xml:lang", "fr-FR", true},
		{"lang", "xml:lang", "fr", false},
		{"w", "role", "amazon:VBD", true},
		{"phoneme", "alphabet", "x-sampa", true},
		{"phoneme", "alphabet", "arpabet", false},

		// Dial.
		{"Dial", "dialMusic", "real", true},
		{"Dial", "dialMusic", "https://x.example/ring.xml", true},
		{"Dial", "dialMusic", "fake", false},
		{"Dial", "timeLimit", "0", false},
		{"Dial", "timeLimit", "1", true},
		{"Dial", "callerName", strings.Repeat("n", 50), true},
		{"Dial", "callerName", strings.Repeat("n", 51), false},
		{"Number", "callerName", strings.Repeat("n", 51), false},
		{"Number", "sendDigits", "ww123", true},
		{"Number", "sendDigits", "1W2#*", true},
		{"Number", "sendDigits", "12x", false},

		// Stream.
		{"Stream", "contentType", "audio/x-mulaw;rate=8000", true},
		{"Stream", "contentType", "audio/x-mulaw;rate=16000", false},
		{"Stream", "audioTrack", "both", true},
		{"Stream", "audioTrack", "all", false},

		// Conference.
		{"Conference", "maxMembers", "0", false},
		{"Conference", "maxMembers", "20", true},
		{"Conference", "maxMembers", "21", false},
		{"Conference", "enterSound", "", true},
		{"Conference", "enterSound", "beep:2", true},
		{"Conference", "enterSound", "https://x.example/e.xml", true},
		{"Conference", "enterSound", "none", false},

		// Wait, Record, Hangup, Message.
		{"Wait", "length", "0", false},
		{"Wait", "length", "1", true},
		{"Record", "maxLength", "1", false},
		{"Record", "maxLength", "2", true},
		{"Record", "recordChannelType", "mono", true},
		{"Hangup", "reason", "busy", true},
		{"Hangup", "reason", "declined", false},
		{"Message", "dst", "14155550100", true},
		{"Message", "dst", "+14155550100<14155550101", true},
		{"Message", "dst", "14155550100,14155550101", false},
		{"Message", "dst", "14155550100<", false},
		{"Message", "dst", "", false},
	}
	for _, c := range cases {
		e := Lookup(c.el)
		if e == nil {
			t.Errorf("no element %s", c.el)
			continue
		}
		a := e.Attr(c.attr)
		if a == nil {
			t.Errorf("no attribute %s %s", c.el, c.attr)
			continue
		}
		msg := a.Validate(c.v)
		if c.ok && msg != "" {
			t.Errorf("%s %s %q rejected: must %s", c.el, c.attr, c.v, msg)
		}
		if !c.ok && msg == "" {
			t.Errorf("%s %s %q accepted, want rejected", c.el, c.attr, c.v)
		}
	}
}

func TestTextRules(t *testing.T) {
	cases := []struct {
		el, v string
		ok    bool
	}{
		{"DTMF", "1234", true},
		{"DTMF", "1w2W#*", true},
		{"DTMF", "12a", false},
		{"DTMF", "", false},
		{"Stream", "wss://x.example/audio", true},
		{"Stream", "ws://x.example", true},
		{"Stream", "https://x.example/audio", false},
		{"Stream", "wss://", false},
		{"Stream", "wss://x.example/a b", false},
		{"Play", "https://x.example/a.mp3", true},
		{"Play", "a.mp3", false},
		{"Redirect", "https://x.example/next.xml", true},
		{"Redirect", "/next.xml", false},
		{"Speak", "Hello", true},
		{"Speak", "  ", false},
		{"Number", "14155550100", true},
		{"Conference", "", false},
		{"MultiPartyCall", "mpc1", true},
		{"Message", "", false},
		{"say-as", "", true},
	}
	for _, c := range cases {
		e := Lookup(c.el)
		msg := e.ValidateText(c.v)
		if c.ok && msg != "" {
			t.Errorf("%s text %q rejected: must %s", c.el, c.v, msg)
		}
		if !c.ok && msg == "" {
			t.Errorf("%s text %q accepted, want rejected", c.el, c.v)
		}
	}

	want := map[string]Text{
		"Speak": RequiredText, "Play": RequiredText, "Number": RequiredText, "User": RequiredText,
		"Conference": RequiredText, "MultiPartyCall": RequiredText, "Redirect": RequiredText,
		"Stream": RequiredText, "Message": RequiredText, "DTMF": RequiredText,
		"Wait": NoText, "GetDigits": NoText, "GetInput": NoText, "Dial": NoText, "Record": NoText,
		"Hangup": NoText, "PreAnswer": NoText, "Response": NoText, "break": NoText,
	}
	for _, s := range ssmlAll {
		if s != "break" {
			want[s] = OptionalText
		}
	}
	for name, text := range want {
		if got := Lookup(name).Text; got != text {
			t.Errorf("%s: Text = %d, want %d", name, got, text)
		}
	}
}

func TestNesting(t *testing.T) {
	for _, c := range []struct {
		parent string
		want   []string
	}{
		{"GetDigits", []string{"Speak", "Play", "Wait"}},
		{"GetInput", []string{"Speak", "Play", "Wait"}},
		{"PreAnswer", []string{"Speak", "Play", "Wait"}},
		{"Dial", []string{"Number", "User"}},
		{"Speak", ssmlAll},
	} {
		got := Lookup(c.parent).Children
		if !slices.Equal(sortedCopy(got), sortedCopy(c.want)) {
			t.Errorf("%s children = %v, want %v", c.parent, got, c.want)
		}
	}
	if Lookup("Dial").MinChildren != 1 {
		t.Errorf("Dial must need at least one child")
	}
	for _, name := range []string{"Play", "Wait", "Hangup", "Record", "Conference", "MultiPartyCall", "Number", "User", "Stream", "break", "sub"} {
		if n := len(Lookup(name).Children); n != 0 {
			t.Errorf("%s takes %d children, want none", name, n)
		}
	}
	for _, c := range []struct {
		parent, child string
		ok            bool
	}{
		{"emphasis", "break", true},
		{"emphasis", "p", false},
		{"w", "w", false},
		{"w", "say-as", true},
		{"s", "s", false},
		{"p", "s", true},
		{"lang", "lang", true},
		{"prosody", "p", true},
	} {
		if got := Lookup(c.parent).AllowsChild(c.child); got != c.ok {
			t.Errorf("%s allows %s = %v, want %v", c.parent, c.child, got, c.ok)
		}
	}
}

func TestSpeakSSMLNeedsPolly(t *testing.T) {
	sp := Lookup("Speak")
	if sp.ChildrenNeed != "voice" || sp.ChildrenWhen == nil {
		t.Fatal("Speak children must depend on voice")
	}
	for v, want := range map[string]bool{"Polly.Joanna": true, "WOMAN": false, "MAN": false, "": false, "polly.Joanna": false} {
		if got := sp.ChildrenWhen(v); got != want {
			t.Errorf("ChildrenWhen(%q) = %v, want %v", v, got, want)
		}
	}
	if !strings.Contains(sp.ChildrenWhy, "Polly") {
		t.Errorf("ChildrenWhy = %q", sp.ChildrenWhy)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestMaxLenCountsCharacters: callerName's limit of 50 is 50 characters,
// as Plivo counts them (and the REST checks do), not 50 bytes.
func TestMaxLenCountsCharacters(t *testing.T) {
	for _, el := range []string{"Dial", "Number", "User"} {
		a := Lookup(el).Attr("callerName")
		if a == nil {
			t.Fatalf("%s has no callerName", el)
		}
		if msg := a.Validate(strings.Repeat("é", 50)); msg != "" {
			t.Errorf("%s callerName of 50 two-byte characters: must %s", el, msg)
		}
		if msg := a.Validate(strings.Repeat("é", 51)); msg == "" {
			t.Errorf("%s callerName of 51 characters was accepted", el)
		}
	}
}

// TestUserSIPURI: a User is one SIP URI; caller input filled into one
// cannot reach another host.
func TestUserSIPURI(t *testing.T) {
	user := Lookup("User")
	for v, ok := range map[string]bool{
		"sip:alice@phone.plivo.com":                       true,
		"SIP:alice@phone.plivo.com":                       true,
		"sips:alice@phone.plivo.com:5061":                 true,
		"sip:alice@phone.plivo.com;transport=tls":         true,
		"sip:+14155550100@sip.example.com":                true,
		"sip:al%20ice@10.0.0.1":                           true,
		"sip:bob@[2001:db8::1]":                           true,
		" sip:alice@phone.plivo.com\n":                    true,
		"sip:attacker@evil.example;x=@phone.plivo.com":    false,
		"sip:@phone.plivo.com":                            false,
		"sip:alice@":                                      false,
		"alice@phone.plivo.com":                           false,
		"sip:alice":                                       false,
		"sip:a b@phone.plivo.com":                         false,
		"sip:alice@phone.plivo.com>,<sip:x@evil.example":  false,
		"sip:alice@evil.example?x=@phone.plivo.com":       false,
		"http://example.com/":                             false,
		"sip:alice@phone.plivo.com;x=1@y":                 false,
		"sip:1234@phone.plivo.com\nsip:evil@evil.example": false,
	} {
		if got := user.ValidateText(v) == ""; got != ok {
			t.Errorf("User %q accepted = %v, want %v", v, got, ok)
		}
	}
}
