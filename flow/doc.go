/*
Package flow is flowd's call-flow language: it decodes YAML flow files
with every position kept, checks them, compiles them into an immutable
Graph and walks that graph on each webhook to produce Plivo XML.

This comment is the language reference. The tables of every action,
element, attribute and diagnostic code are generated into
docs/reference.md; the JSON Schema editors use is schema/flow.schema.json.

# Files

A flow is one YAML file. Its keys:

	# yaml-language-server: $schema=../../schema/flow.schema.json
	flow: support          # optional; default: the file name without .yaml
	description: Acme support line
	params:                # deployment values, overridable with --param
	  queue: { default: sales, description: the MultiPartyCall to join }
	  agent_sip: sip:agent1@phone.plivo.com     # shorthand: name: default
	vars:                  # initial per-call variables (YAML literals)
	  attempts: 0
	start: greet           # optional; default: the first node listed
	on_error: apologise    # optional; entered when a run-time error occurs
	nodes:
	  greet:
	    Speak: "Welcome to Acme, {{ call.CallerName }}."
	    next: menu
	  ...

A flow name is lowercase letters, digits, '-' and '_'; it is part of the
flow's URLs (/flows/support/answer). Node ids are letters, digits, '-' and
'_', starting with a letter. Files ending in _test.yaml are flow tests,
not flows.

# Nodes

A node is a mapping with exactly one action key plus optional next, on
and description:

	menu:
	  GetDigits:
	    numDigits: 1
	    validDigits: "12"
	    children:
	      - Speak: Press 1 for sales, 2 for support.
	  on:
	    no_input: goodbye
	  next: route

Action keys are Plivo's XML element names, spelled as Plivo spells them —
Speak, Play, Wait, DTMF, GetDigits, GetInput, Dial, Conference,
MultiPartyCall, Record, Redirect, Hangup, PreAnswer, Stream, Message — and
flowd's own lowercase actions, branch and set.

An element's attributes are Plivo's attribute names exactly (numDigits,
maxParticipants, relayDTMFInputs). Every attribute Plivo documents is
accepted and its type, range and allowed values are checked. A scalar is
the element's content (Speak: Hello). In mapping form the content key is
text (Speak, Message, SSML elements), url (Play, Redirect, Stream), name
(Conference, MultiPartyCall), digits (DTMF), number (Number) or sip
(User). An element with neither content nor attributes is written
Hangup: {} or Hangup:.

Nested elements go under children as a list of one-key mappings, checked
against Plivo's nesting rules: GetDigits, GetInput and PreAnswer take
Speak, Play and Wait; Dial takes Number and User (at least one); Speak
takes SSML elements (break, emphasis, lang, p, phoneme, prosody, s,
say-as, sub, w) only with a Polly voice, and its text comes before them:

	hello:
	  Speak:
	    voice: Polly.Joanna
	    text: Your code is
	    children:
	      - say-as: { interpret-as: digits, text: "{{ vars.code }}" }

The attributes that carry the call onward belong to flowd and are an error
if written: action, method and redirect on GetDigits, GetInput, Record,
Dial and Conference; onExitActionUrl and onExitActionMethod on
MultiPartyCall. Routing is written with next and on. Other URLs (status
callbacks, hold music, transcription) are the flow's and pass through.

# Edges and outcomes

next is the default continuation; on: {outcome: node} overrides it for one
outcome. A walk starts at start on the answer webhook, or where the call
waits on a callback, and goes:

  - Speak, Play, Wait, DTMF, PreAnswer, Message, Stream: appended; the walk
    continues to next in the same document.
  - GetDigits, GetInput: appended with flowd's action URL, then a Redirect
    that reports no_input if the caller gives nothing; the document ends.
    Outcomes: input, no_input.
  - Dial: appended with flowd's action URL; the document ends. Outcomes are
    Plivo's DialStatus values: completed, busy, failed, timeout, no-answer.
  - Record: appended with flowd's action URL; the document ends; next is
    taken when the recording is done. With recordSession or
    startOnDialAnswer true the recording runs in the background and Plivo
    posts the action at once, so next (the Dial to record) follows in the
    next document while it records.
  - Conference, MultiPartyCall: appended; when the node has a next, with
    flowd's action (onExitActionUrl) so next is taken when the caller
    leaves; the document ends.
  - branch: evaluated on the server; the first case whose when is true
    picks its next, else the node's next.
  - set: set: {name: expression} assigns vars.name; continues to next.
    A var holds what the call's state keeps between webhooks (text,
    numbers, booleans, lists, maps): a time is kept as its RFC 3339 text,
    which date() reads back (date(vars.t).Year()), and a function (now
    without its parentheses) is a run-time error.
  - http: a request on the server (see "Calling other systems"); the walk
    goes on by its outcome, ok (a 2xx answer) or error, in the same
    document.
  - subflow: the subflow is walked in place, its XML joining this
    document (see "Subflows"); the walk goes on by the outcome its return
    gives.
  - return: ends a subflow with an outcome (a load error in a flow that no
    flow runs as a subflow).
  - Hangup, Redirect: appended; the flow ends (Redirect hands the call to
    another application — to another flow's answer URL, that flow starts
    from its start as the call's next step). They take no next, except a Hangup with
    schedule: Plivo plays what follows it until the scheduled hang-up, so
    the walk goes on to its next (Hangup: {schedule: 60} then a Speak
    warning the caller).

A node with no edge to take ends the document, and Plivo hangs up after
it. An outcome without an on: entry follows next.

# REST actions

flowd's lowercase REST actions call Plivo's REST API on the server, as
branch and set run on the server: add_participant, update_participant,
kick_participant, start_recording and stop_recording. Their arguments are
Plivo's REST argument names (ring_timeout, coach_mode) plus mpc, the
MultiPartyCall's name, and member (update and kick: a member ID, a comma
list or all). Constant arguments are checked when the flow loads by the
same code that checks a request before it is sent; templated ones when the
call runs. The outcomes are ok and error; nodes.<id> holds api_id,
message, error and, for add_participant, request_uuid:

	ring_agents:                  # ring two agents; the first to answer joins
	  add_participant:
	    mpc: "support-{{ call.CallUUID }}"
	    role: agent
	    to: "sip:alice@phone.plivo.com<sip:bob@phone.plivo.com"
	    ring_timeout: 30
	  on:
	    error: voicemail          # Plivo refused: nodes.ring_agents.error says why
	  next: queue
	queue:
	  MultiPartyCall:
	    name: "support-{{ call.CallUUID }}"
	    role: customer
	    startMpcOnEnter: false    # wait, with the MPC's music, for an agent
	  next: survey

add_participant's from defaults to the call's Plivo number (To for an
inbound call, From for an outbound one). REST actions need PLIVO_AUTH_ID
and PLIVO_AUTH_TOKEN; without them they take their error outcome.

A MultiPartyCall node, or the add_participant that creates the MPC, may
list events: [status, recording]: flowd then fills statusCallbackUrl and
recordingCallbackUrl (status_callback_url, recording_callback_url) with its
own URLs, checks Plivo's signature on each event, and keeps every event in
the call's trace. An MPC takes its own settings (wait and hold music,
maxDuration, record, callbacks) from the participant that creates it: when
an add_participant creates it before the caller's MultiPartyCall node is
reached, those settings belong on the add_participant, and the checker
warns (dead-setting) of ones written on the node, and of waitMusicUrl for
a participant that starts the MPC on entering (startMpcOnEnter true).

# Calling other systems

An http node makes a request to another system on the server, during the
walk, and routes the call by the answer:

	lookup:
	  http:
	    url: "{{ params.crm_url }}/customers?phone={{ urlquery(call.From) }}"
	    method: GET              # GET (default), POST, PUT, PATCH, DELETE
	    headers:
	      Authorization: "Bearer {{ params.crm_token }}"
	    body: { phone: "{{ call.From }}" }   # a mapping or list is JSON; a string as is
	    timeout: 2s              # default 3s, at most 10s
	  on:
	    error: normal_queue
	  next: route

The outcomes are ok (a 2xx answer) and error (anything else). Afterwards
nodes.lookup.status is the status (0 when no answer came), nodes.lookup.body
the answer, parsed when it is JSON (nodes.lookup.body?.vip; nil when empty),
else text, at most 64 KiB, and nodes.lookup.error a short reason: timeout,
status 503, connection refused, body too large, bad URL. A step's requests
are made once, however many copies of its webhook arrive. Only http:// and
https:// URLs; the trace keeps the method, the URL without its query, the
status and the duration, never headers or bodies.

# Subflows

A subflow node runs another flow of the same folder as a step of this one,
and comes back:

	check_pin:
	  subflow: pin-check          # the flow's name
	  with: { max_tries: 2 }      # initial values of its vars, expressions read here
	  on:
	    failed: goodbye           # the outcomes its return nodes give
	  next: join_room             # taken on ok, and on any outcome not under on:

Each with: value is an expression read in the caller; a value written as
text that is no expression (greeting: Welcome) is taken as that text, with
a warning.

Inside the subflow, return: OUTCOME, or return: {outcome: OUTCOME, values:
{name: expression}}, ends it; the calling node keeps nodes.check_pin.outcome
and nodes.check_pin.<name>, each value with its type. Reaching a node with no
edge inside a subflow returns ok: a Conference or MultiPartyCall without
next inside one calls back when the caller leaves it, and the subflow then
returns ok. Hangup and Redirect inside a subflow end the call. The
subflow has its own vars and params; call is shared; input is the
callback's that resumed the walk. A run-time error inside it goes to its
own on_error, else to the caller's.

Nodes inside a subflow are named through the calling node: check_pin/ask in
traces, paths, a call's wait, flow tests (node: check_pin/ask, http mocks
for check_pin/lookup) and callback URLs (check_pin.ask). A callback inside
a subflow resumes there; the call's state keeps each subflow's vars and
nodes (frames) until it returns. Node counts and coverage count a
subflow's nodes in the subflow's own file.

Checked when the flows load, with the other flows of the folder: the
subflow exists (unknown-subflow, with "did you mean"); with: names only its
vars (undeclared-var), each given a value of its var's type when the
subflow reads it typed (bad-expression); on: names only outcomes its return nodes give, or ok
when some path of it reaches a node with no edge (bad-outcome); no flow runs itself through any chain of subflows
(subflow-cycle, naming the whole cycle); no flow unfolds into more than
100,000 nodes through its subflows (subflows-unfold); a flow with return nodes is run as
a subflow by some flow (return-outside-subflow); no loop passes through a
subflow node whose subflow can return without waiting for Plivo, and
through no node that waits (loop). A file that has errors of its own is
still checked for unknown-subflow and return-outside-subflow, so these
come in the same run as its other errors. A call is pinned to the
versions of every flow it can reach when it starts: a flow's version covers
its subflows', so a reload of a subflow changes new calls only.

# Params and secrets

A param's type is its default's YAML type (string, integer, float,
boolean; no default: string): the value given when flowd starts
(--param, FLOWD_PARAM_<NAME>, --params FILE) is converted to it, so
params.ring_seconds > 20 compares numbers, and expressions are checked
with it: params.ring_seconds == "20" is a load error. A param's name may
have '-', read by index: params["ring-time"]. secret: true marks a value that
is never written anywhere (a PIN, a token); it may be read only in a when:
condition and in an http node's url, headers and body. Reading it anywhere
else is a load error, and so is reading params as a whole or by a name
computed at run time (params[vars.name]) there while a param is secret.
A param secret in one flow of a folder must be secret in every flow that
declares it: they take the same value.

What the caller types at a GetDigits or GetInput written with log: false
is kept nowhere: reading nodes.<id> of it is a load error, and so is
reading input where it would be written (a template, set, a return value)
in a node its callback can lead to, through subflows and on_error too (a
run-time error in that walk goes on there); a when: condition and an http
node's url, headers and body may read it. A log: written as a template is
taken as log: false. An http request's trace shows *** in place of what a
secret or such an input wrote into its URL, and a run-time error whose
message quotes a secret or such an input has its message withheld.

# Expressions

Expressions are expr-lang (https://expr-lang.org). They appear in when
(must be boolean), as set values, and inside {{ }} in any string; a
template ends at the first }}. All are compiled when the flow loads. The
names they see:

	call     the answer request's parameters: call.From, call.To, call.CallUUID,
	         call.Direction, call.CallerName, SIP headers (call["X-PH-Queue"])
	input    the parameters of the callback that resumed this walk:
	         input.Digits, input.Speech, input.DialStatus, input.RecordUrl; empty on answer
	nodes    per node id, the parameters of its last callback: nodes.menu.Digits
	vars     per-call variables: the vars: initial values, changed by set
	params   the flow's deployment values
	hours(spec, tz)  true when the clock is inside the spec, e.g.
	         hours("Mon-Fri 09:00-17:00; Sat 10:00-13:00", "America/New_York")
	now()    the flow's clock (fixed in flow tests)
	urlquery(s)  s escaped for a URL query: "?phone={{ urlquery(call.From) }}"

A missing parameter reads as "" (call, input, nodes, params) or nil (vars).
Expressions are type-checked when the flow loads, with what is known of
each name: call, input and a callback's nodes.<id> are text; a param has its
default's type; an http node's nodes.<id>.status is a number; a var that no
set: assigns has its initial value's type. So when: input.Digits, when:
nodes.menu.Digits and when: vars.attempts (a number) are load errors.
A set: whose value is known to be of another type than the var's initial
value (set: {n: input.Digits} for n: 0) is a warning: write int(...).
A template's result is written as text: numbers in decimal, booleans as
true/false, nil as nothing. Numbers and booleans in attributes are YAML
literals or a template that yields one; the result is range-checked when
the call runs, and a value Plivo would refuse is a run-time error, never
sent.

The hours spec: parts separated by ';', each a day set and one or more
time ranges. Days are Mon..Sun (or full names, any case), ranges such as
Mon-Fri (they may wrap: Fri-Mon), comma lists (Mon,Wed,Fri-Sat) or daily.
Times are HH:MM-HH:MM on a 24-hour clock, start inclusive, end exclusive,
24:00 allowed as an end; an end before the start runs overnight and
belongs to the start day (Fri 22:00-06:00 is Friday night into Saturday).
Dated exceptions follow the weekly parts: YYYY-MM-DD closed, or
YYYY-MM-DD and ranges ("Mon-Fri 09:00-17:00; 2026-12-25 closed;
2026-12-31 09:00-12:00"). A dated entry replaces the weekly hours on that
date (the date in the tz given); its ranges cannot run past midnight.
As an overnight range belongs to its start day, a dated entry replaces
its date's night past midnight too, and the previous night still runs
into the date: with "daily 22:00-02:00; 2026-12-25 closed", 01:00 on Dec 25 is
open and 01:00 on Dec 26 is closed.

# Run-time errors

An expression that fails or a value out of range while a call runs sends
the call to the flow's on_error node, walked in a fresh document; without
on_error, or if on_error fails too, flowd answers an apology and hangs up.
Either way the flow, node and cause are logged and kept in the call's
trace.

# Checks

Loading reports every problem of every file in one run, each as

	file:line:col: error: message [code]

with a stable code (docs/reference.md lists every code with an example and
its fix): YAML syntax, unknown keys (with "did you mean"), missing or
duplicate node ids and keys (YAML parsers keep the last silently; flowd
names both places), edges to unknown nodes, on: keys that are not outcomes
of the action, unreachable nodes (a warning), a cycle through no callback
action (it would loop forever inside one webhook), attribute types, ranges
and allowed values, nesting, expressions (pointing at the column inside the
expression) and params used but not declared.
*/
package flow
