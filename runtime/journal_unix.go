//go:build unix

package runtime

import (
	"errors"
	"os"
	"syscall"
)

// lockFile opens and locks the journal's LOCK file, so that one process
// at a time has the journal open; the lock goes with the process.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errJournalLocked
		}
		return nil, err
	}
	return f, nil
}

// unlockFile releases lockFile's lock and closes the file. The lock is
// released explicitly, not by the close alone: a process that forked
// meanwhile (a test starting a child, or anything exec'ing) shares the
// locked file until its child execs, and the close would leave the lock
// held by that copy, so a Journal opened again at once found its own
// folder "locked by another flowd process".
func unlockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
