package xmlgen

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/internal/testenv"
)

// Helpers shared by the golden, oracle and fuzz tests: valid values for
// every attribute and text of the table, and the smallest valid element.

// namedSamples are realistic values for String attributes whose rule the
// table cannot state (or states only by Check); the first value of each
// list that the attribute accepts is used.
var namedSamples = map[string][]string{
	"callerId":        {"+14155550100"},
	"callerName":      {"Acme Support"},
	"src":             {"14155550100"},
	"dst":             {"14155550199", "14155550199<14155550198"},
	"sendDigits":      {"ww123#"},
	"digitsMatch":     {"123,*9"},
	"digitsMatchBLeg": {"45,#0"},
	"sipHeaders":      {"head1=val1,head2=val2"},
	"extraHeaders":    {"head1=val1,head2=val2"},
	"hints":           {"sales,support,billing"},
	"time":            {"500ms", "1ms", "10000ms", "1s", "10s"},
	"ph":              {"pɪˈkɑːn"},
	"alias":           {"World Wide Web Consortium"},
	"confirmKey":      {"5", "#", "*"},
	"finishOnKey":     {"#", "*", "0", "none", ""},
	"validDigits":     {"1234567890*#", "12"},
	"digitEndTimeout": {"auto", "2", "10"},
	"volume":          {"+6dB", "-3.5dB"},
	"rate":            {"80%", "150%"},
	"pitch":           {"+10%", "-5%"},
	"voice":           {"Polly.Joanna", "Polly.Joanna-Neural"},
	"sipAuthUsername": {"alice"},
	"sipAuthPassword": {"s3cret&pw"},
}

func init() {
	namedSamples["speechEndTimeout"] = namedSamples["digitEndTimeout"]
	// A Polly voice for every language, so that each language can keep
	// the voice rules; and one spelt with its accent.
	for _, l := range speakVoices {
		namedSamples["voice"] = append(namedSamples["voice"], "Polly."+stripAccents.Replace(l.Polly[0]))
	}
	namedSamples["voice"] = append(namedSamples["voice"], "Polly.Léa")
}

// exampleURL is the URL used for a URL attribute.
func exampleURL(e *Element, a *Attr) string {
	return "https://example.com/" + e.Name + "/" + a.Name + "?id=1&n=2"
}

// sampleValue returns one valid value for a: the default, the first allowed
// value, the minimum, or an example URL.
func sampleValue(e *Element, a *Attr) string {
	var cands []string
	if a.Default != "" {
		cands = append(cands, a.Default)
	}
	switch a.Kind {
	case Enum, List, String:
		cands = append(cands, a.Values...)
	case Int:
		if a.HasMin {
			cands = append(cands, strconv.FormatInt(a.Min, 10))
		}
		cands = append(cands, "1")
	case Bool:
		cands = append(cands, "true")
	case Method:
		cands = append(cands, "POST")
	case URL:
		cands = append(cands, exampleURL(e, a))
	}
	cands = append(cands, namedSamples[a.Name]...)
	cands = append(cands, "sample value")
	for _, c := range cands {
		if a.Validate(c) == "" {
			return c
		}
	}
	panic("no valid sample for " + e.Name + " " + a.Name)
}

// sampleValues returns the values a test should try for a: both ends of an
// Int range, every allowed value of an Enum or List, both booleans and
// methods, and the well-known values of a String.
func sampleValues(e *Element, a *Attr) []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if a.Validate(v) != "" {
				panic("invalid sample " + strconv.Quote(v) + " for " + e.Name + " " + a.Name)
			}
			for _, o := range out {
				if o == v {
					v = "\x00dup"
				}
			}
			if v != "\x00dup" {
				out = append(out, v)
			}
		}
	}
	switch a.Kind {
	case Int:
		lo := int64(0)
		if a.HasMin {
			lo = a.Min
		}
		add(strconv.FormatInt(lo, 10))
		if a.HasMax {
			add(strconv.FormatInt(a.Max, 10))
		} else {
			add(strconv.FormatInt(lo+86400, 10))
		}
		if a.Default != "" {
			add(a.Default)
		}
	case Bool:
		add("true", "false")
	case Method:
		add("GET", "POST")
	case URL:
		add(exampleURL(e, a))
	case Enum:
		add(a.Values...)
		if a.OrURL {
			add(exampleURL(e, a))
		}
	case List:
		add(a.Values...)
		add(strings.Join(a.Values, ","))
	case String:
		if a.Default != "" {
			add(a.Default)
		}
		add(a.Values...)
		for _, v := range namedSamples[a.Name] {
			if a.Validate(v) == "" {
				add(v)
			}
		}
		if len(out) == 0 {
			add(sampleValue(e, a))
		}
	}
	return out
}

