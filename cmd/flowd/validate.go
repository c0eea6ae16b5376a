package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/flowd-dev/flowd/flow"
)

func runValidate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[--format text|json|github] [--strict] PATH...", "")
	format := fs.String("format", "text", "output format: text, json or github (workflow annotations)")
	strict := fs.Bool("strict", false, "fail on warnings too")
	if code, ok := parseFlags(fs, interleave(args), stdout, stderr); !ok {
		return code
	}
	if *format != "text" && *format != "json" && *format != "github" {
		fmt.Fprintf(stderr, "flowd validate: unknown --format %q (want text, json or github)\n", *format)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "flowd validate: no PATH given: name flow files or folders")
		fs.Usage()
		return exitUsage
	}
	files, err := findFlows(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "flowd validate: %v\n", err)
		return exitUsage
	}
	set, err := flow.LoadFiles(files)
	if err != nil {
		fmt.Fprintf(stderr, "flowd validate: %v\n", pathError(err))
		return exitUsage
	}
	failed := set.Diags.HasErrors(*strict)
	if *strict {
		// With --strict a warning fails the run, so it reads as an error.
		for i := range set.Diags {
			set.Diags[i].Severity = flow.Error
		}
	}
	switch *format {
	case "text":
		for _, d := range set.Diags {
			fmt.Fprintln(stdout, d)
		}
		errs, warns := count(set.Diags)
		if failed {
			fmt.Fprintf(stderr, "%d error(s), %d warning(s) in %d file(s)\n", errs, warns, set.Files)
		}
	case "github":
		for _, d := range set.Diags {
			level := "error"
			if d.Severity == flow.Warning {
				level = "warning"
			}
			fmt.Fprintf(stdout, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level, ghProperty(d.Pos.File), d.Pos.Line, d.Pos.Col, d.Code, ghEscape(d.Message))
		}
	case "json":
		out := struct {
			Valid       bool              `json:"valid"`
			Files       int               `json:"files"`
			Diagnostics []flow.Diagnostic `json:"diagnostics"`
		}{Valid: !failed, Files: set.Files, Diagnostics: append([]flow.Diagnostic{}, set.Diags...)}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
	}
	if failed {
		return exitInvalid
	}
	return exitOK
}

func count(ds flow.Diagnostics) (errs, warns int) {
	for _, d := range ds {
		if d.Severity == flow.Error {
			errs++
		} else {
			warns++
		}
	}
	return
}

// ghProperty escapes a property value of a GitHub workflow command.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// ghEscape escapes a message for a GitHub workflow command.
func ghEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}
