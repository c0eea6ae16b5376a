// Command floor is the throughput floor for flowd's answer webhook: a
// minimal net/http server that parses the webhook's form, as any answer
// handler must, and answers with constant XML bytes (the XML flowd answers
// the same request with). scripts/load-answer.sh compares flowd to it.
//
//	floor -addr 127.0.0.1:18080 -xml answer.xml
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "the address to listen on")
	xmlFile := flag.String("xml", "", "the file whose bytes every request is answered with")
	flag.Parse()
	if *xmlFile == "" {
		fmt.Fprintln(os.Stderr, "floor: -xml FILE is required")
		os.Exit(2)
	}
	xml, err := os.ReadFile(*xmlFile)
	if err != nil {
		log.Fatal(err)
	}
	length := strconv.Itoa(len(xml))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("CallUUID") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/xml")
		hd.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(xml)
	})
	// The same server settings as flowd serve.
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("floor serving %d bytes of XML on http://%s\n", len(xml), ln.Addr())
	log.Fatal(srv.Serve(ln))
}