// textSamples are realistic text contents by element.
var textSamples = map[string]string{
	"Speak":          "Welcome to Acme.",
	"Play":           "https://example.com/audio/hello.mp3",
	"DTMF":           "12w34W#",
	"Number":         "14155550100",
	"User":           "sip:alice@phone.plivo.com",
	"Conference":     "sales-room",
	"MultiPartyCall": "mpc-support",
	"Redirect":       "https://example.com/next.xml?step=2&x=1",
	"Stream":         "wss://example.com/audio",
	"Message":        "Your code is 1234",
}

// sampleText returns valid text for e, or "" when e takes none.
func sampleText(e *Element) string {
	if e.Text == NoText {
		return ""
	}
	t, ok := textSamples[e.Name]
	if !ok {
		t = "some " + e.Name + " text"
	}
	if msg := e.ValidateText(t); msg != "" {
		panic(e.Name + " text " + strconv.Quote(t) + " must " + msg)
	}
	return t
}

// minimalEl returns the smallest valid El for e: its required attributes,
// the attributes its rules need (prosody takes one), its required text and
// the children it needs, all constants.
func minimalEl(e *Element) *El {
	el := &El{Name: e.Name}
	for i := range e.Attrs {
		if a := &e.Attrs[i]; a.Required {
			el.Attrs = append(el.Attrs, AttrValue{Name: a.Name, Value: Const(sampleValue(e, a))})
		}
	}
	keepRules(e, el, "", nil)
	if e.Text == RequiredText {
		v := Const(sampleText(e))
		el.Text = &v
	}
	for i := 0; i < e.MinChildren; i++ {
		el.Children = append(el.Children, minimalEl(Lookup(e.Children[i%len(e.Children)])))
	}
	return el
}

// fullEl returns an El for e with every attribute of the table (sample
// values that keep e's rules), its text when it takes any, and the
// children it needs. Values are holes when holes is set, filled from the
// returned values.
func fullEl(e *Element, holes bool) (*El, []string) {
	var vals []string
	val := func(v Value) Value {
		if !holes {
			return v
		}
		vals = append(vals, v.Const)
		return Hole(len(vals) - 1)
	}
	el := &El{Name: e.Name}
	for i := range e.Attrs {
		a := &e.Attrs[i]
		el.Attrs = append(el.Attrs, AttrValue{Name: a.Name, Value: Const(sampleValue(e, a))})
	}
	keepRules(e, el, "", nil)
	for i := range el.Attrs {
		el.Attrs[i].Value = val(el.Attrs[i].Value)
	}
	if e.Text != NoText {
		v := val(Const(sampleText(e)))
		el.Text = &v
	}
	for i := 0; i < e.MinChildren; i++ {
		el.Children = append(el.Children, minimalEl(Lookup(e.Children[i%len(e.Children)])))
	}
	return el, vals
}

// brokenRules returns e's rules that el breaks. Holes read their values
// from vals; a rule reading a value invalid on its own is skipped, as
// CheckRules skips it.
func brokenRules(e *Element, el *El, vals []string) []*Rule {
	lookup := func(name string) (RuleArg, bool) {
		for _, av := range el.Attrs {
			if av.Name == name {
				v := av.Value.Const
				if av.Value.IsHole() {
					v = vals[av.Value.Hole]
				}
				return RuleArg{Value: v, Set: true}, true
			}
		}
		return RuleArg{}, true
	}
	var out []*Rule
	for i := range e.Rules {
		one := *e
		one.Rules = e.Rules[i : i+1]
		if len(one.CheckRules(lookup)) > 0 {
			out = append(out, &e.Rules[i])
		}
	}
	return out
}

