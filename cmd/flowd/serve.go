package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/runtime"
)

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "[--flows DIR] [--addr HOST:PORT] [--public-url URL] [--store URL] [--param name=value]...", stderr)
	dir := fs.String("flows", "flows", "the folder of flow files to serve (watched for changes)")
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	publicURL := fs.String("public-url", "", "the URL Plivo reaches flowd at, e.g. https://flowd.example.com (default: from each request's Host)")
	store := fs.String("store", "", "session store: bolt:PATH (default "+runtime.DefaultStorePath()+"), memory:, or redis://HOST:PORT/DB")
	insecure := fs.Bool("insecure", false, "listen on a non-loopback address without verifying Plivo signatures")
	sessionTTL := fs.Duration("session-ttl", 12*time.Hour, "how long a session lives without a webhook (calls whose hangup never arrives)")
	traceTTL := fs.Duration("trace-ttl", time.Hour, "how long a finished call's trace stays readable")
	var params multiFlag
	fs.Var(&params, "param", "a deployment value for every flow, name=value (repeatable)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	p, err := pairs(params, "param")
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: %v\n", err)
		return exitUsage
	}
	if info, err := os.Stat(*dir); err != nil || !info.IsDir() {
		fmt.Fprintf(stderr, "flowd serve: --flows %s is not a folder\n", *dir)
		return exitUsage
	}
	token := os.Getenv("PLIVO_AUTH_TOKEN")
	authID := os.Getenv("PLIVO_AUTH_ID")
	apiToken := os.Getenv("FLOWD_API_TOKEN")
	public := !isLoopback(*addr)
	if public && token == "" && !*insecure {
		fmt.Fprintf(stderr, "flowd serve: refusing to listen on %s without PLIVO_AUTH_TOKEN: anyone could drive your calls. Set PLIVO_AUTH_TOKEN so Plivo's signatures are verified, listen on 127.0.0.1, or pass --insecure.\n", *addr)
		return exitUsage
	}
	if public && apiToken == "" && (authID == "" || token == "") && !*insecure {
		fmt.Fprintf(stderr, "flowd serve: refusing to serve the /v1 API on %s without credentials: set FLOWD_API_TOKEN, or PLIVO_AUTH_ID with PLIVO_AUTH_TOKEN, or pass --insecure.\n", *addr)
		return exitUsage
	}

	log := newLogger(stderr)
	st, err := runtime.OpenStore(*store)
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: %v\n", err)
		return exitUsage
	}
	defer st.Close()
	if b, ok := st.(*runtime.Bolt); ok {
		log.Info("session store", "kind", "bolt", "file", b.Path())
	}
	reg := runtime.NewRegistry(*dir, log)
	reg.Reload()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := reg.Watch(ctx); err != nil {
		log.Warn("cannot watch the flows folder; reload with SIGHUP", "err", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reg.Reload()
			}
		}
	}()

	var tokens []string
	if token != "" {
		tokens = append(tokens, token)
		if main := os.Getenv("PLIVO_MAIN_AUTH_TOKEN"); main != "" {
			tokens = append(tokens, main)
		}
	}
	var api runtime.API
	if authID != "" && token != "" {
		c, err := plivo.NewClient(plivo.Config{AuthID: authID, AuthToken: token})
		if err != nil {
			fmt.Fprintf(stderr, "flowd serve: %v\n", err)
			return exitUsage
		}
		api = c
	} else {
		log.Info("PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN are not both set: REST actions and the call trigger API are off")
	}
	srv := runtime.New(runtime.Config{
		REST:     api,
		Registry: reg, Store: st, PublicURL: *publicURL, Params: p, AuthTokens: tokens,
		APIToken: apiToken, APIBasicID: authID, APIKey: apiKey(authID, token),
		Logger: log, SessionTTL: *sessionTTL, TraceTTL: *traceTTL,
	})
	hs := &http.Server{
		Addr:              *addr,
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "flowd serve: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "flowd serving %s on http://%s (answer_url: <public-url>/flows/<flow>/answer)\n", *dir, ln.Addr())
	if token == "" {
		log.Warn("PLIVO_AUTH_TOKEN is not set: webhook signatures are not verified")
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "flowd serve: %v\n", err)
			return exitInvalid
		}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}
	return exitOK
}

// apiKey is the Basic-auth password /v1 accepts: the Plivo auth token,
// when an auth id names the account.
func apiKey(authID, token string) string {
	if authID == "" {
		return ""
	}
	return token
}

// isLoopback reports whether addr listens only on the loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newLogger logs JSON unless stderr is a terminal.
func newLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, nil))
		}
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}
