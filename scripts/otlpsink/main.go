// Command otlpsink is an OpenTelemetry collector that keeps nothing: it
// accepts OTLP/HTTP trace exports (POST /v1/traces) and answers them at
// once, counting the exports, their bytes and the spans they hold (GET
// /stats), so a measurement can check that no span was dropped. scripts/load-answer.sh points flowd's
// OTEL_EXPORTER_OTLP_ENDPOINT at it to measure what exporting spans costs
// flowd, without a real collector's own cost.
//
//	otlpsink -addr 127.0.0.1:0
//
// Like flowd, it answers GET /healthz with JSON that names its process,
// so the script that started it can check that it is the one answering.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "the address to listen on (port 0: a free port)")
	flag.Parse()
	var id [8]byte
	_, _ = rand.Read(id[:])
	health := fmt.Appendf(nil, `{"status":"ok","pid":%d,"instance":"%s"}`+"\n", os.Getpid(), hex.EncodeToString(id[:]))
	var exports, bytes, spans atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(health)
		case "/v1/traces":
			body, _ := io.ReadAll(r.Body)
			exports.Add(1)
			bytes.Add(int64(len(body)))
			var req coltrace.ExportTraceServiceRequest
			if proto.Unmarshal(body, &req) == nil {
				for _, rs := range req.ResourceSpans {
					for _, ss := range rs.ScopeSpans {
						spans.Add(int64(len(ss.Spans)))
					}
				}
			}
			// An empty ExportTraceServiceResponse encodes as no bytes.
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
		case "/stats":
			fmt.Fprintf(w, "exports %d bytes %d spans %d\n", exports.Load(), bytes.Load(), spans.Load())
		default:
			http.NotFound(w, r)
		}
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("otlpsink on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, h))
}
