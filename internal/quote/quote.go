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

// Controls returns s with what a terminal could act on written as Go
// escapes: C0 control characters (\n, \t, \x1b, ...), DEL (\x7f), C1
// control characters (U+0080-U+009F, as \u009b), bytes of invalid UTF-8
// (\xff), and the bidirectional formatting characters and line
// separators that reorder or break what is shown (\u202e; see
// isControl); everything else, backslashes included, is repeated as is. It is
// for text shown to people (a value within a line they read), not a
// reversible quoting: use [String] where the value must be told apart
// from the text around it.
func Controls(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isControl(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[s[i]>>4])
			b.WriteByte(hexDigits[s[i]&0xf])
		case isControl(r, n):
			q := strconv.QuoteRune(r) // '\x1b', '\n', '\u009b'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

// isControl reports whether the rune r, n bytes long in its string, is a
// C0 or C1 control character, DEL, a byte of invalid UTF-8, a
// bidirectional formatting character (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069: they reorder what a terminal shows,
// CVE-2021-42574) or a line or paragraph separator (U+2028, U+2029).
func isControl(r rune, n int) bool {
	return IsControl(r) || (r == utf8.RuneError && n == 1)
}

// IsControl reports whether r is a rune [Controls] escapes: a C0 or C1
// control character, DEL, a bidirectional formatting character or a line
// or paragraph separator.
func IsControl(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x2028 && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
