package xmlgen

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The table's rules are well formed: every attribute a rule reads is one of
// its element's, About is one of them (or "" for the element), and each
// rule is documented.
func TestRulesTable(t *testing.T) {
	n := 0
	for _, e := range Elements() {
		for _, r := range e.Rules {
			n++
			if len(r.Attrs) == 0 || len(r.Attrs) > MaxRuleAttrs {
				t.Errorf("%s rule %v: reads %d attributes, want 1 to %d", e.Name, r.Attrs, len(r.Attrs), MaxRuleAttrs)
			}
			for _, name := range r.Attrs {
				if e.Attr(name) == nil {
					t.Errorf("%s rule %v: no attribute %s", e.Name, r.Attrs, name)
				}
			}
			for _, name := range r.Presence {
				if !slices.Contains(r.Attrs, name) {
					t.Errorf("%s rule %v: Presence %q is not one of the attributes it reads", e.Name, r.Attrs, name)
				}
			}
			if r.About != "" && !slices.Contains(r.Attrs, r.About) {
				t.Errorf("%s rule %v: About %q is not one of the attributes it reads", e.Name, r.Attrs, r.About)
			}
			if r.Check == nil || r.Doc == "" {
				t.Errorf("%s rule %v: needs Check and Doc", e.Name, r.Attrs)
			}
			// Nothing written breaks no rule but prosody's.
			if msg := r.Check(RuleArgs{}); msg != "" && e.Name != "prosody" {
				t.Errorf("%s rule %v: refuses an element without attributes: must %s", e.Name, r.Attrs, msg)
			}
		}
	}
	if n != 12 {
		t.Errorf("%d rules in the table, want 12", n)
	}
	if d := Lookup("Wait").Attr("length").Default; d != strconv.Itoa(waitDefaultLength) {
		t.Errorf("waitDefaultLength is %d, the table's Wait length default %q", waitDefaultLength, d)
	}
}

// ruleCase is one element whose attributes a rule reads. want is "" when
// the element is valid, else the error Append or Prepare returns.
type ruleCase struct {
	name  string
	el    string
	attrs [][2]string // name, value; all constants
	want  string
}

