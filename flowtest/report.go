package flowtest

import (
	"fmt"
	"io"
	"strings"

	"github.com/flowd-dev/flowd/flow"
)

// Summary counts the cases of a run.
type Summary struct {
	Passed, Failed int
	// Broken counts test files that could not run: their YAML, their keys
	// or their flow has errors.
	Broken int
}

// Summarize counts the cases and broken files of results.
func Summarize(results []*Result) Summary {
	var s Summary
	for _, r := range results {
		if !r.Suite.OK() {
			s.Broken++
			continue
		}
		for _, c := range r.Cases {
			if c.Failed() {
				s.Failed++
			} else {
				s.Passed++
			}
		}
	}
	return s
}

// OK reports whether nothing failed.
func (s Summary) OK() bool { return s.Failed == 0 && s.Broken == 0 }

// WriteText reports a run as `flowd test` prints it: the problems of
// files that could not run, each failed case with its steps, a line per
// file, then the totals. With verbose, passing cases are listed too. The
// text has no timings, so the same run prints the same report.
func WriteText(w io.Writer, results []*Result, verbose bool) {
	for _, r := range results {
		s := r.Suite
		if !s.OK() {
			for _, d := range s.Diags {
				if d.Severity == flow.Error {
					fmt.Fprintln(w, d)
				}
			}
			fmt.Fprintf(w, "FAIL %s: the tests cannot run\n", s.Path)
			continue
		}
		failed := 0
		for _, c := range r.Cases {
			if c.Failed() {
				failed++
				writeFailure(w, s, c)
			} else if verbose {
				fmt.Fprintf(w, "--- PASS: %s (%s:%d)\n", c.Case.Name, s.Path, c.Case.Pos.Line)
			}
		}
		switch {
		case len(r.Cases) == 0:
			if verbose {
				fmt.Fprintf(w, "ok   %s (flow %s): no cases selected\n", s.Path, s.Graph.Name)
			}
		case failed > 0:
			fmt.Fprintf(w, "FAIL %s (flow %s): %d of %d case(s) failed\n", s.Path, s.Graph.Name, failed, len(r.Cases))
		default:
			fmt.Fprintf(w, "ok   %s (flow %s): %d case(s)\n", s.Path, s.Graph.Name, len(r.Cases))
		}
	}
	sum := Summarize(results)
	line := fmt.Sprintf("%d passed, %d failed", sum.Passed, sum.Failed)
	if sum.Broken > 0 {
		line += fmt.Sprintf(", %d file(s) with errors", sum.Broken)
	}
	fmt.Fprintln(w, line)
}

func writeFailure(w io.Writer, s *Suite, c *CaseResult) {
	f := c.Failure
	fmt.Fprintf(w, "--- FAIL: %s (%s:%d)\n", c.Case.Name, s.Path, c.Case.Pos.Line)
	fmt.Fprintf(w, "    %s\n", indent(f.Title(), "    "))
	for _, p := range f.Problems {
		fmt.Fprintf(w, "        %s\n", indent(p, "            "))
	}
	for _, line := range f.Context() {
		fmt.Fprintf(w, "        %s\n", indent(line, "            "))
	}
}

// Title is the failure's first line: where and at which step.
func (f *Failure) Title() string {
	if f.Step == 0 {
		if f.Event == "answer" {
			// The answer's walk, when no step checks it.
			return fmt.Sprintf("%s: the answer (before step 1) failed", f.Pos)
		}
		return fmt.Sprintf("%s: the call could not start", f.Pos)
	}
	return fmt.Sprintf("%s: step %d (%s) failed", f.Pos, f.Step, f.Event)
}

// Context says what the step produced: where the call waits, the nodes
// walked, a run-time error and the XML.
func (f *Failure) Context() []string {
	var out []string
	if f.Step == 0 {
		return out
	}
	switch {
	case f.HungUp:
		out = append(out, "the call has hung up")
	case f.Wait != "":
		out = append(out, "the call waits at: "+f.Wait)
	default:
		out = append(out, "the call waits at: nothing (the flow has ended)")
	}
	if f.Path != nil {
		out = append(out, "path walked: "+strings.Join(f.Path, ", "))
	}
	if f.Error != "" {
		out = append(out, "run-time error: "+f.Error)
	}
	if f.XML != "" {
		out = append(out, "xml: "+f.XML)
	}
	return out
}

// Text is the whole failure, as `flowd test` prints it under the case.
func (f *Failure) Text() string {
	var b strings.Builder
	b.WriteString(f.Title())
	b.WriteByte('\n')
	for _, p := range append(append([]string(nil), f.Problems...), f.Context()...) {
		b.WriteString("    ")
		b.WriteString(indent(p, "    "))
		b.WriteByte('\n')
	}
	return b.String()
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}
