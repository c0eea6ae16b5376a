package flow

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowd-dev/flowd/xmlgen"
)

// mpcBenchFlow is used when no example flow reaches a MultiPartyCall on
// answer: a customer joins a templated MPC with several attributes.
const mpcBenchFlow = `flow: mpc-bench
params:
  prefix: { default: acme-support }
vars:
  queue: "1"
nodes:
  hello:
    Speak: "Hello {{ call.CallerName }}, please hold."
    next: join
  join:
    MultiPartyCall:
      name: "{{ params.prefix }}-{{ vars.queue }}"
      role: customer
      maxDuration: 3600
      maxParticipants: 4
      waitMusicUrl: https://media.example.com/wait.xml
      record: true
      recordMinMemberCount: 2
      statusCallbackUrl: https://crm.example.com/mpc/events
      statusCallbackEvents: mpc-state-changes,participant-state-changes
      startMpcOnEnter: false
      endMpcOnExit: true
      enterSound: beep:1
      exitSound: none
    next: bye
  bye:
    Speak: Goodbye.
    next: hangup
  hangup:
    Hangup: {}
`

type benchFlow struct {
	name   string
	g      *Graph
	params map[string]string
}

func (f *benchFlow) state() *State {
	st := goldenState(f.g)
	for k, v := range f.params {
		st.Params[k] = v
	}
	return st
}

// reachesMPC reports whether answering f reaches a MultiPartyCall.
func (f *benchFlow) reachesMPC() bool {
	w := &Walker{URL: goldenURL(f.g.Name), Now: goldenClock}
	res := w.Answer(f.g, f.state())
	if res.Err != nil {
		return false
	}
	for _, id := range res.Path {
		if n := f.g.Node(id); n.Kind.Name == "MultiPartyCall" {
			return true
		}
	}
	return false
}

// benchFlows returns the IVR example and a flow that reaches a
// MultiPartyCall on answer: an example flow, with its defaults or with
// its empty deployment params filled in, else mpcBenchFlow.
func benchFlows(b *testing.B) []*benchFlow {
	src, err := os.ReadFile(filepath.Join("..", "examples", "flows", "ivr.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	ivr, ds := Compile("ivr.yaml", src)
	if ivr == nil {
		b.Fatal(ds)
	}
	out := []*benchFlow{{name: "ivr", g: ivr}}

	var mpc *benchFlow
	flows := exampleFlows(b)
	names := make([]string, 0, len(flows))
	for name := range flows {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		g := flows[name]
		filled := map[string]string{}
		for _, p := range g.Params {
			if p.Default == "" {
				filled[p.Name] = "2"
			}
		}
		for _, params := range []map[string]string{nil, filled} {
			if f := (&benchFlow{name: "mpc", g: g, params: params}); mpc == nil && f.reachesMPC() {
				mpc = f
			}
		}
	}
	if mpc == nil {
		g, ds := Compile("mpc-bench.yaml", []byte(mpcBenchFlow))
		if g == nil {
			b.Fatal(ds)
		}
		mpc = &benchFlow{name: "mpc", g: g}
	}
	return append(out, mpc)
}

// BenchmarkAnswer answers a new call three ways: flowd (Walker.Answer with
// prepared templates, the real path), floor (copying the same final bytes
// into a reused buffer: no walker could be faster) and naive (building the
// same document from scratch with etree on every call, from the same
// values). append is the xmlgen share of flowd: the same prepared templates
// and values through a Document, without walking.
func BenchmarkAnswer(b *testing.B) {
	for _, f := range benchFlows(b) {
		w := &Walker{URL: goldenURL(f.g.Name), Now: goldenClock}
		st := f.state()
		res := w.Answer(f.g, st)
		if res.Err != nil {
			b.Fatalf("%s: %v", f.g.Name, res.Err)
		}
		final := append([]byte(nil), res.XML...)
		els, err := replay(f.g, f.state(), w, res.Path, st)
		if err != nil {
			b.Fatal(err)
		}
		var check bytes.Buffer
		if err := buildNaive(els, &check); err != nil || !bytes.Equal(check.Bytes(), final) {
			b.Fatalf("%s: naive document differs (%v):\n%s\n%s", f.g.Name, err, check.Bytes(), final)
		}
		b.Logf("%s (flow %s, path %v, params %v): %d bytes", f.name, f.g.Name, res.Path, f.params, len(final))

		b.Run(f.name+"/flowd", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				res := w.Answer(f.g, st)
				n += len(res.XML)
			}
			if res := w.Answer(f.g, st); !bytes.Equal(res.XML, final) {
				b.Fatalf("the document changed between calls:\n%s\n%s", res.XML, final)
			}
		})
		b.Run(f.name+"/floor", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				buf = append(buf[:0], final...)
			}
			if !bytes.Equal(buf, final) {
				b.Fatal("floor copy differs")
			}
		})
		// Not one of the three ways: the xmlgen part of flowd alone, the
		// prepared templates filled with the walk's values, to tell the
		// cost of writing XML from the cost of walking.
		b.Run(f.name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			var d xmlgen.Document
			var out []byte
			for b.Loop() {
				d.Reset()
				for _, e := range els {
					if err := d.Add(e.tmpl, e.vals); err != nil {
						b.Fatal(err)
					}
				}
				out, _ = d.Bytes()
			}
			if !bytes.Equal(out, final) {
				b.Fatalf("appended document differs:\n%s\n%s", out, final)
			}
		})
		b.Run(f.name+"/naive", func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := buildNaive(els, &buf); err != nil {
					b.Fatal(err)
				}
			}
			if !bytes.Equal(buf.Bytes(), final) {
				b.Fatal("naive document differs")
			}
		})
	}
}
