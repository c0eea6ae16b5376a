// Package console holds the files of flowd serve's web console, served at
// /ui/ by runtime.Server behind the API's credentials.
//
// The console is plain HTML, CSS and JavaScript, written by hand and
// committed as they are served: no framework, no build step, nothing
// fetched from the internet. Everything the browser gets is in Files,
// embedded in the binary. The page reads its data from the server's
// /ui/api/ endpoints (runtime/console.go) — the flows and the files the
// latest reload rejected, each flow's diagram placed by flow.LayOut with
// its per-node counts, the live calls as a stream of server-sent events,
// a call's trace — and draws it with DOM calls that set text, never
// markup: whatever a flow, a call or a caller's input holds shows as text.
//
// static/index.html is the one page; static/console.js routes between
// its views by the URL's fragment (#/flows, #/flows/NAME, #/calls,
// #/calls/ID), so every view is a link that can be bookmarked and
// reached with the keyboard.
package console

import "embed"

// Files are the console's files, under static/.
//
//go:embed static
var Files embed.FS
