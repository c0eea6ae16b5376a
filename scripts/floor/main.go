// Command floor is the throughput floor for flowd's answer webhook: a
// minimal net/http server that parses the webhook's form, as any answer
// handler must, and answers with constant XML bytes (the XML flowd answers
// the same request with). scripts/load-answer.sh compares flowd to it.
//
//	floor -addr 127.0.0.1:0 -xml answer.xml [-server fasthttp]
//
// With -server fasthttp it is the same handler written for fasthttp (the
// form read with PostArgs): what a Go answer handler on fasthttp, the
// server flowd serve runs, pays.
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

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "the address to listen on (port 0: a free port)")
	xmlFile := flag.String("xml", "", "the file whose bytes every request is answered with")
	server := flag.String("server", "net/http", "the HTTP server: net/http or fasthttp")
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
	fmt.Printf("floor serving %d bytes of XML on http://%s with %s\n", len(xml), ln.Addr(), *server)
	switch *server {
	case "net/http":
		log.Fatal(srv.Serve(ln))
	case "fasthttp":
		log.Fatal(fastFloor(xml, health).Serve(ln))
	default:
		log.Fatalf("-server %q: want net/http or fasthttp", *server)
	}
}

// fastFloor is the floor on fasthttp, with flowd serve's limits.
func fastFloor(xml, health []byte) *fasthttp.Server {
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/healthz" {
				ctx.SetContentType("application/json")
				ctx.SetBody(health)
				return
			}
			if len(ctx.PostArgs().Peek("CallUUID")) == 0 {
				ctx.Error("bad request", fasthttp.StatusBadRequest)
				return
			}
			ctx.SetContentType("application/xml")
			ctx.SetBody(xml)
		},
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          15 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        64 << 10,
		MaxRequestBodySize:    1 << 20,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
	}
}