var ruleCases = []ruleCase{
	// Stream: audioTrack must be inbound when bidirectional.
	{"stream both", "Stream", [][2]string{{"bidirectional", "true"}, {"audioTrack", "both"}}, `Stream audioTrack "both" must be inbound when bidirectional is true`},
	{"stream outbound", "Stream", [][2]string{{"audioTrack", "outbound"}, {"bidirectional", "true"}}, `Stream audioTrack "outbound" must be inbound when bidirectional is true`},
	{"stream inbound", "Stream", [][2]string{{"bidirectional", "true"}, {"audioTrack", "inbound"}}, ""},
	{"stream default track", "Stream", [][2]string{{"bidirectional", "true"}}, ""},
	{"stream one-way both", "Stream", [][2]string{{"bidirectional", "false"}, {"audioTrack", "both"}}, ""},
	{"stream no bidirectional", "Stream", [][2]string{{"audioTrack", "both"}}, ""},

	// Wait: minSilence (ms) below length (s) with silence.
	{"wait equal", "Wait", [][2]string{{"length", "2"}, {"silence", "true"}, {"minSilence", "2000"}}, `Wait minSilence "2000" must be below length in milliseconds (below 2000 for length 2)`},
	{"wait above", "Wait", [][2]string{{"length", "5"}, {"silence", "true"}, {"minSilence", "9000"}}, `Wait minSilence "9000" must be below length in milliseconds (below 5000 for length 5)`},
	{"wait default length", "Wait", [][2]string{{"silence", "true"}, {"minSilence", "1000"}}, `Wait minSilence "1000" must be below length in milliseconds (below 1000 for the default length of 1 second)`},
	{"wait below", "Wait", [][2]string{{"length", "2"}, {"silence", "true"}, {"minSilence", "1999"}}, ""},
	{"wait below default length", "Wait", [][2]string{{"silence", "true"}, {"minSilence", "999"}}, ""},
	{"wait huge length", "Wait", [][2]string{{"length", "9223372036854775807"}, {"silence", "true"}, {"minSilence", "9223372036854775807"}}, ""},
	{"wait no silence", "Wait", [][2]string{{"length", "1"}, {"silence", "false"}, {"minSilence", "2000"}}, ""},
	{"wait silence default minSilence", "Wait", [][2]string{{"length", "1"}, {"silence", "true"}}, ""},

	// Wait: beep only without silence detection.
	{"beep silence", "Wait", [][2]string{{"length", "10"}, {"silence", "true"}, {"beep", "true"}}, `Wait beep "true" must not be true when silence is true`},
	{"beep minSilence", "Wait", [][2]string{{"length", "10"}, {"minSilence", "500"}, {"beep", "true"}}, `Wait beep "true" must not be true when minSilence is given`},
	{"beep alone", "Wait", [][2]string{{"length", "10"}, {"silence", "false"}, {"beep", "true"}}, ""},
	{"no beep with silence", "Wait", [][2]string{{"length", "10"}, {"silence", "true"}, {"minSilence", "500"}, {"beep", "false"}}, ""},

	// prosody: at least one attribute.
	{"prosody none", "prosody", nil, `prosody must have at least one of volume, rate or pitch`},
	{"prosody volume", "prosody", [][2]string{{"volume", "loud"}}, ""},
	{"prosody rate", "prosody", [][2]string{{"rate", "80%"}}, ""},
	{"prosody pitch", "prosody", [][2]string{{"pitch", "+5%"}}, ""},

	// say-as: format only with interpret-as="date".
	{"say-as format digits", "say-as", [][2]string{{"interpret-as", "digits"}, {"format", "ymd"}}, `say-as format "ymd" must not be given with interpret-as "digits": format goes only with interpret-as "date"`},
	{"say-as format date", "say-as", [][2]string{{"interpret-as", "date"}, {"format", "ymd"}}, ""},
	{"say-as digits", "say-as", [][2]string{{"interpret-as", "digits"}}, ""},

	// Speak: WOMAN and MAN only for a language that has them
	// (plivo-xml.md 2.2, non-Polly languages).
	{"speak MAN da-DK", "Speak", [][2]string{{"voice", "MAN"}, {"language", "da-DK"}}, `Speak voice "MAN" must not be given with language "da-DK": language da-DK has no MAN voice; use WOMAN or a Polly voice for da-DK (Polly.Naja, Polly.Mads)`},
	{"speak WOMAN da-DK", "Speak", [][2]string{{"voice", "WOMAN"}, {"language", "da-DK"}}, ""},
	{"speak WOMAN pt-PT", "Speak", [][2]string{{"voice", "WOMAN"}, {"language", "pt-PT"}}, `Speak voice "WOMAN" must not be given with language "pt-PT": language pt-PT has no WOMAN voice; use MAN or a Polly voice for pt-PT (Polly.Ines, Polly.Cristiano)`},
	{"speak MAN pt-PT", "Speak", [][2]string{{"voice", "MAN"}, {"language", "pt-PT"}}, ""},
	{"speak MAN arb", "Speak", [][2]string{{"voice", "MAN"}, {"language", "arb"}}, `Speak voice "MAN" must not be given with language "arb": language arb has no MAN voice; use a Polly voice for arb (Polly.Zeina)`},
	{"speak Polly arb", "Speak", [][2]string{{"voice", "Polly.Zeina"}, {"language", "arb"}}, ""},
	{"speak MAN en-GB", "Speak", [][2]string{{"voice", "MAN"}, {"language", "en-GB"}}, ""},
	{"speak MAN default language", "Speak", [][2]string{{"voice", "MAN"}}, ""},
	// Without voice, the language needs WOMAN, the default.
	{"speak pt-PT no voice", "Speak", [][2]string{{"language", "pt-PT"}}, `Speak language "pt-PT" must not be given without voice (WOMAN by default): language pt-PT has no WOMAN voice; set voice to MAN or a Polly voice for pt-PT (Polly.Ines, Polly.Cristiano)`},
	{"speak cy-GB no voice", "Speak", [][2]string{{"language", "cy-GB"}}, `Speak language "cy-GB" must not be given without voice (WOMAN by default): language cy-GB has no WOMAN voice; set voice to a Polly voice for cy-GB (Polly.Gwyneth)`},
	{"speak ru-RU no voice", "Speak", [][2]string{{"language", "ru-RU"}}, ""},
	{"speak no attributes", "Speak", nil, ""},
	// A Polly voice speaks its own languages, written or en-US.
	{"speak Polly other language", "Speak", [][2]string{{"voice", "Polly.Naja"}, {"language", "en-US"}}, `Speak voice "Polly.Naja" must not be given with language "en-US": Polly.Naja speaks da-DK; use language da-DK, or another voice: WOMAN, MAN or a Polly voice for en-US (Polly.Joanna, Polly.Salli, Polly.Kendra, Polly.Kimberly, Polly.Ivy, Polly.Matthew, Polly.Justin, Polly.Joey)`},
	// Without language, a Polly voice is left to Plivo (the Node SDK writes it).
	{"speak Polly default language", "Speak", [][2]string{{"voice", "Polly.Naja"}}, ""},
	{"speak Polly own language", "Speak", [][2]string{{"voice", "Polly.Naja"}, {"language", "da-DK"}}, ""},
	{"speak Polly en-US default", "Speak", [][2]string{{"voice", "Polly.Joanna"}}, ""},
	{"speak Polly two languages", "Speak", [][2]string{{"voice", "Polly.Aditi"}, {"language", "en-GB"}}, `Speak voice "Polly.Aditi" must not be given with language "en-GB": Polly.Aditi speaks en-IN and hi-IN; use language en-IN or hi-IN, or another voice: WOMAN, MAN or a Polly voice for en-GB (Polly.Amy, Polly.Emma, Polly.Brian)`},
	{"speak Polly first of two", "Speak", [][2]string{{"voice", "Polly.Aditi"}, {"language", "en-IN"}}, ""},
	{"speak Polly second of two", "Speak", [][2]string{{"voice", "Polly.Aditi"}, {"language", "hi-IN"}}, ""},
	{"speak Polly accent", "Speak", [][2]string{{"voice", "Polly.Léa"}, {"language", "fr-FR"}}, ""},
	{"speak Polly no accent", "Speak", [][2]string{{"voice", "Polly.Lea"}, {"language", "fr-FR"}}, ""},
	{"speak Polly no accent elsewhere", "Speak", [][2]string{{"voice", "Polly.Lea"}, {"language", "fr-CA"}}, `Speak voice "Polly.Lea" must not be given with language "fr-CA": Polly.Lea speaks fr-FR; use language fr-FR, or another voice: WOMAN or a Polly voice for fr-CA (Polly.Chantal)`},
	{"speak Polly Neural", "Speak", [][2]string{{"voice", "Polly.Matthew-Neural"}, {"language", "en-US"}}, ""},
	{"speak Polly Neural elsewhere", "Speak", [][2]string{{"voice", "Polly.Brian-Neural"}, {"language", "en-US"}}, `Speak voice "Polly.Brian-Neural" must not be given with language "en-US": Polly.Brian-Neural speaks en-GB; use language en-GB, or another voice: WOMAN, MAN or a Polly voice for en-US (Polly.Joanna, Polly.Salli, Polly.Kendra, Polly.Kimberly, Polly.Ivy, Polly.Matthew, Polly.Justin, Polly.Joey)`},

	// GetInput: DTMF-only and speech-only attributes (plivo-xml.md 2.7).
	{"getinput numDigits speech", "GetInput", [][2]string{{"inputType", "speech"}, {"numDigits", "4"}}, `GetInput numDigits "4" must not be given with inputType "speech": it applies to dtmf input only; remove it, or use inputType "dtmf" or "dtmf speech"`},
	{"getinput numDigits dtmf", "GetInput", [][2]string{{"inputType", "dtmf"}, {"numDigits", "4"}}, ""},
	{"getinput numDigits both", "GetInput", [][2]string{{"inputType", "dtmf speech"}, {"numDigits", "4"}}, ""},
	{"getinput numDigits no inputType", "GetInput", [][2]string{{"numDigits", "4"}}, ""},
	{"getinput digitEndTimeout speech", "GetInput", [][2]string{{"inputType", "speech"}, {"digitEndTimeout", "3"}}, `GetInput digitEndTimeout "3" must not be given with inputType "speech": it applies to dtmf input only; remove it, or use inputType "dtmf" or "dtmf speech"`},
	{"getinput digitEndTimeout dtmf", "GetInput", [][2]string{{"inputType", "dtmf"}, {"digitEndTimeout", "3"}}, ""},
	{"getinput finishOnKey speech", "GetInput", [][2]string{{"inputType", "speech"}, {"finishOnKey", "*"}}, `GetInput finishOnKey "*" must not be given with inputType "speech": it applies to dtmf input only; remove it, or use inputType "dtmf" or "dtmf speech"`},
	{"getinput finishOnKey both", "GetInput", [][2]string{{"inputType", "dtmf speech"}, {"finishOnKey", "*"}}, ""},
	{"getinput speechEndTimeout dtmf", "GetInput", [][2]string{{"inputType", "dtmf"}, {"speechEndTimeout", "4"}}, `GetInput speechEndTimeout "4" must not be given with inputType "dtmf": it applies to speech input only; remove it, or use inputType "speech" or "dtmf speech"`},
	{"getinput speechEndTimeout speech", "GetInput", [][2]string{{"inputType", "speech"}, {"speechEndTimeout", "4"}}, ""},
	{"getinput speech others", "GetInput", [][2]string{{"inputType", "speech"}, {"speechModel", "phone_call"}, {"hints", "yes,no"}, {"language", "en-GB"}}, ""},

	// User: SIP credentials as a pair (plivo-xml.md 2.10), named
	// without their values.
	{"user username alone", "User", [][2]string{{"sipAuthUsername", "alice"}}, `User must have sipAuthPassword with sipAuthUsername: Plivo takes the SIP credentials as a pair; add sipAuthPassword`},
	{"user password alone", "User", [][2]string{{"sipAuthPassword", "s3cret"}}, `User must have sipAuthUsername with sipAuthPassword: Plivo takes the SIP credentials as a pair; add sipAuthUsername`},
	{"user pair", "User", [][2]string{{"sipAuthUsername", "alice"}, {"sipAuthPassword", "s3cret"}}, ""},
	{"user neither", "User", [][2]string{{"sendDigits", "12"}}, ""},
}

