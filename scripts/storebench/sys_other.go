//go:build !linux

package main

import (
	"io/fs"
	"os"
)

func datasync(f *os.File) error { return f.Sync() }

func allocatedBytes(info fs.FileInfo) int64 { return info.Size() }
