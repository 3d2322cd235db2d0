// SPDX-License-Identifier: Apache-2.0

package quote

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// String quotes s (strconv.Quote) and repeats at most maxBytes of it, cut
// at a rune boundary and followed by `... (N bytes, cut)`, N being the
// length of s. maxBytes below 1 repeats none of it.
func String(s string, maxBytes int) string {
	p, note := Cut(s, maxBytes)
	return strconv.Quote(p) + note
}

// Cut returns at most maxBytes of s, cut at a rune boundary, and the note
// that says so, `... (N bytes, cut)` (N the length of s), or "" when s is
// whole. maxBytes below 1 keeps none of it.
func Cut(s string, maxBytes int) (prefix, note string) {
	if len(s) <= maxBytes {
		return s, ""
	}
	n := max(maxBytes, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], "... (" + strconv.Itoa(len(s)) + " bytes, cut)"
}

// List shows at most maxValues of vals, each as [String] with maxBytes,
// separated by ", ", followed by " and K more" when K were left out.
func List(vals []string, maxValues, maxBytes int) string {
	var b strings.Builder
	for i, v := range vals {
		if i == maxValues {
			b.WriteString(" and ")
			b.WriteString(strconv.Itoa(len(vals) - i))
			b.WriteString(" more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(String(v, maxBytes))
	}
	return b.String()
}
