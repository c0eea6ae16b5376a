package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The fake CRM of examples/flows/crm-routing.yaml. That flow looks each
// caller up with GET {{ params.crm_url }}/customers?phone=<From> and the
// header Authorization: Bearer {{ params.crm_token }}; the fake answers
// by the phone number, always the same way, so a scenario picks the
// caller it wants by its From:
//
//	CRMVIP          200 {"vip": true, "name": "Ada", "manager": "sip:carol@phone.plivo.com"}
//	CRMVIPAlone     200 {"vip": true, "name": "Grace"} (no account manager)
//	CRMCustomer     200 {"vip": false, "name": "Bob"} (plivosim's default From)
//	CRMDown         503 {"error": "maintenance"}
//	CRMOdd          200 "odd" (a JSON string: nodes.lookup.body?.vip fails)
//	CRMSlow         no answer: in this process (Do) a timeout at once; over
//	                HTTP it waits until the client gives up
//	CRMRefused      in this process (Do) connection refused; over HTTP the
//	                connection is closed
//	any other       404 {"error": "unknown customer"}
//
// A request without the right Bearer token gets 401, a request that is not
// GET .../customers 404 or 405. Tests never reach the network: a test that
// serves the examples in its process gives runtime.Config.HTTP a *CRM (its
// Do answers in the process, and only for CRMHost) with the param crm_url
// CRMURL; a test or script that runs flowd processes serves the CRM on a
// 127.0.0.1 port and passes --param crm_url=http://127.0.0.1:PORT/api.
const (
	CRMVIP      = "+14155550111"
	CRMVIPAlone = "+14155550112"
	CRMCustomer = "+14155550100"
	CRMDown     = "+14155550503"
	CRMOdd      = "+14155550142"
	CRMSlow     = "+14155550408"
	CRMRefused  = "+14155550502"

	// CRMDefaultToken is crm-routing's default crm_token.
	CRMDefaultToken = "change-me"
	// CRMHost is the only host Do answers: a reserved name (.test) that
	// never resolves, so a request for it can only be answered here.
	CRMHost = "crm.test"
	// CRMURL is the crm_url to give a server whose Config.HTTP is a *CRM.
	CRMURL = "http://" + CRMHost + "/api"
)

// CRMManager is the account manager of CRMVIP.
const CRMManager = "sip:carol@phone.plivo.com"

// CRM is the fake CRM: an http.Handler for a local server, and a
// flow.HTTP (Do) answering in this process. Its zero value requires
// CRMDefaultToken. It is safe for concurrent use.
type CRM struct {
	// Token is the Bearer token it requires (default CRMDefaultToken).
	Token string

	requests, unauthorized, stray atomic.Int64
	lastStray                     atomic.Pointer[string]
}

// NewCRM returns a fake CRM requiring token ("" for CRMDefaultToken).
func NewCRM(token string) *CRM { return &CRM{Token: token} }

func (c *CRM) token() string {
	if c.Token == "" {
		return CRMDefaultToken
	}
	return c.Token
}

// Requests is how many look-ups the CRM answered (any answer).
func (c *CRM) Requests() int64 { return c.requests.Load() }

// Unauthorized is how many requests came without the right token.
func (c *CRM) Unauthorized() int64 { return c.unauthorized.Load() }

// Stray is how many requests Do refused because they were for another
// host than CRMHost (a test about to reach the network), and the last
// one's URL without its query.
func (c *CRM) Stray() (int64, string) {
	u := ""
	if p := c.lastStray.Load(); p != nil {
		u = *p
	}
	return c.stray.Load(), u
}

// ServeHTTP answers GET .../customers?phone=..., and GET /healthz with
// {"pid": <this process>} so a script can check that the server on a port
// is the one it started.
func (c *CRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status": "ok", "pid": %d, "service": "fake-crm"}`+"\n", os.Getpid())
		return
	}
	c.requests.Add(1)
	if !strings.HasSuffix(r.URL.Path, "/customers") {
		writeJSON(w, http.StatusNotFound, `{"error": "not found"}`)
		return
	}
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, `{"error": "GET only"}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+c.token() {
		c.unauthorized.Add(1)
		writeJSON(w, http.StatusUnauthorized, `{"error": "bad token"}`)
		return
	}
	switch phone := r.URL.Query().Get("phone"); phone {
	case CRMVIP:
		writeJSON(w, http.StatusOK, `{"vip": true, "name": "Ada", "manager": "`+CRMManager+`"}`)
	case CRMVIPAlone:
		writeJSON(w, http.StatusOK, `{"vip": true, "name": "Grace"}`)
	case CRMCustomer:
		writeJSON(w, http.StatusOK, `{"vip": false, "name": "Bob"}`)
	case CRMDown:
		writeJSON(w, http.StatusServiceUnavailable, `{"error": "maintenance"}`)
	case CRMOdd:
		writeJSON(w, http.StatusOK, `"odd"`)
	case CRMSlow:
		select {
		case <-r.Context().Done():
		case <-time.After(15 * time.Second):
		}
		writeJSON(w, http.StatusGatewayTimeout, `{"error": "too slow"}`)
	case CRMRefused:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		writeJSON(w, http.StatusBadGateway, `{"error": "refused"}`)
	default:
		writeJSON(w, http.StatusNotFound, `{"error": "unknown customer"}`)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Do implements flow.HTTP in this process, without the network: requests
// for CRMHost are answered by ServeHTTP (CRMSlow with a timeout and
// CRMRefused with connection refused, both at once); a request for any
// other host is refused and counted (Stray).
func (c *CRM) Do(_ string, req *http.Request) (*http.Response, error) {
	if req.URL.Host != CRMHost {
		u := *req.URL
		u.RawQuery, u.User = "", nil
		s := u.String()
		c.lastStray.Store(&s)
		c.stray.Add(1)
		return nil, fmt.Errorf("fake CRM: a request for %s, not %s: tests never reach the network", u.Host, CRMHost)
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	switch req.URL.Query().Get("phone") {
	case CRMSlow:
		c.requests.Add(1)
		return nil, fmt.Errorf("fake CRM: %w", context.DeadlineExceeded)
	case CRMRefused:
		c.requests.Add(1)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// CRMHealth is what the CRM's /healthz answers.
type CRMHealth struct {
	PID     int    `json:"pid"`
	Service string `json:"service"`
}

// CheckCRM asks the CRM at base (http://127.0.0.1:PORT) for /healthz and
// fails unless the process pid answers (0: any fake CRM).
func CheckCRM(ctx context.Context, base string, pid int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the fake CRM on %s: %w", base, err)
	}
	defer resp.Body.Close()
	var h CRMHealth
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Service != "fake-crm" {
		return fmt.Errorf("%s/healthz is not the fake CRM's (%d, %v)", base, resp.StatusCode, err)
	}
	if pid != 0 && h.PID != pid {
		return fmt.Errorf("%s/healthz: the fake CRM of pid %d answers, not pid %d: another server has the port", base, h.PID, pid)
	}
	return nil
}
