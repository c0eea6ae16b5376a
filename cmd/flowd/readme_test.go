package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README's Commands section is kept true by TestReadmeCommands (the
// README's flows and flow tests are checked by flowtest's
// TestReadmeSnippets). Its code blocks are of two kinds:
//
//   - a synopsis, "flowd <command> [flags] ARGS": the usage line of the
//     command's -h, which lists the same flags;
//   - a sample, "$ flowd <command> ..." and what it prints: run here, in a
//     temporary folder that readmeInputs fills with the input the README
//     describes.

// readmeInputs writes, for each sample command of the README, the files
// it runs on into dir.
var readmeInputs = map[string]func(t *testing.T, dir string){
	// The IVR example with two mistakes.
	"flowd validate flows/ivr.yaml": func(t *testing.T, dir string) {
		src := readFile(t, filepath.Join(repo, "examples", "flows", "ivr.yaml"))
		src = replaceOnce(t, src, "\n      numDigits: 1\n", "\n      numDigits: 0\n")
		src = replaceOnce(t, src, "\n    next: route\n", "\n    next: rout\n")
		writeFile(t, filepath.Join(dir, "flows", "ivr.yaml"), src)
	},
}

// repo is the repository root, absolute: samples run in other folders.
var repo = func() string {
	p, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return p
}()

func TestReadmeCommands(t *testing.T) {
	readme := readFile(t, filepath.Join(repo, "README.md"))
	_, section, ok := strings.Cut(readme, "\n## Commands\n")
	if !ok {
		t.Fatal("the README has no ## Commands section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	synopses, samples := map[string]bool{}, map[string]bool{}
	for _, block := range plainBlocks(section) {
		switch {
		case strings.HasPrefix(block, "$ "):
			for _, s := range splitSamples(block) {
				samples[s.command] = true
				t.Run(s.command, func(t *testing.T) { checkSample(t, s, readmeInputs) })
			}
		case strings.HasPrefix(block, "flowd "):
			name := strings.Fields(block)[1]
			synopses[name] = true
			checkSynopsis(t, name, block)
		}
	}
	for name := range commands {
		if !synopses[name] {
			t.Errorf("the README's Commands section has no synopsis of flowd %s", name)
		}
	}
	for cmd := range readmeInputs {
		if !samples[cmd] {
			t.Errorf("readmeInputs has an input for %q, which the README no longer shows", cmd)
		}
	}
	if len(samples) == 0 {
		t.Error("found no sample output in the README's Commands section")
	}
}

// plainBlocks returns the text of the Markdown code blocks that name no
// language.
func plainBlocks(md string) []string {
	var out []string
	var b strings.Builder
	in, plain := false, false
	for _, line := range strings.SplitAfter(md, "\n") {
		switch {
		case strings.HasPrefix(line, "```") && !in:
			in, plain = true, strings.TrimSpace(line) == "```"
			b.Reset()
		case strings.HasPrefix(line, "```"):
			in = false
			if plain {
				out = append(out, b.String())
			}
		case in:
			b.WriteString(line)
		}
	}
	return out
}

// checkSynopsis compares a README synopsis with the usage line of
// flowd NAME -h, and the flags it shows with those -h lists.
func checkSynopsis(t *testing.T, name, synopsis string) {
	t.Helper()
	var out, errs bytes.Buffer
	if code := run([]string{name, "-h"}, nil, &out, &errs); code != exitOK || errs.Len() > 0 {
		t.Errorf("flowd %s -h: exit %d, stderr %q", name, code, errs.String())
		return
	}
	usage, _, _ := strings.Cut(out.String(), "\n  -")
	if got, want := strings.Join(strings.Fields(usage), " "), "usage: "+strings.Join(strings.Fields(synopsis), " "); got != want {
		t.Errorf("flowd %s: the README's synopsis is not the usage -h prints:\nREADME: %s\n    -h: %s", name, want, got)
	}
	shown := regexp.MustCompile(`--([a-z][a-z-]*)`).FindAllStringSubmatch(synopsis, -1)
	listed := regexp.MustCompile(`(?m)^  -([a-z][a-z-]*)\b`).FindAllStringSubmatch(out.String(), -1)
	var readmeFlags, helpFlags []string
	for _, m := range shown {
		readmeFlags = append(readmeFlags, m[1])
	}
	for _, m := range listed {
		helpFlags = append(helpFlags, m[1])
	}
	slices.Sort(readmeFlags)
	slices.Sort(helpFlags)
	if !slices.Equal(slices.Compact(readmeFlags), helpFlags) {
		t.Errorf("flowd %s: the README shows the flags %v, -h lists %v", name, readmeFlags, helpFlags)
	}
}

// sample is one command of a README sample block and what it prints.
type sample struct {
	command string // "flowd validate flows/ivr.yaml"
	output  string
}

// splitSamples splits a sample block into its "$ " commands.
func splitSamples(block string) []sample {
	var out []sample
	for _, line := range strings.SplitAfter(block, "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			out = append(out, sample{command: strings.TrimSpace(cmd)})
			continue
		}
		out[len(out)-1].output += line
	}
	return out
}

// checkSample runs a sample's command on its input from inputs, in a
// temporary folder, and compares what it prints (stdout and stderr, as a
// terminal shows them) with the README.
func checkSample(t *testing.T, s sample, inputs map[string]func(t *testing.T, dir string)) {
	input, ok := inputs[s.command]
	if !ok {
		t.Errorf("the README shows the output of %q, but the test has no input for it", s.command)
		return
	}
	args := strings.Fields(s.command)
	if args[0] != "flowd" {
		t.Errorf("README sample %q does not run flowd", s.command)
		return
	}
	dir := t.TempDir()
	input(t, dir)
	t.Chdir(dir)
	var out bytes.Buffer
	run(args[1:], nil, &out, &out)
	if out.String() != s.output {
		t.Errorf("the README's output of %q is not what it prints:\nREADME:\n%s\nprinted:\n%s", s.command, s.output, out.String())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceOnce replaces old, which must occur exactly once in src.
func replaceOnce(t *testing.T, src, old, new string) string {
	t.Helper()
	if n := strings.Count(src, old); n != 1 {
		t.Fatalf("%q occurs %d times, want once", old, n)
	}
	return strings.Replace(src, old, new, 1)
}
