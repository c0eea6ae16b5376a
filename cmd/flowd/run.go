package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes (the README's "Commands").
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
		"version":  {"print the version, commit and Go version of this flowd", runVersion},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "help":
		// flowd help COMMAND is flowd COMMAND -h.
		if len(args) == 2 {
			if cmd, ok := commands[args[1]]; ok {
				return cmd.run([]string{"-h"}, stdin, stdout, stderr)
			}
			fmt.Fprintf(stderr, "flowd help: unknown command %q\n", args[1])
			usage(stderr)
			return exitUsage
		}
		if len(args) > 2 {
			fmt.Fprintln(stderr, "flowd help: name one command")
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
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

// newFlags returns a flag set whose usage is the synopsis (the lines after
// "usage: flowd NAME"), the flags, and then more, when given. It never
// exits; parseFlags decides where the usage goes.
func newFlags(name, synopsis, more string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: flowd %s\n", strings.TrimSpace(name+" "+synopsis))
		fs.PrintDefaults()
		if more != "" {
			fmt.Fprint(w, more)
		}
	}
	return fs
}

// parseFlags parses and returns an exit code when parsing ended the command:
// -h and --help print the usage to stdout and succeed; a bad flag prints
// the error and the usage to stderr and is bad usage. Afterwards the flag
// set writes to stderr, so a later fs.Usage() reports bad usage.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = stdout.Write(out.Bytes())
		return exitOK, false
	}
	_, _ = stderr.Write(out.Bytes())
	if err != nil {
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
