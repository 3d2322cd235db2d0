// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestCheckAnswerMembers: what checkAnswerMembers refuses in a key
// service's answer, and what it lets through (then read by json.Unmarshal
// and checked as before).
func TestCheckAnswerMembers(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1) }
	for _, tc := range []struct {
		answer, want string // want "" passes
	}{
		{`{}`, ""},
		{" \t\r\n{ } \n", ""},
		{`{"KeyId":"k","KeyMetadata":{"KeyId":"k","Arn":"a"},"Keys":[{"KeyId":"k"},{"KeyId":"k"}]}`, ""},
		{`{"a":"x\"}{,:[","b":"\\","c":"\u0061","d":-1.5e+3,"e":true,"f":false,"g":null,"h":[],"i":[[]]}`, ""},
		{`{"a":1,"A":{"a":1,"b":[1,2,3]}}`, "has the members a and A, which differ only in case"},
		{`{"a":1,"a":2}`, "repeats the member a"},
		{`{"Plaintext":"QUFB","Plaintext":null}`, "repeats the member Plaintext"},
		{`{"Plaintext":"QUFB","Plain\u0074ext":null}`, "repeats the member Plaintext"},
		{`{"plaintext":"QUFB","Plaintext":null}`, "has the members plaintext and Plaintext, which differ only in case"},
		{`{"s":1,"\u017f":2}`, "has the members s and \"\u017f\", which differ only in case"},
		{"{\"\xff\":1,\"\xfe\":2}", "repeats the member \"\ufffd\""},
		{`{"KeyMetadata":{"KeyId":"a","Arn":"b","KeyId":null}}`, "repeats the member KeyMetadata.KeyId"},
		{`{"Keys":[{"KeyId":"a"},{"KeyId":"b","KeyArn":"c","KeyArn":"d"}]}`, "repeats the member Keys[1].KeyArn"},
		{`{"x":[[{"a":1}],[{"b":1,"a":1,"b":2}]]}`, "repeats the member x[1][0].b"},
		{`{"a.b":1,"a.b":2}`, "repeats the member a.b"},
		{`{"a b":1,"a b":2}`, `repeats the member "a b"`},
		{deep(maxAnswerDepth), ""},
		{deep(maxAnswerDepth + 1), "nests deeper than any KMS answer (more than 8 levels)"},
		{`{"a":` + strings.Repeat("[", maxAnswerDepth-1) + strings.Repeat("]", maxAnswerDepth-1) + `}`, ""},
		{`{"a":` + strings.Repeat("[", maxAnswerDepth) + strings.Repeat("]", maxAnswerDepth) + `}`, "nests deeper than any KMS answer (more than 8 levels)"},
		{``, "is not a JSON object"},
		{`null`, "is not a JSON object"},
		{`[]`, "is not a JSON object"},
		{`"{}"`, "is not a JSON object"},
		{`{}x`, "is not a JSON object"},
		{`{"a"}`, "is not a JSON object"},
		{`{"a":}`, "is not a JSON object"},
		{`{"a":1,}`, "is not a JSON object"},
		{`{"a":"x}`, "is not a JSON object"},
		{`{"a":[1,2}`, "is not a JSON object"},
		{"{\"a\x01\":1}", "is not a JSON object"},
	} {
		err := checkAnswerMembers([]byte(tc.answer))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.answer, got, tc.want)
		}
		if tc.want == "is not a JSON object" && !errors.Is(err, errAnswerNotObject) {
			t.Errorf("%q: %v, want errAnswerNotObject", tc.answer, err)
		}
	}
}

// TestCheckAnswerMembersCount: an answer of exactly maxAnswerValues
// members and elements passes; one more is refused, in an object or an
// array, at any depth.
func TestCheckAnswerMembersCount(t *testing.T) {
	members := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"l":[`)
		for i := range n - 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('0')
		}
		b.WriteString(`],"z":{}}`)
		return b.String()
	}
	if err := checkAnswerMembers([]byte(members(maxAnswerValues))); err != nil {
		t.Fatalf("%d members and elements: %v", maxAnswerValues, err)
	}
	want := "has more than " + strconv.Itoa(maxAnswerValues) + " members and array elements (more than a page of 1,000 KMS list entries holds)"
	if err := checkAnswerMembers([]byte(members(maxAnswerValues + 1))); err == nil || err.Error() != want {
		t.Fatalf("%d members and elements: %v, want %q", maxAnswerValues+1, err, want)
	}
}

// refAnswerMembers is checkAnswerMembers's verdict on a valid JSON object
// b, computed with encoding/json's Decoder (which copies every value, so
// the endpoint does not use it): the same checks, in the same order, with
// the same messages.
func refAnswerMembers(b []byte, maxValues int) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	values := 0
	show := func(p string) string {
		if !plainPath(p) {
			return echo(p)
		}
		return p
	}
	deep := answerMembersError("nests deeper than any KMS answer (more than " + strconv.Itoa(maxAnswerDepth) + " levels)")
	var object, array func(path string, depth int) error
	value := func(path string, depth int) error {
		if values++; values > maxValues {
			return answerMembersError("has more than " + strconv.Itoa(maxValues) + " members and array elements (more than a page of 1,000 KMS list entries holds)")
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			if depth+1 > maxAnswerDepth {
				return deep
			}
			return object(path, depth+1)
		case json.Delim('['):
			if depth+1 > maxAnswerDepth {
				return deep
			}
			return array(path, depth+1)
		}
		return nil
	}
	join := func(path, name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	object = func(path string, depth int) error {
		seen := map[string]string{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			name := tok.(string)
			if prior, ok := seen[foldKey(name)]; ok {
				if prior == name {
					return answerMembersError("repeats the member " + show(join(path, name)))
				}
				return answerMembersError("has the members " + show(join(path, prior)) + " and " + show(join(path, name)) + ", which differ only in case")
			}
			seen[foldKey(name)] = name
			if err := value(join(path, name), depth); err != nil {
				return err
			}
		}
		_, err := dec.Token() // '}'
		return err
	}
	array = func(path string, depth int) error {
		for i := 0; dec.More(); i++ {
			if err := value(path+"["+strconv.Itoa(i)+"]", depth); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	if _, err := dec.Token(); err != nil { // '{'
		return err
	}
	return object("", 1)
}

// FuzzCheckAnswerMembers holds checkAnswerMembers to refAnswerMembers on
// every valid JSON object, and to not panicking on anything else (which
// json.Unmarshal then refuses).
func FuzzCheckAnswerMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":2,"C":3}]}}`, `{"Plaintext":"x","Plain\u0074ext":null}`,
		"{\"\xff\":1,\"\xfe\":2}", `{"s":1,"\u017f":2}`, `{"a":"\"}\\","b":[[[[[[[[[]]]]]]]]]}`, `{"a":[0,0,0,0,0,0]}`, `{"a"`, `{"a":"`} {
		f.Add([]byte(s), uint8(5))
	}
	f.Fuzz(func(t *testing.T, b []byte, maxValues uint8) {
		w := &answerWalk{b: b, maxValues: int(maxValues)}
		err := w.answer()
		if !json.Valid(b) || firstByte(b) != '{' {
			return
		}
		ref := refAnswerMembers(b, int(maxValues))
		if (err == nil) != (ref == nil) || err != nil && err.Error() != ref.Error() {
			t.Fatalf("%q (at most %d values): %v; encoding/json's Decoder: %v", b, maxValues, err, ref)
		}
	})
}
