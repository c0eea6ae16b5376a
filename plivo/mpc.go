package plivo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MPCRef names a MultiPartyCall in a URL: by its friendly name
// (name_{mpc_name}, only while the MPC is live) or by its UUID
// (uuid_{mpc_uuid}, also after it ended). Exactly one must be set.
type MPCRef struct {
	Name string
	UUID string
}

// MPCByName refers to the live MPC named name.
func MPCByName(name string) MPCRef { return MPCRef{Name: name} }

// MPCByUUID refers to the MPC with that UUID.
func MPCByUUID(uuid string) MPCRef { return MPCRef{UUID: uuid} }

func (r MPCRef) String() string {
	if r.UUID != "" {
		return "uuid_" + r.UUID
	}
	return "name_" + r.Name
}

// segment returns the escaped path segment, checking r.
func (r MPCRef) segment(v *validator) string {
	switch {
	case r.Name != "" && r.UUID != "":
		v.add("mpc", "give the MPC's name or its UUID, not both")
	case r.UUID != "":
		v.pathID("mpc_uuid", r.UUID)
		return "uuid_" + url.PathEscape(r.UUID)
	case strings.TrimSpace(r.Name) == "":
		v.add("mpc", "the MPC's name or UUID is required")
	default:
		return "name_" + url.PathEscape(r.Name)
	}
	return ""
}

// Int is an integer Plivo may send as a JSON number or a numeric string.
type Int int64

// scalarText returns a JSON scalar's text: a string's content (quoted
// true), trimmed, or the literal itself.
func scalarText(b []byte) (s string, quoted bool, err error) {
	s = strings.TrimSpace(string(b))
	if len(s) < 2 || s[0] != '"' {
		return s, false, nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return "", true, err
	}
	return strings.TrimSpace(str), true, nil
}

// UnmarshalJSON accepts 12, "12" and "" (as 0).
func (n *Int) UnmarshalJSON(b []byte) error {
	s, quoted, err := scalarText(b)
	if err != nil {
		return err
	}
	if quoted && s == "" {
		*n = 0
		return nil
	}
	if s == "null" {
		return nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return err
		}
		i = int64(f)
	}
	*n = Int(i)
	return nil
}

// Bool is a boolean Plivo may send as a JSON boolean or as a string
// ("true"/"false"): the Participant object documents Mute and Hold as
// strings, and the API has answered both.
type Bool bool

// UnmarshalJSON accepts true, "true", false, "false" (any case) and "" (as
// false).
func (v *Bool) UnmarshalJSON(b []byte) error {
	s, quoted, err := scalarText(b)
	if err != nil {
		return err
	}
	if quoted {
		s = strings.ToLower(s)
		if s == "" {
			s = "false"
		}
	}
	switch s {
	case "true":
		*v = true
	case "false":
		*v = false
	case "null":
	default:
		return fmt.Errorf("plivo: %s is not a boolean", b)
	}
	return nil
}

// MPC is Plivo's MultiPartyCall object. Fields Plivo sends as null (an
// MPC that has not ended has no end_time, duration or billing) are nil.
type MPC struct {
	MPCUUID                 string  `json:"mpc_uuid"`
	FriendlyName            string  `json:"friendly_name"`
	Status                  string  `json:"status"` // Initialized, Active, Ended
	CreationTime            string  `json:"creation_time"`
	StartTime               *string `json:"start_time"`
	EndTime                 *string `json:"end_time"`
	Duration                *Int    `json:"duration"`
	BilledDuration          *Int    `json:"billed_duration"`
	BilledAmount            *string `json:"billed_amount"`
	MaxParticipants         *Int    `json:"max_participants,omitempty"`
	MaxDuration             *Int    `json:"max_duration,omitempty"`
	StayAlone               bool    `json:"stay_alone"`
	Recording               *string `json:"recording"` // recording, not-recording, paused
	Participants            string  `json:"participants"`
	TerminationCause        *string `json:"termination_cause"`
	TerminationCauseCode    *Int    `json:"termination_cause_code"`
	SubAccount              *string `json:"sub_account"`
	ResourceURI             string  `json:"resource_uri"`
	WaitMusicURL            *string `json:"wait_music_url,omitempty"`
	WaitMusicMethod         *string `json:"wait_music_method,omitempty"`
	AgentHoldMusicURL       *string `json:"agent_hold_music_url,omitempty"`
	AgentHoldMusicMethod    *string `json:"agent_hold_music_method,omitempty"`
	CustomerHoldMusicURL    *string `json:"customer_hold_music_url,omitempty"`
	CustomerHoldMusicMethod *string `json:"customer_hold_music_method,omitempty"`
}

// MPCResponse is the answer to Retrieve a multiparty call.
type MPCResponse struct {
	Response
	MPC
}