// rule returns the rule c breaks, or nil when c is valid.
func (c ruleCase) rule() *Rule {
	if c.want == "" {
		return nil
	}
	e := Lookup(c.el)
	for i, r := range e.Rules {
		if strings.HasPrefix(c.want, strings.TrimSpace(e.Name+" "+r.About)+" ") {
			return &e.Rules[i]
		}
	}
	panic("no rule of " + c.el + " gives " + c.want)
}

// readsAny reports whether r reads the value of one of the attributes of
// c at idx (not only whether it is written: Presence).
func (c ruleCase) readsAny(r *Rule, idx []int) bool {
	for _, i := range idx {
		if name := c.attrs[i][0]; slices.Contains(r.Attrs, name) && !slices.Contains(r.Presence, name) {
			return true
		}
	}
	return false
}

// ruleEl builds c's element, in its parent, with the attributes at holed
// (by index) as holes, and returns it with the values of those holes.
func ruleEl(c ruleCase, holed []int) (*El, []string) {
	el := &El{Name: c.el}
	var vals []string
	for i, a := range c.attrs {
		v := Const(a[1])
		if slices.Contains(holed, i) {
			vals = append(vals, a[1])
			v = Hole(len(vals) - 1)
		}
		el.Attrs = append(el.Attrs, av(a[0], v))
	}
	if s := sampleText(Lookup(c.el)); s != "" {
		el.Text = cv(s)
	}
	return wrap(el), vals
}

