package plivo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/plivo/plivotest"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// Every argument of Add Participant (seed 000), with the field names
// Plivo documents.
func TestAddParticipantRequest(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	p := &AddParticipantParams{
		Role: "Agent", From: "+14151234567", To: "14156667777<14156667778<sip:john1234@phone.plivo.com",
		CallerName: "Support", CallStatusCallbackURL: "https://f.example/cs", CallStatusCallbackMethod: "GET",
		ConfirmKey: "#", ConfirmKeySoundURL: "https://f.example/ck", ConfirmKeySoundMethod: "POST", DialMusic: "real",
		RingTimeout: new(45), DelayDial: DelayDial{0, 5, 10}, MaxDuration: new(14400), MaxParticipants: new(10),
		WaitMusicURL: "https://f.example/wait", WaitMusicMethod: "GET",
		AgentHoldMusicURL: "https://f.example/ahold", AgentHoldMusicMethod: "GET",
		CustomerHoldMusicURL: "https://f.example/chold", CustomerHoldMusicMethod: "POST",
		Record: new(true), RecordFileFormat: "wav", RecordingCallbackURL: "https://f.example/rec", RecordingCallbackMethod: "POST",
		RecordMinMemberCount: new(2), RecordParticipantTrack: new(true),
		StatusCallbackURL: "https://f.example/status", StatusCallbackMethod: "POST",
		StatusCallbackEvents: "mpc-state-changes,participant-state-changes,participant-digit-input-events,participant-speak-events,add-participant-api-events,participant-audio-events",
		StayAlone:            new(false), CoachMode: new(false), Mute: new(false), Hold: new(false),
		StartMPCOnEnter: new(true), EndMPCOnExit: new(true),
		EnterSound: "beep:2", EnterSoundMethod: "GET", ExitSound: "https://f.example/exit", ExitSoundMethod: "POST",
		OnExitActionURL: "https://f.example/exitaction", OnExitActionMethod: "POST", RelayDTMFInputs: new(true),
		SIPHeaders: "k1=v1<k2=v2,k3=v3<k4=v4",
	}
	resp, err := c.AddParticipant(context.Background(), MPCByName("support room"), p)
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, lastRequest(t, fake), "POST", acct+"MultiPartyCall/name_support%20room/Participant/", `{
		"role": "Agent", "from": "+14151234567", "to": "14156667777<14156667778<sip:john1234@phone.plivo.com",
		"caller_name": "Support", "call_status_callback_url": "https://f.example/cs", "call_status_callback_method": "GET",
		"confirm_key": "#", "confirm_key_sound_url": "https://f.example/ck", "confirm_key_sound_method": "POST", "dial_music": "real",
		"ring_timeout": 45, "delay_dial": "0<5<10", "max_duration": 14400, "max_participants": 10,
		"wait_music_url": "https://f.example/wait", "wait_music_method": "GET",
		"agent_hold_music_url": "https://f.example/ahold", "agent_hold_music_method": "GET",
		"customer_hold_music_url": "https://f.example/chold", "customer_hold_music_method": "POST",
		"record": true, "record_file_format": "wav", "recording_callback_url": "https://f.example/rec", "recording_callback_method": "POST",
		"record_min_member_count": 2, "record_participant_track": true,
		"status_callback_url": "https://f.example/status", "status_callback_method": "POST",
		"status_callback_events": "mpc-state-changes,participant-state-changes,participant-digit-input-events,participant-speak-events,add-participant-api-events,participant-audio-events",
		"stay_alone": false, "coach_mode": false, "mute": false, "hold": false,
		"start_mpc_on_enter": true, "end_mpc_on_exit": true,
		"enter_sound": "beep:2", "enter_sound_method": "GET", "exit_sound": "https://f.example/exit", "exit_sound_method": "POST",
		"on_exit_action_url": "https://f.example/exitaction", "on_exit_action_method": "POST", "relay_dtmf_inputs": true,
		"sip_headers": "k1=v1<k2=v2,k3=v3<k4=v4"}`)
	// "<" goes out as is, not as \u003c.
	if raw := string(lastRequest(t, fake).RawBody); !strings.Contains(raw, `"delay_dial":"0<5<10"`) || !strings.Contains(raw, `"to":"14156667777<14156667778<sip:`) {
		t.Errorf("raw body: %s", raw)
	}
	if resp.StatusCode != 201 || resp.APIID == "" || resp.RequestUUID == "" || len(resp.Calls) != 3 ||
		resp.Calls[2].To != "sip:john1234@phone.plivo.com" || resp.Calls[0].From != "+14151234567" || resp.Calls[1].CallUUID == "" {
		t.Errorf("response = %+v", resp)
	}

	// The seed's example: role, from, to, start_mpc_on_enter, enter_sound.
	_, err = c.AddParticipant(context.Background(), MPCByName("testmpc"), &AddParticipantParams{
		Role: "Agent", StartMPCOnEnter: new(true), From: "<caller_id>"[1:10], To: "14155550101", EnterSound: "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, lastRequest(t, fake), "POST", acct+"MultiPartyCall/name_testmpc/Participant/",
		`{"role":"Agent","start_mpc_on_enter":true,"from":"caller_id","to":"14155550101","enter_sound":"none"}`)

	// Transfer of a live call into an MPC addressed by UUID; one delay sent as a number.
	mpc, _ := fake.MPC("testmpc")
	resp, err = c.AddParticipant(context.Background(), MPCByUUID(mpc.UUID), &AddParticipantParams{Role: "supervisor", CallUUID: "0b7b4242-8ee8", DelayDial: DelayDial{7}})
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, lastRequest(t, fake), "POST", acct+"MultiPartyCall/uuid_"+mpc.UUID+"/Participant/",
		`{"role":"supervisor","call_uuid":"0b7b4242-8ee8","delay_dial":7}`)
	if len(resp.Calls) != 1 || resp.Calls[0].CallUUID != "0b7b4242-8ee8" {
		t.Errorf("transfer response = %+v", resp)
	}
}

