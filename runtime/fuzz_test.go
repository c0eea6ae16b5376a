package runtime_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/runtime"
)

// FuzzWebhook sends arbitrary requests (method, path, body, content type)
// to flowd, in process, while a call is live. flowd must never panic nor
// answer 5xx, and the call must still work afterwards: its trace decodes
// and, wherever the request left it, a well-formed callback advances it.
//
// In the inputs, {uuid} stands for the live call's CallUUID, so the
// fuzzer can reach its session, and {vars} for the base64 of the body
// (initial vars in an answer URL).
//
//	go test -run '^$' -fuzz FuzzWebhook -fuzztime 2m ./runtime
func FuzzWebhook(f *testing.F) {
	// Every input starts a call: short TTLs and a sweep now and then keep
	// a long fuzzing run's memory flat.
	mem := runtime.NewMemory()
	f.Cleanup(func() { mem.Close() })
	e := startEnv(f, envConfig{store: mem, noServer: true, maxBody: 8 << 10, sessionTTL: 5 * time.Second, traceTTL: time.Second})
	var execs atomic.Int64
	form := "application/x-www-form-urlencoded"
	for _, s := range []struct{ method, path, body, ctype string }{
		{"POST", "flows/ivr/calls/1/menu/action", "CallUUID={uuid}&Digits=1", form},
		{"POST", "flows/ivr/calls/1/menu/action", "CallUUID={uuid}&Digits=9", form},
		{"POST", "flows/ivr/calls/1/menu/no_input", "CallUUID={uuid}&Event=Redirect", form},
		{"POST", "flows/ivr/calls/1/menu/exit", "CallUUID={uuid}", form},
		{"POST", "flows/ivr/calls/2/sales/action", "CallUUID={uuid}&DialStatus=completed", form},
		{"POST", "flows/ivr/calls/1/menu/action", "CallUUID={uuid}&Digits=%zz", form},
		{"POST", "flows/ivr/calls/1/menu/action", "CallUUID={uuid}&CallUUID=other&Digits=1", form},
		{"POST", "flows/ivr/calls/1/menu/action", "CallUUID={uuid}&Digits=\xff\xfe\x00<&>", form},
		{"POST", "flows/ivr/calls/1/menu/action", `{"CallUUID":"{uuid}"}`, "application/json"},
		{"POST", "flows/ivr/calls/1/menu/action", "--x\r\nContent-Disposition: form-data; name=\"CallUUID\"\r\n\r\n{uuid}\r\n--x--", "multipart/form-data; boundary=x"},
		{"GET", "flows/ivr/calls/1/menu/action?CallUUID={uuid}&Digits=2", "", ""},
		{"POST", "flows/ivr/hangup", "CallUUID={uuid}&HangupCause=NORMAL_CLEARING", form},
		{"GET", "flows/ivr/hangup?CallUUID={uuid}", "", ""},
		{"POST", "flows/ivr/answer", "CallUUID={uuid}", form},
		{"POST", "flows/survey/answer", "CallUUID={uuid}", form},
		{"POST", "flows/ivr/answer?vars={vars}", `{"attempts":"x"}`, "text/plain"},
		{"POST", "flows/ivr/answer?vars=!!!", "CallUUID=new-call", form},
		{"GET", "flows/ivr/answer?CallUUID=get-call&From=%2B1&CallerName=%3Cb%3E", "", ""},
		{"POST", "flows/survey/calls/1/q1/action", "CallUUID={uuid}&Speech=yes", form},
		{"POST", "flows/nope/calls/1/menu/action", "CallUUID={uuid}", form},
		{"POST", "flows/ivr/calls/99999999999999999999/menu/action", "CallUUID={uuid}", form},
		{"POST", "flows/ivr/calls/-1/menu/action", "CallUUID={uuid}", form},
		{"POST", "flows/%2e%2e/answer", "CallUUID=x", form},
		{"DELETE", "flows/ivr/answer", "", ""},
		{"GET", "v1/calls/{uuid}", "", ""},
		{"GET", "metrics", "", ""},
		{"GET", "healthz", "", ""},
		{"POST", "flows/ivr/calls/1/menu/action", strings.Repeat("a=b&", 3000), form},
	} {
		f.Add(s.method, s.path, s.body, s.ctype)
	}
	f.Fuzz(func(t *testing.T, method, path, body, ctype string) {
		if execs.Add(1)%1000 == 0 {
			mem.Sweep()
		}
		c := e.call(t, "ivr", nil, nil)
		r := strings.NewReplacer("{uuid}", c.UUID, "{vars}", base64.RawURLEncoding.EncodeToString([]byte(body)))
		path, body = r.Replace(path), r.Replace(body)
		if !validMethod(method) {
			return
		}
		u, err := url.ParseRequestURI("/" + path)
		if err != nil {
			return
		}
		req, err := http.NewRequest(method, "http://flowd.test"+u.RequestURI(), strings.NewReader(body))
		if err != nil {
			return
		}
		req.RequestURI = u.RequestURI()
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%q, %s): %d %s", method, u, body, ctype, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK && strings.HasPrefix(path, "flows/") {
			if _, err := plivosim.Parse(rec.Body.Bytes()); err != nil {
				t.Fatalf("%s %s: 200 with bad XML: %v\n%s", method, u, err, rec.Body)
			}
		}
		// The live call is intact: its trace decodes, and where it waits
		// a well-formed callback still works.
		s := e.session(t, c.UUID)
		if s.CallUUID != c.UUID || s.Flow != "ivr" || len(s.Trace) == 0 || s.Step < 1 {
			t.Fatalf("session after %s %s: %+v", method, u, s)
		}
		if s.Status != runtime.StatusLive || s.Wait == "" {
			return
		}
		fc, err := e.sim.Resume(context.Background(), c.Params, []byte(s.XML))
		if err != nil {
			t.Fatalf("the session's XML: %v", err)
		}
		switch fc.Wait().Kind {
		case "GetDigits":
			err = fc.Press("2")
		case "Dial":
			err = fc.Dial("completed")
		default:
			t.Fatalf("waits at %s in %+v", s.Wait, fc.Wait())
		}
		if err != nil {
			t.Fatalf("after %s %s (%q): a well-formed callback failed: %v", method, u, body, err)
		}
		e.verify(t, fc, "ivr")
	})
}

// validMethod reports whether m is an HTTP token, as a method on the wire is.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
