package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes (SPEC section 6).
const (
	exitOK      = 0
	exitInvalid = 1 // invalid flows or failing tests
	exitUsage   = 2 // bad usage
)

// command is one subcommand. run gets the arguments after the command name
// and writes only to the writers it is given, so tests run it in-process.
type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"validate": {"check flow files and report every problem", runValidate},
		"schema":   {"print the JSON Schema of flow files", runSchema},
		"render":   {"print the XML a flow answers with", runRender},
		"serve":    {"serve flows to Plivo as an answer_url", runServe},
		"test":     {"run flow tests (*_test.yaml)", runTest},
		"graph":    {"draw a flow as a Mermaid or Graphviz diagram", runGraph},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "flowd: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: flowd <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun flowd <command> -h for a command's flags.")
}

// newFlags returns a flag set that reports errors to stderr and never exits.
func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: flowd %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses and returns an exit code when parsing ended the command.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// multiFlag collects a repeated flag such as --param name=value.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// pairs turns name=value flags into a map.
func pairs(m multiFlag, flagName string) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for _, kv := range m {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want name=value", flagName, kv)
		}
		out[k] = v
	}
	return out, nil
}
