package cliconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile decodes the YAML file path into target (a pointer to a struct holding the defaults):
// keys present in the file replace the defaults, nested sections merge key by key, keys absent
// keep them. An empty file changes nothing. Unknown keys and values of the wrong type are errors
// of the form "FILE:LINE: key crawl.per_hots: unknown key".
func LoadFile(path string, target any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := Decode(data, target); err != nil {
		return prefixLines(path, err)
	}
	return nil
}

// Decode is LoadFile for YAML in memory; its errors start with "LINE: " instead of "FILE:LINE: ".
func Decode(data []byte, target any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return syntaxError(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 { // empty file, or only comments
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%d: the file must be a mapping of keys to values", root.Line)
	}
	// The text is decoded again, strictly (yaml.Node.Decode cannot refuse unknown keys); the node
	// only serves to name the keys in the messages.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(target)
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(err)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		errs = append(errs, describe(root, msg))
	}
	return errors.Join(errs...)
}

var (
	lineRe    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// describe turns one of yaml's "line N: ..." messages into "N: key a.b: ...", naming the key by
// its path from the top of the file.
func describe(root *yaml.Node, msg string) error {
	m := lineRe.FindStringSubmatch(msg)
	if m == nil {
		return errors.New(msg)
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	name := ""
	if u := unknownRe.FindStringSubmatch(text); u != nil {
		name, text = u[1], "unknown key"
	}
	if path := keyPath(root, line, name, ""); path != "" {
		return fmt.Errorf("%d: key %s: %s", line, path, text)
	}
	return fmt.Errorf("%d: %s", line, text)
}

// keyPath returns the dotted path of the key on line (of that name, when name is given; the
// innermost one when a flow mapping puts several on one line), or "".
func keyPath(n *yaml.Node, line int, name, prefix string) string {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			if p := keyPath(v, line, name, path); p != "" {
				return p
			}
			if k.Line == line && (name == "" || k.Value == name) || name == "" && v.Kind == yaml.ScalarNode && v.Line == line {
				return path
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if p := keyPath(c, line, name, prefix); p != "" {
				return p
			}
			if name == "" && c.Line == line {
				return prefix
			}
		}
	}
	return ""
}

// syntaxError rewrites "yaml: line N: msg" as "N: msg".
func syntaxError(err error) error {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRe.FindStringSubmatch(s); m != nil {
		return fmt.Errorf("%s: %s", m[1], m[2])
	}
	return errors.New(s)
}

// prefixLines puts "path:" before every line of err ("path: " when a line has no number).
func prefixLines(path string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if len(l) > 0 && l[0] >= '0' && l[0] <= '9' {
			lines[i] = path + ":" + l
		} else {
			lines[i] = path + ": " + l
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}
