package yamlpos

// Code names a kind of diagnostic. Codes are stable: CI annotations,
// documentation and tests refer to them.
type Code string

// The codes of the problems this package finds itself; the formats that
// use it add their own and document them all.
const (
	CodeYAML         Code = "yaml-syntax"
	CodeShape        Code = "bad-shape"
	CodeUnknownKey   Code = "unknown-key"
	CodeDuplicateKey Code = "duplicate-key"
	CodeMissingKey   Code = "missing-key"
	CodeType         Code = "bad-type"
	CodeValue        Code = "bad-value"
	CodeTag          Code = "ignored-tag"
)
