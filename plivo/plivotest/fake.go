package plivotest

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is the decoded URL path; RawPath the path as sent (escaped).
	Path, RawPath string
	Query         url.Values
	Header        http.Header
	// Body is the JSON object of the body (nil when there was none or it
	// was not a JSON object); RawBody the bytes.
	Body    map[string]any
	RawBody []byte
	// User and Password are the basic-auth credentials (BasicAuth false
	// when the request had none).
	User, Password string
	BasicAuth      bool
	// Status is what the fake answered.
	Status int
	Time   time.Time
}

// Fault makes the fake fail matching requests.
type Fault struct {
	// Method and Path select requests: empty matches any; Path matches
	// when the request path contains it ("/Participant/", "/Call/").
	Method, Path string
	// Status is the answer's status (e.g. 500, 503, 429).
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Body is the raw answer; empty means {"api_id": ..., "error": <status text>}.
	Body string
	// Times is how many matching requests fail: 0 means 1, negative means
	// every one until Reset.
	Times int
}

// Reply is an answer Override sends in place of the fake's.
type Reply struct {
	Status int
	Header http.Header
	// Body is sent as is when a string or []byte, else JSON-encoded.
	Body any
}

// Call is a call made through POST Call/ (one per destination of a bulk call).
type Call struct {
	RequestUUID string
	From, To    string
	AnswerURL   string
	HangupURL   string
	Params      map[string]any
}

// Added is one accepted Add Participant request.
type Added struct {
	MPCName, MPCUUID string
	Role             string
	From, To         string // dial out
	CallUUID         string // transfer of a live call
	MemberID         string // the participant that joined
	Calls            []AddedCall
	Params           map[string]any
}

// AddedCall is one call of an Add Participant answer.
type AddedCall struct {
	To       string `json:"to"`
	From     string `json:"from"`
	CallUUID string `json:"call_uuid"`
}

// MPC is a snapshot of a MultiPartyCall the fake holds.
type MPC struct {
	Name, UUID   string
	Status       string // Initialized, Active, Ended
	Recording    string // not-recording, recording, paused
	Participants []Participant
}

// Participant is a snapshot of an MPC participant.
type Participant struct {
	MemberID        string
	CallUUID        string
	Role            string // agent, supervisor, customer
	Address, From   string
	Mute, Hold      bool
	CoachMode       bool
	StartMPCOnEnter bool
	EndMPCOnExit    bool
	Exited          bool
	ExitCause       string
	Recording       string // "", recording, paused
	PlayingURL      string
}

// Server is the fake Plivo API.
type Server struct {
	// URL is the base URL to give the client (http://127.0.0.1:port).
	URL string
	// AuthID and AuthToken are the credentials it accepts.
	AuthID, AuthToken string
	// Override, when set, is called for every authenticated request
	// before the fake handles it; a non-nil Reply is sent instead.
	Override func(Request) *Reply
	// Now is the clock of the timestamps it reports (default time.Now).
	Now func() time.Time

	srv *httptest.Server

	mu      sync.Mutex
	reqs    []Request
	faults  []*Fault
	calls   []Call
	hangups []string
	mpcs    []*mpc
	added   []Added
	seq     int
}

type mpc struct {
	name, uuid      string
	status          string
	created         time.Time
	started, ended  time.Time
	recording       string
	maxParticipants int
	maxDuration     int
	stayAlone       bool
	termCause       string
	termCode        int
	members         []*member
}

type member struct {
	id, callUUID, role, address, from string
	mute, hold, coach                 bool
	startOnEnter, endOnExit           bool
	joined, exited                    time.Time
	exitCause                         string
	recording                         string
	playing                           string
}

// New starts a fake accepting authID and authToken. Close it when done.
func New(authID, authToken string) *Server {
	s := &Server{AuthID: authID, AuthToken: authToken}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Client returns an *http.Client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Inject adds a fault; faults are tried in the order injected.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// Requests returns a copy of every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Reset forgets requests, faults and all state.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs, s.faults, s.calls, s.hangups, s.mpcs, s.added = nil, nil, nil, nil, nil, nil
}

// Calls returns the calls made through Make Call.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Hangups returns the call UUIDs hung up through the API.
func (s *Server) Hangups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hangups)
}

