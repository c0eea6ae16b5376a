package main

import (
	"fmt"
	"io"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
)

func runSchema(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("schema", "[--tests]", "")
	tests := fs.Bool("tests", false, "print the schema of flow test files (*_test.yaml) instead")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	schema := flow.Schema
	if *tests {
		schema = flowtest.Schema
	}
	b, err := schema()
	if err != nil {
		fmt.Fprintf(stderr, "flowd schema: %v\n", err)
		return exitInvalid
	}
	stdout.Write(b)
	return exitOK
}