// subsets returns every subset of 0..n-1.
func subsets(n int) [][]int {
	var out [][]int
	for m := 0; m < 1<<n; m++ {
		var s []int
		for i := range n {
			if m&(1<<i) != 0 {
				s = append(s, i)
			}
		}
		out = append(out, s)
	}
	return out
}

// Every rule case, with every choice of constants and holes: a rule whose
// values are all constants is checked by Prepare; one that reads a hole,
// by Append once the holes are filled, as a *ValueError with nothing
// written. Build agrees either way.
func TestRules(t *testing.T) {
	for _, c := range ruleCases {
		for _, holed := range subsets(len(c.attrs)) {
			name := c.name + ", holes at"
			el, vals := ruleEl(c, holed)
			_, berr := Build(el, vals)
			tm, perr := Prepare(el)
			var err error
			prefix := []byte("<Response>")
			out := prefix
			// A broken rule reading a hole waits for Append; one over
			// constants fails at Prepare.
			if r := c.rule(); r != nil && (perr == nil) != c.readsAny(r, holed) {
				t.Errorf("%s %v: Prepare error %v, with the rule reading a hole: %v", name, holed, perr, c.readsAny(r, holed))
			}
			if perr != nil {
				err = perr
			} else {
				out, err = tm.Append(slices.Clone(prefix), vals)
			}
			if c.want == "" {
				if err != nil || berr != nil {
					t.Errorf("%s %v: refused: %v / Build: %v", name, holed, err, berr)
				}
				continue
			}
			// A rule about an attribute it reads only the presence of,
			// written from a hole, fails at Prepare without its value
			// (unless another hole makes it wait for Append).
			want := c.want
			for _, i := range holed {
				if a := c.attrs[i]; a[0] == c.rule().About && slices.Contains(c.rule().Presence, a[0]) && !c.readsAny(c.rule(), holed) {
					want = strings.Replace(want, " "+strconv.Quote(a[1])+" must ", " must ", 1)
				}
			}
			var ve *ValueError
			if !errors.As(err, &ve) || err.Error() != want {
				t.Errorf("%s %v: error %v, want %s", name, holed, err, want)
				continue
			}
			if berr == nil || berr.Error() != c.want {
				t.Errorf("%s %v: Build error %v, want %s", name, holed, berr, c.want)
			}
			if !bytes.Equal(out, prefix) {
				t.Errorf("%s %v: Append wrote %q on error", name, holed, out[len(prefix):])
			}
		}
	}
}