func TestAddParticipantValidation(t *testing.T) {
	base := func() *AddParticipantParams {
		return &AddParticipantParams{Role: "Agent", From: "14155550100", To: "14155550101"}
	}
	n := func(v int) *int { return &v }
	type P = AddParticipantParams
	type C = validationCase[P]
	cases := []C{
		{"valid", func(p *P) {}, ""},
		{"role missing", func(p *P) { p.Role = "" }, "role"},
		{"role bad", func(p *P) { p.Role = "manager" }, "role"},
		{"role lower", func(p *P) { p.Role = "customer" }, ""},
		{"role upper", func(p *P) { p.Role = "SUPERVISOR" }, ""},
		{"parallel agent", func(p *P) { p.To = "1<2<sip:a@phone.plivo.com" }, ""},
		{"parallel agent lower", func(p *P) { p.Role = "agent"; p.To = "1<2" }, ""},
		{"parallel customer", func(p *P) { p.Role = "Customer"; p.To = "1<2" }, "to"},
		{"parallel supervisor", func(p *P) { p.Role = "supervisor"; p.To = "1<2" }, "to"},
		{"empty destination", func(p *P) { p.To = "1<" }, "to"},
		{"no from/to/call_uuid", func(p *P) { p.From, p.To = "", "" }, "from"},
		{"from only", func(p *P) { p.To = "" }, "to"},
		{"to only", func(p *P) { p.From = "" }, "from"},
		{"call_uuid only", func(p *P) { p.From, p.To, p.CallUUID = "", "", "abc" }, ""},
		{"call_uuid and from", func(p *P) { p.To, p.CallUUID = "", "abc" }, "call_uuid"},
		{"call_uuid and to", func(p *P) { p.From, p.CallUUID = "", "abc" }, "call_uuid"},
		{"call_uuid with slash", func(p *P) { p.From, p.To, p.CallUUID = "", "", "a/b" }, "call_uuid"},
		{"caller_name 50", func(p *P) { p.CallerName = strings.Repeat("ü", 50) }, ""},
		{"caller_name 51", func(p *P) { p.CallerName = strings.Repeat("a", 51) }, "caller_name"},
		{"call_status_callback_url", func(p *P) { p.CallStatusCallbackURL = "nope" }, "call_status_callback_url"},
		{"call_status_callback_method", func(p *P) { p.CallStatusCallbackMethod = "PUT" }, "call_status_callback_method"},
		{"confirm_key 0", func(p *P) { p.ConfirmKey = "0" }, ""},
		{"confirm_key 9", func(p *P) { p.ConfirmKey = "9" }, ""},
		{"confirm_key #", func(p *P) { p.ConfirmKey = "#" }, ""},
		{"confirm_key *", func(p *P) { p.ConfirmKey = "*" }, ""},
		{"confirm_key A", func(p *P) { p.ConfirmKey = "A" }, "confirm_key"},
		{"confirm_key 10", func(p *P) { p.ConfirmKey = "10" }, "confirm_key"},
		{"confirm_key_sound_url", func(p *P) { p.ConfirmKeySoundURL = "x" }, "confirm_key_sound_url"},
		{"confirm_key_sound_method", func(p *P) { p.ConfirmKeySoundMethod = "x" }, "confirm_key_sound_method"},
		{"dial_music url", func(p *P) { p.DialMusic = "https://m.example/ring.xml" }, ""},
		{"dial_music Real, Plivo's spelling of the default", func(p *P) { p.DialMusic = "Real" }, ""},
		{"dial_music REAL", func(p *P) { p.DialMusic = "REAL" }, ""},
		{"dial_music bad", func(p *P) { p.DialMusic = "loud" }, "dial_music"},
		{"ring_timeout 14", func(p *P) { p.RingTimeout = n(14) }, "ring_timeout"},
		{"ring_timeout 15", func(p *P) { p.RingTimeout = n(15) }, ""},
		{"ring_timeout 120", func(p *P) { p.RingTimeout = n(120) }, ""},
		{"ring_timeout 121", func(p *P) { p.RingTimeout = n(121) }, "ring_timeout"},
		{"delay_dial -1", func(p *P) { p.DelayDial = DelayDial{-1} }, "delay_dial"},
		{"delay_dial 0", func(p *P) { p.DelayDial = DelayDial{0} }, ""},
		{"delay_dial 120", func(p *P) { p.DelayDial = DelayDial{120} }, ""},
		{"delay_dial 121", func(p *P) { p.DelayDial = DelayDial{121} }, "delay_dial"},
		{"delay_dial empty", func(p *P) { p.DelayDial = DelayDial{} }, "delay_dial"},
		{"delay_dial one for many", func(p *P) { p.To = "1<2<3"; p.DelayDial = DelayDial{5} }, ""},
		{"delay_dial one each", func(p *P) { p.To = "1<2<3"; p.DelayDial = DelayDial{0, 5, 120} }, ""},
		{"delay_dial too few", func(p *P) { p.To = "1<2<3"; p.DelayDial = DelayDial{0, 5} }, "delay_dial"},
		{"delay_dial too many", func(p *P) { p.DelayDial = DelayDial{0, 5} }, "delay_dial"},
		{"delay_dial one bad of many", func(p *P) { p.To = "1<2"; p.DelayDial = DelayDial{0, 121} }, "delay_dial"},
		{"max_duration 299", func(p *P) { p.MaxDuration = n(299) }, "max_duration"},
		{"max_duration 300", func(p *P) { p.MaxDuration = n(300) }, ""},
		{"max_duration 28800", func(p *P) { p.MaxDuration = n(28800) }, ""},
		{"max_duration 28801", func(p *P) { p.MaxDuration = n(28801) }, "max_duration"},
		{"max_participants 1", func(p *P) { p.MaxParticipants = n(1) }, "max_participants"},
		{"max_participants 2", func(p *P) { p.MaxParticipants = n(2) }, ""},
		{"max_participants 10", func(p *P) { p.MaxParticipants = n(10) }, ""},
		{"max_participants 11", func(p *P) { p.MaxParticipants = n(11) }, "max_participants"},
		{"wait_music_url", func(p *P) { p.WaitMusicURL = "x" }, "wait_music_url"},
		{"wait_music_method", func(p *P) { p.WaitMusicMethod = "x" }, "wait_music_method"},
		{"agent_hold_music_url", func(p *P) { p.AgentHoldMusicURL = "x" }, "agent_hold_music_url"},
		{"agent_hold_music_method", func(p *P) { p.AgentHoldMusicMethod = "x" }, "agent_hold_music_method"},
		{"customer_hold_music_url", func(p *P) { p.CustomerHoldMusicURL = "x" }, "customer_hold_music_url"},
		{"customer_hold_music_method", func(p *P) { p.CustomerHoldMusicMethod = "x" }, "customer_hold_music_method"},
		{"record_file_format mp3", func(p *P) { p.RecordFileFormat = "mp3" }, ""},
		{"record_file_format ogg", func(p *P) { p.RecordFileFormat = "ogg" }, "record_file_format"},
		{"recording_callback_url", func(p *P) { p.RecordingCallbackURL = "x" }, "recording_callback_url"},
		{"recording_callback_method", func(p *P) { p.RecordingCallbackMethod = "x" }, "recording_callback_method"},
		{"record_min_member_count 0", func(p *P) { p.RecordMinMemberCount = n(0) }, "record_min_member_count"},
		{"record_min_member_count 1", func(p *P) { p.RecordMinMemberCount = n(1) }, ""},
		{"record_min_member_count 2", func(p *P) { p.RecordMinMemberCount = n(2) }, ""},
		{"record_min_member_count 3", func(p *P) { p.RecordMinMemberCount = n(3) }, "record_min_member_count"},
		{"status_callback_url", func(p *P) { p.StatusCallbackURL = "x" }, "status_callback_url"},
		{"status_callback_method", func(p *P) { p.StatusCallbackMethod = "x" }, "status_callback_method"},
		{"events one", func(p *P) { p.StatusCallbackEvents = "participant-audio-events" }, ""},
		{"events any order", func(p *P) { p.StatusCallbackEvents = "participant-speak-events,mpc-state-changes" }, ""},
		{"events unknown", func(p *P) { p.StatusCallbackEvents = "mpc-state-changes,MPCStart" }, "status_callback_events"},
		{"events spaces", func(p *P) { p.StatusCallbackEvents = "mpc-state-changes, participant-state-changes" }, "status_callback_events"},
		{"events trailing comma", func(p *P) { p.StatusCallbackEvents = "mpc-state-changes," }, "status_callback_events"},
		{"enter_sound beep:1", func(p *P) { p.EnterSound = "beep:1" }, ""},
		{"enter_sound url", func(p *P) { p.EnterSound = "http://s.example/enter.xml" }, ""},
		{"enter_sound beep:3", func(p *P) { p.EnterSound = "beep:3" }, "enter_sound"},
		{"enter_sound_method", func(p *P) { p.EnterSoundMethod = "x" }, "enter_sound_method"},
		{"exit_sound none", func(p *P) { p.ExitSound = "none" }, ""},
		{"exit_sound bad", func(p *P) { p.ExitSound = "silence" }, "exit_sound"},
		{"exit_sound_method", func(p *P) { p.ExitSoundMethod = "x" }, "exit_sound_method"},
		{"on_exit_action_url", func(p *P) { p.OnExitActionURL = "x" }, "on_exit_action_url"},
		{"on_exit_action_method", func(p *P) { p.OnExitActionMethod = "x" }, "on_exit_action_method"},
		{"sip_headers ok", func(p *P) { p.SIPHeaders = "head1=val1,head2=val2" }, ""},
		{"sip_headers bad char", func(p *P) { p.SIPHeaders = "head_1=val1" }, "sip_headers"},
		{"sip_headers bad value", func(p *P) { p.SIPHeaders = "head1=val 1" }, "sip_headers"},
		{"sip_headers < single to", func(p *P) { p.SIPHeaders = "a=1<b=2" }, "sip_headers"},
		{"sip_headers per destination", func(p *P) { p.To = "1<2<3"; p.SIPHeaders = "a=1<b=2<c=3" }, ""},
		{"sip_headers one for all", func(p *P) { p.To = "1<2<3"; p.SIPHeaders = "a=1,b=2" }, ""},
		{"sip_headers count mismatch", func(p *P) { p.To = "1<2<3"; p.SIPHeaders = "a=1<b=2" }, "sip_headers"},
	}
	runValidation(t, base, (*AddParticipantParams).Validate, cases)

	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	ctx := context.Background()
	for _, ref := range []MPCRef{{}, {Name: "a", UUID: "b"}, {Name: " "}, {UUID: "a/b"}} {
		if _, err := c.AddParticipant(ctx, ref, base()); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("MPC %+v: %v", ref, err)
		}
	}
	if _, err := c.AddParticipant(ctx, MPCByName("x"), nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil params: %v", err)
	}
	if len(fake.Requests()) != 0 {
		t.Error("invalid requests were sent")
	}
}

