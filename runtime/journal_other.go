//go:build !linux

package runtime

import "os"

// fdatasync flushes a file to the disk (fsync where fdatasync is not
// offered).
func fdatasync(f *os.File) error { return f.Sync() }

// writeOut writes f's data to the disk; it stands for the range of it
// that Linux's sync_file_range writes.
func writeOut(f *os.File, _, _ int64) error { return f.Sync() }

// dropCached does nothing: the page cache keeps what it keeps.
func dropCached(*os.File, int64, int64) error { return nil }
