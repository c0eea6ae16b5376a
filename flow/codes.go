package flow

import "github.com/flowd-dev/flowd/yamlpos"

// Diagnostics are yamlpos's: a flow file's problems are reported as
// file:line:col: severity: message [code].
type (
	// Pos is a place in a flow file.
	Pos = yamlpos.Pos
	// Severity tells whether a diagnostic fails validation.
	Severity = yamlpos.Severity
	// Diagnostic is one problem found in a flow file.
	Diagnostic = yamlpos.Diagnostic
	// Diagnostics is every problem found in one run, sorted by place.
	Diagnostics = yamlpos.Diagnostics
	// Code names a kind of diagnostic. Codes are stable: CI annotations,
	// documentation and tests refer to them.
	Code = yamlpos.Code
)

// The severities. Warnings fail validation only with --strict.
const (
	Error   = yamlpos.Error
	Warning = yamlpos.Warning
)

// The diagnostic codes. Each is documented in CodeDocs.
const (
	CodeYAML                  = yamlpos.CodeYAML
	CodeShape                 = yamlpos.CodeShape
	CodeUnknownKey            = yamlpos.CodeUnknownKey
	CodeDuplicateKey          = yamlpos.CodeDuplicateKey
	CodeMissingKey            = yamlpos.CodeMissingKey
	CodeTag                   = yamlpos.CodeTag
	CodeFlowName         Code = "bad-flow-name"
	CodeDuplicateFlow    Code = "duplicate-flow"
	CodeNodeID           Code = "bad-node-id"
	CodeNoNodes          Code = "no-nodes"
	CodeNoAction         Code = "missing-action"
	CodeManyActions      Code = "multiple-actions"
	CodeUnknownAction    Code = "unknown-action"
	CodeUnknownNode      Code = "unknown-node"
	CodeOutcome          Code = "bad-outcome"
	CodeTerminal         Code = "terminal-next"
	CodeUnreachable      Code = "unreachable"
	CodeLoop             Code = "loop"
	CodeType                  = yamlpos.CodeType
	CodeValue                 = yamlpos.CodeValue
	CodeOwned            Code = "owned-attribute"
	CodeNesting          Code = "bad-nesting"
	CodeContent          Code = "bad-content"
	CodeExpr             Code = "bad-expression"
	CodeNotBool          Code = "not-boolean"
	CodeTemplate         Code = "bad-template"
	CodeUndeclaredParam  Code = "undeclared-param"
	CodeUndeclaredVar    Code = "undeclared-var"
	CodeUnusedOutcomeMap Code = "empty-branch"
	CodeUnknownParam     Code = "unknown-parameter"
	CodeMisindented      Code = "misindented-key"
	CodeDeadSetting      Code = "dead-setting"
	CodeSecret           Code = "secret-read"
	CodeUnknownSubflow   Code = "unknown-subflow"
	CodeSubflowCycle     Code = "subflow-cycle"
	CodeReturnOutside    Code = "return-outside-subflow"
	CodeUnreadable       Code = "unreadable-file"
	CodeUnfolds          Code = "subflows-unfold"
	CodeParamValue       Code = "param-value"
)

// CodeDoc documents one diagnostic code for the language reference.
type CodeDoc struct {
	Code    Code
	Summary string
	Example string // a YAML fragment that triggers it
	Fix     string
}

