// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// IdentityPolicy is an access key's identity policy as written in the file:
// either the IAM policy as YAML (Version, Statement, ...) or its JSON text
// as a string. Text holds the JSON the server parses.
type IdentityPolicy struct {
	Text string
}

// UnmarshalYAML accepts a JSON string or a YAML mapping. Scalars keep their
// written text, except booleans, numbers and null, so that an unquoted
// Version: 2012-10-17 stays that string.
func (p *IdentityPolicy) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		p.Text = n.Value
		return nil
	}
	v, err := yamlToJSON(n, 0)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p.Text = string(b)
	return nil
}

func yamlToJSON(n *yaml.Node, depth int) (any, error) {
	if depth > 16 {
		return nil, fmt.Errorf("line %d: policy nested too deeply", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: empty policy", n.Line)
		}
		return yamlToJSON(n.Content[0], depth+1)
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases are not allowed in a policy", n.Line)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: policy keys must be plain strings", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: %q listed twice", k.Line, k.Value)
			}
			v, err := yamlToJSON(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		a := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlToJSON(c, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	default:
		switch n.Tag {
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int", "!!float":
			return json.Number(n.Value), nil
		case "!!null":
			return nil, nil
		}
		return n.Value, nil
	}
}
