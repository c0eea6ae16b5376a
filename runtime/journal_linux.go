package runtime

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
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

// writeOut writes n bytes of f from off to the disk and waits until they
// are written, without the file's metadata (its size, the blocks it was
// given): the snapshot's pieces, which one full flush makes durable at
// its end. Unlike fdatasync, it commits none of that metadata, which
// cost about as much as the pieces' data each time.
func writeOut(f *os.File, off, n int64) error {
	for {
		err := unix.SyncFileRange(int(f.Fd()), off, n,
			unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		if err != unix.EINTR {
			return err
		}
	}
}

// dropCached tells the kernel that n bytes of f from off, written and
// flushed, are not read again: their pages leave the page cache now
// rather than when memory runs short (see Journal.dropWritten).
func dropCached(f *os.File, off, n int64) error {
	return unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