// ListMeta is the pagination block of list answers.
type ListMeta struct {
	Count    int     `json:"count"`
	Limit    int     `json:"limit"`
	Offset   int     `json:"offset"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
}

// MPCList is the answer to Retrieve all multiparty calls.
type MPCList struct {
	Response
	Meta    ListMeta `json:"meta"`
	Objects []MPC    `json:"objects"`
}

// Participant is Plivo's MPC participant object. Mute and Hold are nil
// for a participant that left.
type Participant struct {
	MemberID        string  `json:"member_id"`
	MPCUUID         string  `json:"mpc_uuid"`
	CallUUID        string  `json:"call_uuid"`
	MemberAddress   string  `json:"member_address,omitempty"`
	Role            string  `json:"role"` // agent, customer, supervisor
	CoachMode       bool    `json:"coach_mode"`
	Mute            *Bool   `json:"mute"`
	Hold            *Bool   `json:"hold"`
	StartMPCOnEnter bool    `json:"start_mpc_on_enter"`
	EndMPCOnExit    bool    `json:"end_mpc_on_exit"`
	JoinTime        *string `json:"join_time"`
	ExitTime        *string `json:"exit_time"`
	ExitCause       *string `json:"exit_cause"`
	Duration        *Int    `json:"duration"`
	BilledDuration  *Int    `json:"billed_duration"`
	BilledAmount    *string `json:"billed_amount"`
	ResourceURI     string  `json:"resource_uri"`
}

// ParticipantResponse is the answer to Retrieve participant details.
type ParticipantResponse struct {
	Response
	Participant
}

// ParticipantList is the answer to Retrieve all participant details.
type ParticipantList struct {
	Response
	Meta    ListMeta      `json:"meta"`
	Objects []Participant `json:"objects"`
}

// Participant roles (Plivo accepts them in any case).
const (
	RoleAgent      = "Agent"
	RoleSupervisor = "Supervisor"
	RoleCustomer   = "Customer"
)

// Values of status_callback_events.
const (
	EventsMPCState         = "mpc-state-changes"
	EventsParticipantState = "participant-state-changes"
	EventsDigitInput       = "participant-digit-input-events"
	EventsSpeak            = "participant-speak-events"
	EventsAddParticipant   = "add-participant-api-events"
	EventsAudio            = "participant-audio-events"
)

// DelayDial is the delay_dial argument: seconds (0 to 120) to wait before
// dialing each "to" destination. One value applies to every destination;
// several apply in order and must match the destinations one to one. It
// is sent as a number for one value and as "5<10" for several.
type DelayDial []int

// MarshalJSON sends one value as a number, several as a "<"-joined string.
func (d DelayDial) MarshalJSON() ([]byte, error) {
	if len(d) == 1 {
		return json.Marshal(d[0])
	}
	parts := make([]string, len(d))
	for i, n := range d {
		parts[i] = strconv.Itoa(n)
	}
	// Digits and "<" only: quoted as is (json.Marshal would escape "<").
	return []byte(`"` + strings.Join(parts, "<") + `"`), nil
}

// UnmarshalJSON accepts a number or a "<"-separated string.
func (d *DelayDial) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*d = DelayDial{n}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	out := DelayDial{}
	for part := range strings.SplitSeq(s, "<") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return err
		}
		out = append(out, n)
	}
	*d = out
	return nil
}

// AddParticipantParams are the arguments of Add a participant (POST
// /v1/Account/{auth_id}/MultiPartyCall/name_{mpc_name}/Participant/).
// Role is required, and either From and To (dial out) or CallUUID
// (transfer a live call into the MPC). A zero optional field is not sent,
// so Plivo applies its default.
type AddParticipantParams struct {
	// Role is Agent, Supervisor or Customer (any case).
	Role string `json:"role"`
	// From is the caller ID of the outbound call (with To).
	From string `json:"from,omitempty"`
	// To is a destination number or SIP endpoint, or several separated
	// by "<" (parallel dial; role Agent only): the first to answer joins.
	To string `json:"to,omitempty"`
	// CallUUID is a live call to transfer into the MPC (without From/To).
	CallUUID string `json:"call_uuid,omitempty"`
	// CallerName is at most 50 characters.
	CallerName               string `json:"caller_name,omitempty"`
	CallStatusCallbackURL    string `json:"call_status_callback_url,omitempty"`
	CallStatusCallbackMethod string `json:"call_status_callback_method,omitempty"`
	// ConfirmKey is one of 0-9, # and *: the callee must press it to join.
	ConfirmKey            string `json:"confirm_key,omitempty"`
	ConfirmKeySoundURL    string `json:"confirm_key_sound_url,omitempty"`
	ConfirmKeySoundMethod string `json:"confirm_key_sound_method,omitempty"`
	// DialMusic is "real" (ringback) or a URL played while the
	// participant is dialed (listed in Plivo's MPC summary, not in the
	// Add Participant page).
	DialMusic string `json:"dial_music,omitempty"`
	// RingTimeout is 15 to 120 seconds (default 45).
	RingTimeout *int `json:"ring_timeout,omitempty"`
	// DelayDial is 0 to 120 seconds, one value or one per destination.
	DelayDial DelayDial `json:"delay_dial,omitempty"`
	// MaxDuration is 300 to 28800 seconds (default 14400).
	MaxDuration *int `json:"max_duration,omitempty"`
	// MaxParticipants is 2 to 10 (default 10).
	MaxParticipants         *int   `json:"max_participants,omitempty"`
	WaitMusicURL            string `json:"wait_music_url,omitempty"`
	WaitMusicMethod         string `json:"wait_music_method,omitempty"`
	AgentHoldMusicURL       string `json:"agent_hold_music_url,omitempty"`
	AgentHoldMusicMethod    string `json:"agent_hold_music_method,omitempty"`
	CustomerHoldMusicURL    string `json:"customer_hold_music_url,omitempty"`
	CustomerHoldMusicMethod string `json:"customer_hold_music_method,omitempty"`
	Record                  *bool  `json:"record,omitempty"`
	// RecordFileFormat is mp3 or wav.
	RecordFileFormat        string `json:"record_file_format,omitempty"`
	RecordingCallbackURL    string `json:"recording_callback_url,omitempty"`
	RecordingCallbackMethod string `json:"recording_callback_method,omitempty"`
	// RecordMinMemberCount is 1 or 2 (sent as a number).
	RecordMinMemberCount   *int   `json:"record_min_member_count,omitempty"`
	RecordParticipantTrack *bool  `json:"record_participant_track,omitempty"`
	StatusCallbackURL      string `json:"status_callback_url,omitempty"`
	StatusCallbackMethod   string `json:"status_callback_method,omitempty"`
	// StatusCallbackEvents is a comma-separated list of the Events*
	// constants (no spaces), each at most once.
	StatusCallbackEvents string `json:"status_callback_events,omitempty"`
	StayAlone            *bool  `json:"stay_alone,omitempty"`
	// CoachMode applies to supervisors only (default true).
	CoachMode       *bool `json:"coach_mode,omitempty"`
	Mute            *bool `json:"mute,omitempty"`
	Hold            *bool `json:"hold,omitempty"`
	StartMPCOnEnter *bool `json:"start_mpc_on_enter,omitempty"`
	EndMPCOnExit    *bool `json:"end_mpc_on_exit,omitempty"`
	// EnterSound and ExitSound are none, beep:1, beep:2 or a URL.
	EnterSound         string `json:"enter_sound,omitempty"`
	EnterSoundMethod   string `json:"enter_sound_method,omitempty"`
	ExitSound          string `json:"exit_sound,omitempty"`
	ExitSoundMethod    string `json:"exit_sound_method,omitempty"`
	OnExitActionURL    string `json:"on_exit_action_url,omitempty"`
	OnExitActionMethod string `json:"on_exit_action_method,omitempty"`
	RelayDTMFInputs    *bool  `json:"relay_dtmf_inputs,omitempty"`
	// SIPHeaders is "key=value,key=value" (letters and digits only); with
	// several destinations, one such list per destination separated by
	// "<".
	SIPHeaders string `json:"sip_headers,omitempty"`
}

// AddedCall is one call of an Add a participant answer.
type AddedCall struct {
	To       string `json:"to"`
	From     string `json:"from"`
	CallUUID string `json:"call_uuid"`
}

// AddParticipantResponse is the answer to Add a participant: one call
// per destination dialed, or the transferred call. Message is "add
// participant action initiated" (or "... queued").
type AddParticipantResponse struct {
	Response
	Calls       []AddedCall `json:"calls"`
	RequestUUID string      `json:"request_uuid"`
}

var statusCallbackEvents = []string{EventsMPCState, EventsParticipantState, EventsDigitInput, EventsSpeak, EventsAddParticipant, EventsAudio}

// Validate checks p against Plivo's documented rules.
func (p *AddParticipantParams) Validate() error {
	_, err := p.validate()
	return err
}

// validate returns the number of calls p dials out.
func (p *AddParticipantParams) validate() (int, error) {
	v := &validator{op: "add participant"}
	switch {
	case p.Role == "":
		v.add("role", "is required (Agent, Supervisor or Customer)")
	case !strings.EqualFold(p.Role, RoleAgent) && !strings.EqualFold(p.Role, RoleSupervisor) && !strings.EqualFold(p.Role, RoleCustomer):
		v.add("role", "must be Agent, Supervisor or Customer, got %q", p.Role)
	}
	var dests []string
	if p.CallUUID != "" {
		if p.From != "" || p.To != "" {
			v.add("call_uuid", "cannot be combined with from/to: give call_uuid to transfer a live call, or from and to to dial out")
		}
		v.pathID("call_uuid", p.CallUUID)
	} else {
		if p.From == "" && p.To == "" {
			v.add("from", "from and to (or call_uuid) are required")
		} else {
			v.required("from", p.From)
			v.noneOf("from", p.From, "<")
			dests = v.destinations("to", p.To)
		}
	}
	if len(dests) > 1 && p.Role != "" && !strings.EqualFold(p.Role, RoleAgent) {
		v.add("to", "several destinations (parallel dial) are allowed only for role Agent, got role %q", p.Role)
	}
	v.maxRunes("caller_name", p.CallerName, 50)
	v.url("call_status_callback_url", p.CallStatusCallbackURL)
	v.method("call_status_callback_method", p.CallStatusCallbackMethod)
	if p.ConfirmKey != "" && (len(p.ConfirmKey) != 1 || !strings.Contains("0123456789#*", p.ConfirmKey)) {
		v.add("confirm_key", "must be one of 0-9, # or *, got %q", p.ConfirmKey)
	}
	v.url("confirm_key_sound_url", p.ConfirmKeySoundURL)
	v.method("confirm_key_sound_method", p.ConfirmKeySoundMethod)
	// Choice: seed 001 writes the default "Real" and the value "real";
	// either case is Plivo's ringback.
	if p.DialMusic != "" && !strings.EqualFold(p.DialMusic, "real") && !isHTTPURL(p.DialMusic) {
		v.add("dial_music", "must be \"real\" or an absolute http(s) URL, got %q", p.DialMusic)
	}
	v.intRange("ring_timeout", p.RingTimeout, 15, 120)
	if p.DelayDial != nil {
		if len(p.DelayDial) == 0 {
			v.add("delay_dial", "must hold at least one value")
		}
		for _, d := range p.DelayDial {
			if d < 0 || d > 120 {
				v.add("delay_dial", "values must be between 0 and 120, got %d", d)
				break
			}
		}
		if n := len(p.DelayDial); n > 1 && n != len(dests) {
			v.add("delay_dial", "has %d values but to has %d destinations (give one value, or one per destination)", n, len(dests))
		}
	}
	v.intRange("max_duration", p.MaxDuration, 300, 28800)
	v.intRange("max_participants", p.MaxParticipants, 2, 10)
	v.url("wait_music_url", p.WaitMusicURL)
	v.method("wait_music_method", p.WaitMusicMethod)
	v.url("agent_hold_music_url", p.AgentHoldMusicURL)
	v.method("agent_hold_music_method", p.AgentHoldMusicMethod)
	v.url("customer_hold_music_url", p.CustomerHoldMusicURL)
	v.method("customer_hold_music_method", p.CustomerHoldMusicMethod)
	v.oneOf("record_file_format", p.RecordFileFormat, "mp3", "wav")
	v.url("recording_callback_url", p.RecordingCallbackURL)
	v.method("recording_callback_method", p.RecordingCallbackMethod)
	v.intRange("record_min_member_count", p.RecordMinMemberCount, 1, 2)
	v.url("status_callback_url", p.StatusCallbackURL)
	v.method("status_callback_method", p.StatusCallbackMethod)
	if p.StatusCallbackEvents != "" {
		seen := map[string]bool{}
		for ev := range strings.SplitSeq(p.StatusCallbackEvents, ",") {
			if !slices.Contains(statusCallbackEvents, ev) {
				v.add("status_callback_events", "%q is not one of %s (separate values with commas, no spaces)", ev, strings.Join(statusCallbackEvents, ", "))
				break
			}
			if seen[ev] {
				v.add("status_callback_events", "names %q twice", ev)
				break
			}
			seen[ev] = true
		}
	}
	v.sound("enter_sound", p.EnterSound)
	v.method("enter_sound_method", p.EnterSoundMethod)
	v.sound("exit_sound", p.ExitSound)
	v.method("exit_sound_method", p.ExitSoundMethod)
	v.url("on_exit_action_url", p.OnExitActionURL)
	v.method("on_exit_action_method", p.OnExitActionMethod)
	v.sipHeaders("sip_headers", p.SIPHeaders, len(dests))
	return len(dests), v.err()
}

// sound checks enter_sound / exit_sound: none, beep:1, beep:2 or a URL.
func (v *validator) sound(arg, val string) {
	if val == "" || val == "none" || val == "beep:1" || val == "beep:2" || isHTTPURL(val) {
		return
	}
	v.add(arg, "must be none, beep:1, beep:2 or an absolute http(s) URL, got %q", val)
}

var memberIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// members checks a {member_id} path segment: one ID, or (when many) "all"
// or a comma-separated list. It returns the segment to put in the path.
func (v *validator) members(val string, many bool) string {
	if val == "" {
		v.add("member_id", "is required")
		return ""
	}
	if many && val == "all" {
		return val
	}
	ids := strings.Split(val, ",")
	if !many && len(ids) > 1 {
		v.add("member_id", "must be a single member ID, got %q", val)
		return ""
	}
	for _, id := range ids {
		if id == "all" {
			if many {
				v.add("member_id", "\"all\" cannot be combined with member IDs, got %q", val)
			} else {
				v.add("member_id", "must be a single member ID, not \"all\"")
			}
			return ""
		}
		if !memberIDRE.MatchString(id) {
			v.add("member_id", "must be member IDs (letters, digits, '-', '_', '.') separated by commas, got %q", val)
			return ""
		}
	}
	return val
}

// AddParticipant adds a participant to the MPC, starting the MPC if none
// with that name is live. Dialing out (From/To) waits for the
// calls-per-second limiter, one token per destination; transferring a
// call (CallUUID) does not. Retried only on 429, 503 and connection
// failures.
func (c *Client) AddParticipant(ctx context.Context, mpc MPCRef, p *AddParticipantParams) (*AddParticipantResponse, error) {
	if p == nil {
		p = &AddParticipantParams{}
	}
	v := &validator{op: "add participant"}
	seg := mpc.segment(v)
	dests, err := p.validate()
	if err = errors.Join(v.err(), err); err != nil {
		return nil, err
	}
	return send[AddParticipantResponse](ctx, c, &request{
		op: "add participant", method: http.MethodPost, path: "MultiPartyCall/" + seg + "/Participant/",
		body: p, kind: nonIdempotent, calls: dests,
	})
}

// GetMPC retrieves an MPC (by name only while it is live).
func (c *Client) GetMPC(ctx context.Context, mpc MPCRef) (*MPCResponse, error) {
	v := &validator{op: "get MPC"}
	seg := mpc.segment(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[MPCResponse](ctx, c, &request{op: "get MPC", method: http.MethodGet, path: "MultiPartyCall/" + seg + "/", kind: idempotent})
}

// ListMPCsParams filter Retrieve all multiparty calls. Zero fields are not
// sent. Times are sent in UTC as "YYYY-MM-DD HH:MM:ss[.uuuuuu]".
type ListMPCsParams struct {
	FriendlyName string
	// Status is initialized, active or ended (any case; sent lower case).
	Status string
	// TerminationCauseCode is 1000, 1010, 2000 or 3000.
	TerminationCauseCode int

	// Filters on end_time and creation_time (__gt, __gte, __lt, __lte).
	EndTimeGT, EndTimeGTE, EndTimeLT, EndTimeLTE                     time.Time
	CreationTimeGT, CreationTimeGTE, CreationTimeLT, CreationTimeLTE time.Time

	// Limit is 1 to 20 (default 20).
	Limit int
	// Offset is >= 0.
	Offset int
}

// Query checks p and returns its query string values.
func (p *ListMPCsParams) Query() (url.Values, error) {
	v := &validator{op: "list MPCs"}
	q := url.Values{}
	if p == nil {
		return q, nil
	}
	if p.FriendlyName != "" {
		q.Set("friendly_name", p.FriendlyName)
	}
	if p.Status != "" {
		s := strings.ToLower(p.Status)
		v.oneOf("status", s, "initialized", "active", "ended")
		q.Set("status", s)
	}
	if p.TerminationCauseCode != 0 {
		switch p.TerminationCauseCode {
		case 1000, 1010, 2000, 3000:
		default:
			v.add("termination_cause_code", "must be 1000, 1010, 2000 or 3000, got %d", p.TerminationCauseCode)
		}
		q.Set("termination_cause_code", strconv.Itoa(p.TerminationCauseCode))
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{
		{"end_time__gt", p.EndTimeGT}, {"end_time__gte", p.EndTimeGTE},
		{"end_time__lt", p.EndTimeLT}, {"end_time__lte", p.EndTimeLTE},
		{"creation_time__gt", p.CreationTimeGT}, {"creation_time__gte", p.CreationTimeGTE},
		{"creation_time__lt", p.CreationTimeLT}, {"creation_time__lte", p.CreationTimeLTE},
	} {
		if !t.t.IsZero() {
			q.Set(t.name, formatFilterTime(t.t))
		}
	}
	if p.Limit != 0 {
		v.intRange("limit", &p.Limit, 1, 20)
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset != 0 {
		if p.Offset < 0 {
			v.add("offset", "must be >= 0, got %d", p.Offset)
		}
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	return q, v.err()
}

func formatFilterTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02 15:04:05.000000")
	}
	return t.Format("2006-01-02 15:04:05")
}

// ListMPCs retrieves the account's MPCs (GET .../MultiPartyCall/ with the
// filters in the query string).
func (c *Client) ListMPCs(ctx context.Context, p *ListMPCsParams) (*MPCList, error) {
	q, err := p.Query()
	if err != nil {
		return nil, err
	}
	return send[MPCList](ctx, c, &request{op: "list MPCs", method: http.MethodGet, path: "MultiPartyCall/", query: q, kind: idempotent})
}

// StartMPC activates an MPC initialized by participants that joined with
// start_mpc_on_enter false (POST {"status": "active"}, 204; 404 when no
// such MPC is in the initialized state).
func (c *Client) StartMPC(ctx context.Context, mpc MPCRef) (*Response, error) {
	v := &validator{op: "start MPC"}
	seg := mpc.segment(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[Response](ctx, c, &request{
		op: "start MPC", method: http.MethodPost, path: "MultiPartyCall/" + seg + "/",
		body: map[string]string{"status": "active"}, kind: idempotent,
	})
}

// EndMPC ends a live MPC (DELETE, 204).
func (c *Client) EndMPC(ctx context.Context, mpc MPCRef) (*Response, error) {
	return c.simple(ctx, "end MPC", http.MethodDelete, mpc, "")
}

// simple sends a request without arguments to MultiPartyCall/{mpc}/{rest}.
func (c *Client) simple(ctx context.Context, op, method string, mpc MPCRef, rest string) (*Response, error) {
	v := &validator{op: op}
	seg := mpc.segment(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[Response](ctx, c, &request{op: op, method: method, path: "MultiPartyCall/" + seg + "/" + rest, kind: idempotent})
}

// ListParticipants retrieves the participants of a live MPC.
func (c *Client) ListParticipants(ctx context.Context, mpc MPCRef) (*ParticipantList, error) {
	v := &validator{op: "list participants"}
	seg := mpc.segment(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[ParticipantList](ctx, c, &request{op: "list participants", method: http.MethodGet, path: "MultiPartyCall/" + seg + "/Participant/", kind: idempotent})
}

// GetParticipant retrieves one participant (a single member ID).
func (c *Client) GetParticipant(ctx context.Context, mpc MPCRef, memberID string) (*ParticipantResponse, error) {
	v := &validator{op: "get participant"}
	seg := mpc.segment(v)
	m := v.members(memberID, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[ParticipantResponse](ctx, c, &request{op: "get participant", method: http.MethodGet, path: "MultiPartyCall/" + seg + "/Participant/" + m + "/", kind: idempotent})
}

// UpdateParticipantParams are the arguments of Update participant state.
// At least one must be set.
type UpdateParticipantParams struct {
	Mute *bool `json:"mute,omitempty"`
	Hold *bool `json:"hold,omitempty"`
	// CoachMode (supervisors) can be updated only on a single member ID,
	// not on "all" (Plivo answers 400) nor on a list.
	CoachMode *bool `json:"coach_mode,omitempty"`
}

// Validate checks p and the member IDs it applies to (one ID, a
// comma-separated list or "all") against Plivo's documented rules.
func (p *UpdateParticipantParams) Validate(memberID string) error {
	v := &validator{op: "update participant"}
	p.check(v, memberID)
	return v.err()
}

func (p *UpdateParticipantParams) check(v *validator, memberID string) string {
	m := v.members(memberID, true)
	if p.Mute == nil && p.Hold == nil && p.CoachMode == nil {
		v.add("mute", "set at least one of mute, hold and coach_mode")
	}
	if p.CoachMode != nil && m != "" && (m == "all" || strings.Contains(m, ",")) {
		v.add("coach_mode", "can be updated only for a single member ID, not %q", m)
	}
	return m
}

// ValidateMembers checks a member_id argument: one ID, a comma-separated
// list or "all".
func ValidateMembers(op, memberID string) error {
	v := &validator{op: op}
	v.members(memberID, true)
	return v.err()
}

// UpdateParticipantResponse holds Plivo's acknowledgement per argument
// ("MPC: x mute/unmute member(s) succeeded").
type UpdateParticipantResponse struct {
	Response
	Mute      string `json:"mute,omitempty"`
	Hold      string `json:"hold,omitempty"`
	CoachMode string `json:"coach_mode,omitempty"`
}

// UpdateParticipant mutes/unmutes, holds/unholds or sets coach mode of
// participants: memberID is one ID, a comma-separated list or "all".
func (c *Client) UpdateParticipant(ctx context.Context, mpc MPCRef, memberID string, p *UpdateParticipantParams) (*UpdateParticipantResponse, error) {
	if p == nil {
		p = &UpdateParticipantParams{}
	}
	v := &validator{op: "update participant"}
	seg := mpc.segment(v)
	m := p.check(v, memberID)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[UpdateParticipantResponse](ctx, c, &request{
		op: "update participant", method: http.MethodPost, path: "MultiPartyCall/" + seg + "/Participant/" + m + "/",
		body: p, kind: idempotent,
	})
}

// KickParticipant disconnects participants from the MPC: memberID is one
// ID, a comma-separated list or "all" (DELETE, 204).
func (c *Client) KickParticipant(ctx context.Context, mpc MPCRef, memberID string) (*Response, error) {
	v := &validator{op: "kick participant"}
	seg := mpc.segment(v)
	m := v.members(memberID, true)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[Response](ctx, c, &request{op: "kick participant", method: http.MethodDelete, path: "MultiPartyCall/" + seg + "/Participant/" + m + "/", kind: idempotent})
}

// MPCRecordingParams are the arguments of Start Recording a Multiparty
// Call.
type MPCRecordingParams struct {
	// FileFormat is mp3 (default) or wav.
	FileFormat              string `json:"file_format,omitempty"`
	RecordingCallbackURL    string `json:"recording_callback_url,omitempty"`
	RecordingCallbackMethod string `json:"recording_callback_method,omitempty"`
}

// Validate checks p against Plivo's documented rules.
func (p *MPCRecordingParams) Validate() error {
	v := &validator{op: "start MPC recording"}
	p.check(v)
	return v.err()
}

func (p *MPCRecordingParams) check(v *validator) {
	v.oneOf("file_format", p.FileFormat, "mp3", "wav")
	v.url("recording_callback_url", p.RecordingCallbackURL)
	v.method("recording_callback_method", p.RecordingCallbackMethod)
}

// RecordingResponse is the answer to starting a recording.
type RecordingResponse struct {
	Response
	RecordingID  string `json:"recording_id"`
	RecordingURL string `json:"recording_url"`
}

// StartMPCRecording starts recording the whole MPC (POST .../Record/).
// Not retried after Plivo may have acted on it.
func (c *Client) StartMPCRecording(ctx context.Context, mpc MPCRef, p *MPCRecordingParams) (*RecordingResponse, error) {
	if p == nil {
		p = &MPCRecordingParams{}
	}
	v := &validator{op: "start MPC recording"}
	seg := mpc.segment(v)
	p.check(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[RecordingResponse](ctx, c, &request{
		op: "start MPC recording", method: http.MethodPost, path: "MultiPartyCall/" + seg + "/Record/",
		body: p, kind: nonIdempotent,
	})
}

// StopMPCRecording stops the MPC recording (DELETE .../Record/, 204).
func (c *Client) StopMPCRecording(ctx context.Context, mpc MPCRef) (*Response, error) {
	return c.simple(ctx, "stop MPC recording", http.MethodDelete, mpc, "Record/")
}

// PauseMPCRecording pauses the MPC recording (POST .../Record/Pause/, 204).
func (c *Client) PauseMPCRecording(ctx context.Context, mpc MPCRef) (*Response, error) {
	return c.simple(ctx, "pause MPC recording", http.MethodPost, mpc, "Record/Pause/")
}

// ResumeMPCRecording resumes the MPC recording (POST .../Record/Resume/, 204).
func (c *Client) ResumeMPCRecording(ctx context.Context, mpc MPCRef) (*Response, error) {
	return c.simple(ctx, "resume MPC recording", http.MethodPost, mpc, "Record/Resume/")
}

// Values of record_track_type.
const (
	TrackParticipant = "participant" // single-track, the participant only
	TrackAll         = "all"         // multi-channel (Plivo's default)
	TrackBoth        = "both"
)

// ParticipantRecordingParams are the arguments of Start participant-level
// recording.
type ParticipantRecordingParams struct {
	FileFormat              string `json:"file_format,omitempty"`
	RecordingCallbackURL    string `json:"recording_callback_url,omitempty"`
	RecordingCallbackMethod string `json:"recording_callback_method,omitempty"`
	// RecordTrackType is participant, all (default) or both.
	RecordTrackType string `json:"record_track_type,omitempty"`
}

// trackType is the body of pause/resume participant recording.
type trackType struct {
	RecordTrackType string `json:"record_track_type,omitempty"`
}

// StartParticipantRecording starts recording one participant (POST
// .../Participant/{member_id}/Record/). Not retried after Plivo may have
// acted on it.
func (c *Client) StartParticipantRecording(ctx context.Context, mpc MPCRef, memberID string, p *ParticipantRecordingParams) (*RecordingResponse, error) {
	if p == nil {
		p = &ParticipantRecordingParams{}
	}
	v := &validator{op: "start participant recording"}
	seg := mpc.segment(v)
	m := v.members(memberID, false)
	v.oneOf("file_format", p.FileFormat, "mp3", "wav")
	v.url("recording_callback_url", p.RecordingCallbackURL)
	v.method("recording_callback_method", p.RecordingCallbackMethod)
	v.oneOf("record_track_type", p.RecordTrackType, TrackParticipant, TrackAll, TrackBoth)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[RecordingResponse](ctx, c, &request{
		op: "start participant recording", method: http.MethodPost,
		path: "MultiPartyCall/" + seg + "/Participant/" + m + "/Record/", body: p, kind: nonIdempotent,
	})
}

// StopParticipantRecording stops a participant's recording (DELETE
// .../Participant/{member_id}/Record/, 204); recordTrackType is
// participant, all, both or "" (Plivo's default, all). Plivo documents
// DELETE arguments in the query string and its SDKs send a JSON body, so
// record_track_type goes in both.
func (c *Client) StopParticipantRecording(ctx context.Context, mpc MPCRef, memberID, recordTrackType string) (*Response, error) {
	return c.participantRecording(ctx, "stop participant recording", http.MethodDelete, mpc, memberID, "", recordTrackType)
}

// PauseParticipantRecording pauses a participant's recording (POST
// .../Record/Pause/, 204).
func (c *Client) PauseParticipantRecording(ctx context.Context, mpc MPCRef, memberID, recordTrackType string) (*Response, error) {
	return c.participantRecording(ctx, "pause participant recording", http.MethodPost, mpc, memberID, "Pause/", recordTrackType)
}

// ResumeParticipantRecording resumes a participant's recording (POST
// .../Record/Resume/, 204).
func (c *Client) ResumeParticipantRecording(ctx context.Context, mpc MPCRef, memberID, recordTrackType string) (*Response, error) {
	return c.participantRecording(ctx, "resume participant recording", http.MethodPost, mpc, memberID, "Resume/", recordTrackType)
}

func (c *Client) participantRecording(ctx context.Context, op, method string, mpc MPCRef, memberID, rest, track string) (*Response, error) {
	v := &validator{op: op}
	seg := mpc.segment(v)
	m := v.members(memberID, false)
	v.oneOf("record_track_type", track, TrackParticipant, TrackAll, TrackBoth)
	if err := v.err(); err != nil {
		return nil, err
	}
	r := &request{op: op, method: method, path: "MultiPartyCall/" + seg + "/Participant/" + m + "/Record/" + rest, kind: idempotent}
	if track != "" {
		r.body = trackType{track}
		if method == http.MethodDelete {
			r.query = url.Values{"record_track_type": {track}}
		}
	}
	return send[Response](ctx, c, r)
}

// PlayAudioResponse is the answer to Start playing audio ("play queued
// into MPC").
type PlayAudioResponse struct {
	Response
	MPCMemberID []string `json:"mpcMemberId"`
	MPCName     string   `json:"mpcName"`
}

// StartPlayAudio plays an .mp3 or .wav file to members (POST
// .../Member/{member_id}/Play/ with {"url": ...}); memberIDs is one ID, a
// comma-separated list or "all". Not retried after Plivo may have acted
// on it.
func (c *Client) StartPlayAudio(ctx context.Context, mpc MPCRef, memberIDs, audioURL string) (*PlayAudioResponse, error) {
	v := &validator{op: "start play audio"}
	seg := mpc.segment(v)
	m := v.members(memberIDs, true)
	v.required("url", audioURL)
	if audioURL != "" {
		v.url("url", audioURL)
		if u, err := url.Parse(audioURL); err == nil {
			if ext := strings.ToLower(u.Path); !strings.HasSuffix(ext, ".mp3") && !strings.HasSuffix(ext, ".wav") {
				v.add("url", "must point to an .mp3 or .wav file, got %q", audioURL)
			}
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[PlayAudioResponse](ctx, c, &request{
		op: "start play audio", method: http.MethodPost, path: "MultiPartyCall/" + seg + "/Member/" + m + "/Play/",
		body: map[string]string{"url": audioURL}, kind: nonIdempotent,
	})
}

// StopPlayAudio stops audio playing to members (DELETE
// .../Member/{member_id}/Play/, 204); use the member_id form used to start.
func (c *Client) StopPlayAudio(ctx context.Context, mpc MPCRef, memberIDs string) (*Response, error) {
	v := &validator{op: "stop play audio"}
	seg := mpc.segment(v)
	m := v.members(memberIDs, true)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[Response](ctx, c, &request{op: "stop play audio", method: http.MethodDelete, path: "MultiPartyCall/" + seg + "/Member/" + m + "/Play/", kind: idempotent})
}