// CheckRules reports what Prepare reports for constants, and skips a rule
// reading a value that is not known or is invalid on its own.
func TestCheckRules(t *testing.T) {
	for _, c := range ruleCases {
		e := Lookup(c.el)
		value := func(name string) (RuleArg, bool) {
			for _, a := range c.attrs {
				if a[0] == name {
					return RuleArg{Value: a[1], Set: true}, true
				}
			}
			return RuleArg{}, true
		}
		got := e.CheckRules(value)
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: CheckRules reports %v", c.name, got)
		case c.want != "" && (len(got) != 1 || got[0].Error() != c.want):
			t.Errorf("%s: CheckRules reports %v, want %s", c.name, got, c.want)
		}
		if c.want == "" || len(c.attrs) == 0 {
			continue
		}
		// Any attribute whose value the broken rule reads unknown (a
		// template): skipped. One it reads only the presence of: the
		// same report.
		for i, a := range c.attrs {
			r := c.rule()
			if !slices.Contains(r.Attrs, a[0]) {
				continue
			}
			unknown := func(name string) (RuleArg, bool) {
				if name == a[0] {
					return RuleArg{Value: "{{ template }}", Set: true}, false
				}
				return value(name)
			}
			got := e.CheckRules(unknown)
			if c.readsAny(r, []int{i}) {
				if len(got) != 0 {
					t.Errorf("%s: with %s unknown, CheckRules reports %v", c.name, a[0], got)
				}
			} else if want := strings.Replace(c.want, " "+strconv.Quote(a[1])+" must ", " must ", 1); len(got) != 1 || got[0].Error() != want {
				t.Errorf("%s: with %s unknown, CheckRules reports %v, want %s", c.name, a[0], got, c.want)
			}
		}
	}
	// A value invalid on its own is reported by Validate, not by the rule.
	stream := Lookup("Stream")
	got := stream.CheckRules(func(name string) (RuleArg, bool) {
		switch name {
		case "bidirectional":
			return RuleArg{Value: "true", Set: true}, true
		case "audioTrack":
			return RuleArg{Value: "all", Set: true}, true
		}
		return RuleArg{}, true
	})
	if len(got) != 0 {
		t.Errorf("Stream audioTrack=all: CheckRules reports %v, want it left to Validate", got)
	}
	// The ValueError names the element and the attribute.
	got = Lookup("say-as").CheckRules(func(name string) (RuleArg, bool) {
		return map[string]RuleArg{"format": {"dm", true}, "interpret-as": {"time", true}}[name], true
	})
	if len(got) != 1 || got[0].Element != "say-as" || got[0].Attr != "format" || got[0].Value != "dm" {
		t.Errorf("say-as: CheckRules reports %#v", got)
	}
}

