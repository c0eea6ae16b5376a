package yamlpos

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a file. Line and Col are 1-based; Col counts
// characters, as YAML does.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity tells whether a diagnostic fails validation.
type Severity uint8

// The severities. Warnings fail validation only when the caller is strict.
const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Code     Code
	Message  string
}

// MarshalJSON writes a diagnostic as flowd's JSON reports (flowd
// validate --format json, GET /v1/flows) do: {"file", "line", "col",
// "severity", "code", "message"}.
func (d Diagnostic) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the caller's encoder decides
	err := enc.Encode(struct {
		File     string `json:"file"`
		Line     int    `json:"line"`
		Col      int    `json:"col"`
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Message  string `json:"message"`
	}{d.Pos.File, d.Pos.Line, d.Pos.Col, d.Severity.String(), string(d.Code), d.Message})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", d.Pos, d.Severity, d.Message, d.Code)
}

// Diagnostics is every problem found in one run.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error, or with strict
// any diagnostic at all.
func (ds Diagnostics) HasErrors(strict bool) bool {
	for _, d := range ds {
		if d.Severity == Error || strict {
			return true
		}
	}
	return false
}

// Sort orders diagnostics by file, line, column, then code.
func (ds Diagnostics) Sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			cmp.Compare(a.Code, b.Code),
		)
	})
}

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Collector collects diagnostics while a file is decoded and checked. A YAML
// alias repeats the nodes of its anchor, so one mistake written once
// could be found once per use: identical diagnostics are kept once. The
// zero Collector is ready to use.
type Collector struct {
	list Diagnostics
	seen map[Diagnostic]bool
}

// Add adds d unless an identical diagnostic is in the list.
func (l *Collector) Add(d Diagnostic) {
	if l.seen == nil {
		l.seen = map[Diagnostic]bool{}
	}
	if l.seen[d] {
		return
	}
	l.seen[d] = true
	l.list = append(l.list, d)
}

// Errorf adds an error.
func (l *Collector) Errorf(p Pos, code Code, format string, args ...any) {
	l.Add(Diagnostic{Pos: p, Severity: Error, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Warnf adds a warning.
func (l *Collector) Warnf(p Pos, code Code, format string, args ...any) {
	l.Add(Diagnostic{Pos: p, Severity: Warning, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Diagnostics returns the diagnostics added, in the order they were.
func (l *Collector) Diagnostics() Diagnostics { return l.list }
