package jsonstr

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPlain8 checks the 8-bytes-at-a-time tests against the byte table,
// for every byte value at every position next to every other, and for
// random words: Plain8, and the first byte that is not plain (First8,
// which escape8 marks lowest).
func TestPlain8(t *testing.T) {
	check := func(w [8]byte) {
		x, want, first := uint64(0), true, 8
		for i, c := range w {
			x |= uint64(c) << (8 * i)
			want = want && Plain(c)
			if !Plain(c) && first == 8 {
				first = i
			}
		}
		if got := Plain8(x); got != want {
			t.Fatalf("Plain8(% x) = %v, want %v", w, got, want)
		}
		if got := First8(x); got != first {
			t.Fatalf("First8(% x) = %d, want %d", w, got, first)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			for other := range 256 {
				w := [8]byte{}
				for i := range w {
					w[i] = byte(other)
				}
				w[pos] = byte(c)
				check(w)
			}
		}
	}
	seed := uint64(1)
	for range 200_000 {
		seed = seed*6364136223846793005 + 1442695040888963407
		var w [8]byte
		for i := range w {
			w[i] = byte(seed >> (8 * i))
		}
		check(w)
	}
}

var seeds = []string{"", "plain", `<Speak voice="Polly.Joanna">Hi &amp; "bye"</Speak>`, "a\"b\\c\x00\x01\b\f\n\r\t\x1f<x & y>\u2028\u2029\xff\xfe é 😀 \x7f",
	"12345678\"12345678\\1234567\xe2\x80\xa8x\xf0\x9f\x98", strings.Repeat("é\"", 9)}

// FuzzAppend: Append writes what encoding/json writes with HTML escaping
// off, for any string, given as a string or as bytes.
//
//	go test -run '^$' -fuzz FuzzAppend$ -fuzztime 1m ./internal/jsonstr
func FuzzAppend(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); string(got) != "x"+strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("Append(%q) = %s, want %s", s, got[1:], want.Bytes())
		}
		if got := Append([]byte("x"), []byte(s)); string(got) != "x"+strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("Append([]byte(%q)) = %s, want %s", s, got[1:], want.Bytes())
		}
	})
}

// FuzzAppendSlog: AppendSlog writes a string as log/slog's JSON handler
// writes a message.
//
//	go test -run '^$' -fuzz FuzzAppendSlog -fuzztime 1m ./internal/jsonstr
func FuzzAppendSlog(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var line bytes.Buffer
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, s, 0)
		if err := slog.NewJSONHandler(&line, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(strings.TrimPrefix(line.String(), `{"level":"INFO","msg":`), "}\n")
		if got := AppendSlog(nil, s); string(got) != want {
			t.Fatalf("AppendSlog(%q) = %s, want %s", s, got, want)
		}
	})
}
