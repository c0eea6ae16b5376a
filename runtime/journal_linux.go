package runtime

import (
	"os"
	"syscall"
)

// fdatasync flushes a file's data, and its size when it grew, to the
// disk: what a journal needs, without the other metadata fsync adds.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
