package runtime

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// formCases are bodies and queries parseRequestForm must read as
// r.ParseForm does.
var formCases = []struct{ method, target, ctype, body string }{
	{"POST", "/a", "application/x-www-form-urlencoded", "CallUUID=c1&From=%2B1415&CallerName=Jane+Doe"},
	{"POST", "/a", "application/x-www-form-urlencoded", ""},
	{"POST", "/a", "application/x-www-form-urlencoded", "&&&=&a&=b&a=&a=2&a=3&b"},
	{"POST", "/a", "application/x-www-form-urlencoded", "a=1;b=2&c=3&d=4;"},
	{"POST", "/a", "application/x-www-form-urlencoded", "a=%zz&b=%&c=2&%g=1&d=%41%42"},
	{"POST", "/a", "application/x-www-form-urlencoded", "a=1&a;=2&b=%zz"},
	{"POST", "/a", "application/x-www-form-urlencoded", "x=\xff\xfe\x00<&>&y=%E2%80%A8"},
	{"POST", "/a", "application/x-www-form-urlencoded", "a+b=c+d&%41=%42&%41=x&k%3D=v%26w&+=+&%2b=%2B%2b&p=%&q=%4&r=%4g&s=%%41"},
	{"POST", "/a", "application/x-www-form-urlencoded", "%zz=1&a=%zz&b==2&c=3=4&=&==&%=1&d=%2"},
	{"POST", "/a", "application/x-www-form-urlencoded", "From=%2B14155550100&CallerName=Jane+Doe&SessionStart=2025-01-01+12%3A00%3A00.000000&From=%2B1"},
	// Plivo's names and enumerations (interned), escaped, repeated,
	// empty, and among names and values that are not.
	{"POST", "/a", "application/x-www-form-urlencoded", "Direction=inbound&CallStatus=ringing&Event=StartApp&STIRAttestation=A&STIRVerification=Not+Verified&CallUUID=c1&Direction=outbound"},
	{"POST", "/a", "application/x-www-form-urlencoded", "Call%55UID=c2&Direction=%69nbound&CallStatus=&DialStatus=gone&x=inbound&CallStatus=busy&Digits=1234&Direction"},
	{"POST", "/a", "application/x-www-form-urlencoded", "inbound=Direction&CallUUID=CallUUID&Event=Event&A=A&=inbound&Direction=inbound%zz&To=%2B1"},
	{"POST", "/a?q=1&a=9", "application/x-www-form-urlencoded", "a=1&b=2"},
	{"POST", "/a?q=%zz", "application/x-www-form-urlencoded", "a=1&b=2"},
	{"POST", "/a?q=%zz", "application/x-www-form-urlencoded", "a=%zz"},
	{"POST", "/a?", "application/x-www-form-urlencoded", "a=1"},
	{"POST", "/a", "application/x-www-form-urlencoded; charset=utf-8", "a=1&b=2"},
	{"POST", "/a", "Application/X-WWW-Form-Urlencoded", "a=1&b=2"},
	{"POST", "/a", "application/json", `{"a":1}`},
	{"POST", "/a", "", "a=1"},
	{"POST", "/a", "multipart/form-data; boundary=x", "--x--"},
	{"GET", "/a?a=1&b=2&a=3", "", ""},
	{"GET", "/a?a=%zz", "", ""},
	{"PUT", "/a", "application/x-www-form-urlencoded", "a=1"},
	{"POST", "/a", "application/x-www-form-urlencoded", strings.Repeat("k=v&", fastFormParams-1) + "a=1"},
	{"POST", "/a", "application/x-www-form-urlencoded", strings.Repeat("k=v&", fastFormParams) + "a=%zz"},
	{"POST", "/a", "application/x-www-form-urlencoded", strings.Repeat("k=v&", 10000)},
	{"POST", "/a", "application/x-www-form-urlencoded", strings.Repeat("x", 5000)},
}

