package runtime

import (
	"net/url"
	"strconv"
	"strings"
)

// Callback URLs are flowd's own and their shape is internal: Plivo, tests
// and users only follow them. Each names the node the call waits at, the
// event it reports and the step of the call it was issued on, so a retried
// or forged callback can be told from a fresh one.
//
//	{public}/flows/{flow}/calls/{step}/{node}/{event}

// CallbackURL returns the absolute URL Plivo calls back for a node.
func CallbackURL(base, flowName string, step int, node, event string) string {
	var b strings.Builder
	b.Grow(len(base) + len(flowName) + len(node) + len(event) + 24)
	b.WriteString(strings.TrimSuffix(base, "/"))
	b.WriteString("/flows/")
	b.WriteString(url.PathEscape(flowName))
	b.WriteString("/calls/")
	b.WriteString(strconv.Itoa(step))
	b.WriteByte('/')
	b.WriteString(url.PathEscape(node))
	b.WriteByte('/')
	b.WriteString(event)
	return b.String()
}
