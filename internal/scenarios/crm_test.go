package scenarios

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestCRM checks the fake CRM's answers, over a local server and in this
// process (Do), and that Do never lets a request reach the network.
func TestCRM(t *testing.T) {
	crm := NewCRM("tok")
	srv := httptest.NewServer(crm)
	t.Cleanup(srv.Close)
	get := func(do func(*http.Request) (*http.Response, error), base, phone, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+"/api/customers?phone="+url.QueryEscape(phone), nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := do(req)
		if err != nil {
			t.Fatalf("%s: %v", phone, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	inProcess := func(r *http.Request) (*http.Response, error) { return crm.Do("lookup", r) }
	for _, tc := range []struct {
		phone  string
		status int
		body   string
	}{
		{CRMVIP, 200, `"manager": "sip:carol@phone.plivo.com"`},
		{CRMVIPAlone, 200, `{"vip": true, "name": "Grace"}`},
		{CRMCustomer, 200, `"vip": false`},
		{CRMDown, 503, "maintenance"},
		{CRMOdd, 200, `"odd"`},
		{"+14155550404", 404, "unknown customer"},
	} {
		for _, via := range []struct {
			name string
			do   func(*http.Request) (*http.Response, error)
			base string
		}{{"server", srv.Client().Do, srv.URL}, {"Do", inProcess, CRMURL}} {
			if code, body := get(via.do, via.base, tc.phone, "tok"); code != tc.status || !strings.Contains(body, tc.body) {
				t.Errorf("%s %s: %d %s, want %d %s", via.name, tc.phone, code, body, tc.status, tc.body)
			}
		}
	}
	if code, _ := get(srv.Client().Do, srv.URL, CRMVIP, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code, _ := get(inProcess, CRMURL, CRMVIP, CRMDefaultToken); code != http.StatusUnauthorized {
		t.Errorf("the default token, when another is required: %d", code)
	}
	if n := crm.Unauthorized(); n != 2 {
		t.Errorf("Unauthorized() = %d, want 2", n)
	}
	plain := NewCRM("")
	if code, _ := get(func(r *http.Request) (*http.Response, error) { return plain.Do("lookup", r) }, CRMURL, CRMVIP, CRMDefaultToken); code != http.StatusOK {
		t.Errorf("a CRM without a token set, with the default token: %d", code)
	}

	// Do: a timeout and a refused connection at once; no network.
	req := func(u string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer tok")
		return r
	}
	if _, err := crm.Do("lookup", req(CRMURL+"/customers?phone="+url.QueryEscape(CRMSlow))); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow: %v, want a deadline exceeded", err)
	}
	if _, err := crm.Do("lookup", req(CRMURL+"/customers?phone="+url.QueryEscape(CRMRefused))); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused: %v, want ECONNREFUSED", err)
	}
	for _, u := range []string{"https://crm.example.com/api/customers?phone=1", srv.URL + "/api/customers?phone=1"} {
		if resp, err := crm.Do("lookup", req(u)); err == nil {
			resp.Body.Close()
			t.Errorf("Do(%s) answered: only %s is answered", u, CRMHost)
		}
	}
	if n, last := crm.Stray(); n != 2 || strings.Contains(last, "?") || !strings.HasSuffix(last, "/api/customers") {
		t.Errorf("Stray() = %d, %q", n, last)
	}

	// Its /healthz names the process.
	ctx := context.Background()
	if err := CheckCRM(ctx, srv.URL, os.Getpid()); err != nil {
		t.Error(err)
	}
	if err := CheckCRM(ctx, srv.URL, os.Getpid()+1); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("CheckCRM with another pid: %v", err)
	}
}
