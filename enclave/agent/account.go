// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/enclavekit/enclavekit/internal/quote"
)

// ErrKeyAccount is wrapped by every [KeyAccountError].
var ErrKeyAccount = errors.New("agent: KMS response names a key outside the configured account")

// KeyAccountError is returned when Config.KMSAccount is set and a KMS
// response's KeyId is not a key ARN in that account, or, when the request
// named a key by its full key ARN, is not that ARN. The parent instance
// supplies the credentials, and an alias or bare key ID resolves in the
// credentials' account: without the check it could hand in credentials for
// its own account, where alias/app names a key it can use, and read what
// the enclave encrypts. The response is refused (fail closed): no
// plaintext from it is used. The message quotes what it repeats from the
// answer and the request (as %q) and repeats at most 256 bytes of each,
// saying where it cut; the fields hold the values whole.
type KeyAccountError struct {
	// Op is the KMS operation.
	Op string
	// Account is the configured account (Config.KMSAccount).
	Account string
	// Requested is the KeyId the request named ("" if none).
	Requested string
	// Got is the value of the response's field ("" if absent).
	Got string
	// Field is the response's field, as a path from the answer's top
	// (KeyMetadata.Arn, Keys[1].KeyArn); "" is KeyId.
	Field string
}

func (e *KeyAccountError) Error() string {
	field := e.Field
	if field == "" {
		field = "KeyId"
	}
	last := field[strings.LastIndexByte(field, '.')+1:]
	// Got and Field come from the key service's answer (the parent's to
	// write), Op and Requested from the request: quoted and bounded.
	op := e.Op
	if !plainPath(op) {
		op = echo(op)
	}
	if !plainPath(field) {
		field = echo(field)
	}
	prefix := "agent: " + op + ": the KMS response's " + field + " " + echo(e.Got)
	switch {
	case last == "AWSAccountId":
		return prefix + " is not account " + e.Account + " (--kms-account): refused"
	case last == "AliasArn":
		return prefix + " is not an alias ARN in account " + e.Account + " (--kms-account): refused"
	case isKeyARN(e.Requested):
		return prefix + " is not the key ARN requested, " + echo(e.Requested) + ": refused"
	}
	return prefix + " is not a key ARN in account " + e.Account + " (--kms-account): refused"
}

// Unwrap returns [ErrKeyAccount].
func (e *KeyAccountError) Unwrap() error { return ErrKeyAccount }

// maxEchoBytes bounds how much of a value an error message repeats.
const maxEchoBytes = 256

// echo quotes s for an error message with [quote.String]: at most
// maxEchoBytes of it, cut at a rune boundary.
func echo(s string) string { return quote.String(s, maxEchoBytes) }

