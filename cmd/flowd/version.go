package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", "")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "flowd version: takes no arguments")
		fs.Usage()
		return exitUsage
	}
	info, _ := debug.ReadBuildInfo() // nil when the binary carries none
	fmt.Fprintln(stdout, versionLine(info))
	return exitOK
}

// versionLine says which flowd this is, from the build information Go
// writes into the binary: the module version, the commit it was built
// from (with "(modified)" when the work tree had changes) and the Go
// version:
//
//	flowd v1.2.0 commit 0b136ce5d1e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0 go1.26.8
//
// What the build does not record reads "(devel)" and "unknown", as in a
// binary built by go run or go test: flowd (devel) commit unknown go1.26.8.
func versionLine(info *debug.BuildInfo) string {
	version, commit, modified, goVersion := "", "", false, ""
	if info != nil {
		version, goVersion = info.Main.Version, info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	if commit == "" {
		commit = "unknown"
	}
	if modified {
		commit += " (modified)"
	}
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return fmt.Sprintf("flowd %s commit %s %s", version, commit, goVersion)
}
