package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/flow"
)

// loadOne compiles one flow file and prints its diagnostics; it returns
// nil and an exit code when the flow does not compile.
func loadOne(path, cmd string, stderr io.Writer) (*flow.Graph, int) {
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "flowd %s: %v\n", cmd, err)
		return nil, exitUsage
	}
	g, ds := flow.Compile(filepath.Clean(path), src)
	if g == nil {
		for _, d := range ds {
			fmt.Fprintln(stderr, d)
		}
		return nil, exitInvalid
	}
	return g, exitOK
}

// withDefaults fills the answer parameters a real call always has, so a
// render without --call still looks like Plivo's request.
func withDefaults(call map[string]string) map[string]string {
	defaults := map[string]string{
		"CallUUID": "00000000-0000-0000-0000-000000000000", "From": "+14155550100", "To": "+14155550199",
		"Direction": "inbound", "CallStatus": "ringing", "Event": "StartApp", "CallerName": "",
	}
	for k, v := range call {
		defaults[k] = v
	}
	return defaults
}

// parseVar reads name=value, the value as a YAML scalar or flow collection.
func parseVar(kv string) (string, any, error) {
	name, raw, ok := strings.Cut(kv, "=")
	if !ok || name == "" {
		return "", nil, fmt.Errorf("--var %q: want name=value", kv)
	}
	var v any
	if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
		return "", nil, fmt.Errorf("--var %s: %v", name, err)
	}
	if n, ok := v.(int64); ok {
		v = int(n)
	}
	return name, v, nil
}

// interleave moves positional arguments after the flags, so both
// `flowd render FLOW --node x` and `flowd render --node x FLOW` work.
func interleave(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// boolFlags are the flags that take no value.
var boolFlags = map[string]bool{"strict": true, "cover": true, "insecure": true, "tests": true, "h": true, "help": true}

func isBoolFlag(a string) bool { return boolFlags[strings.TrimLeft(a, "-")] }
