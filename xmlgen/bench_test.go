package xmlgen

import (
	"bytes"
	"testing"
)

// benchMPC is a customer joining a MultiPartyCall: several attributes,
// the name and the exit URL filled at run time.
func benchMPC() (*El, []string) {
	el := &El{Name: "MultiPartyCall", Attrs: []AttrValue{
		av("role", Const("customer")),
		av("maxDuration", Hole(0)),
		av("maxParticipants", Const("4")),
		av("waitMusicUrl", Const("https://media.example.com/acme/wait-music.xml")),
		av("record", Const("true")),
		av("recordMinMemberCount", Const("2")),
		av("statusCallbackUrl", Const("https://crm.example.com/mpc/events")),
		av("statusCallbackEvents", Const("mpc-state-changes,participant-state-changes")),
		av("startMpcOnEnter", Const("false")),
		av("endMpcOnExit", Const("true")),
		av("enterSound", Const("beep:1")),
		av("exitSound", Const("none")),
		av("onExitActionUrl", Hole(1)),
	}, Text: hv(2)}
	vals := []string{"3600", "https://flowd.example.com/flows/support-queue/calls/1/join_queue/exit", "acme-support-1"}
	return el, vals
}

// BenchmarkTemplateAppend fills the prepared MultiPartyCall into a reused buffer.
func BenchmarkTemplateAppend(b *testing.B) {
	el, vals := benchMPC()
	tm, err := Prepare(el)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf, err = tm.Append(buf[:0], vals)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild builds the same MultiPartyCall with etree and writes it.
func BenchmarkBuild(b *testing.B) {
	el, vals := benchMPC()
	tm, err := Prepare(el)
	if err != nil {
		b.Fatal(err)
	}
	want, _ := tm.Append(nil, vals)
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		root, err := Build(el, vals)
		if err != nil {
			b.Fatal(err)
		}
		root.WriteTo(&buf, &writeSettings)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		b.Fatalf("Build and Append differ:\n%s\n%s", buf.Bytes(), want)
	}
}

// BenchmarkTemplateAppendRule fills a Stream whose rule between
// bidirectional and audioTrack reads two holes, checked after filling.
func BenchmarkTemplateAppendRule(b *testing.B) {
	el := &El{Name: "Stream", Attrs: []AttrValue{
		av("bidirectional", Hole(0)),
		av("audioTrack", Hole(1)),
		av("streamTimeout", Const("900")),
		av("statusCallbackUrl", Const("https://bot.example.com/v1/stream-events")),
		av("contentType", Const("audio/x-mulaw;rate=8000")),
		av("keepCallAlive", Const("true")),
	}, Text: hv(2)}
	vals := []string{"true", "inbound", "wss://bot.example.com/v1/calls"}
	tm, err := Prepare(el)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf, err = tm.Append(buf[:0], vals)
		if err != nil {
			b.Fatal(err)
		}
	}
}
