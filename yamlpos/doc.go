// Package yamlpos decodes YAML with positions and reports problems people
// can act on. Every value keeps its place in the file; every problem is a
// Diagnostic with a stable Code, printed as `file:line:col: error: message
// [code]`, the grammar of go/token that editors and CI problem matchers
// read; and a file's problems are all collected in one run.
//
// It holds what flowd's YAML formats share — flow files (package flow)
// and flow tests (package flowtest) — and knows neither:
//
//   - Decoder parses one document, placing syntax errors on their line and
//     column, and reads mappings: duplicate keys reported at the second
//     with the place of the first, merge keys and aliases resolved, the
//     walk bounded against aliases that expand without end.
//   - SrcIndex places a rune inside a scalar's value on the file, through
//     quotes, escapes, block scalars and folding, so errors inside a value
//     point at their column.
//   - Field declares one key of a mapping: its name, type, rules and one
//     line of documentation. A table of fields is the single source of a
//     mapping's keys: Decoder.Object decodes against it, with "did you
//     mean" for unknown keys, and FieldSchema and ObjectSchema generate
//     its JSON Schema.
//   - Diagnostic, Diagnostics, Collector and Code carry the problems;
//     DidYouMean and Closest suggest the name a typo meant.
package yamlpos
