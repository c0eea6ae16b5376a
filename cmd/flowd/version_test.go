package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestVersionLine words what the build information holds, and what it
// lacks, the same way.
func TestVersionLine(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	const rev = "0b136ce5d1e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0"
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"released", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"},
			Settings: vcs("vcs", "git", "vcs.revision", rev, "vcs.modified", "false")},
			"flowd v1.2.0 commit " + rev + " go1.26.8"},
		{"built from a changed work tree", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", rev, "vcs.modified", "true")},
			"flowd (devel) commit " + rev + " (modified) go1.26.8"},
		{"go install of a version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			"flowd v1.2.0 commit unknown go1.26.8"},
		{"go run or go test", &debug.BuildInfo{GoVersion: "go1.26.8"},
			"flowd (devel) commit unknown go1.26.8"},
		{"no build information", nil,
			"flowd (devel) commit unknown " + runtime.Version()},
	} {
		if got := versionLine(tc.info); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
