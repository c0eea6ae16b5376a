package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The README's Testing flows section shows what flowd test prints, in
// sample blocks like the Commands section's ("$ flowd test ..." and its
// output). TestReadmeTesting runs them as TestReadmeCommands runs those of
// the Commands section, with checkSample, on the inputs of
// readmeTestingInputs. flowd test prints no timings and nothing else that
// changes from run to run (flowtest.WriteText, Coverage.Write), so the
// output is compared as printed, with nothing normalised.

// readmeTestingInputs writes, for each sample command of the README's
// Testing flows section, the files it runs on into dir: the IVR example
// as flows/ivr.yaml and a flows/ivr_test.yaml that tests it.
var readmeTestingInputs = map[string]func(t *testing.T, dir string){
	// Two cases; the second expects the wrong node. Its name and the
	// lines of the case and of its step are in the README's sample.
	"flowd test flows": func(t *testing.T, dir string) {
		writeIVR(t, dir, `# The IVR menu: the second case expects the wrong node.
flow: ivr
cases:
  - name: sales, the agent answers
    steps:
      - press: "1"
        expect: { node: sales, path: [route, sales] }
      - dial: completed
        expect: { ended: true, path: [goodbye, hangup] }

  - name: wrong expectation
    steps:
      - press: "2"
        expect: { node: sales }
`)
	},
	// Three passing cases that leave a node and some edges untaken: no
	// case presses a wrong key or 9, none reaches the menu again after a
	// failed attempt, and no agent fails to answer at sales or answers at
	// support.
	"flowd test --cover flows": func(t *testing.T, dir string) {
		writeIVR(t, dir, `flow: ivr
cases:
  - name: sales, the agent answers
    steps:
      - press: "1"
        expect: { node: sales }
      - dial: completed
        expect: { ended: true }

  - name: support, nobody answers
    steps:
      - press: "2"
        expect: { node: support }
      - dial: no-answer
        expect: { ended: true }

  - name: a call that starts with failed attempts
    vars: { attempts: 2 }
    steps:
      - no_input: true
        expect: { ended: true }
`)
	},
}

// writeIVR writes the IVR example as flows/ivr.yaml and test as
// flows/ivr_test.yaml.
func writeIVR(t *testing.T, dir, test string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "flows", "ivr.yaml"), readFile(t, filepath.Join(repo, "examples", "flows", "ivr.yaml")))
	writeFile(t, filepath.Join(dir, "flows", "ivr_test.yaml"), test)
}

func TestReadmeTesting(t *testing.T) {
	readme := readFile(t, filepath.Join(repo, "README.md"))
	_, section, ok := strings.Cut(readme, "\n## Testing flows\n")
	if !ok {
		t.Fatal("the README has no ## Testing flows section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	samples := map[string]bool{}
	for _, block := range plainBlocks(section) {
		if !strings.HasPrefix(block, "$ ") {
			continue
		}
		for _, s := range splitSamples(block) {
			samples[s.command] = true
			t.Run(s.command, func(t *testing.T) {
				if _, ok := readmeTestingInputs[s.command]; !ok {
					t.Errorf("the README's Testing flows section shows the output of %q, but readmeTestingInputs has no input for it", s.command)
					return
				}
				checkSample(t, s, readmeTestingInputs)
			})
		}
	}
	for cmd := range readmeTestingInputs {
		if !samples[cmd] {
			t.Errorf("readmeTestingInputs has an input for %q, which the README's Testing flows section no longer shows", cmd)
		}
	}
}
