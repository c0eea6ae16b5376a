//go:build !linux

package runtime

import "os"

// fdatasync flushes a file to the disk (fsync where fdatasync is not
// offered).
func fdatasync(f *os.File) error { return f.Sync() }
