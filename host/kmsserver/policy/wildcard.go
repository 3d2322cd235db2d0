// SPDX-License-Identifier: Apache-2.0

package policy

import "unicode/utf8"

// wildcardMatch reports whether s matches pattern, where '*' matches any
// sequence of characters (including none) and '?' exactly one character, as
// in IAM's Action, Resource and StringLike matching. The comparison is
// case-sensitive; callers lower-case both sides for case-insensitive
// matching. It runs in O(len(pattern)*len(s)) time without recursion, one
// unit of *budget per step; when the budget runs out (*budget < 0) it returns
// false and the caller must fail closed.
func wildcardMatch(pattern, s string, budget *int) bool {
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if *budget--; *budget < 0 {
			return false
		}
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		// Mismatch: let the last star absorb one more character.
		if starPx >= 0 && starSx < len(s) {
			_, n := utf8.DecodeRuneInString(s[starSx:])
			starSx += n
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}
