// Command floor is the throughput floor for flowd's answer webhook: a
// minimal net/http server that parses the webhook's form, as any answer
// handler must, and answers with constant XML bytes (the XML flowd answers
// the same request with). scripts/load-answer.sh compares flowd to it.
//
//	floor -addr 127.0.0.1:0 -xml answer.xml
//
// Like flowd, it answers GET /healthz with JSON that names its process,
// {"status":"ok","pid":1234,"instance":"9f86d081884c7d65"}, so that the
// script that started it can check that it is the server answering on
// the port. It prints the address it listens on.
package main

import (
	"crypto/rand"
	"encoding/hex"
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
	addr := flag.String("addr", "127.0.0.1:0", "the address to listen on (port 0: a free port)")
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
	var id [8]byte
	_, _ = rand.Read(id[:])
	health := fmt.Appendf(nil, `{"status":"ok","pid":%d,"instance":"%s"}`+"\n", os.Getpid(), hex.EncodeToString(id[:]))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(health)
			return
		}
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
