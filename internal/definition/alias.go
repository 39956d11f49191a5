package definition

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// MaxExpandedNodes bounds the size of a definition once its YAML aliases
// are expanded, so a few nested anchors cannot grow a small document into
// a huge one (the "billion laughs").
const MaxExpandedNodes = 100_000

var errTooManyNodes = fmt.Errorf("the definition has too many YAML nodes (more than %d, aliases expanded)", MaxExpandedNodes)

// expandAliases returns a copy of n in which every alias is replaced by a
// copy of its anchored node and every merge key ("<<: *base") by the pairs
// it merges, keys written beside it winning. It fails once the copy would
// hold more than MaxExpandedNodes nodes.
func expandAliases(n *yaml.Node) (*yaml.Node, error) {
	x := &aliasExpander{budget: MaxExpandedNodes}
	return x.node(n, 0)
}

type aliasExpander struct {
	budget int
}

// maxAliasDepth stops an alias that refers to a node containing itself.
const maxAliasDepth = 100

func (x *aliasExpander) node(n *yaml.Node, depth int) (*yaml.Node, error) {
	if x.budget--; x.budget < 0 {
		return nil, errTooManyNodes
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || depth > maxAliasDepth {
			return nil, errors.New("an alias refers to itself or to an unknown anchor")
		}
		return x.node(n.Alias, depth+1)
	}
	out := *n
	out.Anchor = ""
	out.Content = nil
	if n.Kind == yaml.MappingNode {
		return x.mapping(n, &out, depth)
	}
	for _, c := range n.Content {
		cc, err := x.node(c, depth)
		if err != nil {
			return nil, err
		}
		out.Content = append(out.Content, cc)
	}
	return &out, nil
}

// mapping copies a mapping, applying merge keys: pairs written in the
// mapping win over merged ones, and earlier merged mappings over later ones.
func (x *aliasExpander) mapping(n, out *yaml.Node, depth int) (*yaml.Node, error) {
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			src, err := x.node(v, depth)
			if err != nil {
				return nil, err
			}
			sources := []*yaml.Node{src}
			if src.Kind == yaml.SequenceNode {
				sources = src.Content
			}
			for _, s := range sources {
				if s.Kind != yaml.MappingNode {
					return nil, errors.New("a merge key (<<) must refer to a mapping or a list of mappings")
				}
				merged = append(merged, s.Content...)
			}
			continue
		}
		kc, err := x.node(k, depth)
		if err != nil {
			return nil, err
		}
		vc, err := x.node(v, depth)
		if err != nil {
			return nil, err
		}
		out.Content = append(out.Content, kc, vc)
	}
	if len(merged) == 0 {
		return out, nil
	}
	// A set, not a scan of the pairs per merged key: a merge of tens of
	// thousands of keys, within the node budget, would take seconds.
	keys := make(map[string]bool, (len(out.Content)+len(merged))/2)
	for i := 0; i+1 < len(out.Content); i += 2 {
		keys[out.Content[i].Value] = true
	}
	for i := 0; i+1 < len(merged); i += 2 {
		if k := merged[i].Value; !keys[k] {
			keys[k] = true
			out.Content = append(out.Content, merged[i], merged[i+1])
		}
	}
	return out, nil
}
