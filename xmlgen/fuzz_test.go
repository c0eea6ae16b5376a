package xmlgen

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// position is one place a run-time value can go: an attribute of an
// element, or its text when attr is "".
type position struct {
	elem *Element
	attr string
}

// positions lists every (element, attribute|text) position of the table.
func positions() []position {
	var out []position
	for _, e := range Elements() {
		if e.Name == "Response" {
			continue
		}
		for _, a := range e.Attrs {
			out = append(out, position{e, a.Name})
		}
		if e.Text != NoText {
			out = append(out, position{e, ""})
		}
	}
	return out
}

// holeAt returns the document element for p with a hole at p, the rest the
// minimal valid element.
func holeAt(p position) *El {
	el := minimalEl(p.elem)
	if p.attr == "" {
		el.Text = hv(0)
	} else {
		el.Attrs = slices.DeleteFunc(el.Attrs, func(x AttrValue) bool { return x.Name == p.attr })
		el.Attrs = append(el.Attrs, av(p.attr, Hole(0)))
		// A rule that reads only whether the hole is written (User's SIP
		// credentials go in pairs) is checked by Prepare.
		keepRules(p.elem, el, p.attr, []string{""})
	}
	return wrap(el)
}

// FuzzValues feeds arbitrary strings into every attribute and text
// position. A value Append accepts must give a document encoding/xml
// parses, reading back exactly Sanitize(v); a value it refuses must be a
// *ValueError, with nothing written. Either way Build agrees.
func FuzzValues(f *testing.F) {
	ps := positions()
	seeds := []string{
		"", " ", "hello", "a&b<c>d\"e'f", "\t\n\r", "\r\n", "\x00", "\xff\xfe", "\uE000", "\uE0000\uE001", "]]>",
		"https://example.com/a?b=1&c=2", "wss://example.com/x", "http://[::1]:80/", "https://h/%zz", "12w#", "true", "GET",
		"14400", "-1", "0", "99999999999999999999", "Polly.Joanna", "beep:1", "mpc-state-changes,participant-speak-events",
		"a=1,b=2", "500ms", "+6dB", "80%", "\ufffd", "\ufffe", "é😀", "sip:alice@phone.plivo.com", "&#x41;", "&amp;",
	}
	for i, s := range seeds {
		f.Add(uint(i*7), s)
		f.Add(uint(i*13+5), s)
	}
	for i := range ps {
		f.Add(uint(i), "x")
	}
	templates := make([]*Template, len(ps))
	els := make([]*El, len(ps))
	for i, p := range ps {
		els[i] = holeAt(p)
		t, err := Prepare(els[i])
		if err != nil {
			f.Fatalf("%s %s: %v", p.elem.Name, p.attr, err)
		}
		templates[i] = t
	}
	f.Fuzz(func(t *testing.T, idx uint, v string) {
		checkScanURL(t, v)
		i := int(idx % uint(len(ps)))
		p := ps[i]
		prefix := []byte("<Response>")
		out, err := templates[i].Append(append([]byte(nil), prefix...), []string{v})
		root, berr := Build(els[i], []string{v})
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Element != p.elem.Name || ve.Attr != p.attr {
				t.Fatalf("%s %s %q: error %v is not a ValueError naming the position", p.elem.Name, p.attr, v, err)
			}
			if !bytes.Equal(out, prefix) {
				t.Fatalf("%s %s %q: Append wrote %q on error", p.elem.Name, p.attr, v, out[len(prefix):])
			}
			if berr == nil {
				t.Fatalf("%s %s %q: Build accepts what Append refuses", p.elem.Name, p.attr, v)
			}
			return
		}
		if berr != nil {
			t.Fatalf("%s %s %q: Build refuses (%v) what Append accepts", p.elem.Name, p.attr, v, berr)
		}
		var buf bytes.Buffer
		root.WriteTo(&buf, &writeSettings)
		if !bytes.Equal(out[len(prefix):], buf.Bytes()) {
			t.Fatalf("%s %s %q:\nAppend: %q\netree:  %q", p.elem.Name, p.attr, v, out[len(prefix):], buf.Bytes())
		}
		out = append(out, "</Response>"...)
		got, ok := readBack(t, out, p.elem.Name, p.attr)
		if !ok {
			t.Fatalf("%s %s %q: not found in %q", p.elem.Name, p.attr, v, out)
		}
		if want := Sanitize(v); got != want {
			t.Fatalf("%s %s %q: reads back %q, want %q\n%q", p.elem.Name, p.attr, v, got, want, out)
		}
	})
}

// checkScanURL: what scanURL accepts, the full URL rule accepts, and a
// clean URL needs no escaping.
func checkScanURL(t *testing.T, v string) {
	ok, clean := scanURL(v)
	if !ok {
		return
	}
	if msg := CheckURL(v); msg != "" {
		t.Fatalf("scanURL accepts %q, checkURL says it must %s", v, msg)
	}
	if clean && (string(appendEscaped(nil, v, true)) != v || string(appendEscaped(nil, v, false)) != v) {
		t.Fatalf("scanURL calls %q clean, but it is escaped", v)
	}
}
