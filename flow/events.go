package flow

import "go.yaml.in/yaml/v3"

// A MultiPartyCall node may ask flowd to receive its status and recording
// callbacks (events: [status, recording]); flowd then fills
// statusCallbackUrl and recordingCallbackUrl with its own URLs and keeps
// every event in the call's trace.

// The event URLs a node's XML can carry. They report, they do not advance
// the call.
const (
	EventStatus    = "status"
	EventRecording = "recording"
)

var eventAttrs = map[string]string{
	EventStatus:    "statusCallbackUrl",
	EventRecording: "recordingCallbackUrl",
}

// IsReport reports whether an event URL only reports (status, recording)
// rather than resuming the walk.
func IsReport(event string) bool {
	_, ok := eventAttrs[event]
	return ok
}

func (dc *decoder) events(n *yaml.Node) []string {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		dc.d.errorf(dc.pos(n), CodeShape, "events must be a list such as [status, recording], not %s", describe(n))
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, item := range n.Content {
		v, ok := dc.scalar(item, "an event")
		if !ok {
			continue
		}
		if _, known := eventAttrs[v]; !known {
			dc.d.errorf(dc.pos(item), CodeValue, "events takes status and recording, not %q%s", v, didYouMean(v, []string{EventStatus, EventRecording}))
			continue
		}
		if seen[v] {
			dc.d.errorf(dc.pos(item), CodeDuplicateKey, "event %q is listed twice", v)
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
		c.d.errorf(n.EventsPos, CodeUnknownKey, "events is for MultiPartyCall nodes; %s has no status or recording callbacks for flowd to receive", n.Kind.Name)
		return
	}
	for _, ev := range n.Events {
		attr := eventAttrs[ev]
		for _, a := range n.Elem.Attrs {
			if a.Spec.Name == attr {
				c.d.errorf(a.NamePos, CodeOwned, "MultiPartyCall %s is filled by flowd because events lists %s; remove one of the two", attr, ev)
			}
		}
	}
}
