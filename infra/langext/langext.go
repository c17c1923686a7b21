// Package langext expands Fn::ForEach, the loop of CloudFormation's
// AWS::LanguageExtensions transform, in a template's Resources: what
// CloudFormation does before SAM's transform runs, so the template
// checker (infra) and the local stack (localstack) read the resources a
// deployment gets. Only the loops telcolake uses are supported: in
// Resources, not nested, over a literal list or !Ref of a
// CommaDelimitedList parameter.
package langext

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Prefix starts the key of a loop in Resources: Fn::ForEach::<Name>.
const Prefix = "Fn::ForEach::"

// Expand replaces every loop in the Resources of root (a template's
// top-level mapping) by its copies, one per value of its collection:
// ${Id} in keys and strings and !Ref Id become the value. A parameter the
// collection names takes its value from params, else its Default. It
// returns the logical ids it made, each with its loop's name.
func Expand(root *yaml.Node, params map[string]string) (map[string]string, error) {
	made := map[string]string{}
	res := get(root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return made, nil
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(res.Content); i += 2 {
		key, val := res.Content[i], res.Content[i+1]
		name, loop := strings.CutPrefix(key.Value, Prefix)
		if !loop {
			out = append(out, key, val)
			continue
		}
		if val.Kind != yaml.SequenceNode || len(val.Content) != 3 || val.Content[0].Kind != yaml.ScalarNode || val.Content[2].Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: %s: want [identifier, collection, {logical id with ${identifier}: resource}]", key.Line, key.Value)
		}
		id := val.Content[0].Value
		values, err := collection(root, val.Content[1], params)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", key.Line, key.Value, err)
		}
		tpl := val.Content[2]
		for j := 0; j+1 < len(tpl.Content); j += 2 {
			if !strings.Contains(tpl.Content[j].Value, "${"+id+"}") {
				return nil, fmt.Errorf("line %d: %s: logical id %s does not contain ${%s}", tpl.Content[j].Line, key.Value, tpl.Content[j].Value, id)
			}
		}
		for _, v := range values {
			for j := 0; j+1 < len(tpl.Content); j += 2 {
				k, r := subst(tpl.Content[j], id, v), subst(tpl.Content[j+1], id, v)
				if err := noLoop(r); err != nil {
					return nil, fmt.Errorf("%s: %w", key.Value, err)
				}
				made[k.Value] = name
				out = append(out, k, r)
			}
		}
	}
	res.Content = out
	return made, nil
}

// collection is a loop's values.
func collection(root, n *yaml.Node, params map[string]string) ([]string, error) {
	if n.Kind == yaml.SequenceNode && n.Tag != "!Ref" {
		var vs []string
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("a collection's values must be literals")
			}
			vs = append(vs, e.Value)
		}
		return vs, nil
	}
	ref := ""
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!Ref":
		ref = n.Value
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Ref":
		ref = n.Content[1].Value
	default:
		return nil, fmt.Errorf("the collection should be a list or !Ref of a CommaDelimitedList parameter")
	}
	p := get(get(root, "Parameters"), ref)
	if p == nil || get(p, "Type") == nil || get(p, "Type").Value != "CommaDelimitedList" {
		return nil, fmt.Errorf("the collection !Ref %s is not a CommaDelimitedList parameter", ref)
	}
	v, ok := params[ref]
	if !ok {
		d := get(p, "Default")
		if d == nil {
			return nil, fmt.Errorf("parameter %s has no value and no Default", ref)
		}
		v = d.Value
	}
	var vs []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			return nil, fmt.Errorf("parameter %s=%q has an empty value", ref, v)
		}
		vs = append(vs, s)
	}
	return vs, nil
}

// subst is a deep copy of n with id replaced by v.
func subst(n *yaml.Node, id, v string) *yaml.Node {
	c := *n
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!Ref" && n.Value == id {
			c.Tag, c.Value, c.Style = "!!str", v, yaml.DoubleQuotedStyle
			return &c
		}
		c.Value = strings.ReplaceAll(n.Value, "${"+id+"}", v)
		return &c
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Ref" && n.Content[1].Value == id {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle, Line: n.Line, Column: n.Column}
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		c.Content[i] = subst(e, id, v)
	}
	return &c
}

// noLoop refuses a loop inside a loop's resource.
func noLoop(n *yaml.Node) error {
	for i, e := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && strings.HasPrefix(e.Value, Prefix) {
			return fmt.Errorf("line %d: %s inside a loop is not supported", e.Line, e.Value)
		}
		if err := noLoop(e); err != nil {
			return err
		}
	}
	return nil
}

func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
