//go:build !linux

package fastserve

import "net"

// wrapConn returns c: raw reads and writes are for Linux (rawconn_linux.go).
func wrapConn(c net.Conn) net.Conn { return c }
