// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocListsEveryOperation: the "# Operations" list of doc.go names every
// operation of the route table, each under a file that exists, and nothing
// else.
func TestDocListsEveryOperation(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, "// # Operations"), strings.Index(doc, "// # Layout")
	if i < 0 || j < i {
		t.Fatal("doc.go has no # Operations section before # Layout")
	}
	item := regexp.MustCompile(`^//   - (op_[a-z]+\.go): (.*)$`)
	opName := regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	var listed []string
	var cur string
	for _, line := range strings.Split(doc[i:j], "\n") {
		text := ""
		if m := item.FindStringSubmatch(line); m != nil {
			cur = m[1]
			if _, err := os.Stat(cur); err != nil {
				t.Errorf("doc.go names %s, which does not exist", cur)
			}
			text = m[2]
		} else if rest, ok := strings.CutPrefix(line, "//     "); ok && cur != "" {
			text = rest
		}
		if strings.Contains(text, "(") { // a remark in parentheses ends the names
			text = text[:strings.Index(text, "(")]
		}
		for _, f := range strings.Split(text, ",") {
			if f = strings.TrimSpace(f); opName.MatchString(f) {
				listed = append(listed, f)
			}
		}
	}
	var routed []string
	for name := range (&Server{}).operations() {
		routed = append(routed, name)
	}
	slices.Sort(listed)
	slices.Sort(routed)
	if !slices.Equal(listed, routed) {
		t.Errorf("doc.go lists %v\nroute table has %v", listed, routed)
	}
}