// Added returns every accepted Add Participant request, in order.
func (s *Server) Added() []Added {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.added)
}

// MPCs returns snapshots of every MPC, in creation order.
func (s *Server) MPCs() []MPC {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MPC, 0, len(s.mpcs))
	for _, m := range s.mpcs {
		out = append(out, m.snapshot())
	}
	return out
}

// MPC returns the live MPC named name, else the latest one with that name.
func (s *Server) MPC(name string) (MPC, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.latest(name)
	if m == nil {
		return MPC{}, false
	}
	return m.snapshot(), true
}

// Participants returns the participants (present and gone) of MPC(name).
func (s *Server) Participants(name string) []Participant {
	m, _ := s.MPC(name)
	return m.Participants
}

func (s *Server) latest(name string) *mpc {
	if m := s.live(name); m != nil {
		return m
	}
	for i := len(s.mpcs) - 1; i >= 0; i-- {
		if s.mpcs[i].name == name {
			return s.mpcs[i]
		}
	}
	return nil
}

func (s *Server) live(name string) *mpc {
	for _, m := range s.mpcs {
		if m.name == name && m.status != "Ended" {
			return m
		}
	}
	return nil
}

func (m *mpc) snapshot() MPC {
	out := MPC{Name: m.name, UUID: m.uuid, Status: m.status, Recording: m.recording}
	for _, p := range m.members {
		out.Participants = append(out.Participants, Participant{
			MemberID: p.id, CallUUID: p.callUUID, Role: p.role, Address: p.address, From: p.from,
			Mute: p.mute, Hold: p.hold, CoachMode: p.coach, StartMPCOnEnter: p.startOnEnter,
			EndMPCOnExit: p.endOnExit, Exited: !p.exited.IsZero(), ExitCause: p.exitCause,
			Recording: p.recording, PlayingURL: p.playing,
		})
	}
	return out
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req := Request{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.Query(),
		Header: r.Header.Clone(), RawBody: raw, Time: s.now(),
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		var obj map[string]any
		if json.Unmarshal(raw, &obj) == nil {
			req.Body = obj
		}
	}
	req.User, req.Password, req.BasicAuth = r.BasicAuth()
	sw := &statusWriter{ResponseWriter: w}
	s.mu.Lock()
	idx := len(s.reqs)
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	s.serve(sw, r, req)
	s.mu.Lock()
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if idx < len(s.reqs) {
		s.reqs[idx].Status = sw.status
	}
	s.mu.Unlock()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, req Request) {
	if f := s.takeFault(req); f != nil {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Body != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			io.WriteString(w, f.Body)
			return
		}
		s.fail(w, f.Status, http.StatusText(f.Status))
		return
	}
	const prefix = "/v1/Account/"
	rest, ok := strings.CutPrefix(req.Path, prefix)
	if !ok {
		s.fail(w, http.StatusNotFound, "not found")
		return
	}
	authID, rest, _ := strings.Cut(rest, "/")
	if !req.BasicAuth || req.User != s.AuthID || req.Password != s.AuthToken || authID != s.AuthID {
		s.fail(w, http.StatusUnauthorized, "authentication failed")
		return
	}
	if s.Override != nil {
		if rep := s.Override(req); rep != nil {
			writeReply(w, rep)
			return
		}
	}
	if !strings.HasSuffix(req.Path, "/") {
		s.fail(w, http.StatusNotFound, "not found (Plivo's paths end with a slash)")
		return
	}
	body := req.Body
	if r.Method == http.MethodPost {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/json" {
			s.fail(w, http.StatusBadRequest, "Content-Type must be application/json")
			return
		}
		if len(bytes.TrimSpace(req.RawBody)) > 0 && body == nil {
			s.fail(w, http.StatusBadRequest, "request body must be a JSON object")
			return
		}
	}
	if body == nil {
		body = map[string]any{}
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.route(w, r.Method, segs, body, req.Query)
}

func (s *Server) takeFault(req Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == req.Method) && (f.Path == "" || strings.Contains(req.Path, f.Path)) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = slices.Delete(s.faults, i, i+1)
				}
			}
			return f
		}
	}
	return nil
}

func writeReply(w http.ResponseWriter, rep *Reply) {
	maps.Copy(w.Header(), rep.Header)
	var data []byte
	switch b := rep.Body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		data, _ = json.Marshal(b)
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(data)
}