// Every other MPC endpoint: method, path, body or query, and the answer.
func TestMPCEndpoints(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	ctx := context.Background()
	room := MPCByName("room")
	var ids []string
	for _, role := range []string{"agent", "customer", "supervisor"} {
		if _, err := c.AddParticipant(ctx, room, &AddParticipantParams{Role: role, From: "1", To: "2"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range fake.Participants("room") {
		ids = append(ids, p.MemberID)
	}
	uuid := fake.MPCs()[0].UUID
	base := acct + "MultiPartyCall/name_room/"

	check := func(name, method, path, body string, query url.Values) {
		t.Helper()
		r := lastRequest(t, fake)
		checkRequest(t, r, method, path, body)
		if len(query) == 0 && len(r.Query) != 0 || len(query) != 0 && r.Query.Encode() != query.Encode() {
			t.Errorf("%s: query %v, want %v", name, r.Query, query)
		}
	}

	mpc, err := c.GetMPC(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	check("get", "GET", base, "", nil)
	if mpc.MPCUUID != uuid || mpc.Status != "Active" || mpc.APIID == "" || mpc.StatusCode != 200 || mpc.EndTime != nil {
		t.Errorf("GetMPC = %+v", mpc)
	}
	if _, err := c.GetMPC(ctx, MPCByUUID(uuid)); err != nil {
		t.Fatal(err)
	}
	check("get by uuid", "GET", acct+"MultiPartyCall/uuid_"+uuid+"/", "", nil)

	list, err := c.ListMPCs(ctx, &ListMPCsParams{
		FriendlyName: "room", Status: "Active", TerminationCauseCode: 1000,
		EndTimeGT: time.Date(2021, 3, 21, 11, 47, 0, 0, time.UTC), EndTimeLTE: time.Date(2021, 3, 21, 13, 47, 30, 0, time.FixedZone("X", 2*3600)),
		CreationTimeGTE: time.Date(2021, 3, 1, 0, 0, 0, 123456000, time.UTC), CreationTimeLT: time.Date(2021, 4, 1, 0, 0, 0, 0, time.UTC),
		Limit: 20, Offset: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	check("list", "GET", acct+"MultiPartyCall/", "", url.Values{
		"friendly_name": {"room"}, "status": {"active"}, "termination_cause_code": {"1000"},
		"end_time__gt": {"2021-03-21 11:47:00"}, "end_time__lte": {"2021-03-21 11:47:30"},
		"creation_time__gte": {"2021-03-01 00:00:00.123456"}, "creation_time__lt": {"2021-04-01 00:00:00"},
		"limit": {"20"},
	})
	if list.APIID == "" || list.Meta.Limit != 20 {
		t.Errorf("ListMPCs = %+v", list)
	}
	if _, err := c.ListMPCs(ctx, nil); err != nil {
		t.Fatal(err)
	}
	check("list all", "GET", acct+"MultiPartyCall/", "", nil)

	plist, err := c.ListParticipants(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	check("participants", "GET", base+"Participant/", "", nil)
	if len(plist.Objects) != 3 || plist.Meta.Count != 3 || plist.Objects[2].Role != "supervisor" || !plist.Objects[2].CoachMode {
		t.Errorf("ListParticipants = %+v", plist)
	}

	part, err := c.GetParticipant(ctx, room, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	check("participant", "GET", base+"Participant/"+ids[1]+"/", "", nil)
	if part.MemberID != ids[1] || part.Role != "customer" || part.Mute == nil || *part.Mute || part.APIID == "" {
		t.Errorf("GetParticipant = %+v", part)
	}

	up, err := c.UpdateParticipant(ctx, room, ids[0]+","+ids[1], &UpdateParticipantParams{Mute: new(true), Hold: new(false)})
	if err != nil {
		t.Fatal(err)
	}
	check("update list", "POST", base+"Participant/"+ids[0]+","+ids[1]+"/", `{"mute":true,"hold":false}`, nil)
	if up.StatusCode != 202 || up.Mute != "MPC: room mute/unmute member(s) succeeded" || up.Hold == "" || up.CoachMode != "" || up.APIID == "" {
		t.Errorf("UpdateParticipant = %+v", up)
	}
	if ps := fake.Participants("room"); !ps[0].Mute || !ps[1].Mute || ps[2].Mute {
		t.Errorf("mute not applied: %+v", ps)
	}
	if _, err := c.UpdateParticipant(ctx, room, "all", &UpdateParticipantParams{Hold: new(true)}); err != nil {
		t.Fatal(err)
	}
	check("update all", "POST", base+"Participant/all/", `{"hold":true}`, nil)
	up, err = c.UpdateParticipant(ctx, room, ids[2], &UpdateParticipantParams{CoachMode: new(false), Mute: new(false), Hold: new(false)})
	if err != nil {
		t.Fatal(err)
	}
	check("update coach", "POST", base+"Participant/"+ids[2]+"/", `{"coach_mode":false,"mute":false,"hold":false}`, nil)
	if up.CoachMode != "MPC: room coach_mode enable/disable succeeded" {
		t.Errorf("coach_mode ack = %q", up.CoachMode)
	}

	if _, err := c.StartMPCRecording(ctx, room, &MPCRecordingParams{FileFormat: "wav", RecordingCallbackURL: "https://f.example/rec", RecordingCallbackMethod: "GET"}); err != nil {
		t.Fatal(err)
	}
	check("record", "POST", base+"Record/", `{"file_format":"wav","recording_callback_url":"https://f.example/rec","recording_callback_method":"GET"}`, nil)
	rec, err := c.StartMPCRecording(ctx, room, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("record defaults", "POST", base+"Record/", `{}`, nil)
	if rec.RecordingID == "" || !strings.HasSuffix(rec.RecordingURL, rec.RecordingID+".mp3") || rec.Message != "MPC: room record started" {
		t.Errorf("StartMPCRecording = %+v", rec)
	}
	if _, err := c.PauseMPCRecording(ctx, room); err != nil {
		t.Fatal(err)
	}
	check("pause", "POST", base+"Record/Pause/", `{}`, nil)
	if m, _ := fake.MPC("room"); m.Recording != "paused" {
		t.Errorf("recording = %q", m.Recording)
	}
	if _, err := c.ResumeMPCRecording(ctx, room); err != nil {
		t.Fatal(err)
	}
	check("resume", "POST", base+"Record/Resume/", `{}`, nil)
	r204, err := c.StopMPCRecording(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	check("stop", "DELETE", base+"Record/", "", nil)
	if r204.StatusCode != 204 {
		t.Errorf("stop = %+v", r204)
	}

	prec, err := c.StartParticipantRecording(ctx, room, ids[0], &ParticipantRecordingParams{FileFormat: "mp3", RecordingCallbackURL: "https://f.example/p", RecordingCallbackMethod: "POST", RecordTrackType: "both"})
	if err != nil {
		t.Fatal(err)
	}
	check("participant record", "POST", base+"Participant/"+ids[0]+"/Record/",
		`{"file_format":"mp3","recording_callback_url":"https://f.example/p","recording_callback_method":"POST","record_track_type":"both"}`, nil)
	if prec.RecordingID == "" {
		t.Errorf("StartParticipantRecording = %+v", prec)
	}
	if _, err := c.PauseParticipantRecording(ctx, room, ids[0], "participant"); err != nil {
		t.Fatal(err)
	}
	check("participant pause", "POST", base+"Participant/"+ids[0]+"/Record/Pause/", `{"record_track_type":"participant"}`, nil)
	if _, err := c.ResumeParticipantRecording(ctx, room, ids[0], ""); err != nil {
		t.Fatal(err)
	}
	check("participant resume", "POST", base+"Participant/"+ids[0]+"/Record/Resume/", `{}`, nil)
	if _, err := c.StopParticipantRecording(ctx, room, ids[0], "all"); err != nil {
		t.Fatal(err)
	}
	check("participant stop", "DELETE", base+"Participant/"+ids[0]+"/Record/", `{"record_track_type":"all"}`, url.Values{"record_track_type": {"all"}})
	if _, err := c.StopParticipantRecording(ctx, MPCByUUID(uuid), ids[0], ""); err != nil {
		t.Fatal(err)
	}
	check("participant stop default", "DELETE", acct+"MultiPartyCall/uuid_"+uuid+"/Participant/"+ids[0]+"/Record/", "", nil)

	play, err := c.StartPlayAudio(ctx, room, ids[0]+","+ids[1], "https://s3.amazonaws.com/plivocloud/music.mp3")
	if err != nil {
		t.Fatal(err)
	}
	check("play", "POST", base+"Member/"+ids[0]+","+ids[1]+"/Play/", `{"url":"https://s3.amazonaws.com/plivocloud/music.mp3"}`, nil)
	if play.StatusCode != 202 || play.Message != "play queued into MPC" || play.MPCName != "room" || len(play.MPCMemberID) != 2 {
		t.Errorf("StartPlayAudio = %+v", play)
	}
	if _, err := c.StopPlayAudio(ctx, room, ids[0]+","+ids[1]); err != nil {
		t.Fatal(err)
	}
	check("stop play", "DELETE", base+"Member/"+ids[0]+","+ids[1]+"/Play/", "", nil)
	if _, err := c.StartPlayAudio(ctx, room, "all", "http://a.example/x.WAV?v=1"); err != nil {
		t.Fatal(err)
	}
	check("play all", "POST", base+"Member/all/Play/", `{"url":"http://a.example/x.WAV?v=1"}`, nil)

	if _, err := c.KickParticipant(ctx, room, ids[2]); err != nil {
		t.Fatal(err)
	}
	check("kick", "DELETE", base+"Participant/"+ids[2]+"/", "", nil)
	if _, err := c.KickParticipant(ctx, room, "all"); err != nil {
		t.Fatal(err)
	}
	check("kick all", "DELETE", base+"Participant/all/", "", nil)

	// A fresh MPC to start and end.
	r2 := MPCByName("r2")
	if _, err := c.AddParticipant(ctx, r2, &AddParticipantParams{Role: "agent", From: "1", To: "2", StartMPCOnEnter: new(false)}); err != nil {
		t.Fatal(err)
	}
	st, err := c.StartMPC(ctx, r2)
	if err != nil {
		t.Fatal(err)
	}
	check("start", "POST", acct+"MultiPartyCall/name_r2/", `{"status":"active"}`, nil)
	if st.StatusCode != 204 {
		t.Errorf("StartMPC = %+v", st)
	}
	if _, err := c.EndMPC(ctx, r2); err != nil {
		t.Fatal(err)
	}
	check("end", "DELETE", acct+"MultiPartyCall/name_r2/", "", nil)
	if m, _ := fake.MPC("r2"); m.Status != "Ended" {
		t.Errorf("MPC r2 = %+v", m)
	}
}

func TestMPCArgumentValidation(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	ctx := context.Background()
	room := MPCByName("room")
	for name, call := range map[string]func() error{
		"update nothing": func() error { _, err := c.UpdateParticipant(ctx, room, "1", nil); return err },
		"update coach all": func() error {
			_, err := c.UpdateParticipant(ctx, room, "all", &UpdateParticipantParams{CoachMode: new(true)})
			return err
		},
		"update coach list": func() error {
			_, err := c.UpdateParticipant(ctx, room, "1,2", &UpdateParticipantParams{CoachMode: new(true)})
			return err
		},
		"update empty member": func() error {
			_, err := c.UpdateParticipant(ctx, room, "", &UpdateParticipantParams{Mute: new(true)})
			return err
		},
		"update all and ids": func() error {
			_, err := c.UpdateParticipant(ctx, room, "all,1", &UpdateParticipantParams{Mute: new(true)})
			return err
		},
		"update empty in list": func() error {
			_, err := c.UpdateParticipant(ctx, room, "1,,2", &UpdateParticipantParams{Mute: new(true)})
			return err
		},
		"update spaces": func() error {
			_, err := c.UpdateParticipant(ctx, room, "1, 2", &UpdateParticipantParams{Mute: new(true)})
			return err
		},
		"kick slash": func() error { _, err := c.KickParticipant(ctx, room, "1/2"); return err },
		"get list":   func() error { _, err := c.GetParticipant(ctx, room, "1,2"); return err },
		"get all":    func() error { _, err := c.GetParticipant(ctx, room, "all"); return err },
		"record all": func() error { _, err := c.StartParticipantRecording(ctx, room, "all", nil); return err },
		"record format": func() error {
			_, err := c.StartParticipantRecording(ctx, room, "1", &ParticipantRecordingParams{FileFormat: "ogg"})
			return err
		},
		"record track": func() error {
			_, err := c.StartParticipantRecording(ctx, room, "1", &ParticipantRecordingParams{RecordTrackType: "mixed"})
			return err
		},
		"record cb url": func() error {
			_, err := c.StartParticipantRecording(ctx, room, "1", &ParticipantRecordingParams{RecordingCallbackURL: "x"})
			return err
		},
		"record cb method": func() error {
			_, err := c.StartParticipantRecording(ctx, room, "1", &ParticipantRecordingParams{RecordingCallbackMethod: "PUT"})
			return err
		},
		"stop track":  func() error { _, err := c.StopParticipantRecording(ctx, room, "1", "mixed"); return err },
		"pause track": func() error { _, err := c.PauseParticipantRecording(ctx, room, "1", "x"); return err },
		"resume list": func() error { _, err := c.ResumeParticipantRecording(ctx, room, "1,2", ""); return err },
		"mpc format": func() error {
			_, err := c.StartMPCRecording(ctx, room, &MPCRecordingParams{FileFormat: "aac"})
			return err
		},
		"mpc cb url": func() error {
			_, err := c.StartMPCRecording(ctx, room, &MPCRecordingParams{RecordingCallbackURL: "/x"})
			return err
		},
		"mpc cb method": func() error {
			_, err := c.StartMPCRecording(ctx, room, &MPCRecordingParams{RecordingCallbackMethod: "get"})
			return err
		},
		"play no url":        func() error { _, err := c.StartPlayAudio(ctx, room, "all", ""); return err },
		"play bad url":       func() error { _, err := c.StartPlayAudio(ctx, room, "all", "music.mp3"); return err },
		"play not mp3":       func() error { _, err := c.StartPlayAudio(ctx, room, "all", "https://a.example/x.ogg"); return err },
		"play no member":     func() error { _, err := c.StartPlayAudio(ctx, room, "", "https://a.example/x.mp3"); return err },
		"stop play no mpc":   func() error { _, err := c.StopPlayAudio(ctx, MPCRef{}, "all"); return err },
		"get both refs":      func() error { _, err := c.GetMPC(ctx, MPCRef{Name: "a", UUID: "b"}); return err },
		"start no ref":       func() error { _, err := c.StartMPC(ctx, MPCRef{}); return err },
		"end no ref":         func() error { _, err := c.EndMPC(ctx, MPCRef{}); return err },
		"list no ref":        func() error { _, err := c.ListParticipants(ctx, MPCRef{}); return err },
		"list status":        func() error { _, err := c.ListMPCs(ctx, &ListMPCsParams{Status: "live"}); return err },
		"list cause":         func() error { _, err := c.ListMPCs(ctx, &ListMPCsParams{TerminationCauseCode: 1001}); return err },
		"list limit 21":      func() error { _, err := c.ListMPCs(ctx, &ListMPCsParams{Limit: 21}); return err },
		"list limit -1":      func() error { _, err := c.ListMPCs(ctx, &ListMPCsParams{Limit: -1}); return err },
		"list offset":        func() error { _, err := c.ListMPCs(ctx, &ListMPCsParams{Offset: -1}); return err },
		"pause rec no ref":   func() error { _, err := c.PauseMPCRecording(ctx, MPCRef{}); return err },
		"resume rec no ref":  func() error { _, err := c.ResumeMPCRecording(ctx, MPCRef{}); return err },
		"stop rec no ref":    func() error { _, err := c.StopMPCRecording(ctx, MPCRef{}); return err },
		"kick no member":     func() error { _, err := c.KickParticipant(ctx, room, ""); return err },
		"uuid with question": func() error { _, err := c.GetMPC(ctx, MPCByUUID("a?b")); return err },
	} {
		if err := call(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d invalid requests sent", n)
	}
	for _, limit := range []int{1, 20} {
		if _, err := (&ListMPCsParams{Limit: limit}).Query(); err != nil {
			t.Errorf("limit %d: %v", limit, err)
		}
	}
	for _, code := range []int{1000, 1010, 2000, 3000} {
		if _, err := (&ListMPCsParams{TerminationCauseCode: code}).Query(); err != nil {
			t.Errorf("termination_cause_code %d: %v", code, err)
		}
	}
}

// The documented example answers decode, nulls and all.
func TestDecodeDocumentedAnswers(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	ctx := context.Background()
	answers := map[string]string{
		"GET " + acct + "MultiPartyCall/name_test_mpc/": `{"api_id":"3c45f7da-45c9-11eb-8575-0242ac11000a","billed_amount":null,"billed_duration":null,
			"creation_time":"2020-12-24 09:20:03+00:00","duration":null,"end_time":null,"friendly_name":"test_mpc",
			"mpc_uuid":"8742d531-292a-46aa-8754-836be1092885","participants":"/v1/Account/MAOTE1OWE0MDK0MTLHYW/MultiPartyCall/name_test_mpc/Participant/",
			"recording":"not-recording","resource_uri":"/v1/Account/MAOTE1OWE0MDK0MTLHYW/MultiPartyCall/name_test_mpc/",
			"start_time":"2020-12-24 09:20:03+00:00","status":"Active","stay_alone":false,"sub_account":null,"termination_cause":null,"termination_cause_code":null}`,
		"GET " + acct + "MultiPartyCall/": `{"api_id":"ed93aea0","meta":{"count":2,"limit":20,"next":null,"offset":0,"previous":null},
			"objects":[{"billed_amount":"0.05000","billed_duration":60,"creation_time":"2020-12-24 15:23:38+05:30","duration":2,
			"end_time":"2020-12-24 15:23:40+05:30","friendly_name":"test_mpc_1","mpc_uuid":"4ed623a5","recording":null,
			"status":"Ended","stay_alone":false,"sub_account":null,"termination_cause":"No Active Participants","termination_cause_code":1000},
			{"billed_duration":"60","duration":"27","termination_cause_code":"1000","max_participants":"10"}]}`,
		"GET " + acct + "MultiPartyCall/name_test_mpc/Participant/355/": `{"api_id":"3eecec6d","billed_amount":null,"billed_duration":null,
			"call_uuid":"dd473c48","coach_mode":false,"duration":null,"end_mpc_on_exit":false,"exit_cause":null,"exit_time":null,"hold":false,
			"join_time":"2020-12-24 10:01:56+00:00","member_address":"sip:randomEndpoint524139428185758@phone.plivo.com","member_id":"355",
			"mpc_uuid":"4e9ae3f1","mute":false,"resource_uri":"/v1/Account/MAOTE1OWE0MDK0MTLHYW/MultiPartyCall/name_test_mpc_1/Participant/355/",
			"role":"agent","start_mpc_on_enter":true}`,
	}
	fake.Override = func(r plivotest.Request) *plivotest.Reply {
		if body, ok := answers[r.Method+" "+r.Path]; ok {
			return &plivotest.Reply{Status: 200, Body: body}
		}
		return nil
	}
	m, err := c.GetMPC(ctx, MPCByName("test_mpc"))
	if err != nil {
		t.Fatal(err)
	}
	if m.APIID != "3c45f7da-45c9-11eb-8575-0242ac11000a" || m.BilledAmount != nil || m.Duration != nil || m.EndTime != nil ||
		m.StartTime == nil || *m.StartTime != "2020-12-24 09:20:03+00:00" || *m.Recording != "not-recording" || m.TerminationCauseCode != nil {
		t.Errorf("MPC = %+v", m)
	}
	l, err := c.ListMPCs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := l.Objects
	if l.Meta.Count != 2 || len(o) != 2 || *o[0].BilledAmount != "0.05000" || *o[0].BilledDuration != 60 || *o[0].TerminationCauseCode != 1000 ||
		o[0].Recording != nil || *o[1].BilledDuration != 60 || *o[1].Duration != 27 || *o[1].TerminationCauseCode != 1000 || *o[1].MaxParticipants != 10 {
		t.Errorf("list = %+v", l)
	}
	p, err := c.GetParticipant(ctx, MPCByName("test_mpc"), "355")
	if err != nil {
		t.Fatal(err)
	}
	if p.MemberID != "355" || p.MemberAddress == "" || p.Mute == nil || bool(*p.Mute) || p.ExitTime != nil || !p.StartMPCOnEnter || p.APIID != "3eecec6d" {
		t.Errorf("participant = %+v", p)
	}
}

func TestDelayDialJSON(t *testing.T) {
	for _, tc := range []struct {
		d    DelayDial
		json string
	}{{DelayDial{5}, `5`}, {DelayDial{0, 5, 10}, `"0<5<10"`}} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		err := enc.Encode(tc.d)
		b := bytes.TrimSpace(buf.Bytes())
		if err != nil || string(b) != tc.json {
			t.Errorf("%v: %s %v", tc.d, b, err)
		}
		var back DelayDial
		if err := json.Unmarshal(b, &back); err != nil || len(back) != len(tc.d) {
			t.Errorf("%s: %v %v", b, back, err)
		}
	}
	if s := SIPHeaders(map[string]string{"b": "2", "a": "1"}); s != "a=1,b=2" {
		t.Errorf("SIPHeaders = %q", s)
	}
}

// TestParticipantFlagsAsStrings: Plivo documents a participant's mute and
// hold as strings and has answered booleans; both decode.
func TestParticipantFlagsAsStrings(t *testing.T) {
	for body, want := range map[string][2]bool{
		`{"mute": "true", "hold": "false"}`: {true, false},
		`{"mute": false, "hold": true}`:     {false, true},
		`{"mute": "True", "hold": ""}`:      {true, false},
	} {
		var p Participant
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if p.Mute == nil || p.Hold == nil || bool(*p.Mute) != want[0] || bool(*p.Hold) != want[1] {
			t.Errorf("%s: mute %v hold %v, want %v", body, p.Mute, p.Hold, want)
		}
	}
	var p Participant
	if err := json.Unmarshal([]byte(`{"mute": null}`), &p); err != nil || p.Mute != nil {
		t.Errorf("null mute: %v %v", p.Mute, err)
	}
	if err := json.Unmarshal([]byte(`{"mute": "maybe"}`), &p); err == nil {
		t.Error(`mute "maybe" decoded`)
	}
}