// A rule is checked on each element of a template that reads a hole, in
// nested elements too, and filling valid values allocates nothing.
func TestRulesAppend(t *testing.T) {
	el := &El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("Polly.Joanna"))}, Children: []*El{
		{Name: "say-as", Attrs: []AttrValue{av("interpret-as", Hole(0)), av("format", Const("ymd"))}, Text: hv(1)},
		{Name: "prosody", Attrs: []AttrValue{av("rate", Hole(2))}, Children: []*El{
			{Name: "say-as", Attrs: []AttrValue{av("interpret-as", Const("date")), av("format", Hole(3))}, Text: cv("20240102")},
		}},
	}}
	tm, err := Prepare(el)
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.rules) != 3 {
		t.Errorf("%d rules wait for Append, want 3 (two say-as, one prosody)", len(tm.rules))
	}
	good := []string{"date", "20240102", "slow", "dmy"}
	buf := make([]byte, 0, 1024)
	if allocs := testing.AllocsPerRun(100, func() { buf, err = tm.Append(buf[:0], good) }); allocs != 0 || err != nil {
		t.Errorf("Append: %v allocs, error %v", allocs, err)
	}
	bad := []string{"digits", "20240102", "slow", "dmy"}
	if _, err := tm.Append(nil, bad); err == nil || err.Error() != `say-as format "ymd" must not be given with interpret-as "digits": format goes only with interpret-as "date"` {
		t.Errorf("Append: %v", err)
	}
	// The value is checked on its own before the rule.
	if _, err := tm.Append(nil, []string{"money", "1", "slow", "dmy"}); err == nil || !strings.Contains(err.Error(), `interpret-as "money" must be one of`) {
		t.Errorf("Append: %v", err)
	}

	// Through a Document, as the walk adds elements: the error leaves the
	// document as it was.
	st, err := Prepare(&El{Name: "Stream", Attrs: []AttrValue{av("bidirectional", Hole(0)), av("audioTrack", Hole(1))}, Text: cv("wss://x.example/a")})
	if err != nil {
		t.Fatal(err)
	}
	var d Document
	if err := d.Add(st, []string{"true", "inbound"}); err != nil {
		t.Fatal(err)
	}
	before, _ := d.Bytes()
	before = slices.Clone(before)
	err = d.Add(st, []string{"true", "both"})
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Attr != "audioTrack" || ve.Value != "both" {
		t.Errorf("Document.Add: %v", err)
	}
	if after, _ := d.Bytes(); !bytes.Equal(after, before) {
		t.Errorf("Document.Add wrote on error:\n%s\n%s", after, before)
	}
}

// Record's finishOnKey is not GetDigits': one key or none, never "".
func TestRecordFinishOnKey(t *testing.T) {
	for _, c := range []struct {
		el, v string
		ok    bool
	}{
		{"Record", "", false},
		{"Record", "none", true},
		{"Record", "#", true},
		{"Record", "*", true},
		{"Record", "7", true},
		{"Record", "##", false},
		{"GetDigits", "", true},
		{"GetInput", "", true},
	} {
		msg := Lookup(c.el).Attr("finishOnKey").Validate(c.v)
		if (msg == "") != c.ok {
			t.Errorf("%s finishOnKey %q: must %q, want ok %v", c.el, c.v, msg, c.ok)
		}
	}
	tm, err := Prepare(&El{Name: "Record", Attrs: []AttrValue{av("finishOnKey", Hole(0))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Append(nil, []string{""}); err == nil || err.Error() != `Record finishOnKey "" must be one key of 0-9, * or #, or "none"` {
		t.Errorf("Append: %v", err)
	}
}

// A rule reading fewer than MaxRuleAttrs attributes leaves the other
// slots empty, whatever the holes hold.
func TestRuleCheckUnusedSlots(t *testing.T) {
	tm, err := Prepare(&El{Name: "Stream", Attrs: []AttrValue{av("bidirectional", Hole(0)), av("audioTrack", Const("inbound"))}, Text: cv("wss://x.example/a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.rules) != 1 {
		t.Fatalf("%d rules wait for Append, want 1", len(tm.rules))
	}
	for i, h := range tm.rules[0].hole {
		if want := map[bool]int{true: 0, false: -1}[i == 1]; h != want {
			t.Errorf("slot %d fills from hole %d, want %d", i, h, want)
		}
	}
}