// reply writes a JSON answer with a fresh api_id.
func (s *Server) reply(w http.ResponseWriter, status int, body map[string]any) {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	if body == nil {
		body = map[string]any{}
	}
	body["api_id"] = newUUID()
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

// fail writes Plivo's error shape.
func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	s.reply(w, status, map[string]any{"error": msg})
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const timeLayout = "2006-01-02 15:04:05-07:00"

func (s *Server) stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// route dispatches an authenticated request; s.mu is held.
func (s *Server) route(w http.ResponseWriter, method string, segs []string, body map[string]any, q url.Values) {
	notAllowed := func() { s.fail(w, http.StatusMethodNotAllowed, "method "+method+" not allowed") }
	switch {
	case len(segs) == 1 && segs[0] == "Call":
		if method != http.MethodPost {
			notAllowed()
			return
		}
		s.makeCall(w, body)
	case len(segs) == 2 && segs[0] == "Call":
		switch method {
		case http.MethodPost:
			s.transfer(w, body)
		case http.MethodDelete:
			s.hangups = append(s.hangups, segs[1])
			s.reply(w, http.StatusNoContent, nil)
		case http.MethodGet:
			s.getCall(w, segs[1])
		default:
			notAllowed()
		}
	case len(segs) == 1 && segs[0] == "MultiPartyCall":
		if method != http.MethodGet {
			notAllowed()
			return
		}
		s.listMPCs(w, q)
	case len(segs) >= 2 && segs[0] == "MultiPartyCall":
		s.routeMPC(w, method, segs[1], segs[2:], body)
	default:
		s.fail(w, http.StatusNotFound, "not found")
	}
}

func (s *Server) routeMPC(w http.ResponseWriter, method, ref string, segs []string, body map[string]any) {
	notAllowed := func() { s.fail(w, http.StatusMethodNotAllowed, "method "+method+" not allowed") }
	name, byName := strings.CutPrefix(ref, "name_")
	uuid, byUUID := strings.CutPrefix(ref, "uuid_")
	if (!byName || name == "") && (!byUUID || uuid == "") {
		s.fail(w, http.StatusNotFound, "MultiPartyCall must be addressed as name_{mpc_name} or uuid_{mpc_uuid}")
		return
	}
	// Add participant may create the MPC.
	if len(segs) == 1 && segs[0] == "Participant" && method == http.MethodPost {
		s.addParticipant(w, name, byName, uuid, body)
		return
	}
	var m *mpc
	if byName {
		m = s.live(name)
	} else {
		for _, x := range s.mpcs {
			if x.uuid == uuid {
				m = x
			}
		}
	}
	found := func() bool {
		if m == nil {
			s.fail(w, http.StatusNotFound, "MultiPartyCall not found")
			return false
		}
		return true
	}
	switch {
	case len(segs) == 0:
		switch method {
		case http.MethodGet:
			if found() {
				s.reply(w, http.StatusOK, s.mpcJSON(m))
			}
		case http.MethodPost:
			if st, _ := body["status"].(string); !strings.EqualFold(st, "active") {
				s.fail(w, http.StatusBadRequest, "status must be active")
				return
			}
			if m == nil || m.status != "Initialized" {
				s.fail(w, http.StatusNotFound, "no MultiPartyCall in the initialized state")
				return
			}
			m.status, m.started = "Active", s.now()
			s.reply(w, http.StatusNoContent, nil)
		case http.MethodDelete:
			if found() {
				s.end(m, "Hangup API Triggered", 3000)
				s.reply(w, http.StatusNoContent, nil)
			}
		default:
			notAllowed()
		}
	case len(segs) == 1 && segs[0] == "Participant":
		if method != http.MethodGet {
			notAllowed()
			return
		}
		if found() {
			objs := []any{}
			for _, p := range m.members {
				if p.exited.IsZero() {
					objs = append(objs, s.memberJSON(m, p))
				}
			}
			s.reply(w, http.StatusOK, map[string]any{
				"meta":    map[string]any{"count": len(objs), "limit": 20, "offset": 0, "next": nil, "previous": nil},
				"objects": objs,
			})
		}
	case len(segs) == 2 && segs[0] == "Participant":
		if !found() {
			return
		}
		switch method {
		case http.MethodGet:
			p := m.member(segs[1])
			if p == nil || !p.exited.IsZero() {
				s.fail(w, http.StatusNotFound, "participant not found")
				return
			}
			s.reply(w, http.StatusOK, s.memberJSON(m, p))
		case http.MethodPost:
			s.updateParticipants(w, m, segs[1], body)
		case http.MethodDelete:
			ps, ok := s.members(w, m, segs[1])
			if !ok {
				return
			}
			for _, p := range ps {
				s.exit(m, p, "Kicked Out of Multiparty Call")
			}
			s.reply(w, http.StatusNoContent, nil)
		default:
			notAllowed()
		}
	case len(segs) >= 3 && len(segs) <= 4 && segs[0] == "Participant" && segs[2] == "Record":
		if !found() {
			return
		}
		p := m.member(segs[1])
		if p == nil || !p.exited.IsZero() {
			s.fail(w, http.StatusNotFound, "participant not found")
			return
		}
		if tt, ok := body["record_track_type"].(string); ok && tt != "participant" && tt != "all" && tt != "both" {
			s.fail(w, http.StatusBadRequest, "invalid record_track_type")
			return
		}
		s.record(w, method, segs[3:], m, &p.recording)
	case len(segs) >= 1 && len(segs) <= 2 && segs[0] == "Record":
		if found() {
			s.record(w, method, segs[1:], m, &m.recording)
		}
	case len(segs) == 3 && segs[0] == "Member" && segs[2] == "Play":
		if !found() {
			return
		}
		ps, ok := s.members(w, m, segs[1])
		if !ok {
			return
		}
		switch method {
		case http.MethodPost:
			u, _ := body["url"].(string)
			if u == "" {
				s.fail(w, http.StatusBadRequest, "url is required")
				return
			}
			ids := []string{}
			for _, p := range ps {
				p.playing = u
				ids = append(ids, p.id)
			}
			s.reply(w, http.StatusAccepted, map[string]any{"message": "play queued into MPC", "mpcMemberId": ids, "mpcName": m.name})
		case http.MethodDelete:
			for _, p := range ps {
				p.playing = ""
			}
			s.reply(w, http.StatusNoContent, nil)
		default:
			notAllowed()
		}
	default:
		s.fail(w, http.StatusNotFound, "not found")
	}
}

// record handles Record/ (start, stop) and Record/Pause|Resume/.
func (s *Server) record(w http.ResponseWriter, method string, rest []string, m *mpc, state *string) {
	if m.status == "Ended" {
		s.fail(w, http.StatusNotFound, "MultiPartyCall has ended")
		return
	}
	switch {
	case len(rest) == 0 && method == http.MethodPost:
		*state = "recording"
		id := newUUID()
		s.reply(w, http.StatusAccepted, map[string]any{
			"message":       "MPC: " + m.name + " record started",
			"recording_id":  id,
			"recording_url": "https://media.plivo.com/v1/Account/" + s.AuthID + "/Recording/" + id + ".mp3",
		})
	case len(rest) == 0 && method == http.MethodDelete:
		*state = "not-recording"
		s.reply(w, http.StatusNoContent, nil)
	case len(rest) == 1 && rest[0] == "Pause" && method == http.MethodPost:
		*state = "paused"
		s.reply(w, http.StatusNoContent, nil)
	case len(rest) == 1 && rest[0] == "Resume" && method == http.MethodPost:
		*state = "recording"
		s.reply(w, http.StatusNoContent, nil)
	case len(rest) == 0 || (len(rest) == 1 && (rest[0] == "Pause" || rest[0] == "Resume")):
		s.fail(w, http.StatusMethodNotAllowed, "method "+method+" not allowed")
	default:
		s.fail(w, http.StatusNotFound, "not found")
	}
}

func (m *mpc) member(id string) *member {
	for _, p := range m.members {
		if p.id == id {
			return p
		}
	}
	return nil
}

// members resolves "all" or a comma list to present members; unknown IDs
// answer 404.
func (s *Server) members(w http.ResponseWriter, m *mpc, ids string) ([]*member, bool) {
	var out []*member
	if ids == "all" {
		for _, p := range m.members {
			if p.exited.IsZero() {
				out = append(out, p)
			}
		}
		return out, true
	}
	for id := range strings.SplitSeq(ids, ",") {
		p := m.member(id)
		if p == nil || !p.exited.IsZero() {
			s.fail(w, http.StatusNotFound, "participant "+id+" not found")
			return nil, false
		}
		out = append(out, p)
	}
	return out, true
}

func (s *Server) updateParticipants(w http.ResponseWriter, m *mpc, ids string, body map[string]any) {
	mute, hasMute := body["mute"].(bool)
	hold, hasHold := body["hold"].(bool)
	coach, hasCoach := body["coach_mode"].(bool)
	if !hasMute && !hasHold && !hasCoach {
		s.fail(w, http.StatusBadRequest, "one of mute, hold or coach_mode is required")
		return
	}
	if hasCoach && (ids == "all" || strings.Contains(ids, ",")) {
		s.fail(w, http.StatusBadRequest, "coach_mode can be updated only for a single member_id")
		return
	}
	ps, ok := s.members(w, m, ids)
	if !ok {
		return
	}
	out := map[string]any{}
	for _, p := range ps {
		if hasMute {
			p.mute = mute
		}
		if hasHold {
			p.hold = hold
		}
		if hasCoach {
			p.coach = coach
		}
	}
	if hasMute {
		out["mute"] = "MPC: " + m.name + " mute/unmute member(s) succeeded"
	}
	if hasHold {
		out["hold"] = "MPC: " + m.name + " hold/unhold member(s) succeeded"
	}
	if hasCoach {
		out["coach_mode"] = "MPC: " + m.name + " coach_mode enable/disable succeeded"
	}
	s.reply(w, http.StatusAccepted, out)
}

// exit makes p leave m, ending m when nobody is left or p ends it.
func (s *Server) exit(m *mpc, p *member, cause string) {
	if !p.exited.IsZero() {
		return
	}
	p.exited, p.exitCause = s.now(), cause
	if p.endOnExit {
		s.end(m, "Participant Exited", 0)
		return
	}
	for _, x := range m.members {
		if x.exited.IsZero() {
			return
		}
	}
	s.end(m, "No Active Participants", 1000)
}

func (s *Server) end(m *mpc, cause string, code int) {
	if m.status == "Ended" {
		return
	}
	m.status, m.ended, m.termCause, m.termCode = "Ended", s.now(), cause, code
	for _, p := range m.members {
		if p.exited.IsZero() {
			p.exited, p.exitCause = m.ended, "Multiparty Call Ended"
		}
	}
}

func (s *Server) resource(m *mpc) string {
	if m.status == "Ended" {
		return "/v1/Account/" + s.AuthID + "/MultiPartyCall/uuid_" + m.uuid + "/"
	}
	return "/v1/Account/" + s.AuthID + "/MultiPartyCall/name_" + url.PathEscape(m.name) + "/"
}

func (s *Server) mpcJSON(m *mpc) map[string]any {
	out := map[string]any{
		"billed_amount": nil, "billed_duration": nil, "duration": nil,
		"creation_time": s.stamp(m.created), "start_time": s.stamp(m.started), "end_time": s.stamp(m.ended),
		"friendly_name": m.name, "mpc_uuid": m.uuid, "status": m.status,
		"participants": s.resource(m) + "Participant/", "resource_uri": s.resource(m),
		"recording": m.recording, "stay_alone": m.stayAlone, "sub_account": nil,
		"termination_cause": nil, "termination_cause_code": nil,
		"max_participants": m.maxParticipants, "max_duration": m.maxDuration,
	}
	if m.status == "Ended" {
		d := int(m.ended.Sub(m.started) / time.Second)
		out["duration"], out["billed_duration"], out["billed_amount"] = d, 60, "0.00000"
		out["termination_cause"], out["termination_cause_code"] = m.termCause, m.termCode
	}
	return out
}

func (s *Server) memberJSON(m *mpc, p *member) map[string]any {
	out := map[string]any{
		"billed_amount": nil, "billed_duration": nil, "duration": nil,
		"call_uuid": p.callUUID, "coach_mode": p.coach, "end_mpc_on_exit": p.endOnExit,
		"exit_cause": nil, "exit_time": s.stamp(p.exited), "hold": p.hold, "join_time": s.stamp(p.joined),
		"member_address": p.address, "member_id": p.id, "mpc_uuid": m.uuid, "mute": p.mute,
		"resource_uri": s.resource(m) + "Participant/" + p.id + "/", "role": p.role,
		"start_mpc_on_enter": p.startOnEnter,
	}
	if !p.exited.IsZero() {
		out["exit_cause"], out["mute"], out["hold"] = p.exitCause, nil, nil
	}
	return out
}

func (s *Server) listMPCs(w http.ResponseWriter, q url.Values) {
	var objs []any
	for _, m := range slices.Backward(s.mpcs) {
		if n := q.Get("friendly_name"); n != "" && n != m.name {
			continue
		}
		if st := q.Get("status"); st != "" && !strings.EqualFold(st, m.status) {
			continue
		}
		objs = append(objs, s.mpcJSON(m))
	}
	limit, offset := 20, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 20 {
			s.fail(w, http.StatusBadRequest, "limit must be between 1 and 20")
			return
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, http.StatusBadRequest, "offset must be >= 0")
			return
		}
		offset = n
	}
	count := len(objs)
	page := []any{}
	if offset < count {
		page = objs[offset:min(count, offset+limit)]
	}
	s.reply(w, http.StatusOK, map[string]any{
		"meta":    map[string]any{"count": count, "limit": limit, "offset": offset, "next": nil, "previous": nil},
		"objects": page,
	})
}

