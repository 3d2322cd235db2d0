// SPDX-License-Identifier: Apache-2.0

package quote

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"", 4, `""`},
		{"abcd", 4, `"abcd"`},
		{"abcde", 4, `"abcd"... (5 bytes, cut)`},
		{"abcé", 4, `"abc"... (5 bytes, cut)`}, // é is 2 bytes: not split
		{"a\nb\x1b[31m", 64, `"a\nb\x1b[31m"`},
		{"\xff\xfe", 64, `"\xff\xfe"`},
		{"abc", 0, `""... (3 bytes, cut)`},
		{"abc", -1, `""... (3 bytes, cut)`},
	} {
		if got := String(tc.in, tc.max); got != tc.want {
			t.Errorf("String(%q, %d) = %s, want %s", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	vals := []string{"a", "b\n", strings.Repeat("x", 10), "d"}
	if got, want := List(vals, 3, 4), `"a", "b\n", "xxxx"... (10 bytes, cut) and 1 more`; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	if got := List(nil, 3, 4); got != "" {
		t.Errorf("List(nil) = %q", got)
	}
	if got, want := List(vals[:2], 2, 4), `"a", "b\n"`; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
}

// FuzzString holds String to its promises on any input: the result is one
// valid quoted Go string (plus the cut note), it repeats a prefix of s no
// longer than maxBytes, and it has no raw newline.
func FuzzString(f *testing.F) {
	f.Add("abcé", 4)
	f.Add("\xff\n\x1b", 1)
	f.Fuzz(func(t *testing.T, s string, maxBytes int) {
		maxBytes %= 1024
		got := String(s, maxBytes)
		if strings.ContainsAny(got, "\n\r") {
			t.Fatalf("raw newline in %q", got)
		}
		q, rest, _ := strings.Cut(got, `"... (`)
		if rest != "" {
			q += `"`
			if rest != strconv.Itoa(len(s))+" bytes, cut)" {
				t.Fatalf("cut note %q for %d bytes", rest, len(s))
			}
		}
		u, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("not one quoted string: %s: %v", got, err)
		}
		if !strings.HasPrefix(s, u) || (rest != "" && len(u) > max(maxBytes, 0)) || (rest == "" && u != s) {
			t.Fatalf("String(%q, %d) = %s", s, maxBytes, got)
		}
		if rest != "" && utf8.ValidString(s) && !utf8.ValidString(u) {
			t.Fatalf("cut inside a rune: %s", got)
		}
	})
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in, prefix, note string
		max              int
	}{
		{"abc", "abc", "", 3},
		{"abcé", "abc", "... (5 bytes, cut)", 4},
		{"abc", "", "... (3 bytes, cut)", -1},
	} {
		if p, n := Cut(tc.in, tc.max); p != tc.prefix || n != tc.note {
			t.Errorf("Cut(%q, %d) = %q, %q; want %q, %q", tc.in, tc.max, p, n, tc.prefix, tc.note)
		}
	}
}

func TestControls(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"i-0123-enc0123", "i-0123-enc0123"},
		{`back\slash "quoted" é ∑`, `back\slash "quoted" é ∑`},
		{"a\nb\tc\x00", `a\nb\tc\x00`},
		{"\x1b[2J\x1b]0;t\x07", `\x1b[2J\x1b]0;t\a`},
		{"del\x7f", `del\x7f`},
		{"c1\u0080\u009b31m\u009f\u00a0", `c1\u0080\u009b31m\u009f` + "\u00a0"},
		{"bad\xff\xc2", `bad\xff\xc2`},
		{"\xc2\x9b", `\u009b`},
	} {
		got := Controls(tc.in)
		if got != tc.want {
			t.Errorf("Controls(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, r := range got {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
				t.Errorf("Controls(%q) = %q keeps %U", tc.in, got, r)
			}
		}
		if !utf8.ValidString(got) {
			t.Errorf("Controls(%q) = %q is not UTF-8", tc.in, got)
		}
	}
	s := "plain text"
	if got := Controls(s); strconv.Quote(got) != strconv.Quote(s) {
		t.Errorf("plain text changed: %q", got)
	}
}

// TestControlsBidi: the bidirectional formatting characters (U+202E
// RIGHT-TO-LEFT OVERRIDE and its kin) reorder what a terminal shows, so
// that a module_id or certificate subject could display as another
// ("Trojan Source", CVE-2021-42574); U+2028 and U+2029 break the line in
// some viewers. They are escaped like the controls.
func TestControlsBidi(t *testing.T) {
	for in, want := range map[string]string{
		"i-0abc\u202edcba":         `i-0abc\u202edcba`,
		"\u2066x\u2069":            `\u2066x\u2069`,
		"a\u200eb\u200fc\u061cd":   `a\u200eb\u200fc\u061cd`,
		"\u202a\u202b\u202c\u202d": `\u202a\u202b\u202c\u202d`,
		"line\u2028two\u2029":      `line\u2028two\u2029`,
		"café ünïcödé":             "café ünïcödé",
	} {
		if got := Controls(in); got != want {
			t.Errorf("Controls(%+q) = %q, want %q", in, got, want)
		}
	}
}
