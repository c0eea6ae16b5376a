package flow

import (
	"slices"
	"testing"
)

// TestKinds fails when a kind leaves part of what it must declare unsaid.
// The compiler already asks each row's behavior for every method; this
// asks for what the methods return and for the row's facts, which the
// checker, walker, runtime, flowtest, schema, reference and diagrams read
// without asking which kind they hold. That each callback's flow-test
// events are events a step may send is flowtest's TestKindEvents.
func TestKinds(t *testing.T) {
	callbackEvents := []string{EventAction, EventNoInput, EventExit}
	seen := map[string]bool{}
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			if seen[k.Name] {
				t.Fatalf("kind %s is declared twice", k.Name)
			}
			seen[k.Name] = true
			if LookupKind(k.Name) != k {
				t.Errorf("LookupKind(%q) does not find its row", k.Name)
			}
			if k.behavior == nil {
				t.Fatal("no behavior: name the kind's implementation in its row of kinds")
			}
			if k.Doc == "" {
				t.Error("no Doc: the reference and the schema describe the kind with it")
			}
			tr := k.behavior.traits()
			if tr != k.traits {
				t.Error("traits differ from the ones read when the table was indexed")
			}
			if tr.control == controlUnset {
				t.Error("traits: no control: say whether the walk goes on, waits or ends after the node")
			}
			if tr.style == styleUnset {
				t.Error("traits: no style: say how diagrams draw the node")
			}
			if (tr.refSection == "") != (tr.refEntry == "") {
				t.Error("traits: a reference section needs an entry for the kind, and an entry a section")
			}
			if s := k.behavior.schema(k); len(s) == 0 {
				t.Error("schema: no JSON Schema for the action's value")
			}
			if _, ok := k.behavior.(element); ok != (k.Element != nil) {
				t.Errorf("a Plivo element kind needs the Plivo element of its name, and only it (Element %v)", k.Element)
			}

			// The callbacks say how Plivo calls back a node the walk waits at.
			waitsAt := tr.control == waits || tr.control == waitsIfNext
			switch {
			case waitsAt && len(k.Callbacks) == 0:
				t.Error("the walk waits at the node, but the kind declares no Callbacks")
			case !waitsAt && len(k.Callbacks) > 0:
				t.Error("the kind declares Callbacks, but the walk never waits at the node")
			case waitsAt && (k.URLAttr == "" || !k.Owns(k.URLAttr)):
				t.Errorf("the walk waits at the node, but flowd owns no URL attribute to be called back at (URLAttr %q)", k.URLAttr)
			}
			events := map[string]bool{}
			for _, c := range k.Callbacks {
				if !slices.Contains(callbackEvents, c.Event) {
					t.Errorf("callback event %q is not one of %v", c.Event, callbackEvents)
				}
				if events[c.Event] {
					t.Errorf("callback event %q is declared twice", c.Event)
				}
				events[c.Event] = true
				if len(c.Tests) == 0 {
					t.Errorf("callback %s: no flow-test event sends it", c.Event)
				}
				if c.Outcome != "" && !k.HasOutcome(c.Outcome) {
					t.Errorf("callback %s reports outcome %q, which is not among Outcomes %v", c.Event, c.Outcome, k.Outcomes)
				}
				if c.Outcome != "" && c.Param != "" {
					t.Errorf("callback %s: an outcome comes from Outcome or from Param, not both", c.Event)
				}
				if c.Param != "" && len(k.Outcomes) == 0 {
					t.Errorf("callback %s reads its outcome from %s, but the kind has no Outcomes", c.Event, c.Param)
				}
			}
			if tr.control == ends && len(k.Outcomes) > 0 {
				t.Error("the flow ends at the node, so it can have no Outcomes")
			}
			for _, r := range k.Reports {
				if !IsReport(r) {
					t.Errorf("report %q is not a report event", r)
				}
			}
		})
	}
}
