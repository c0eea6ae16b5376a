package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flowd-dev/flowd/flow"
)

func runGraph(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("graph", "FLOW [--format mermaid|dot]", "")
	format := fs.String("format", flow.DiagramMermaid, "diagram format: mermaid or dot (Graphviz)")
	if code, ok := parseFlags(fs, interleave(args), stdout, stderr); !ok {
		return code
	}
	if !slices.Contains(flow.DiagramFormats, *format) {
		fmt.Fprintf(stderr, "flowd graph: unknown --format %q (want %s)\n", *format, strings.Join(flow.DiagramFormats, " or "))
		return exitUsage
	}
	if !oneFlow(fs, "graph", stderr) {
		return exitUsage
	}
	g, code := loadOne(fs.Arg(0), "graph", stderr)
	if g == nil {
		return code
	}
	b, err := flow.Diagram(g, *format)
	if err != nil {
		fmt.Fprintf(stderr, "flowd graph: %v\n", err)
		return exitUsage
	}
	_, _ = stdout.Write(b)
	return exitOK
}
