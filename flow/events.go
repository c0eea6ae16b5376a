package flow

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/yamlpos"
)

// A MultiPartyCall node, or an add_participant node that creates the
// MultiPartyCall, may ask flowd to receive its status and recording
// callbacks (events: [status, recording]); flowd then fills
// statusCallbackUrl and recordingCallbackUrl (status_callback_url and
// recording_callback_url) with its own URLs and keeps every event in the
// call's trace.

// The event URLs a node's XML can carry. They report, they do not advance
// the call.
const (
	EventStatus    = "status"
	EventRecording = "recording"
)

// reports is the table of report events: what events: may list, and the
// attribute that carries flowd's URL for each. A kind's Reports say which
// its nodes may ask for.
var reports = []struct{ name, attr string }{
	{EventStatus, "statusCallbackUrl"},
	{EventRecording, "recordingCallbackUrl"},
}

func reportNames() []string {
	out := make([]string, len(reports))
	for i, r := range reports {
		out[i] = r.name
	}
	return out
}

// reportAttr returns the attribute that carries a report event's URL, or "".
func reportAttr(event string) string {
	for _, r := range reports {
		if r.name == event {
			return r.attr
		}
	}
	return ""
}

// IsReport reports whether an event URL only reports (status, recording)
// rather than resuming the walk.
func IsReport(event string) bool { return reportAttr(event) != "" }

// eventsDoc describes events: for the schema.
func eventsDoc() string {
	var each []string
	for _, r := range reports {
		each = append(each, r.name+" ("+r.attr+")")
	}
	return "Callbacks flowd receives and keeps in the call's trace: " + strings.Join(each, " and ") + "."
}

func (dc *decoder) events(n *yaml.Node) []string {
	names := reportNames()
	n = yamlpos.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		dc.Errorf(dc.Pos(n), CodeShape, "events must be a list such as [%s], not %s", strings.Join(names, ", "), yamlpos.Describe(n))
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, item := range n.Content {
		v, ok := dc.Scalar(item, "an event")
		if !ok {
			continue
		}
		if !IsReport(v) {
			dc.Errorf(dc.Pos(item), CodeValue, "events takes %s, not %q%s", strings.Join(names, " and "), v, yamlpos.DidYouMean(v, names))
			continue
		}
		if seen[v] {
			dc.Errorf(dc.Pos(item), CodeDuplicateKey, "event %q is listed twice", v)
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// checkEvents allows events only on nodes of a kind with Reports
// (MultiPartyCall) whose callback URL attributes are left to flowd.
func (c *checker) checkEvents(n *NodeDecl) {
	if len(n.Events) == 0 || n.Kind == nil {
		return
	}
	if len(n.Kind.Reports) == 0 {
		var takers []string
		for _, k := range Kinds() {
			if len(k.Reports) > 0 {
				takers = append(takers, k.Name)
			}
		}
		c.d.Errorf(n.EventsPos, CodeUnknownKey, "events is for %s nodes; %s has no %s callbacks for flowd to receive", strings.Join(takers, " and "), n.Kind.Name, strings.Join(reportNames(), " or "))
		return
	}
	for _, ev := range n.Events {
		if n.Elem != nil {
			attr := reportAttr(ev)
			for _, a := range n.Elem.Attrs {
				if a.Spec.Name == attr {
					c.d.Errorf(a.NamePos, CodeOwned, "%s %s is filled by flowd because events lists %s; remove one of the two", n.Kind.Name, attr, ev)
				}
			}
		}
		if ra, ok := n.Kind.behavior.(*restAction); ok {
			args, _ := n.action.([]*argDecl)
			for _, a := range args {
				if a.Name == ra.reports[ev] {
					c.d.Errorf(a.NamePos, CodeOwned, "%s %s is filled by flowd because events lists %s; remove one of the two", n.Kind.Name, a.Name, ev)
				}
			}
		}
	}
}
