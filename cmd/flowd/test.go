package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
)

func runTest(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("test", "[--run REGEXP] [--junit FILE] [--cover] [--cover-min PERCENT] [PATH...]", "")
	runRE := fs.String("run", "", "run only the cases whose name matches `REGEXP`")
	junit := fs.String("junit", "", "also write a JUnit XML report to `FILE`")
	cover := fs.Bool("cover", false, "report the nodes and edges of each flow that the cases took, and those never taken")
	coverMin := fs.String("cover-min", "", "fail when a flow's coverage is below `PERCENT` (implies --cover)")
	if code, ok := parseFlags(fs, interleave(args), stdout, stderr); !ok {
		return code
	}
	var opts flowtest.Options
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			fmt.Fprintf(stderr, "flowd test: --run: %v\n", err)
			return exitUsage
		}
		opts.Run = re
	}
	minPct := -1.0
	if *coverMin != "" {
		v, err := strconv.ParseFloat(*coverMin, 64)
		if err != nil || v < 0 || v > 100 {
			fmt.Fprintf(stderr, "flowd test: --cover-min %q: want a percentage from 0 to 100\n", *coverMin)
			return exitUsage
		}
		minPct, *cover = v, true
	}
	if *cover {
		opts.Coverage = flowtest.NewCoverage()
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, flows, err := findTests(paths)
	if err != nil {
		fmt.Fprintf(stderr, "flowd test: %v\n", err)
		return exitUsage
	}
	// The report file is made before any case runs, so a path that cannot
	// be written is bad usage, found at once rather than after the run.
	var report *os.File
	if *junit != "" {
		if report, err = os.Create(*junit); err != nil {
			fmt.Fprintf(stderr, "flowd test: --junit: %v\n", pathError(err))
			return exitUsage
		}
		defer report.Close()
	}
	// As go test: nothing to run is no failure. Folders of flows without
	// tests pass (--cover counts their flows as 0% covered, so
	// --cover-min fails them), and so does a --run that selects no case;
	// each says so on stderr.
	code := exitOK
	results := flowtest.RunFiles(files, opts)
	if len(files) == 0 {
		fmt.Fprintf(stderr, "flowd test: no flow tests (*_test.yaml) in %s\n", strings.Join(paths, " "))
	} else {
		flowtest.WriteText(stdout, results, false)
		sum := flowtest.Summarize(results)
		if !sum.OK() {
			code = exitInvalid
		}
		if sum.Passed+sum.Failed+sum.Broken == 0 {
			fmt.Fprintf(stderr, "flowd test: warning: no case matches --run %q\n", *runRE)
		}
	}
	// A flow under the PATHs that no test file tests must still be a
	// valid flow: the run fails on its errors, as validate would.
	if untested := flowtest.UntestedFlows(flows, results); len(untested) > 0 {
		if set, err := flow.LoadFiles(untested); err == nil && set.Diags.HasErrors(false) {
			for _, d := range set.Diags {
				if d.Severity == flow.Error {
					fmt.Fprintln(stdout, d.String())
				}
			}
			fmt.Fprintf(stdout, "FAIL flows that no test tests do not validate (flowd validate shows all their diagnostics)\n")
			code = exitInvalid
		}
	}
	if opts.Coverage != nil {
		// A flow under the PATHs that no test file tests is 0% covered.
		opts.Coverage.AddUntested(flows, results)
		opts.Coverage.Write(stdout)
		if minPct >= 0 {
			for _, f := range opts.Coverage.Flows() {
				if p := f.Percent(); p < minPct {
					why := ""
					if f.Untested {
						why = " (no test file tests it)"
					}
					fmt.Fprintf(stdout, "FAIL coverage of flow %s is %.1f%%%s, below --cover-min %s%%\n", f.Graph.Name, p, why, *coverMin)
					code = exitInvalid
				}
			}
		}
	}
	if report != nil {
		err := flowtest.WriteJUnit(report, results)
		if cerr := report.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			fmt.Fprintf(stderr, "flowd test: --junit: %v\n", err)
			return exitInvalid
		}
	}
	return code
}
