package flowtest_test

import (
	"cmp"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowd-dev/flowd/flowtest"
)

// keys asks for keys in one of several ways, picked by the initial var
// ask, and keeps what Plivo posted in vars.got.
const keys = `flow: keys
vars:
  ask: pin
  got: ""
nodes:
  start:
    branch:
      - when: vars.ask == "four"
        next: four
      - when: vars.ask == "none"
        next: none
      - when: vars.ask == "empty"
        next: empty
      - when: vars.ask == "star"
        next: star
      - when: vars.ask == "input"
        next: input
    next: pin
  pin:
    GetDigits: {}
    on: { no_input: silent }
    next: got
  four:
    GetDigits: { numDigits: 4, validDigits: "123456#" }
    on: { no_input: silent }
    next: got
  none:
    GetDigits: { finishOnKey: none }
    on: { no_input: silent }
    next: got
  empty:
    GetDigits: { finishOnKey: "" }
    on: { no_input: silent }
    next: got
  star:
    GetDigits: { finishOnKey: "*" }
    on: { no_input: silent }
    next: got
  input:
    GetInput: { inputType: dtmf, finishOnKey: "*", numDigits: 3 }
    on: { no_input: silent }
    next: got
  got:
    set: { got: input.Digits }
    next: bye
  silent:
    set: { got: "'no input'" }
    next: bye
  bye:
    Hangup: {}
`

// TestPressCollects: press: posts the Digits Plivo collects from the
// keys, by the element's finishOnKey, numDigits and validDigits; a key
// the GetDigits does not take is no input; params: keep the rules, and a
// Digits among them is posted as written.
func TestPressCollects(t *testing.T) {
	for _, tc := range []struct {
		name, ask, keys, params, got string
	}{
		{"a PIN typed with #", "pin", "1234#", "", "1234"},
		{"# alone is no input", "pin", "#", "", "no input"},
		{"keys after #", "pin", "12#34", "", "12"},
		{"numDigits", "four", "123456", "", "1234"},
		{"finishOnKey none keeps #", "none", "12#", "", "12#"},
		{"finishOnKey empty keeps #", "empty", "12#", "", "12#"},
		{"finishOnKey *", "star", "1#2*3", "", "1#2"},
		{"GetInput: finishOnKey", "input", "12*3", "", "12"},
		{"GetInput: numDigits", "input", "12345", "", "123"},
		{"an invalid key is no input", "four", "17", "", "no input"},
		{"an invalid key after #", "four", "12#7", "", "12"},
		{"an invalid key past numDigits", "four", "12347", "", "1234"},
		{"params keep the rules", "four", "1234#", "{ X-PH-Note: x }", "1234"},
		{"params with an invalid key", "four", "9", "{ X-PH-Note: x }", "no input"},
		{"Digits in params are the author's", "four", "9", `{ Digits: "9#" }`, "9#"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte(keys), 0o644); err != nil {
				t.Fatal(err)
			}
			test := `cases:
  - name: keys
    vars: { ask: ` + tc.ask + ` }
    steps:
      - press: "` + tc.keys + `"
        params: ` + cmp.Or(tc.params, "{}") + `
        expect: { ended: true, vars: { got: "` + tc.got + `" } }
`
			path := filepath.Join(dir, "keys_test.yaml")
			if err := os.WriteFile(path, []byte(test), 0o644); err != nil {
				t.Fatal(err)
			}
			s := flowtest.Load(path)
			if !s.OK() {
				t.Fatalf("the suite does not load:\n%v", s.Diags)
			}
			if r := s.Run(flowtest.Options{}); r.Failed() {
				t.Errorf("press %q, params %s:\n%s", tc.keys, tc.params, report(r))
			}
		})
	}
}
