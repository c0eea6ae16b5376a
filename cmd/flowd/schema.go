package main

import (
	"fmt"
	"io"

	"github.com/flowd-dev/flowd/flow"
)

func runSchema(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("schema", "", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	b, err := flow.Schema()
	if err != nil {
		fmt.Fprintf(stderr, "flowd schema: %v\n", err)
		return exitInvalid
	}
	stdout.Write(b)
	return exitOK
}