func (s *Server) makeCall(w http.ResponseWriter, body map[string]any) {
	for _, k := range []string{"from", "to", "answer_url"} {
		if v, _ := body[k].(string); v == "" {
			s.fail(w, http.StatusBadRequest, k+" parameter is missing")
			return
		}
	}
	from, to := body["from"].(string), body["to"].(string)
	answer, _ := body["answer_url"].(string)
	hangup, _ := body["hangup_url"].(string)
	var ids []string
	for dest := range strings.SplitSeq(to, "<") {
		id := newUUID()
		ids = append(ids, id)
		s.calls = append(s.calls, Call{RequestUUID: id, From: from, To: dest, AnswerURL: answer, HangupURL: hangup, Params: maps.Clone(body)})
	}
	var reqID any = ids[0]
	if len(ids) > 1 {
		reqID = ids
	}
	s.reply(w, http.StatusCreated, map[string]any{"message": "call fired", "request_uuid": reqID})
}

func (s *Server) getCall(w http.ResponseWriter, id string) {
	for _, c := range s.calls {
		if c.RequestUUID == id {
			s.reply(w, http.StatusOK, map[string]any{
				"call_uuid": c.RequestUUID, "from_number": c.From, "to_number": c.To, "call_direction": "outbound",
				"resource_uri": "/v1/Account/" + s.AuthID + "/Call/" + c.RequestUUID + "/",
			})
			return
		}
	}
	s.fail(w, http.StatusNotFound, "call not found")
}

