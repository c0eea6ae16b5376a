// Package testenv finds what flowd's tests need outside Go — the
// repository root, Node.js packages — and skips a test with a message that
// says how to get what is missing.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var installMu sync.Mutex

// NodeModules returns the node_modules folder of a package.json folder
// under the repository (tools/sdk, tools/mermaid), installing it with
// `npm ci` when it is missing and npm is present, so `go test ./...` needs
// no separate set-up. It skips the test when Node.js or the packages
// cannot be had.
func NodeModules(t testing.TB, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skipf("node is not installed: this test uses Node.js packages in %s (install nodejs and npm)", dir)
	}
	abs := filepath.Join(Root(), dir)
	mods := filepath.Join(abs, "node_modules")
	installMu.Lock()
	defer installMu.Unlock()
	// Packages are tested in parallel processes: a file lock lets one
	// install while the others wait.
	lock, err := os.OpenFile(filepath.Join(abs, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		defer lock.Close()
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
		defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	}
	if _, err := os.Stat(mods); err == nil {
		return mods
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skipf("%s is not installed and npm is missing: run npm ci --prefix %s", mods, dir)
	}
	cmd := exec.Command("npm", "ci", "--prefix", abs, "--no-audit", "--no-fund", "--loglevel=error")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm ci --prefix %s failed (%v): %s", dir, err, out)
	}
	return mods
}
