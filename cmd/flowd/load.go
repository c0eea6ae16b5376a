package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
	"github.com/flowd-dev/flowd/yamlpos"
)

// A command's PATHs (the README's "Commands"): a file is taken as given
// when it is what the command works on; a folder is searched recursively
// for what the command works on (flow.FindFiles skips hidden, testdata
// and node_modules folders). A PATH that does not exist, a file that is
// not what the command works on (notes.md), or a folder that holds
// nothing the command works on, is bad usage for every command (SPEC §6:
// a PATH that holds no flow file): findFlows, findTests and loadOne say
// which PATH. A flow file whose contents are broken is an invalid flow
// (exit 1), never bad usage.

// flowFileNames says which files are flow files, for messages.
const flowFileNames = "*.yaml or *.yml, other than *_test.yaml"

// findFlows expands PATHs into flow files, sorted.
func findFlows(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		files, dir, err := expand(p, flow.IsFlowFile)
		if err != nil {
			return nil, err
		}
		if dir && len(files) == 0 {
			return nil, fmt.Errorf("%s holds no flow file (%s)", p, flowFileNames)
		}
		if !dir && !flow.IsFlowFile(p) {
			return nil, notFlowFile(p)
		}
		out = append(out, files...)
	}
	// Overlapping PATHs (flows flows/ivr.yaml) name a file once.
	return uniquePaths(out), nil
}

// findTests expands the PATHs of flowd test into flow test files and flow
// files, each sorted. A file PATH is a flow when its name is a flow
// file's, else a test file. A folder must hold a test or a flow: a flow
// without tests is reported by the coverage, as 0% covered.
func findTests(paths []string) (tests, flows []string, err error) {
	for _, p := range paths {
		files, dir, err := expand(p, func(path string) bool { return flowtest.IsTestFile(path) || flow.IsFlowFile(path) })
		if err != nil {
			return nil, nil, err
		}
		if dir && len(files) == 0 {
			return nil, nil, fmt.Errorf("%s holds no flow test (*_test.yaml) and no flow file (%s)", p, flowFileNames)
		}
		if !dir && !flowtest.IsTestFile(p) && !flow.IsFlowFile(p) {
			return nil, nil, fmt.Errorf("%s is neither a flow test (*_test.yaml) nor a flow file (%s)", p, flowFileNames)
		}
		for _, f := range files {
			if flow.IsFlowFile(f) {
				flows = append(flows, f)
			} else {
				tests = append(tests, f)
			}
		}
	}
	return uniquePaths(tests), uniquePaths(flows), nil
}

// expand returns the files of one PATH that match: the PATH itself when it
// is a file, else the matching files in the folder and below it.
func expand(p string, match func(string) bool) (files []string, dir bool, err error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, false, pathError(err)
	}
	if !info.IsDir() {
		return []string{p}, false, nil
	}
	files, err = flow.FindFiles([]string{p}, match)
	if err != nil {
		return nil, true, pathError(err)
	}
	return files, true, nil
}

// uniquePaths sorts paths and keeps each file once, however it was
// written (flows/ivr.yaml, ./flows/ivr.yaml).
func uniquePaths(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		key := filepath.Clean(p)
		if abs, err := filepath.Abs(p); err == nil {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// notFlowFile is the error of a file PATH that is not a flow file.
func notFlowFile(p string) error {
	if flowtest.IsTestFile(p) {
		return fmt.Errorf("%s is a flow test, not a flow file (%s): flowd test runs it", p, flowFileNames)
	}
	return fmt.Errorf("%s is not a flow file (%s)", p, flowFileNames)
}

// pathError words a missing or unreadable path without the name of the
// system call that found it.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, fs.ErrNotExist) {
			return fmt.Errorf("%s: no such file or folder", pe.Path)
		}
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// oneFlow checks the FLOW argument of render and graph: exactly one. It
// prints what is wrong and returns false.
func oneFlow(flags *flag.FlagSet, cmd string, stderr io.Writer) bool {
	switch flags.NArg() {
	case 1:
		return true
	case 0:
		fmt.Fprintf(stderr, "flowd %s: no FLOW given: name a flow file\n", cmd)
	default:
		fmt.Fprintf(stderr, "flowd %s: %d FLOWs given: name one flow file\n", cmd, flags.NArg())
	}
	flags.Usage()
	return false
}

// flowFile resolves the FLOW of render and graph to a flow file: a path,
// or, when no such path exists and it reads as a flow name, the flow of
// that name in the current folder, found as a test file's flow: finds
// its flow (flowtest.FindFlow). A FLOW that names no flow file is bad
// usage, as a missing path is.
func flowFile(arg string) (string, error) {
	if _, err := os.Stat(arg); err == nil || flowtest.IsFlowPath(arg) || !errors.Is(err, fs.ErrNotExist) {
		files, dir, err := expand(arg, flow.IsFlowFile)
		switch {
		case err != nil:
			return "", err
		case dir && len(files) == 0:
			return "", fmt.Errorf("%s holds no flow file (%s)", arg, flowFileNames)
		case dir:
			return "", fmt.Errorf("%s is a folder: FLOW names one flow file, such as %s", arg, files[0])
		case !flow.IsFlowFile(arg):
			return "", notFlowFile(arg)
		}
		return arg, nil
	}
	path, names := flowtest.FindFlow(".", arg)
	if path == "" {
		here, _ := filepath.Abs(".")
		there := "it holds no flow file"
		if len(names) > 0 {
			there = "its flows: " + strings.Join(names, ", ")
		}
		// FLOW names a flow, not a file: support.yaml may hold another.
		for _, ext := range []string{".yaml", ".yml"} {
			if _, err := os.Stat(arg + ext); err == nil {
				there += "; for the flow in " + arg + ext + ", name that file"
				break
			}
		}
		return "", fmt.Errorf("%s: no such file, and no flow of that name in the current folder, %s%s (%s)", arg, here, yamlpos.DidYouMean(arg, names), there)
	}
	return path, nil
}

// loadOne compiles the flow a FLOW argument names (flowFile) and prints
// its diagnostics; it returns nil and an exit code when there is no such
// flow (bad usage) or it does not compile (an invalid flow).
func loadOne(arg, cmd string, stderr io.Writer) (*flow.Graph, int) {
	path, err := flowFile(arg)
	if err != nil {
		fmt.Fprintf(stderr, "flowd %s: %v\n", cmd, err)
		return nil, exitUsage
	}
	src, err := flow.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "flowd %s: %v\n", cmd, pathError(err))
		return nil, exitUsage
	}
	g, ds := flow.CompileInFolder(filepath.Clean(path), src)
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