func (s *Server) transfer(w http.ResponseWriter, body map[string]any) {
	legs, _ := body["legs"].(string)
	aleg, _ := body["aleg_url"].(string)
	bleg, _ := body["bleg_url"].(string)
	switch {
	case legs != "" && legs != "aleg" && legs != "bleg" && legs != "both":
		s.fail(w, http.StatusBadRequest, "legs must be aleg, bleg or both")
	case (legs == "aleg" || legs == "both") && aleg == "":
		s.fail(w, http.StatusBadRequest, "aleg_url parameter is missing")
	case (legs == "bleg" || legs == "both") && bleg == "":
		s.fail(w, http.StatusBadRequest, "bleg_url parameter is missing")
	default:
		s.reply(w, http.StatusAccepted, map[string]any{"message": "call transferred"})
	}
}

// intArg reads an integer argument sent as a number or a numeric string.
func intArg(body map[string]any, k string) (n int, present, ok bool) {
	switch v := body[k].(type) {
	case nil:
		return 0, false, true
	case float64:
		return int(v), true, v == float64(int(v))
	case string:
		n, err := strconv.Atoi(v)
		return n, true, err == nil
	}
	return 0, true, false
}

func boolArg(body map[string]any, k string, def bool) bool {
	if b, ok := body[k].(bool); ok {
		return b
	}
	return def
}

