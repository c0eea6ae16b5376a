package runtime

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flowd-dev/flowd/internal/plivosim"
)

// pinFlow checks a PIN typed at a log: false GetDigits against a secret
// param.
const pinFlow = `
flow: pin
params:
  pin: { default: "000000", secret: true }
  room: { default: board }
nodes:
  ask:
    GetDigits:
      numDigits: 6
      log: false
      children:
        - Speak: Your PIN, please.
    on: { no_input: bye }
    next: check
  check:
    branch:
      - when: input.Digits == params.pin
        next: room
    next: bye
  room:
    Conference: "{{ params.room }}"
    next: bye
  bye:
    Speak: Goodbye.
`

// The deployment's PIN and what callers type: neither may be written.
const (
	secretPIN = "739164"
	wrongPIN  = "482615"
)

// TestSecretsNeverWritten runs calls that type the right and a wrong PIN
// on each store, and greps every byte flowd wrote — the store's files (or
// records), its logs at debug level, the trace API's answers, /metrics and
// the XML — for the secret param and for the PINs typed.
func TestSecretsNeverWritten(t *testing.T) {
	type kind struct {
		name string
		open func(t *testing.T) (Store, func() []byte) // the store, and what it holds once closed
	}
	kinds := []kind{
		{"memory", func(t *testing.T) (Store, func() []byte) {
			m := NewMemory()
			t.Cleanup(func() { m.Close() })
			return m, nil
		}},
		{"journal", func(t *testing.T) (Store, func() []byte) {
			dir := filepath.Join(t.TempDir(), "sessions")
			j, err := OpenJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			return j, func() []byte {
				j.compact() // a snapshot too
				j.Close()
				return readTree(t, dir)
			}
		}},
		{"bolt", func(t *testing.T) (Store, func() []byte) {
			path := filepath.Join(t.TempDir(), "sessions.db")
			b, err := OpenBolt(path)
			if err != nil {
				t.Fatal(err)
			}
			return b, func() []byte {
				b.Close()
				return readTree(t, filepath.Dir(path))
			}
		}},
		{"redis", func(t *testing.T) (Store, func() []byte) {
			rs := startRedis(t, true)
			st, err := OpenRedis(rs.URL)
			if err != nil {
				t.Fatal(err)
			}
			return st, func() []byte {
				// Every key's value, then the append-only file.
				var out bytes.Buffer
				c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(rs.Port)})
				defer c.Close()
				ctx := context.Background()
				keys, err := c.Keys(ctx, "*").Result()
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range keys {
					v, err := c.Dump(ctx, k).Result()
					if err != nil {
						t.Fatal(err)
					}
					out.WriteString(k + "\n" + v + "\n")
				}
				st.Close()
				rs.Stop()
				out.Write(readTree(t, rs.Dir))
				return out.Bytes()
			}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			st, files := k.open(t)
			var logs bytes.Buffer
			srv := httptest.NewServer(New(Config{
				Registry: testRegistry(t, "pin.yaml", pinFlow), Store: st,
				Params:   map[string]string{"pin": secretPIN, "room": "board"},
				Logger:   slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				APIToken: "api",
			}))
			t.Cleanup(srv.Close)
			sim := &plivosim.Sim{Client: srv.Client(), HangupURL: srv.URL + "/flows/pin/hangup"}
			var seen bytes.Buffer // every answer flowd gave
			get := func(path string) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				req.Header.Set("Authorization", "Bearer api")
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
				}
				seen.Write(b)
			}
			var records bytes.Buffer
			for _, typed := range []string{secretPIN, wrongPIN} {
				c, err := sim.Call(context.Background(), srv.URL+"/flows/pin/answer", nil)
				if err != nil {
					t.Fatal(err)
				}
				seen.Write(c.XML())
				if err := c.Press(typed); err != nil {
					t.Fatal(err)
				}
				seen.Write(c.XML())
				want := ">board</Conference>"
				if typed == wrongPIN {
					want = "<Speak>Goodbye.</Speak>"
				}
				if !strings.Contains(string(c.XML()), want) {
					t.Fatalf("after typing %s: %s, want %s", typed, c.XML(), want)
				}
				get("/v1/calls/" + c.UUID)
				if err := c.Hangup(); err != nil {
					t.Fatal(err)
				}
				get("/v1/calls/" + c.UUID)
				rec, err := st.Get(context.Background(), c.UUID)
				if err != nil {
					t.Fatal(err)
				}
				records.Write(rec.Data)
				entries, err := st.Trace(context.Background(), c.UUID)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					records.Write(e)
				}
			}
			get("/metrics")
			if !strings.Contains(seen.String(), "redacted") {
				t.Fatalf("the traces do not show the PIN step as redacted:\n%s", seen.String())
			}
			written := map[string][]byte{"logs": logs.Bytes(), "API answers and XML": seen.Bytes(), "the store's records": records.Bytes()}
			if files != nil {
				written["the store's files"] = files()
			}
			for what, b := range written {
				if len(b) == 0 {
					t.Fatalf("%s: nothing was read", what)
				}
				for _, s := range []string{secretPIN, wrongPIN} {
					if i := bytes.Index(b, []byte(s)); i >= 0 {
						t.Errorf("%s hold %s: …%s…", what, s, b[max(0, i-80):min(len(b), i+80)])
					}
				}
			}
		})
	}
}

// readTree returns the bytes of every file under dir.
func readTree(t *testing.T, dir string) []byte {
	t.Helper()
	var out bytes.Buffer
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
