// Command freeport prints TCP ports of the loopback interface that are
// free, one a line, for the scripts that start servers (bash cannot bind
// a port itself): it listens on 127.0.0.1:0 N times at once, so the kernel
// picks N different free ports, prints them and closes the listeners.
//
//	freeport        # one port
//	freeport -n 5   # five different ports
//
// A port free a moment ago may be taken before the server binds it, so
// the scripts check that the server answering on it is the one they
// started (scripts/lib.sh, wait_for).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func main() {
	n := flag.Int("n", 1, "how many different ports")
	flag.Parse()
	if *n < 1 || *n > 1000 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: freeport [-n N] (1 <= N <= 1000)")
		os.Exit(2)
	}
	ls := make([]net.Listener, 0, *n)
	for range *n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "freeport:", err)
			os.Exit(1)
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
}
