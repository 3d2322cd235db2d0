// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// maxAnswerValues bounds the members and array elements of a key
// service's answer, at every depth, that the local KMS endpoint reads. The
// largest KMS answers are pages of 1,000 entries (ListKeys, ListAliases,
// ListKeyRotations, ListRetirableGrants: 3 to about 30 members and elements
// an entry); a key service's answer of 1 MiB could otherwise hold 150,000
// one-character members, each of which costs the endpoint its own map
// entries and copies as it checks the answer.
const maxAnswerValues = 1 << 15

// errAnswerNotObject is returned by [checkAnswerMembers] for an answer that
// is not a JSON object (or not JSON).
var errAnswerNotObject = errors.New("is not a JSON object")

// answerMembersError is why [checkAnswerMembers] refused an answer, as
// the end of a sentence starting "the key service's answer to Op".
type answerMembersError string

func (e answerMembersError) Error() string { return string(e) }

// checkAnswerMembers reads a key service's answer, b, as the local KMS
// endpoint must before it checks anything in it, and refuses it when:
//
//   - it is not a JSON object ([errAnswerNotObject]; the walk does not
//     check all of JSON's grammar: json.Unmarshal, which the endpoint
//     calls next, does);
//   - an object in it, at any depth, names a member twice, or names two
//     that differ only in case (strings.EqualFold, through [foldKey]),
//     after decoding the names' escapes as encoding/json does
//     ("Plain\u0074ext" is Plaintext). encoding/json keeps the last
//     value of a repeated name, and the endpoint checks what it keeps, but
//     relays the answer's bytes: a decoder that keeps the first value, or
//     the last that is not null (aws-sdk-go-v2), or matches names
//     regardless of case, would take a value the endpoint never checked
//     ({"Plaintext":"<key>","Plaintext":null});
//   - it nests deeper than maxAnswerDepth;
//   - it has more than maxAnswerValues members and array elements.
//
// It walks b's bytes in place: no value is copied (a refused answer may
// carry a data key in the clear, which the endpoint clears from b), only
// member names are.
func checkAnswerMembers(b []byte) error {
	return (&answerWalk{b: b, maxValues: maxAnswerValues}).answer()
}

// answer reads w.b, an answer, for [checkAnswerMembers].
func (w *answerWalk) answer() error {
	w.space()
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return errAnswerNotObject
	}
	if err := w.object(1); err != nil {
		return err
	}
	if w.space(); w.i != len(w.b) {
		return errAnswerNotObject
	}
	return nil
}

// answerWalk is the state of [checkAnswerMembers]: the answer, the offset
// reached, the values counted, and the path from the top to the value
// being read (for messages).
type answerWalk struct {
	b         []byte
	i         int
	values    int
	maxValues int
	path      []pathStep
}

// pathStep is a member's name, or an array's index when index >= 0.
type pathStep struct {
	name  string
	index int
}

// at returns the path to a member of the current object named name, as
// [KeyAccountError] names fields (KeyMetadata.Arn, Keys[1].KeyArn): as it
// is when [plainPath] allows, else quoted.
func (w *answerWalk) at(name string) string {
	var p strings.Builder
	for _, s := range append(w.path[:len(w.path):len(w.path)], pathStep{name: name, index: -1}) {
		switch {
		case s.index >= 0:
			p.WriteString("[" + strconv.Itoa(s.index) + "]")
		case p.Len() > 0:
			p.WriteString("." + s.name)
		default:
			p.WriteString(s.name)
		}
	}
	if !plainPath(p.String()) {
		return echo(p.String())
	}
	return p.String()
}

// object reads the object at w.i, depth levels down (the answer itself is
// depth 1; [answerWalk.value] bounds the depth).
func (w *answerWalk) object(depth int) error {
	w.i++ // '{'
	if w.space(); w.next('}') {
		return nil
	}
	// The first name's fold key, and a map of all of them from the
	// second name on: most objects of an answer have a handful of members
	// or one (the entries of a list).
	var firstKey, firstName string
	var seen map[string]string // fold key -> name
	for n := 0; ; n++ {
		name, ok := w.name()
		if !ok {
			return errAnswerNotObject
		}
		k := foldKey(name)
		if n == 0 {
			firstKey, firstName = k, name
		} else {
			if seen == nil {
				seen = map[string]string{firstKey: firstName}
			}
			if prior, ok := seen[k]; ok {
				if prior == name {
					return answerMembersError("repeats the member " + w.at(name))
				}
				return answerMembersError("has the members " + w.at(prior) + " and " + w.at(name) + ", which differ only in case")
			}
			seen[k] = name
		}
		if w.space(); !w.next(':') {
			return errAnswerNotObject
		}
		w.path = append(w.path, pathStep{name: name, index: -1})
		if err := w.value(depth); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.space()
		switch {
		case w.next(','):
			w.space()
		case w.next('}'):
			return nil
		default:
			return errAnswerNotObject
		}
	}
}

// array reads the array at w.i, depth levels down ([answerWalk.value]
// bounds the depth).
func (w *answerWalk) array(depth int) error {
	w.i++ // '['
	if w.space(); w.next(']') {
		return nil
	}
	for n := 0; ; n++ {
		w.path = append(w.path, pathStep{index: n})
		if err := w.value(depth); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.space()
		switch {
		case w.next(','):
		case w.next(']'):
			return nil
		default:
			return errAnswerNotObject
		}
	}
}

// value reads the value at w.i (after white space), a member of an object
// or an element of an array depth levels down, and counts it. An object or
// array in it is depth+1 levels down, at most maxAnswerDepth: the one
// check of the depth (the answer itself, depth 1, is within it).
func (w *answerWalk) value(depth int) error {
	if w.values++; w.values > w.maxValues {
		return answerMembersError("has more than " + strconv.Itoa(w.maxValues) + " members and array elements (more than a page of 1,000 KMS list entries holds)")
	}
	if w.space(); w.i >= len(w.b) {
		return errAnswerNotObject
	}
	switch c := w.b[w.i]; c {
	case '{', '[':
		if depth+1 > maxAnswerDepth {
			return answerMembersError("nests deeper than any KMS answer (more than " + strconv.Itoa(maxAnswerDepth) + " levels)")
		}
		if c == '{' {
			return w.object(depth + 1)
		}
		return w.array(depth + 1)
	case '"':
		if !w.skipString() {
			return errAnswerNotObject
		}
		return nil
	}
	// A number, true, false or null: up to the next delimiter.
	start := w.i
	for w.i < len(w.b) && !strings.ContainsRune(",:{}[]\" \t\r\n", rune(w.b[w.i])) {
		w.i++
	}
	if w.i == start {
		return errAnswerNotObject
	}
	return nil
}

// name reads the member name at w.i and returns it decoded as
// encoding/json decodes it (escapes, and invalid UTF-8 as U+FFFD).
func (w *answerWalk) name() (string, bool) {
	start := w.i
	if w.i >= len(w.b) || w.b[w.i] != '"' || !w.skipString() {
		return "", false
	}
	raw := w.b[start:w.i]
	plain := true
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// skipString moves w.i past the string at w.i, reporting false if it does
// not end.
func (w *answerWalk) skipString() bool {
	for w.i++; w.i < len(w.b); w.i++ {
		switch w.b[w.i] {
		case '\\':
			w.i++
		case '"':
			w.i++
			return true
		}
	}
	return false
}

// space moves w.i past JSON white space.
func (w *answerWalk) space() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

// next moves w.i past c if c is there.
func (w *answerWalk) next(c byte) bool {
	if w.i < len(w.b) && w.b[w.i] == c {
		w.i++
		return true
	}
	return false
}
