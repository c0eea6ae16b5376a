// Package xmlgen is Plivo's voice XML dialect: what each element and
// attribute is, which values Plivo accepts, and how flowd writes
// documents fast without ever writing an invalid one. It knows nothing of
// YAML or flows; the flow package builds on it.
//
// # The table
//
// elements.go holds the one table of every Plivo element flowd supports
// (Element) and of each one's attributes (Attr): the name as Plivo spells
// it, its Kind, Plivo's default, its range or allowed values, whether it
// is required, and one line of documentation; for the element, its text
// rule and the children it may contain. Lookup and Elements read it.
// Everything else that knows Plivo's XML is derived from the table: the
// flow package's decoding and checking of attributes, the JSON Schema
// (schema/flow.schema.json), the reference (docs/reference.md), and this
// package's own checks. Adding an attribute is one entry there
// (docs/architecture.md, "Adding a Plivo attribute").
//
// The table's facts come from Plivo's XML reference pages, checked
// against Plivo's Node SDK. Where Plivo's pages and SDKs disagree, the
// choice made is written in a comment beside the element; attributes an
// SDK accepts but no Plivo page documents are left out and named there.
// The <MultiPartyCall> element's ranges, values and defaults are also
// held to those of Plivo's Add Participant API in the plivo package
// (plivo/mpc_parity_test.go), which names where Plivo's XML and REST
// really differ.
//
// # Checking values
//
// Attr.Validate and Element.ValidateText check one value and return what
// it must be, as a phrase that completes "must ..." ("be an integer from
// 300 to 28800"); ValueError carries it with the element and attribute.
// The same checks run when a flow loads (constant values) and on every
// webhook (values that expressions fill in).
//
// # Writing documents
//
// Prepare turns an element (El), whose values are constants or holes
// (Const, Hole), into a Template: it checks the element against the table
// — names, nesting, required attributes, every constant — and writes the
// constant bytes once, when the flow compiles. Template.Append, on each
// webhook, copies those bytes and fills the holes, checking each value
// first; on a bad value it returns an error and writes nothing. A
// Document assembles one <Response> from templates and refuses one larger
// than Plivo's limit (MaxDocument, ErrTooLarge).
//
// Attributes are written in the table's order, and text and attribute
// values are escaped exactly as etree writes them; characters XML 1.0
// cannot carry become U+FFFD (Sanitize says what a value reads back as).
// Build writes the same element the straightforward way, with etree; the
// tests compare the two and the benchmarks measure the difference.
//
// # Tests
//
// Golden files (testdata/golden/<Element>.xml, refreshed with
// go test ./xmlgen -update) hold a sample of every element with every
// attribute. The oracle test builds the same documents with Plivo's Node
// SDK (tools/sdk) and compares the two as XML trees, each known
// difference named; it is skipped, saying why, when Node or the SDK is
// missing. A fuzz test feeds Append arbitrary values.
package xmlgen
