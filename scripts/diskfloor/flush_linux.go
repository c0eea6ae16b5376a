package main

import (
	"os"
	"syscall"
)

// flush is the journal's: fdatasync.
func flush(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
