package flow_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/testenv"
)

const schemaFile = "../schema/flow.schema.json"

// TestSchemaCommitted fails when the committed schema is not what
// flow.Schema generates; -update rewrites it.
func TestSchemaCommitted(t *testing.T) {
	testenv.CheckCommitted(t, schemaFile, flow.Schema, "go test ./flow -run Schema -update")
}

// compiledSchema compiles flow.Schema with the validator editors use the
// schema through (JSON Schema 2020-12).
func compiledSchema(t *testing.T) *jsonschema.Schema {
	return testenv.CompileSchema(t, flow.Schema, flow.SchemaID)
}

// yamlInstance decodes a flow file as an editor's YAML language server
// would hand it to the schema: the first document, keys as strings.
func yamlInstance(src []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, err
	}
	return jsonValue(v), nil
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	}
	return v
}

// schemaVerdict validates src: nil when the schema accepts it. A file that
// is not YAML, or has duplicate keys, cannot be handed to the schema at
// all, which counts as rejected.
func schemaVerdict(s *jsonschema.Schema, src []byte) error {
	inst, err := yamlInstance(src)
	if err != nil {
		return fmt.Errorf("not decodable as YAML: %w", err)
	}
	return s.Validate(inst)
}

// TestSchemaAcceptsExamples checks every example flow against the schema.
func TestSchemaAcceptsExamples(t *testing.T) {
	s := compiledSchema(t)
	files, err := flow.FindFiles([]string{"../examples/flows"}, flow.IsFlowFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example flows")
	}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaVerdict(s, src); err != nil {
			t.Errorf("%s: the schema rejects an example flow:\n%v", path, err)
		}
	}
}

// structural are the codes of mistakes in the shape of a file, which the
// schema must see.
var structural = []flow.Code{
	flow.CodeShape, flow.CodeUnknownKey, flow.CodeUnknownAction, flow.CodeNoAction, flow.CodeManyActions,
	flow.CodeType, flow.CodeOwned, flow.CodeNoNodes, flow.CodeFlowName, flow.CodeNodeID,
}

var verdictRE = regexp.MustCompile(`(?m)^# schema: (reject|accept)(?: \((.+)\))?\s*$`)

// TestSchemaCorpus checks the schema's verdict on every corpus file against
// the verdict its header states, that files with structural mistakes are
// rejected, and that every file flowd compiles is accepted.
func TestSchemaCorpus(t *testing.T) {
	s := compiledSchema(t)
	for _, dir := range []string{"testdata/broken", "testdata/pos"} {
		for _, c := range loadCorpus(t, dir) {
			for _, path := range c.files {
				t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
					src, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					verr := schemaVerdict(s, src)
					var codes []flow.Code
					for _, d := range c.diags {
						if d.Pos.File == path {
							codes = append(codes, d.Code)
						}
					}
					compiled := !slices.ContainsFunc(c.diags, func(d flow.Diagnostic) bool {
						return d.Pos.File == path && d.Severity == flow.Error
					})
					if compiled && verr != nil {
						t.Errorf("flowd accepts this file but the schema rejects it:\n%v", verr)
					}
					m := verdictRE.FindSubmatch(src)
					if m == nil {
						if dir == "testdata/broken" {
							t.Fatalf("no '# schema: reject' or '# schema: accept (why)' header")
						}
						return
					}
					want := string(m[1])
					if want == "accept" && !compiled && len(m[2]) == 0 {
						t.Errorf("'# schema: accept' on a file flowd rejects must say why JSON Schema cannot see the mistake")
					}
					switch {
					case want == "reject" && verr == nil:
						t.Errorf("the header says reject, but the schema accepts the file")
					case want == "accept" && verr != nil:
						t.Errorf("the header says accept, but the schema rejects the file:\n%v", verr)
					}
					for _, code := range codes {
						if slices.Contains(structural, code) && want != "reject" {
							t.Errorf("the file has a %s diagnostic, a mistake of shape the schema must reject", code)
						}
					}
				})
			}
		}
	}
}

