//go:build !unix

package runtime

import "os"

// lockFile opens the journal's LOCK file. Without flock, nothing stops a
// second process: give each its own folder.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}

// unlockFile closes lockFile's file.
func unlockFile(f *os.File) error { return f.Close() }