func (s *Server) addParticipant(w http.ResponseWriter, name string, byName bool, uuid string, body map[string]any) {
	role, _ := body["role"].(string)
	role = strings.ToLower(role)
	from, _ := body["from"].(string)
	to, _ := body["to"].(string)
	callUUID, _ := body["call_uuid"].(string)
	if role == "" {
		s.fail(w, http.StatusBadRequest, "role is required")
		return
	}
	if role != "agent" && role != "supervisor" && role != "customer" {
		s.fail(w, http.StatusBadRequest, "role must be one of Agent, Supervisor, Customer")
		return
	}
	switch {
	case callUUID != "" && (from != "" || to != ""):
		s.fail(w, http.StatusBadRequest, "cannot specify call_uuid when (from, to) is provided")
		return
	case callUUID == "" && (from == "" || to == ""):
		s.fail(w, http.StatusBadRequest, "specify (from, to) or call_uuid")
		return
	}
	var dests []string
	if to != "" {
		dests = strings.Split(to, "<")
		if len(dests) > 1 && role != "agent" {
			s.fail(w, http.StatusBadRequest, "multiple destinations are allowed only for role Agent")
			return
		}
	}
	for _, r := range []struct {
		k      string
		lo, hi int
	}{{"ring_timeout", 15, 120}, {"max_duration", 300, 28800}, {"max_participants", 2, 10}, {"record_min_member_count", 1, 2}} {
		n, present, ok := intArg(body, r.k)
		if present && (!ok || n < r.lo || n > r.hi) {
			s.fail(w, http.StatusBadRequest, fmt.Sprintf("%s must be between %d and %d", r.k, r.lo, r.hi))
			return
		}
	}
	if dd, present := body["delay_dial"]; present {
		var vals []string
		switch v := dd.(type) {
		case float64:
			vals = []string{strconv.FormatFloat(v, 'f', -1, 64)}
		case string:
			vals = strings.Split(v, "<")
		}
		if len(vals) == 0 || (len(vals) > 1 && len(vals) != len(dests)) {
			s.fail(w, http.StatusBadRequest, "invalid delay_dial")
			return
		}
		for _, v := range vals {
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 120 {
				s.fail(w, http.StatusBadRequest, "delay_dial must be between 0 and 120")
				return
			}
		}
	}
	if ck, present := body["confirm_key"]; present {
		if k, _ := ck.(string); len(k) != 1 || !strings.Contains("0123456789#*", k) {
			s.fail(w, http.StatusBadRequest, "confirm_key must be one of 0-9, #, *")
			return
		}
	}
	if msg := checkValues(body); msg != "" {
		s.fail(w, http.StatusBadRequest, msg)
		return
	}
	var m *mpc
	if byName {
		m = s.live(name)
	} else {
		for _, x := range s.mpcs {
			if x.uuid == uuid && x.status != "Ended" {
				m = x
			}
		}
		if m == nil {
			s.fail(w, http.StatusNotFound, "MultiPartyCall not found")
			return
		}
	}
	if m == nil {
		maxP, _, _ := intArg(body, "max_participants")
		maxD, _, _ := intArg(body, "max_duration")
		m = &mpc{
			name: name, uuid: newUUID(), status: "Initialized", created: s.now(), recording: "not-recording",
			maxParticipants: cmp.Or(maxP, 10), maxDuration: cmp.Or(maxD, 14400), stayAlone: boolArg(body, "stay_alone", false),
		}
		s.mpcs = append(s.mpcs, m)
	}
	live := 0
	for _, p := range m.members {
		if p.exited.IsZero() {
			live++
		}
	}
	if live >= m.maxParticipants {
		s.fail(w, http.StatusBadRequest, "MultiPartyCall has reached max_participants")
		return
	}
	var calls []AddedCall
	p := &member{
		role: role, coach: role == "supervisor" && boolArg(body, "coach_mode", true),
		mute: boolArg(body, "mute", false), hold: boolArg(body, "hold", false),
		startOnEnter: boolArg(body, "start_mpc_on_enter", true), endOnExit: boolArg(body, "end_mpc_on_exit", false),
		joined: s.now(),
	}
	if callUUID != "" {
		cf, ct := "", ""
		for _, c := range s.calls {
			if c.RequestUUID == callUUID {
				cf, ct = c.From, c.To
			}
		}
		calls = []AddedCall{{To: ct, From: cf, CallUUID: callUUID}}
		p.callUUID, p.address, p.from = callUUID, ct, cf
	} else {
		for _, d := range dests {
			calls = append(calls, AddedCall{To: d, From: from, CallUUID: newUUID()})
		}
		p.callUUID, p.address, p.from = calls[0].CallUUID, calls[0].To, from
	}
	s.seq++
	p.id = strconv.Itoa(100 + s.seq)
	m.members = append(m.members, p)
	if p.startOnEnter && m.status == "Initialized" {
		m.status, m.started = "Active", s.now()
	}
	if boolArg(body, "record", false) && m.recording == "not-recording" {
		m.recording = "recording"
	}
	s.added = append(s.added, Added{
		MPCName: m.name, MPCUUID: m.uuid, Role: role, From: from, To: to, CallUUID: callUUID,
		MemberID: p.id, Calls: calls, Params: maps.Clone(body),
	})
	s.reply(w, http.StatusCreated, map[string]any{
		"calls": calls, "message": "add participant action initiated", "request_uuid": newUUID(),
	})
}

