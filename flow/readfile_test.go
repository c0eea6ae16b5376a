package flow_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// TestReadFileRefuses: a flow folder's named pipe (which would block a
// reload forever), a link to a device (which never ends) and a file over
// MaxFileSize are each an unreadable-file diagnostic of their own, and the
// folder's other flows still load.
func TestReadFileRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "hello.yaml")
	if err := os.WriteFile(good, []byte("nodes:\n  hi:\n    Speak: Hello.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, flow.MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	set, err := flow.LoadFiles([]string{big, good, pipe, zero})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Graphs) != 1 || set.Graphs["hello"] == nil {
		t.Errorf("flows loaded: %v, want hello", set.Graphs)
	}
	want := map[string]string{big: "larger than 4 MiB", pipe: "is a named pipe, not a file", zero: "is a device, not a file"}
	for _, d := range set.Diags {
		if d.Code != flow.CodeUnreadable || !strings.Contains(d.Message, want[d.Pos.File]) {
			t.Errorf("unexpected %s", d)
		}
		delete(want, d.Pos.File)
	}
	if len(want) > 0 {
		t.Errorf("no diagnostic for %v", want)
	}
}