// keepRules mends el, an element of e, until it keeps e's rules: for each
// broken rule it sets another attribute the rule reads (never fixed) to
// the first sample value that mends it without breaking as many others,
// or as a last resort removes one. Holes read their values from vals.
func keepRules(e *Element, el *El, fixed string, vals []string) {
	for range 2 * len(e.Rules) {
		broken := brokenRules(e, el, vals)
		if len(broken) == 0 {
			return
		}
		r := broken[0]
		saved := slices.Clone(el.Attrs)
		mended := false
		try := func(name string, v *string) bool {
			el.Attrs = slices.DeleteFunc(slices.Clone(saved), func(x AttrValue) bool { return x.Name == name })
			if v != nil {
				el.Attrs = append(el.Attrs, AttrValue{Name: name, Value: Const(*v)})
			}
			if now := brokenRules(e, el, vals); len(now) < len(broken) {
				return true
			}
			el.Attrs = saved
			return false
		}
		for _, name := range r.Attrs {
			if name == fixed || mended {
				continue
			}
			for _, v := range sampleValues(e, e.Attr(name)) {
				if mended = try(name, &v); mended {
					break
				}
			}
		}
		for _, name := range r.Attrs {
			if name != fixed && !mended && !e.Attr(name).Required {
				mended = try(name, nil)
			}
		}
		if !mended {
			panic("cannot keep the rules of " + e.Name)
		}
	}
	if len(brokenRules(e, el, vals)) != 0 {
		panic("cannot keep the rules of " + e.Name)
	}
}

// wrap places el where Plivo allows it, in the element path from the root
// of a document: Number and User in a Dial, SSML in a Speak with a Polly
// voice. It returns the top element and the path of names down to el.
func wrap(el *El) *El {
	switch {
	case Lookup("Response").AllowsChild(el.Name):
		return el
	case Lookup("Dial").AllowsChild(el.Name):
		return &El{Name: "Dial", Children: []*El{el}}
	case Lookup("Speak").AllowsChild(el.Name):
		return &El{Name: "Speak", Attrs: []AttrValue{{Name: "voice", Value: Const("Polly.Joanna")}}, Children: []*El{el}}
	}
	panic("no parent for " + el.Name)
}

// mustAppend prepares el and appends it with vals.
func mustAppend(t testing.TB, el *El, vals []string) []byte {
	t.Helper()
	tm, err := Prepare(el)
	if err != nil {
		t.Fatalf("Prepare(%s): %v", el.Name, err)
	}
	out, err := tm.Append(nil, vals)
	if err != nil {
		t.Fatalf("Append(%s): %v", el.Name, err)
	}
	return out
}

// TestGolden writes every element of the table with every one of its
// attributes through Prepare and Append, and compares
// testdata/golden/<Element>.xml. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	want := map[string]bool{}
	for _, e := range Elements() {
		if e.Name == "Response" {
			continue
		}
		name := e.Name + ".xml"
		want[name] = true
		holed, vals := fullEl(e, true)
		got := mustAppend(t, holed, vals)
		consts, _ := fullEl(e, false)
		if c := mustAppend(t, consts, nil); !bytes.Equal(c, got) {
			t.Errorf("%s: constants give\n%s\nholes give\n%s", e.Name, c, got)
		}
		// Every attribute of the table is written.
		for _, a := range e.Attrs {
			if !bytes.Contains(got, []byte(" "+a.Name+`="`)) {
				t.Errorf("%s: attribute %s missing from %s", e.Name, a.Name, got)
			}
		}
		got = append(got, '\n')
		path := filepath.Join(dir, name)
		if *testenv.Update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run go test ./xmlgen -run TestGolden -update)", e.Name, err)
			continue
		}
		if !bytes.Equal(old, got) {
			t.Errorf("%s: output differs from %s (run with -update if intended)\ngot:  %s\nwant: %s", e.Name, path, got, old)
		}
	}
	// No stale goldens for elements that left the table.
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			if *testenv.Update {
				os.Remove(f)
				continue
			}
			t.Errorf("%s: no such element in the table", f)
		}
	}
}
