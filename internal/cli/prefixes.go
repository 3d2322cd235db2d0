// SPDX-License-Identifier: Apache-2.0

package cli

import "strings"

// TrimPrefixes drops the Go package prefixes (such as "attestation: ")
// from an error's text wherever a wrapped message starts: at the start of
// each line, after ": " and after "(" (a context error wrapping another).
// Several in a row are all dropped; where more than one matches at a
// place, the first listed wins, so list the longer first. Text inside
// double quotes (a value or a server's own words, quoted with %q) is kept
// as it is; a line break ends a quote. Only the text changes: callers
// still match the error itself with errors.Is and errors.As.
func TrimPrefixes(s string, prefixes []string) string {
	var b strings.Builder
	start, quoted, escaped := true, false, false
	for i := 0; i < len(s); {
		if start && !quoted {
			if p := prefixAt(s[i:], prefixes); p != "" {
				i += len(p)
				continue
			}
		}
		c := s[i]
		b.WriteByte(c)
		i++
		start = false
		switch {
		case c == '\n':
			start, quoted, escaped = true, false, false
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(', c == ' ' && i >= 2 && s[i-2] == ':':
			start = true
		}
	}
	return b.String()
}

// prefixAt returns the first of prefixes s starts with, or "".
func prefixAt(s string, prefixes []string) string {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return p
		}
	}
	return ""
}