// TestSchemaEdgeCases checks YAML spellings flowd accepts against the
// schema, and mistakes of shape it must reject, without a file each.
func TestSchemaEdgeCases(t *testing.T) {
	s := compiledSchema(t)
	accept := []string{
		"nodes:\n  a:\n    Hangup: {schedule: 60}\n    next: b\n  b:\n    Speak: hi\n",
		"flow: 411\nnodes: {a: {Hangup: {}}}\n",
		"flow: true\nnodes: {a: {Hangup: {}}}\n",
		"description:\nparams:\nvars:\nnodes: {a: {Hangup: {}}}\n",
		"params:\n  q:\n    default:\n    description:\nnodes: {a: {Hangup: {}}}\n",
		"nodes:\n  a:\n    Speak: hi\n    next: true\n  'true':\n    Hangup: {}\n",
		"start: true\nnodes:\n  'true':\n    Hangup:\n",
		"nodes:\n  a:\n    Speak: hi\n    on:\n    next: b\n  b:\n    Hangup: {}\n    on: {}\n",
		"nodes:\n  a:\n    GetDigits: {timeout: 0x10}\n    on:\n",
		"nodes:\n  a:\n    Speak:\n      voice: Polly.Joanna\n      children:\n        - s:\n            text:\n",
		"nodes:\n  a:\n    Play: \"HTTPS://example.com/a.mp3\"\n",
		"nodes:\n  a:\n    Play: \"https://example.com/{{ vars.x }}\"\n",
		"params: {base: https://x.com}\nnodes:\n  a:\n    Play: \"{{ params.base }}/a.mp3\"\n",
		"params: {base: https://x.com}\nnodes:\n  a:\n    Play: |\n      {{ params.base }}\n",
		"nodes:\n  a:\n    Conference: {name: room, enterSound: ''}\n",
		"nodes:\n  a:\n    GetDigits:\n      numDigits: '{{ vars.n }}'\n      log: '{{ vars.log }}'\n",
		"nodes:\n  a:\n    MultiPartyCall: {name: q, role: agent}\n    events: [status, recording]\n",
		"nodes:\n  a:\n    Speak: hi\n    events: []\n",
	}
	for _, src := range accept {
		g, ds := flow.Compile("f.yaml", []byte(src))
		if g == nil {
			t.Errorf("flowd rejects %q:\n%s", src, ds.Error())
			continue
		}
		if err := schemaVerdict(s, []byte(src)); err != nil {
			t.Errorf("the schema rejects %q, which flowd accepts:\n%v", src, err)
		}
	}
	reject := []string{
		"flow: Support Line\nnodes: {a: {Hangup: {}}}\n",
		"nodes: {}\n",
		"nodes:\n  a:\n    Hangup:\n    next: a\n",
		"nodes:\n  a:\n    Hangup: {}\n    next: a\n",
		"nodes:\n  a:\n    Speak: hi\n    on: {input: a}\n",
		"nodes:\n  a:\n    GetDigits: {action: https://x.com/y}\n",
		"nodes:\n  a:\n    GetDigits: {numDigits: '5'}\n",
		"nodes:\n  a:\n    Play: ftp://example.com/a.mp3\n",
		"nodes:\n  a:\n    Dial: {}\n",
		"nodes:\n  a:\n    MultiPartyCall: room\n",
		"nodes:\n  a:\n    branch: []\n",
		"nodes:\n  a:\n    Speak: hi\n    Play: https://x.com/a.mp3\n",
		"nodes:\n  1a:\n    Speak: hi\n",
		"nodes:\n  a:\n    GetDigits:\n      children:\n        - Dial: {}\n",
		"nodes:\n  a:\n    Speak: hi\n    events: [status]\n",
		"nodes:\n  a:\n    MultiPartyCall: {name: q, role: agent}\n    events: [status, status]\n",
	}
	for _, src := range reject {
		if err := schemaVerdict(s, []byte(src)); err == nil {
			t.Errorf("the schema accepts %q", src)
		}
	}
}
