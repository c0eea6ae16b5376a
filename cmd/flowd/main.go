// Command flowd validates, tests, renders and serves telephone call flows
// written in YAML for Plivo. See the README for the commands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