// plainPath reports whether a field path is short and made only of ASCII
// letters, digits, '.', '[' and ']' (KeyMetadata.Arn, Keys[1].KeyArn), so
// that a message can show it unquoted.
func plainPath(s string) bool {
	if len(s) > maxEchoBytes {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// validAccount reports whether s is an AWS account ID (12 digits).
func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// keyARNAccount returns the account of a KMS key ARN
// (arn:PARTITION:kms:REGION:ACCOUNT:key/ID), or false.
func keyARNAccount(s string) (string, bool) {
	acct, id, ok := kmsARN(s, "key/")
	if !ok || strings.ContainsAny(id, "/:") {
		return "", false
	}
	return acct, true
}

// kmsARN splits a KMS ARN arn:PARTITION:kms:REGION:ACCOUNT:<kind>NAME into
// its account and NAME (not empty), or returns false.
func kmsARN(s, kind string) (account, name string, ok bool) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "kms" || p[3] == "" || !validAccount(p[4]) {
		return "", "", false
	}
	name, ok = strings.CutPrefix(p[5], kind)
	if !ok || name == "" {
		return "", "", false
	}
	return p[4], name, true
}

func isKeyARN(s string) bool { _, ok := keyARNAccount(s); return ok }

// checkKeyAccount checks a response's KeyId against account (see
// [KeyAccountError]); an empty account checks nothing.
func checkKeyAccount(account, op, requested, got string) error {
	if account == "" {
		return nil
	}
	acct, ok := keyARNAccount(got)
	if !ok || acct != account || (isKeyARN(requested) && got != requested) {
		return &KeyAccountError{Op: op, Account: account, Requested: requested, Got: got}
	}
	return nil
}

// maxAnswerDepth bounds how deep [checkAnswerAccount] looks into an answer:
// KMS answers nest four levels at most
// (KeyMetadata.MultiRegionConfiguration.ReplicaKeys[i].Arn).
const maxAnswerDepth = 8

// errAnswerTooDeep is returned by [checkAnswerAccount] for an answer nested
// deeper than any KMS answer.
var errAnswerTooDeep = errors.New("agent: the KMS response nests deeper than any KMS answer: refused")

// checkAnswerAccount checks every key, alias and account a KMS answer (out,
// a JSON object) names, at any depth, against account (an empty account
// checks nothing), for the local KMS endpoint, which passes answers through
// to the application:
//
//   - Arn and KeyArn (KeyMetadata, multi-Region keys, ListKeys) must be key
//     ARNs in account; AliasArn (ListAliases) an alias ARN in account;
//     AWSAccountId (KeyMetadata) account itself.
//   - KeyId, SourceKeyId and TargetKeyId must be key ARNs in account, or a
//     bare key ID that a checked ARN beside it confirms: the Arn or KeyArn
//     of the same object (KeyMetadata, ListKeys), or its AliasArn for a
//     TargetKeyId (ListAliases), or, below the top level, the key ID of a
//     key ARN in account that the request named (ListKeyRotations'
//     entries). A bare key ID alone resolves in whatever account the
//     parent's credentials are for.
//   - Where the request named a key by its full key ARN, the answer must
//     name that key: KeyId (DestinationKeyId for ReEncrypt), SourceKeyId,
//     and DescribeKey's KeyMetadata.Arn.
//
// It returns a [KeyAccountError] naming the field, or errAnswerTooDeep.
func checkAnswerAccount(account, op string, req, out map[string]json.RawMessage) error {
	if account == "" {
		return nil
	}
	named := func(f string) string {
		var s string
		_ = json.Unmarshal(req[f], &s)
		return s
	}
	dest := "KeyId"
	if op == "ReEncrypt" {
		dest = "DestinationKeyId"
	}
	if err := requireKeys(account, op, req, out); err != nil {
		return err
	}
	a := &answerCheck{account: account, op: op, requested: map[string]string{
		"KeyId": named(dest), "SourceKeyId": named("SourceKeyId"), "KeyMetadata.Arn": named("KeyId")}}
	for _, f := range []string{"KeyId", "DestinationKeyId", "SourceKeyId"} {
		if acct, id, ok := kmsARN(named(f), "key/"); ok && acct == account && isKeyARN(named(f)) {
			a.namedIDs = append(a.namedIDs, id)
		}
	}
	return a.object("", out, 1)
}

// keyedAnswers lists, per operation, the answer fields that name the keys
// it used: KMS always answers them, and with an account configured an answer
// without one is refused, or a parent could strip the key it used.
var keyedAnswers = map[string][]string{
	"Decrypt": {"KeyId"}, "GenerateDataKey": {"KeyId"}, "GenerateDataKeyPair": {"KeyId"}, "DeriveSharedSecret": {"KeyId"},
	"Encrypt": {"KeyId"}, "ReEncrypt": {"KeyId", "SourceKeyId"},
	"GenerateDataKeyWithoutPlaintext": {"KeyId"}, "GenerateDataKeyPairWithoutPlaintext": {"KeyId"},
	"Sign": {"KeyId"}, "Verify": {"KeyId"}, "GenerateMac": {"KeyId"}, "VerifyMac": {"KeyId"}, "GetPublicKey": {"KeyId"},
	"DescribeKey": {"KeyMetadata.Arn"}, "CreateKey": {"KeyMetadata.Arn"},
}

// requireKeys checks that out has every field keyedAnswers lists for op.
func requireKeys(account, op string, req, out map[string]json.RawMessage) error {
	for _, path := range keyedAnswers[op] {
		m, name := out, path
		if parent, field, ok := strings.Cut(path, "."); ok {
			m, name = nil, field
			_ = json.Unmarshal(out[parent], &m)
		}
		if !present(m[name]) {
			var requested string
			if path == "KeyId" || path == "KeyMetadata.Arn" {
				_ = json.Unmarshal(req["KeyId"], &requested)
			}
			return &KeyAccountError{Op: op, Account: account, Requested: requested, Field: path}
		}
	}
	return nil
}

type answerCheck struct {
	account, op string
	// requested maps a field path of the answer to the key the request
	// named there.
	requested map[string]string
	// namedIDs are the key IDs of the key ARNs in the account the request
	// named: a bare key ID in a nested object (ListKeyRotations' entries)
	// may name one of them.
	namedIDs []string
}

func (a *answerCheck) fail(path, got string) error {
	return &KeyAccountError{Op: a.op, Account: a.account, Requested: a.requested[path], Got: got, Field: path}
}

// key checks the value of a field naming a key by ARN: in the account,
// and the key requested there if the request named a key ARN.
func (a *answerCheck) key(path, v string) error {
	if acct, ok := keyARNAccount(v); !ok || acct != a.account {
		return a.fail(path, v)
	}
	if r := a.requested[path]; isKeyARN(r) && r != v {
		return a.fail(path, v)
	}
	return nil
}

func (a *answerCheck) object(prefix string, obj map[string]json.RawMessage, depth int) error {
	if depth > maxAnswerDepth {
		return errAnswerTooDeep
	}
	// str returns the string value of a field, "" and false if absent or
	// null, and an error if it is not a string.
	str := func(name string) (string, bool, error) {
		v, ok := obj[name]
		if !ok || !present(v) {
			return "", false, nil
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false, a.fail(prefix+name, string(v))
		}
		return s, true, nil
	}
	var confirmed []string // key IDs of the checked ARNs of this object
	for _, name := range []string{"Arn", "KeyArn"} {
		v, ok, err := str(name)
		if err != nil {
			return err
		}
		if ok {
			if err := a.key(prefix+name, v); err != nil {
				return err
			}
			_, id, _ := kmsARN(v, "key/")
			confirmed = append(confirmed, id)
		}
	}
	alias, hasAlias, err := str("AliasArn")
	if err != nil {
		return err
	}
	if hasAlias {
		if acct, _, ok := kmsARN(alias, "alias/"); !ok || acct != a.account {
			return a.fail(prefix+"AliasArn", alias)
		}
	}
	if v, ok, err := str("AWSAccountId"); err != nil {
		return err
	} else if ok && v != a.account {
		return a.fail(prefix+"AWSAccountId", v)
	}
	for _, name := range []string{"KeyId", "SourceKeyId", "TargetKeyId"} {
		v, ok, err := str(name)
		if err != nil {
			return err
		}
		switch {
		case !ok:
		case strings.HasPrefix(v, "arn:"):
			if err := a.key(prefix+name, v); err != nil {
				return err
			}
		case slices.Contains(confirmed, v) || (name == "TargetKeyId" && hasAlias) || (prefix != "" && slices.Contains(a.namedIDs, v)):
		default:
			return a.fail(prefix+name, v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		if err := a.value(prefix+name, obj[name], depth); err != nil {
			return err
		}
	}
	return nil
}

// value checks the objects in v, an object's member or an array's element.
func (a *answerCheck) value(path string, v json.RawMessage, depth int) error {
	switch firstByte(v) {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return a.fail(path, "")
		}
		return a.object(path+".", m, depth+1)
	case '[':
		var l []json.RawMessage
		if json.Unmarshal(v, &l) != nil {
			return a.fail(path, "")
		}
		if depth+1 > maxAnswerDepth {
			return errAnswerTooDeep
		}
		for i, e := range l {
			if err := a.value(path+"["+strconv.Itoa(i)+"]", e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// firstByte returns the first byte of v that is not JSON white space, or 0.
func firstByte(v []byte) byte {
	for _, c := range v {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}