// CodeDocs documents every code, in the order the reference lists them.
var CodeDocs = []CodeDoc{
	{CodeYAML, "The file is not valid YAML.", "nodes:\n  greet: {Speak: Hi", "Fix the YAML syntax at the reported place (unclosed brackets and quotes, tabs used for indentation)."},
	{CodeShape, "A value has the wrong YAML shape: a list where a mapping belongs, a mapping where a scalar belongs.", "nodes:\n  - greet", "Write the value in the shape the reference shows for that key."},
	{CodeTag, "A YAML tag flowd does not honour (!!binary, a custom !tag) is written: the value is read as written (a warning).", "Speak: !!binary aGVsbG8=", "Remove the tag; write the value as it should be read."},
	{CodeUnknownKey, "A key that flowd does not know, usually a typo.", "greet:\n  Speak: Hi\n  nxt: menu", "Use the suggested key; attribute names are Plivo's, case-sensitive."},
	{CodeDuplicateKey, "The same key appears twice in one mapping; YAML parsers would silently keep the last.", "Speak:\n  voice: MAN\n  voice: WOMAN", "Remove one of the two keys; the message names where the first one is."},
	{CodeMissingKey, "A required key is missing.", "branch:\n  - when: vars.vip", "Add the key the message names."},
	{CodeFlowName, "The flow name is not lowercase letters, digits, '-' and '_'.", "flow: Support Line", "Use a name like support-line; it becomes part of the URL."},
	{CodeDuplicateFlow, "Two files declare the same flow name.", "flow: support   # in two files", "Rename one flow or remove the duplicate file."},
	{CodeNodeID, "A node id is not letters, digits, '-' and '_' starting with a letter.", "nodes:\n  1st: {Hangup: {}}", "Rename the node."},
	{CodeNoNodes, "The flow has no nodes.", "nodes: {}", "Add at least one node."},
	{CodeNoAction, "A node has no action key.", "greet:\n  next: menu", "Add one action such as Speak, GetDigits or branch."},
	{CodeManyActions, "A node has more than one action key.", "greet:\n  Speak: Hi\n  Play: https://x/a.mp3", "Split the node in two and chain them with next."},
	{CodeUnknownAction, "A capitalised key that is not a Plivo element flowd supports.", "greet:\n  Say: Hi", "Use the suggested element name; names are case-sensitive."},
	{CodeUnknownNode, "next, on, start, on_error, a branch case or nodes.<id> names a node that does not exist.", "next: mnu", "Use the suggested node id or add the node."},
	{CodeOutcome, "An on: key is not an outcome of the node's action.", "GetDigits: {}\non: {timeout: bye}", "Use one of the outcomes listed in the message (GetDigits: input, no_input)."},
	{CodeTerminal, "next or on is given on an action that ends the flow (Hangup, Redirect).", "Hangup: {}\nnext: menu", "Remove next, or use a different action."},
	{CodeUnreachable, "No path from start reaches the node (a warning; an error with --strict).", "orphan:\n  Speak: never heard", "Link the node from another node, or delete it."},
	{CodeLoop, "A cycle passes through no callback action, so one webhook would loop forever.", "a: {set: {n: vars.n + 1}, next: b}\nb: {branch: [], next: a}", "Put a GetDigits, GetInput, Dial, Record, Conference or MultiPartyCall on the cycle."},
	{CodeType, "A value has the wrong type: text where Plivo wants an integer or boolean.", "GetDigits: {numDigits: one}", "Write a YAML number or true/false, or a {{ template }} that yields one."},
	{CodeValue, "A value is outside Plivo's documented range or allowed values.", "MultiPartyCall: {name: q, role: customer, maxDuration: 100}", "Use a value in the range the message gives."},
	{CodeOwned, "An attribute that flowd writes itself (action, method, redirect, onExitActionUrl, onExitActionMethod).", "GetDigits: {action: https://x/y}", "Route with next and on instead; flowd fills the callback URL."},
	{CodeNesting, "A child element is not allowed inside its parent, or a required child is missing.", "Dial:\n  children:\n    - Speak: Hi", "Use only the children the message lists."},
	{CodeContent, "Text content is missing where Plivo needs it, given where Plivo allows none, or malformed.", "Play: {loop: 2}", "Add the content key (Play's is url) or remove the text."},
	{CodeExpr, "An expression does not compile: a syntax error or an unknown name.", "when: input.Digits = \"1\"", "Fix the expression at the reported column; names are call, input, nodes, vars, params, hours(), now(), urlquery()."},
	{CodeNotBool, "A when: expression does not yield a boolean.", "when: input.Digits", "Compare the value: input.Digits == \"1\"."},
	{CodeTemplate, "A {{ template }} is not closed or empty.", "Speak: \"Hello {{ call.From\"", "Close the template with }}."},
	{CodeUndeclaredParam, "params.<name> is used but not declared under params:.", "Speak: \"{{ params.queue }}\"", "Declare the param under params: with a default."},
	{CodeUndeclaredVar, "vars.<name> is read but never declared under vars: nor assigned by set (a warning).", "when: vars.tries > 2", "Declare it under vars: with an initial value."},
	{CodeUnusedOutcomeMap, "A branch has no cases.", "branch: []", "Add at least one case with when and next."},
	{CodeMisindented, "A node is named like a node's own key (next, on, description, events): most likely that key, indented as a node id (a warning).", "  menu:\n    GetDigits: {numDigits: 1}\n  next: check", "Indent the key under the node it belongs to."},
	{CodeSecret, "A secret param is read outside a when: condition, or nodes.<id> of a log: false input is read: either would be written somewhere.", "params:\n  pin: {default: \"1234\", secret: true}\n...\n    Speak: \"Your PIN is {{ params.pin }}\"", "Compare secrets in when: only (input.Digits == params.pin); read a private input as input.* where its callback leads."},
	{CodeUnknownSubflow, "A subflow node names a flow that is not in the same folder (or one that cannot be linked).", "check_pin:\n  subflow: pin-chek", "Name the flow: name of another flow file of the folder; the message suggests the closest."},
	{CodeSubflowCycle, "A flow runs itself as a subflow, directly or through other subflows; the message names the whole cycle.", "# a.yaml\n  go: {subflow: b}\n# b.yaml\n  back: {subflow: a}", "Loop with next or on: inside one flow instead of calling back up the chain."},
	{CodeReturnOutside, "A flow has return nodes but no flow of its folder runs it as a subflow.", "done:\n  return: ok   # in a flow nothing calls", "End the call with Hangup, or run the flow with subflow: from another flow."},
	{CodeUnfolds, "A flow unfolds into more than 100,000 nodes through its subflows: each subflow node names its subflow's nodes anew, so subflows that each run the next twice double at every level.", "a: {subflow: level2, next: b}\nb: {subflow: level2}   # and level2 runs level3 twice, ...", "Run fewer subflows from subflows, or loop with next and on: instead."},
	{CodeParamValue, "flowd serve reloaded a flow whose param has neither a default nor a value given when flowd serve started, or a value of another type; the version serving stays (at start, flowd serve refuses to run instead).", "params:\n  queue_name: {}   # added while flowd serve runs, with no value given", "Give the param a default, or give its value (--param, FLOWD_PARAM_<NAME>, --params) and restart flowd serve."},
	{CodeUnreadable, "A flow file cannot be read: it is not a regular file (a named pipe, a device), it is larger than 4 MiB, or the file system refused it.", "ln -s /dev/zero flows/zero.yaml", "Keep only flow files, of a sensible size, in the flows folder."},
	{CodeDeadSetting, "A MultiPartyCall setting that cannot take effect: wait music for a caller who starts the MPC on entering, or MPC-level settings on a node an add_participant always precedes (a warning).", "queue:\n  MultiPartyCall: {name: q, role: customer, waitMusicUrl: https://example.com/m.xml}", "Write startMpcOnEnter: false, or give the MPC-level settings to the add_participant that creates the MPC."},
	{CodeUnknownParam, "input.X or nodes.<id>.X names a parameter that no callback reaching there sends, so it reads as \"\" (a warning).", "menu: {GetDigits: {numDigits: 1}, next: check}\ncheck: {branch: [{when: input.Digit == \"1\", next: sales}]}", "Use the parameter Plivo sends (input.Digits); the message lists them."},
}
