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
	if len(s) <= maxBytes {
		return strconv.Quote(s)
	}
	n := max(maxBytes, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "... (" + strconv.Itoa(len(s)) + " bytes, cut)"
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
