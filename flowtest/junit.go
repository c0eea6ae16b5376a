package flowtest

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// JUnit XML, the report format CI systems read: one testsuite per test
// file, one testcase per case, a failure with the whole explanation for a
// case that failed, and an error for a file that could not run.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	File       string          `xml:"file,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// WriteJUnit writes results as a JUnit XML report.
func WriteJUnit(w io.Writer, results []*Result) error {
	out := junitSuites{Name: "flowd test"}
	var total time.Duration
	for _, r := range results {
		s := r.Suite
		js := junitSuite{Name: s.Path, File: s.Path, Time: junitTime(r.Duration)}
		total += r.Duration
		if s.Graph != nil {
			js.Properties = []junitProperty{{Name: "flow", Value: s.Graph.Name}, {Name: "flow_file", Value: s.Graph.Path}}
		}
		if !s.OK() {
			var lines []string
			for _, d := range s.Diags {
				if d.Severity == flow.Error {
					lines = append(lines, d.String())
				}
			}
			msg := "the tests cannot run"
			if len(lines) > 0 {
				msg = lines[0]
			}
			js.Tests, js.Errors = 1, 1
			js.Cases = []junitCase{{
				Name: "load", Classname: classname(s), File: s.Path, Time: junitTime(0),
				Error: &junitProblem{Message: msg, Type: "load", Text: strings.Join(lines, "\n")},
			}}
		}
		for _, c := range r.Cases {
			jc := junitCase{Name: c.Case.Name, Classname: classname(s), File: s.Path, Line: c.Case.Pos.Line, Time: junitTime(c.Duration)}
			if f := c.Failure; f != nil {
				msg := f.Title()
				if len(f.Problems) > 0 {
					msg += ": " + strings.SplitN(f.Problems[0], "\n", 2)[0]
				}
				jc.Failure = &junitProblem{Message: msg, Type: "expectation", Text: f.Text()}
				js.Failures++
			}
			js.Tests++
			js.Cases = append(js.Cases, jc)
		}
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Errors += js.Errors
		out.Suites = append(out.Suites, js)
	}
	out.Time = junitTime(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// classname groups a file's cases under its flow, as JUnit viewers
// group test methods under a class.
func classname(s *Suite) string {
	if s.Graph != nil {
		return "flow." + s.Graph.Name
	}
	if s.File != nil {
		return "flow." + s.File.Flow
	}
	return s.Path
}

func junitTime(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
