package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flowd-dev/flowd/internal/testenv"
)

// The CLI is tested end to end with testscript: each file in
// testdata/script is a script plus the files it uses (txtar). The test
// binary doubles as the flowd command, so scripts run the real CLI in a
// temporary directory and compare its exact output.
//
// Script conventions:
//   - exec flowd ...            the command must exit 0
//   - exitcode N flowd ...      the command must exit exactly N (1 invalid, 2 usage)
//   - cmp stdout want.txt       exact output, with want.txt in the archive
//   - $REPO                     the repository root, for committed files
//
// Regenerate the expected files after an intended change of output with
// `go test ./cmd/flowd -run TestScripts -update`, and review the diff.

func TestMain(m *testing.M) {
	testscript.Main(testenv.Wrap(m), map[string]func(){
		"flowd": func() {
			testenv.FixClock()
			os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

func TestScripts(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, "go.mod")); err != nil {
		t.Fatalf("repository root not found from the test directory: %v", err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *testenv.Update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			// The commands a script runs start their clock where this
			// run's does (testenv.FixClock).
			env.Setenv(testenv.ClockEnv, os.Getenv(testenv.ClockEnv))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
		},
	})
}

// cmdExitCode runs a program like exec and checks its exact exit status:
//
//	exitcode 2 flowd validate
//
// Its stdout and stderr are kept for the cmp, stdout and stderr commands
// that follow.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("exitcode does not take !; give the expected status instead")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode STATUS program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: status %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
