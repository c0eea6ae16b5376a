package main

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// datasync flushes a file's data, and its size when it grew, to the disk.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

func allocatedBytes(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}
