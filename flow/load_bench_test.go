package flow_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// benchFlow writes a realistic flow of blocks of ten nodes: a greeting with
// templates, a menu with prompts and on:, a retry counter, branches with
// expressions and hours(), a Dial with outcomes, a MultiPartyCall, hold
// music and a hang-up. Every node is reachable and the flow has no diagnostics.
func benchFlow(name string, nodes int) string {
	blocks := max(1, nodes/10)
	var b strings.Builder
	fmt.Fprintf(&b, "flow: %s\ndescription: generated benchmark flow\n", name)
	b.WriteString("params:\n  sales_number: { default: \"+14155550100\" }\n  queue: { default: support }\n")
	b.WriteString("vars:\n  attempts: 0\n  tier: gold\non_error: bye_0\nnodes:\n")
	for i := range blocks {
		next := fmt.Sprintf("greet_%d", i+1)
		if i == blocks-1 {
			next = fmt.Sprintf("bye_%d", i)
		}
		fmt.Fprintf(&b, `  greet_%[1]d:
    Speak:
      text: "Welcome {{ call.CallerName ?? 'caller' }}, you are calling {{ call.To }} from {{ call.From }}."
      voice: Polly.Joanna
      language: en-US
    next: menu_%[1]d
  menu_%[1]d:
    description: main menu %[1]d
    GetDigits:
      numDigits: 1
      timeout: 5
      validDigits: "129"
      playBeep: true
      children:
        - Speak: "Press 1 for sales, 2 for support, 9 to hear this again. Attempt {{ vars.attempts + 1 }}."
        - Play: https://example.com/prompts/menu-%[1]d.mp3
        - Wait: {length: 1}
    on:
      no_input: retry_%[1]d
    next: route_%[1]d
  retry_%[1]d:
    set:
      attempts: vars.attempts + 1
      tier: 'vars.attempts > 2 ? "bronze" : vars.tier'
    next: check_%[1]d
  check_%[1]d:
    branch:
      - when: vars.attempts >= 3
        next: bye_%[1]d
    next: menu_%[1]d
  route_%[1]d:
    branch:
      - when: input.Digits == "1"
        next: sales_%[1]d
      - when: input.Digits == "2" && hours("Mon-Fri 09:00-17:00; Sat 10:00-13:00", "America/New_York")
        next: support_%[1]d
      - when: input.Digits == "9" || nodes.menu_%[1]d.Digits == "9"
        next: menu_%[1]d
    next: %[2]s
  sales_%[1]d:
    Dial:
      timeout: 20
      callerId: "{{ call.To }}"
      children:
        - Number: "{{ params.sales_number }}"
        - User: sip:sales%[1]d@phone.plivo.com
    on:
      busy: queue_%[1]d
      no-answer: queue_%[1]d
    next: bye_%[1]d
  support_%[1]d:
    MultiPartyCall:
      name: "{{ params.queue }}-%[1]d-{{ call.CallUUID }}"
      role: customer
      maxDuration: 3600
      waitMusicUrl: https://example.com/hold.xml
      startMpcOnEnter: false
    next: %[2]s
  queue_%[1]d:
    Speak: "All our agents are busy, {{ call.CallerName ?? 'caller' }}. Your tier is {{ vars.tier }}."
    next: hold_%[1]d
  hold_%[1]d:
    Play:
      url: https://example.com/hold-%[1]d.mp3
      loop: 2
    next: bye_%[1]d
  bye_%[1]d:
    Hangup: {}
`, i, next)
	}
	return b.String()
}

func TestBenchFlowIsClean(t *testing.T) {
	src := benchFlow("bench", 1000)
	g, ds := flow.Compile("bench.yaml", []byte(src))
	if g == nil || len(ds) != 0 {
		t.Fatalf("the benchmark flow has diagnostics:\n%s", ds.Error())
	}
	if len(g.Nodes) != 1000 {
		t.Fatalf("%d nodes, want 1000", len(g.Nodes))
	}
}

// BenchmarkCompile1000 compiles a 1,000-node flow: decode, check (every
// expression compiled) and compile. Target: under 100 ms per operation.
func BenchmarkCompile1000(b *testing.B) {
	src := []byte(benchFlow("bench", 1000))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if g, ds := flow.Compile("bench.yaml", src); g == nil {
			b.Fatal(ds.Error())
		}
	}
}
