// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
)

// TestKeyAccountErrorHostileAnswer: the key service's answer (the parent's
// to write) supplies KeyAccountError's Got and, through member names, its
// Field. The message quotes them (no raw newline or ANSI escape reaches a
// log line or terminal) and repeats at most maxEchoBytes of each, saying
// that it was cut.
func TestKeyAccountErrorHostileAnswer(t *testing.T) {
	const acct = "111122223333"
	big := strings.Repeat("A", 1<<20)
	hostile := "arn:aws:kms:us-east-1:444455556666:key/x\n\x1b[2J\x1b[31mtrusted\r"
	for _, tc := range []struct {
		name string
		out  map[string]json.RawMessage
	}{
		{"newlines and ANSI in KeyId", map[string]json.RawMessage{"KeyId": mustJSON(t, hostile)}},
		{"1 MiB KeyId", map[string]json.RawMessage{"KeyId": mustJSON(t, big)}},
		{"1 MiB non-string KeyId", map[string]json.RawMessage{"KeyId": json.RawMessage("[" + strings.Repeat("1,", 1<<19) + "1]")}},
		{"hostile member name", map[string]json.RawMessage{
			"KeyId":             mustJSON(t, "arn:aws:kms:us-east-1:"+acct+":key/k"),
			"X\n\x1b[31m" + big: json.RawMessage(`{"KeyArn":"evil"}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAnswerAccount(acct, "Decrypt", map[string]json.RawMessage{}, tc.out)
			var ke *KeyAccountError
			if !errors.As(err, &ke) || !errors.Is(err, ErrKeyAccount) {
				t.Fatalf("got %v, want a KeyAccountError", err)
			}
			msg := err.Error()
			if i := strings.IndexFunc(msg, func(r rune) bool { return unicode.IsControl(r) }); i >= 0 {
				t.Errorf("message has control character %q at %d: %.200q", msg[i], i, msg)
			}
			if len(msg) > 1024 {
				t.Errorf("message is %d bytes, want at most 1024: %.200q", len(msg), msg)
			}
			if (len(ke.Got) > maxEchoBytes || len(ke.Field) > maxEchoBytes) && !strings.Contains(msg, "bytes, cut") {
				t.Errorf("a long value was cut without saying so: %.400q", msg)
			}
		})
	}
}

// TestEcho: short values are quoted whole; long ones are cut at a rune
// boundary to at most maxEchoBytes and marked with their full length.
func TestEcho(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"a\nb", `"a\nb"`},
		{"\x1b[31m", `"\x1b[31m"`},
		{strings.Repeat("a", maxEchoBytes), `"` + strings.Repeat("a", maxEchoBytes) + `"`},
		{strings.Repeat("a", maxEchoBytes+1), `"` + strings.Repeat("a", maxEchoBytes) + `"... (257 bytes, cut)`},
		{strings.Repeat("a", maxEchoBytes-1) + "é", `"` + strings.Repeat("a", maxEchoBytes-1) + `"... (257 bytes, cut)`},
	} {
		if got := echo(tc.in); got != tc.want {
			t.Errorf("echo(%.40q) = %.80q, want %.80q", tc.in, got, tc.want)
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