// mpcEvents are the values of status_callback_events (Add Participant).
var mpcEvents = []string{
	"mpc-state-changes", "participant-state-changes", "participant-digit-input-events",
	"participant-speak-events", "add-participant-api-events", "participant-audio-events",
}

// checkValues checks the Add Participant arguments that take one of a few
// values, as Plivo documents them, and returns the error Plivo would
// answer, or "".
func checkValues(body map[string]any) string {
	str := func(k string) (string, bool) {
		v, present := body[k]
		s, _ := v.(string)
		return s, present
	}
	for _, k := range slices.Sorted(maps.Keys(body)) {
		if m, _ := str(k); strings.HasSuffix(k, "_method") && m != "GET" && m != "POST" {
			return k + " must be GET or POST"
		}
	}
	if v, ok := str("record_file_format"); ok && v != "mp3" && v != "wav" {
		return "record_file_format must be mp3 or wav"
	}
	for _, k := range []string{"enter_sound", "exit_sound"} {
		if v, ok := str(k); ok && v != "none" && v != "beep:1" && v != "beep:2" && !isURL(v) {
			return k + " must be none, beep:1, beep:2 or a URL"
		}
	}
	if v, ok := str("dial_music"); ok && !strings.EqualFold(v, "real") && !isURL(v) {
		return "dial_music must be real or a URL"
	}
	if v, ok := str("status_callback_events"); ok {
		seen := map[string]bool{}
		for ev := range strings.SplitSeq(v, ",") {
			if !slices.Contains(mpcEvents, ev) || seen[ev] {
				return "status_callback_events must be a comma-separated list of " + strings.Join(mpcEvents, ", ")
			}
			seen[ev] = true
		}
	}
	return ""
}

