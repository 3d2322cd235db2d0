// SPDX-License-Identifier: Apache-2.0

// Package strictyaml decodes a YAML configuration file strictly and says
// what is wrong in the file's terms: the line, the key (as a path such as
// routes[1].connect_timeout) and what was expected, never a Go type or
// field name. It checks the whole document before decoding, so every
// unknown key and every mistyped value is reported at once.
//
// Keys are the struct fields' yaml tags; a field without a tag, or tagged
// "-", is not a key. A type with its own UnmarshalYAML judges its value
// itself.
//
// YAML aliases (*name) are refused wherever a key or value is checked:
// checking the node an alias names again at every alias would let a few
// kilobytes stand for an exponential document.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in the file.
type Error struct {
	// Line is the 1-based line of the offending key or value (0 when
	// unknown).
	Line int
	// Key is the path of the key concerned, e.g. "routes[1].listen"; ""
	// for the document as a whole.
	Key string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists every problem found, in line order.
type Errors []*Error

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the individual errors.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, err := range e {
		out[i] = err
	}
	return out
}

// Decode decodes the single YAML document in data into v (a pointer to a
// struct). An empty document leaves v unchanged. Every problem is an
// *[Error]; several come as [Errors].
func Decode(data []byte, v any) error {
	_, err := DecodeLines(data, v)
	return err
}

// Lines maps the path of every key in a document ("routes[1]",
// "routes[1].listen", "admin") to the line it is on, so that a check made
// after decoding can still name the line.
type Lines map[string]int

// DecodeLines is [Decode], also returning where each key is.
func DecodeLines(data []byte, v any) (Lines, error) {
	lines := Lines{}
	err := decode(data, v, lines)
	return lines, err
}

func decode(data []byte, v any, lines Lines) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return syntaxError(err)
		}
		return &Error{Line: line, Msg: "a second YAML document: a configuration file holds one"}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &Error{Msg: "internal error: decoding into a non-pointer"}
	}
	var errs Errors
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	w := &walker{errs: &errs, lines: lines}
	w.check(root, rv.Type().Elem(), "")
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		if len(errs) == 1 {
			return errs[0]
		}
		return errs
	}
	if err := root.Decode(v); err != nil {
		return syntaxError(err)
	}
	return nil
}

// syntaxError turns a yaml.v3 error ("yaml: line 3: did not find expected
// key") into an *Error.
func syntaxError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		var errs Errors
		for _, m := range te.Errors {
			errs = append(errs, lineError(m))
		}
		if len(errs) == 1 {
			return errs[0]
		}
		return errs
	}
	return lineError(strings.TrimPrefix(err.Error(), "yaml: "))
}

// lineError splits "line N: message" into an *Error.
func lineError(msg string) *Error {
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &Error{Line: line, Msg: "YAML: " + msg}
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// walker checks a document against a type.
type walker struct {
	errs  *Errors
	lines Lines
}

// check walks n against type t, appending what does not fit, and records
// the line of every path.
func (w *walker) check(n *yaml.Node, t reflect.Type, path string) {
	errs := w.errs
	if path != "" {
		if _, seen := w.lines[path]; !seen {
			w.lines[path] = n.Line
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(format string, args ...any) {
		*errs = append(*errs, &Error{Line: n.Line, Key: path, Msg: fmt.Sprintf(format, args...)})
	}
	if n.Kind == yaml.AliasNode {
		// Refused, not followed: checking the aliased node again at
		// every alias made a small file cost time and errors without
		// bound (aliases of aliases, each naming many keys).
		bad("%s", aliasMsg(n))
		return
	}
	if isNull(n) {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		// The type decodes itself: let it judge its node, and word its
		// own error.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			var te *yaml.TypeError
			if errors.As(err, &te) {
				msg = strings.Join(te.Errors, "; ")
			}
			bad("%s", msg)
		}
		return
	}
	if t == durationType {
		var d time.Duration
		if n.Kind != yaml.ScalarNode || n.Decode(&d) != nil {
			bad("want a duration such as 500ms, 30s or 5m, not %s", show(n))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("want a mapping of keys, not %s", show(n))
			return
		}
		fields := keysOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				*errs = append(*errs, &Error{Line: k.Line, Key: path, Msg: aliasMsg(k)})
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", k.Value)
				if s := closest(k.Value, fields); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				*errs = append(*errs, &Error{Line: k.Line, Key: path, Msg: msg})
				continue
			}
			w.lines[join(path, k.Value)] = k.Line
			w.check(val, ft, join(path, k.Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			bad("want a list, not %s", show(n))
			return
		}
		for i, e := range n.Content {
			w.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad("want a mapping, not %s", show(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.AliasNode {
				*errs = append(*errs, &Error{Line: k.Line, Key: path, Msg: aliasMsg(k)})
				continue
			}
			w.lines[join(path, n.Content[i].Value)] = n.Content[i].Line
			w.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			bad("want a string, not %s", show(n))
		}
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			bad("want true or false, not %s", show(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// yaml.v3 truncates a float into an integer field (1.5 to 1,
		// 1e6 to 1000000): only an integer scalar is one.
		v := reflect.New(t)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(v.Interface()) != nil {
			bad("want a whole number%s, not %s", rangeOf(t), show(n))
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || n.Decode(&f) != nil {
			bad("want a number, not %s", show(n))
		}
	}
}

// aliasMsg refuses the alias n.
func aliasMsg(n *yaml.Node) string {
	return fmt.Sprintf("YAML aliases (*%s) are not allowed in a configuration file; write the value out", n.Value)
}

func rangeOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf(" from 0 to %d", uint64(1)<<(t.Bits())-1)
	}
	return ""
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// showMax is the longest scalar a message quotes whole; of a longer one
// it quotes the first showPrefix characters only.
const (
	showMax    = 16
	showPrefix = 8
)

// show describes a node for a message: a scalar quoted, else its kind.
// Configuration files hold secrets, and a value in the wrong place (a
// database URL on the line of max_conns) is quoted in an error that goes
// to logs: a connection string with a password is not quoted at all, and
// a long value only by its start (a 40-character secret by 8).
func show(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		v := n.Value
		if hasPassword(v) {
			return "a connection string with a password (not shown)"
		}
		if r := []rune(v); len(r) > showMax {
			return fmt.Sprintf("%q… (%d characters)", string(r[:showPrefix]), len(r))
		}
		return fmt.Sprintf("%q", v)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "this value"
}

// hasPassword reports whether v looks like a connection string carrying
// a password: a URL with user:password@, or password= settings.
func hasPassword(v string) bool {
	if strings.Contains(strings.ToLower(v), "password=") {
		return true
	}
	_, rest, ok := strings.Cut(v, "://")
	if !ok {
		return false
	}
	auth, _, _ := strings.Cut(rest, "/")
	userinfo, _, ok := strings.Cut(auth, "@")
	return ok && strings.Contains(userinfo, ":")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keysOf maps the yaml keys of struct t to their field types, following
// ",inline" fields.
func keysOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range keysOf(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// closest returns the known key nearest to k (edit distance at most 2, or
// k with the underscores or case changed), or "".
func closest(k string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	for name := range fields {
		d := distance(k, name)
		if norm(k) == norm(name) {
			d = 0
		}
		if d < bestD || d == bestD && name < best {
			best, bestD = name, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
