package main

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/flow"
)

// Deployment values of params, as serve and render take them. Highest
// first: --param name=value, the environment variable FLOWD_PARAM_<NAME>
// (upper-cased, - as _), a --params FILE (a YAML mapping of name: value,
// one file per environment), then the flow's default. Each value keeps
// where it came from, so a message names it.

// paramValue is a value given for a param and where it came from.
type paramValue struct {
	value, source string
}

// envParamPrefix starts the environment variables that give params.
const envParamPrefix = "FLOWD_PARAM_"

// envParamName is the environment variable of a param.
func envParamName(name string) string {
	return envParamPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// deployParams gathers the values given for params and checks them
// against the flows they are for: a name no flow declares, a value a
// flow cannot convert to its param's type, and a param with neither a
// value nor a default are errors, each naming the param and where its
// value came from. It returns the values by name, as text (each flow
// converts them: flow.Graph.ResolveParams).
func deployParams(flags []string, file string, environ []string, graphs []*flow.Graph) (map[string]string, []string) {
	var errs []string
	graphs = slices.Clone(graphs)
	slices.SortFunc(graphs, func(a, b *flow.Graph) int { return strings.Compare(a.Name, b.Name) })
	given := map[string]paramValue{}
	declared := map[string]bool{}
	for _, g := range graphs {
		for _, p := range g.Params {
			declared[p.Name] = true
		}
	}
	unknown := func(name, source string) {
		var names []string
		for n := range declared {
			names = append(names, n)
		}
		sort.Strings(names)
		hint := "no flow declares params"
		if len(names) > 0 {
			hint = "the flows declare " + strings.Join(names, ", ")
		}
		errs = append(errs, fmt.Sprintf("%s: param %q is not declared by any flow (%s)", source, name, hint))
	}
	if file != "" {
		fileValues, err := readParamsFile(file)
		if err != nil {
			return nil, []string{err.Error()}
		}
		for _, name := range slices.Sorted(maps.Keys(fileValues)) {
			v := fileValues[name]
			if !declared[name] {
				unknown(name, v.source)
				continue
			}
			given[name] = v
		}
	}
	envNames := map[string]string{} // FLOWD_PARAM_X → x
	for n := range declared {
		envNames[envParamName(n)] = n
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" || !strings.HasPrefix(k, envParamPrefix) {
			// An empty variable is taken as unset (as an env: entry
			// whose value is left blank); --param name= gives "".
			continue
		}
		name, ok := envNames[k]
		if !ok {
			unknown(strings.ToLower(strings.TrimPrefix(k, envParamPrefix)), "environment variable "+k)
			continue
		}
		given[name] = paramValue{v, "environment variable " + k}
	}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Sprintf("--param %q: want name=value", kv))
			continue
		}
		if !declared[k] {
			unknown(k, "--param "+k)
			continue
		}
		given[k] = paramValue{v, "--param " + k}
	}
	values := make(map[string]string, len(given))
	for k, v := range given {
		values[k] = v.value
	}
	for _, g := range graphs {
		_, perrs := g.ResolveParams(values)
		for _, e := range perrs {
			if v, ok := given[e.Param]; ok {
				errs = append(errs, fmt.Sprintf("%s: flow %s param %s: %v", v.source, g.Name, e.Param, e.Err))
			} else {
				errs = append(errs, fmt.Sprintf("flow %s param %s has no default and no value: give it with --param %s=..., %s or a --params file", g.Name, e.Param, e.Param, envParamName(e.Param)))
			}
		}
	}
	return values, errs
}

// readParamsFile reads a --params file: a YAML mapping of param names to
// scalar values.
func readParamsFile(path string) (map[string]paramValue, error) {
	src, err := flow.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--params: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := map[string]paramValue{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d:%d: want a mapping of param names to values (ring_seconds: 20)", path, m.Line, m.Column)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		where := fmt.Sprintf("%s:%d:%d", path, k.Line, k.Column)
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return nil, fmt.Errorf("%s: param %s: want a value such as a string, number or true/false", where, k.Value)
		}
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("%s: param %s is given twice", where, k.Value)
		}
		out[k.Value] = paramValue{v.Value, where}
	}
	return out, nil
}