// isURL reports whether v is an absolute http or https URL.
func isURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Join adds a participant that entered through <MultiPartyCall> XML
// rather than the API, as Plivo does when a call executes the element:
// the MPC is created when none with that name is live. It returns the
// member ID. Flow tests call it when a call waits in a MultiPartyCall.
func (s *Server) Join(name, callUUID, address, role string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.live(name)
	if m == nil {
		m = &mpc{name: name, uuid: newUUID(), status: "Initialized", created: s.now(), recording: "not-recording", maxParticipants: 10, maxDuration: 14400}
		s.mpcs = append(s.mpcs, m)
	}
	for _, p := range m.members {
		if p.callUUID == callUUID && p.exited.IsZero() {
			return p.id
		}
	}
	role = strings.ToLower(role)
	s.seq++
	p := &member{id: strconv.Itoa(100 + s.seq), callUUID: callUUID, role: role, address: address, coach: role == "supervisor", startOnEnter: true, joined: s.now()}
	m.members = append(m.members, p)
	if m.status == "Initialized" {
		m.status, m.started = "Active", s.now()
	}
	return p.id
}

// Leave marks the participant of callUUID as gone from the named MPC.
func (s *Server) Leave(name, callUUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.live(name); m != nil {
		for _, p := range m.members {
			if p.callUUID == callUUID && p.exited.IsZero() {
				s.exit(m, p, "Participant left")
			}
		}
	}
}