// checkSameForm parses one request both ways and fails when the forms
// or the errors differ.
func checkSameForm(t *testing.T, method, target, ctype, body string, limit int64) {
	t.Helper()
	req := func() *http.Request {
		r, err := http.NewRequest(method, "http://flowd.example.com"+target, strings.NewReader(body))
		if err != nil {
			t.Skip(err) // no URL of a request
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
		return r
	}
	want, got := req(), req()
	wantErr, gotErr := want.ParseForm(), parseRequestForm(got)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || errors.As(gotErr, new(*http.MaxBytesError)) != errors.As(wantErr, new(*http.MaxBytesError)) {
		t.Fatalf("%s %s %q: error %v, ParseForm's %v", method, target, body, gotErr, wantErr)
	}
	// A webhook served by a Server (its request's context a requestCtx)
	// gets the same error, and params the same values, twice.
	hook := req()
	hook = hook.WithContext(&requestCtx{Context: hook.Context()})
	hookErr := (&Server{}).parseWebhookForm(hook)
	if fmt.Sprint(hookErr) != fmt.Sprint(wantErr) || errors.As(hookErr, new(*http.MaxBytesError)) != errors.As(wantErr, new(*http.MaxBytesError)) {
		t.Fatalf("%s %s %q: webhook's error %v, ParseForm's %v", method, target, body, hookErr, wantErr)
	}
	if wantErr == nil {
		p := params(want)
		if p1, p2 := params(hook), params(hook); !reflect.DeepEqual(p1, p) || !reflect.DeepEqual(p2, p) {
			t.Fatalf("%s %s %q: webhook's params %v then %v, ParseForm's %v", method, target, body, p1, p2, p)
		}
	}
	// The request done, its map goes back to the pool: the next webhook
	// parsed here gets it, and must find none of these names in it.
	hook.Context().(*requestCtx).releaseForm()
	if !reflect.DeepEqual(got.PostForm, want.PostForm) || !reflect.DeepEqual(got.Form, want.Form) {
		t.Fatalf("%s %s %q:\nPostForm %v, Form %v\nParseForm's %v, %v", method, target, body, got.PostForm, got.Form, want.PostForm, want.Form)
	}
	// Read again, as a handler's FormValue does: nothing changes.
	if got.FormValue("a") != want.FormValue("a") || got.PostFormValue("a") != want.PostFormValue("a") {
		t.Fatalf("%s %s %q: FormValue differs", method, target, body)
	}
	rest, _ := io.ReadAll(got.Body)
	wantRest, _ := io.ReadAll(want.Body)
	if string(rest) != string(wantRest) {
		t.Fatalf("%s %s %q: left %q of the body, ParseForm %q", method, target, body, rest, wantRest)
	}
}

// TestParseRequestForm: the webhooks' form parsing gives what
// r.ParseForm gives — PostForm, Form and error — for well-formed and
// malformed bodies and queries, over and under the body limit.
func TestParseRequestForm(t *testing.T) {
	for _, c := range formCases {
		for _, limit := range []int64{64 << 10, 4096, 10} {
			checkSameForm(t, c.method, c.target, c.ctype, c.body, limit)
		}
	}
}

// TestParseRequestFormAppend: a name's values can be appended to without
// changing another name's (the values' slices share one array).
func TestParseRequestFormAppend(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/a", strings.NewReader("a=1&b=2&c=3"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := parseRequestForm(r); err != nil {
		t.Fatal(err)
	}
	r.PostForm["a"] = append(r.PostForm["a"], "x")
	r.PostForm.Add("b", "y")
	if got := fmt.Sprint(r.PostForm); got != "map[a:[1 x] b:[2 y] c:[3]]" {
		t.Fatal(got)
	}
}

func FuzzParseRequestForm(f *testing.F) {
	for _, c := range formCases {
		if len(c.body) < 1000 {
			f.Add(c.method, c.target, c.ctype, c.body)
		}
	}
	f.Fuzz(func(t *testing.T, method, target, ctype, body string) {
		if method != "GET" && method != "POST" && method != "PUT" {
			return
		}
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || strings.ContainsAny(ctype, "\r\n") {
			return
		}
		checkSameForm(t, method, target, ctype, body, 4096)
	})
}

// TestFormMapsReused: a webhook's parameters are parsed into a map that
// goes back to a pool once the request is done, for the next webhook's.
// Each call's stored state keeps its own parameters, however many
// webhooks reused the map since.
func TestFormMapsReused(t *testing.T) {
	st := NewMemory()
	defer st.Close()
	srv := benchServer(t, st)
	answer := func(id, from string) {
		body := "From=" + url.QueryEscape(from) + "&To=%2B14155550199&Direction=inbound&CallStatus=ringing&CallUUID=" + id
		r := httptest.NewRequest(http.MethodPost, "http://flowd.example.com/flows/ivr/answer", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("answer %s: %d %s", id, w.Code, w.Body)
		}
	}
	froms := map[string]string{}
	for i := range 20 {
		id, from := fmt.Sprintf("call-%02d", i), fmt.Sprintf("+1415555%04d", i)
		froms[id] = from
		answer(id, from)
	}
	for id, from := range froms {
		cs, err := srv.load(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cs.Call["From"] != from || cs.Call["CallUUID"] != id || len(cs.Call) != 5 {
			t.Errorf("%s: stored parameters %v, want From %s among 5", id, cs.Call, from)
		}
	}
}
