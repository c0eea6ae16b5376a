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
	if n != 5 {
		t.Errorf("%d rules in the table, want 5", n)
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

// readsAny reports whether r reads one of the attributes of c at idx.
func (c ruleCase) readsAny(r *Rule, idx []int) bool {
	for _, i := range idx {
		if slices.Contains(r.Attrs, c.attrs[i][0]) {
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
			var ve *ValueError
			if !errors.As(err, &ve) || err.Error() != c.want {
				t.Errorf("%s %v: error %v, want %s", name, holed, err, c.want)
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
		// Any attribute of the broken rule unknown (a template): skipped.
		for i, a := range c.attrs {
			if !c.readsAny(c.rule(), []int{i}) {
				continue
			}
			unknown := func(name string) (RuleArg, bool) {
				if name == a[0] {
					return RuleArg{Set: true}, false
				}
				return value(name)
			}
			if got := e.CheckRules(unknown); len(got) != 0 {
				t.Errorf("%s: with %s unknown, CheckRules reports %v", c.name, a[0], got)
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
