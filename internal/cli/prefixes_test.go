// SPDX-License-Identifier: Apache-2.0

package cli

import "testing"

// TestTrimPrefixes: prefixes go wherever a wrapped message starts (a
// line, after ": ", after "("), several in a row, the first listed when
// more than one matches; quoted text and prefixes elsewhere stay.
func TestTrimPrefixes(t *testing.T) {
	prefixes := []string{"lib: invalid configuration: ", "lib: ", "other: "}
	for in, want := range map[string]string{
		"lib: reading: unexpected EOF":                           "reading: unexpected EOF",
		"context deadline exceeded (lib: reading: i/o timeout)":  "context deadline exceeded (reading: i/o timeout)",
		"lib: the document: other: nonce mismatch":               "the document: nonce mismatch",
		"lib: other: two in a row":                               "two in a row",
		"lib: invalid configuration: listen: bad":                "listen: bad",
		"lib: invalid configuration: a\nlib: b\n--x y: other: c": "a\nb\n--x y: c",
		`lib: failed: HTTP 500: "lib: down \" other: x"`:         `failed: HTTP 500: "lib: down \" other: x"`,
		`key "lib: x": lib: bad`:                                 `key "lib: x": bad`,
		"path \"odd: lib: kept\nlib: a quote ends with its line": "path \"odd: lib: kept\na quote ends with its line",
		"dial tcp 127.0.0.1:1: connect: connection refused":      "dial tcp 127.0.0.1:1: connect: connection refused",
		"mylib: not a prefix here, nor xlib: here, nor lib:x":    "mylib: not a prefix here, nor xlib: here, nor lib:x",
		"": "",
	} {
		if got := TrimPrefixes(in, prefixes); got != want {
			t.Errorf("TrimPrefixes(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}
