package testenv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/testenv"
)

func TestClockStart(t *testing.T) {
	for _, c := range []struct {
		env  string
		want time.Time
	}{
		{"", testenv.Open},
		{"open", testenv.Open},
		{"closed", testenv.Closed},
		{"2026-12-25T08:00:00Z", time.Date(2026, 12, 25, 8, 0, 0, 0, time.UTC)},
	} {
		t.Setenv(testenv.ClockEnv, c.env)
		if got := testenv.ClockStart(); !got.Equal(c.want) {
			t.Errorf("%s=%q: ClockStart() = %v, want %v", testenv.ClockEnv, c.env, got, c.want)
		}
	}
	if testenv.Open.Weekday() != time.Monday || testenv.Closed.Weekday() != time.Sunday {
		t.Errorf("Open is a %v and Closed a %v, want Monday and Sunday", testenv.Open.Weekday(), testenv.Closed.Weekday())
	}
}

func TestNodeModulesCurrent(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, at time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("package-lock.json", t0)
	if err := testenv.NodeModulesCurrent(dir); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("without node_modules: %v", err)
	}
	write("node_modules/.package-lock.json", t0.Add(-time.Hour))
	if err := testenv.NodeModulesCurrent(dir); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("with node_modules older than the lock: %v", err)
	}
	write("node_modules/.package-lock.json", t0.Add(time.Hour))
	if err := testenv.NodeModulesCurrent(dir); err != nil {
		t.Errorf("with node_modules newer than the lock: %v", err)
	}
}
