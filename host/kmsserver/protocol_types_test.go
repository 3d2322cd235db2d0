// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWrongTypeMessages: a member of the wrong type is a
// SerializationException whose message names the member, the JSON type
// the operation wants and the JSON type it got, in the words of the KMS
// API reference (string, integer, boolean, base64-encoded blob, object,
// array of ...), never Go's. One case per shape of member: string, blob,
// number, boolean, list, map and structure, on several operations.
func TestWrongTypeMessages(t *testing.T) {
	env := newEnv(t, nil)
	for _, tc := range []struct {
		op, body, msg string
	}{
		// string
		{"DescribeKey", `{"KeyId":1}`, "member KeyId has the wrong type (want string, got number)"},
		{"CreateAlias", `{"AliasName":true}`, "member AliasName has the wrong type (want string, got boolean)"},
		{"PutKeyPolicy", `{"KeyId":"k","Policy":{}}`, "member Policy has the wrong type (want string, got object)"},
		// blob
		{"Decrypt", `{"CiphertextBlob":1}`, "member CiphertextBlob has the wrong type (want base64-encoded blob, got number)"},
		{"Decrypt", `{"CiphertextBlob":["AQID"]}`, "member CiphertextBlob has the wrong type (want base64-encoded blob, got array)"},
		{"Decrypt", `{"CiphertextBlob":"!!"}`, "member CiphertextBlob is not a valid base64-encoded blob"},
		{"Encrypt", `{"KeyId":"k","Plaintext":{}}`, "member Plaintext has the wrong type (want base64-encoded blob, got object)"},
		{"GenerateRandom", `{"Recipient":{"AttestationDocument":1}}`, "member Recipient.AttestationDocument has the wrong type (want base64-encoded blob, got number)"},
		// number
		{"GenerateDataKey", `{"KeyId":"k","NumberOfBytes":"32"}`, "member NumberOfBytes has the wrong type (want integer, got string)"},
		{"GenerateDataKey", `{"KeyId":"k","NumberOfBytes":1.5}`, "member NumberOfBytes has the wrong type (want integer, got number)"},
		{"ListKeys", `{"Limit":"ten"}`, "member Limit has the wrong type (want integer, got string)"},
		// boolean
		{"GenerateDataKey", `{"KeyId":"k","DryRun":"true"}`, "member DryRun has the wrong type (want boolean, got string)"},
		{"CreateKey", `{"MultiRegion":1}`, "member MultiRegion has the wrong type (want boolean, got number)"},
		// list
		{"Encrypt", `{"KeyId":"k","GrantTokens":"t"}`, "member GrantTokens has the wrong type (want array of strings, got string)"},
		{"Encrypt", `{"KeyId":"k","GrantTokens":[1]}`, "member GrantTokens.0 has the wrong type (want string, got number)"},
		{"CreateKey", `{"Tags":"x"}`, "member Tags has the wrong type (want array of objects, got string)"},
		{"CreateKey", `{"Tags":["x"]}`, "member Tags.0 has the wrong type (want object, got string)"},
		{"TagResource", `{"KeyId":"k","Tags":{}}`, "member Tags has the wrong type (want array of objects, got object)"},
		// map
		{"Encrypt", `{"KeyId":"k","EncryptionContext":[]}`, "member EncryptionContext has the wrong type (want object with string values, got array)"},
		{"Decrypt", `{"EncryptionContext":{"k":1}}`, "member EncryptionContext.k has the wrong type (want string, got number)"},
		// structure
		{"GenerateDataKey", `{"KeyId":"k","Recipient":"x"}`, "member Recipient has the wrong type (want object, got string)"},
		{"Decrypt", `{"Recipient":[]}`, "member Recipient has the wrong type (want object, got array)"},
		{"CreateGrant", `{"Constraints":true}`, "member Constraints has the wrong type (want object, got boolean)"},
		{"CreateGrant", `{"Constraints":{"EncryptionContextSubset":"x"}}`, "member Constraints.EncryptionContextSubset has the wrong type (want object with string values, got string)"},
		// the body itself
		{"ListKeys", `[]`, "the request body has the wrong type (want object, got array)"},
		{"DescribeKey", `"alias/x"`, "the request body has the wrong type (want object, got string)"},
	} {
		st, typ, body := signedPost(t, env, tc.op, []byte(tc.body), time.Now(), nil)
		var got struct {
			Message string `json:"message"`
		}
		json.Unmarshal([]byte(body), &got)
		if st != 400 || typ != CodeSerialization || got.Message != tc.msg {
			t.Errorf("%s %s: %d %s %q\nwant 400 %s %q", tc.op, tc.body, st, typ, got.Message, CodeSerialization, tc.msg)
		}
	}
}

