package runtime

import (
	"math"
	"reflect"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// decodeCases are vars whose numbers decodeInto must read as decodeExact
// does: whole and not, small and past 2^53, at any depth, in a call's
// vars and in a subflow frame's.
func decodeCases() []map[string]any {
	return []map[string]any{
		nil,
		{},
		{"n": 3, "f": 2.5, "neg": -7, "zero": 0, "negzero": math.Copysign(0, -1), "s": "x", "b": true, "nil": nil},
		{"big": int64(1) << 53, "bigger": int64(1)<<53 + 1, "max": math.MaxInt64, "min": math.MinInt64},
		{"tiny": 1e-7, "huge": 1e21, "huger": 1e300, "whole": 1e15, "third": 1.0 / 3},
		{"list": []any{1, 2.5, []any{int64(1)<<60 + 3, "a"}, map[string]any{"k": 4}}},
		{"deep": map[string]any{"a": map[string]any{"b": []any{9007199254740993, 0.5}}}},
		{"ok": 1, "late": map[string]any{"x": []any{1, 2, int64(1)<<62 + 1}}},
	}
}

// TestDecodeIntoSameAsExact: decodeInto reads every state encodeState
// writes as decodeExact reads it, the vars' numbers included.
func TestDecodeIntoSameAsExact(t *testing.T) {
	for i, vars := range decodeCases() {
		for _, frames := range [][]flow.Frame{nil, {{Node: "sub", Flow: "pin", Vars: decodeCases()[(i+3)%len(decodeCases())]}}} {
			st := &CallState{CallUUID: "c1", Flow: "f", Version: "v", Step: 4, Status: StatusLive, Key: "k",
				Call: map[string]string{"From": "+1"}, Vars: vars, Frames: frames}
			b, err := encodeState(st)
			if err != nil {
				t.Fatal(err)
			}
			var got, want CallState
			if err := decodeInto(b, &got); err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if err := decodeExact(b, &want); err != nil {
				t.Fatalf("case %d: exact: %v", i, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("case %d (frames %d):\n got %#v\nwant %#v", i, len(frames), got.Vars, want.Vars)
			}
		}
	}
}

// FuzzDecodeNumbers: whatever int and float a flow sets, a stored call
// reads them back as decodeExact does.
func FuzzDecodeNumbers(f *testing.F) {
	f.Add(int64(3), 2.5, "x")
	f.Add(int64(1)<<53+1, 1e21, "")
	f.Add(int64(math.MinInt64), math.Copysign(0, -1), "1e2")
	f.Fuzz(func(t *testing.T, i int64, x float64, s string) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return // encoding/json refuses them
		}
		st := &CallState{CallUUID: "c1", Vars: map[string]any{"i": i, "x": x, "s": s, "l": []any{i, x, map[string]any{s: x}}}}
		b, err := encodeState(st)
		if err != nil {
			t.Skip(err)
		}
		var got, want CallState
		if err := decodeInto(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := decodeExact(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("i=%d x=%v s=%q:\n got %#v\nwant %#v", i, x, s, got.Vars, want.Vars)
		}
	})
}

// TestDecodeIntoMalformed: what json.Unmarshal refuses is read as
// decodeExact reads it: its first value, or its error.
func TestDecodeIntoMalformed(t *testing.T) {
	for _, in := range []string{`{"call_uuid":"c1"} trailing`, `{"call_uuid":`, `[]`, `{"vars":{"n":1e999}}`, ``} {
		var got, want CallState
		gotErr, wantErr := decodeInto([]byte(in), &got), decodeExact([]byte(in), &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v %+v, exact %v %+v", in, gotErr, got, wantErr, want)
		}
	}
}
