package flow

import (
	"strings"
	"unicode"
)

// mpcSettings warns of MultiPartyCall settings that cannot take effect,
// as Plivo's MultiPartyCall documents them:
//
//   - waitMusicUrl plays to participants waiting for the MPC to start; a
//     participant with startMpcOnEnter true (Plivo's default) starts it on
//     entering and never waits.
//   - MPC-level attributes (waitMusicUrl, maxDuration, record, the status
//     and recording callbacks ...) come from the participant that creates
//     the MPC. A MultiPartyCall node reached after an add_participant
//     node that names the same MPC is never first in: Add Participant
//     created the MPC, with its own arguments, and the node's MPC-level
//     settings and events are ignored.
func (c *checker) mpcSettings() {
	f := c.f
	var adders []*NodeDecl
	for _, n := range f.Nodes {
		if n.Kind != nil && n.Kind.behavior == addParticipant {
			adders = append(adders, n)
		}
	}
	for _, n := range f.Nodes {
		if n.Kind == nil || n.Kind.Name != "MultiPartyCall" || n.Elem == nil {
			continue
		}
		attrs := map[string]*AttrDecl{}
		for _, a := range n.Elem.Attrs {
			attrs[a.Spec.Name] = a
		}
		if wm := attrs["waitMusicUrl"]; wm != nil {
			if s := attrs["startMpcOnEnter"]; s == nil || s.Value.Const() && s.Value.Value == "true" {
				c.d.Warnf(wm.NamePos, CodeDeadSetting, "MultiPartyCall waitMusicUrl of node %s never plays: with startMpcOnEnter true (Plivo's default) the caller starts the MPC on entering and never waits; write startMpcOnEnter: false to have the caller wait, with the music, until a participant who starts it joins", n.ID)
			}
		}
		if n.Elem.Text == nil {
			continue
		}
		first := firstAdder(f, adders, n)
		if first == nil {
			continue
		}
		var dead, moved []string
		var at Pos
		for _, a := range n.Elem.Attrs {
			if !a.Spec.MPC {
				continue
			}
			if len(dead) == 0 {
				at = a.NamePos
			}
			dead = append(dead, a.Spec.Name)
			moved = append(moved, snake(a.Spec.Name))
		}
		if len(n.Events) > 0 {
			if len(dead) == 0 {
				at = n.EventsPos
			}
			dead = append(dead, "events")
			moved = append(moved, "events")
		}
		if len(dead) == 0 {
			continue
		}
		c.d.Warnf(at, CodeDeadSetting, "node %s's MPC-level settings (%s) are ignored: add_participant at node %s creates MultiPartyCall %s before this caller joins, and an MPC takes them from the participant that creates it; give them to node %s (%s)",
			n.ID, strings.Join(dead, ", "), first.ID, n.Elem.Text.Value, first.ID, strings.Join(moved, ", "))
	}
}

// firstAdder returns an add_participant node naming the MPC of node n, by
// the same mpc text, from which the walk reaches n: the MPC exists before
// n's caller joins it.
func firstAdder(f *File, adders []*NodeDecl, n *NodeDecl) *NodeDecl {
	for _, a := range adders {
		mpc := ""
		args, _ := a.action.([]*argDecl)
		for _, ad := range args {
			if ad.Name == "mpc" {
				mpc = ad.Value.Value
			}
		}
		if mpc == "" || strings.TrimSpace(mpc) != strings.TrimSpace(n.Elem.Text.Value) {
			continue
		}
		if f.reach(a, func(*NodeDecl) bool { return true })[n] {
			return a
		}
	}
	return nil
}

// snake spells a MultiPartyCall attribute as Add Participant's argument:
// waitMusicUrl → wait_music_url.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