// requestInputs is every request type the operations decode; a test
// below holds it to the *Input types declared in the package.
var requestInputs = []any{
	aliasInput{}, createGrantInput{}, createKeyInput{}, decapsulateInput{}, decryptInput{},
	deriveSharedSecretInput{}, enableKeyRotationInput{}, encapsulateInput{}, encryptInput{},
	generateDataKeyInput{}, generateDataKeyPairInput{}, generateMacInput{}, generateRandomInput{},
	keyIDInput{}, keyPolicyInput{}, listGrantsInput{}, listInput{}, listKeyPagedInput{},
	listKeyRotationsInput{}, listRetirableGrantsInput{}, reEncryptInput{}, retireGrantInput{},
	scheduleKeyDeletionInput{}, signInput{}, tagResourceInput{}, untagResourceInput{},
	updateKeyDescriptionInput{}, verifyInput{}, verifyMacInput{},
}

// TestRequestInputsComplete: requestInputs names every struct type whose
// name ends in Input in the package's non-test sources.
func TestRequestInputsComplete(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	var declared []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && strings.HasSuffix(ts.Name.Name, "Input") {
				if _, ok := ts.Type.(*ast.StructType); ok {
					declared = append(declared, ts.Name.Name)
				}
			}
			return true
		})
	}
	var listed []string
	for _, v := range requestInputs {
		listed = append(listed, reflect.TypeOf(v).Name())
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if !slices.Equal(declared, listed) {
		t.Fatalf("requestInputs lists %v\nthe package declares %v", listed, declared)
	}
}

// TestDecodeErrorsSpeakJSON: no message decode can produce for a request
// body names a Go type or package. Every member of every request type
// (nested members too) is sent with a value of each JSON type, and the
// body itself is malformed in the usual ways (truncated, bad base64, bad
// syntax, trailing data, wrong top-level type).
func TestDecodeErrorsSpeakJSON(t *testing.T) {
	values := []string{`"x"`, `"!!"`, `"AAE"`, `1`, `1.5`, `-1`, `1e400`, `99999999999999999999`, `true`, `{}`, `{"k":1}`, `[]`, `["x"]`, `[1]`, `[{}]`, `[[]]`}
	forbidden := []string{"kmsserver.", "[]", "uint8", "Go value", "Go type", "struct", "map[", "want int)", "want int,", "int64", "int32", "want bool)", "want bool,", "float"}
	check := func(typ reflect.Type, body string) {
		t.Helper()
		err := decode([]byte(body), reflect.New(typ).Interface())
		if err == nil {
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != CodeSerialization {
			t.Fatalf("%s %s: %v, want a %s", typ.Name(), body, err, CodeSerialization)
		}
		for _, f := range forbidden {
			if strings.Contains(ae.Message, f) {
				t.Errorf("%s %s: message %q names %q", typ.Name(), body, ae.Message, f)
			}
		}
	}
	for _, v := range requestInputs {
		typ := reflect.TypeOf(v)
		for _, path := range memberPaths(typ, nil) {
			for _, val := range values {
				body := val
				for i := len(path) - 1; i >= 0; i-- {
					body = `{"` + path[i] + `":` + body + `}`
				}
				check(typ, body)
				// The same value as an element of a list member.
				body = "[" + val + "]"
				for i := len(path) - 1; i >= 0; i-- {
					body = `{"` + path[i] + `":` + body + `}`
				}
				check(typ, body)
			}
		}
		for _, body := range []string{`[]`, `"x"`, `1`, `true`, `{"KeyId":`, `{"KeyId":"k"`, `{"KeyId":"k",}`, `{"KeyId" "k"}`,
			`{"KeyId":k}`, `{"KeyId":"k"}x`, `{"KeyId":"k"}{}`, "{\"KeyId\":\"\xff\"}", `{"KeyId":"\ud800"}`, `{`, `}`, `{"a":[}`, `{"a":{"b":}}`} {
			check(typ, body)
		}
	}
}

// memberPaths lists the JSON paths of typ's members, nested structures'
// members included.
func memberPaths(typ reflect.Type, prefix []string) [][]string {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice && typ.Elem().Kind() != reflect.Uint8 {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return nil
	}
	var out [][]string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			name = f.Name
		}
		p := append(slices.Clone(prefix), name)
		out = append(out, p)
		out = append(out, memberPaths(f.Type, p)...)
	}
	return out
}
