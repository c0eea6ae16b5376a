package flow

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Params are a flow's deployment values, declared under params:. A
// param's type is its default's YAML type (string, integer, float,
// boolean; a param without a default is a string): a value given when
// flowd starts — --param, FLOWD_PARAM_<NAME>, a --params file, a test
// case — is text, converted to that type by Convert, so expressions see
// params.ring_seconds as a number. A secret param (secret: true) is never
// written anywhere; the checker allows reading it only in when:
// conditions.

// ParamType is the type of a param's values.
type ParamType uint8

// The param types.
const (
	ParamString ParamType = iota
	ParamInt
	ParamFloat
	ParamBool
)

var paramTypeNames = [...]string{ParamString: "string", ParamInt: "integer", ParamFloat: "float", ParamBool: "boolean"}

func (t ParamType) String() string { return paramTypeNames[t] }

// paramType is the type of a default written with YAML tag tag.
func paramType(tag string) ParamType {
	switch tag {
	case "!!int":
		return ParamInt
	case "!!float":
		return ParamFloat
	case "!!bool":
		return ParamBool
	}
	return ParamString
}

// Convert reads a value given as text as the param's type. The error
// shows the value only when the param is not secret.
func (p *ParamDecl) Convert(s string) (any, error) {
	shown, def := p.Shown(s), p.Shown(p.Default)
	switch p.Type {
	case ParamInt:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v != int64(int(v)) {
			return nil, fmt.Errorf("want an integer (the type of its default, %s), not %q", def, shown)
		}
		return int(v), nil
	case ParamFloat:
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("want a number (the type of its default, %s), not %q", def, shown)
		}
		return v, nil
	case ParamBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("want true or false (the type of its default, %s), not %q", def, shown)
	}
	return s, nil
}

// Shown returns how a value of the param may be shown: "<secret>" for a
// secret, else the value.
func (p *ParamDecl) Shown(v string) string {
	if p.Secret {
		return "<secret>"
	}
	return v
}

// ParamError is a param whose value cannot be used: of the wrong type, or
// missing.
type ParamError struct {
	Flow, Param string
	Err         error
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("flow %s param %s: %v", e.Flow, e.Param, e.Err)
}

// ResolveParams returns the flow's params for its calls: each declared
// param's value from values (text, converted to its type) or else its
// default. Names the flow does not declare are left out (a caller that
// takes values for several flows checks them). A declared param with
// neither a value nor a default, or a value of the wrong type, is an
// error, every one reported.
func (g *Graph) ResolveParams(values map[string]string) (map[string]any, []*ParamError) {
	out := make(map[string]any, len(g.Params))
	var errs []*ParamError
	for i := range g.Params {
		p := &g.Params[i]
		raw, ok := values[p.Name]
		switch {
		case ok:
			v, err := p.Convert(raw)
			if err != nil {
				errs = append(errs, &ParamError{Flow: g.Name, Param: p.Name, Err: err})
				continue
			}
			out[p.Name] = v
		case p.HasDefault:
			out[p.Name] = p.value
		default:
			errs = append(errs, &ParamError{Flow: g.Name, Param: p.Name, Err: fmt.Errorf("has no default and no value was given")})
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Param < errs[j].Param })
	return out, errs
}
