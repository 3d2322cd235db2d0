// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stmt wraps statement members into a one-statement 2012-10-17 policy.
func stmt(members string) string {
	return `{"Version":"2012-10-17","Statement":[{` + members + `}]}`
}

const base = `"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"`

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("[", 20) + `"x"` + strings.Repeat("]", 20)
	many := make([]string, MaxStatements+1)
	for i := range many {
		many[i] = `{` + base + `}`
	}
	tests := []struct {
		name string
		doc  string
		want error
		msg  string // substring of the error message
	}{
		{"not JSON", `{`, ErrMalformed, "invalid JSON"},
		{"empty", ``, ErrMalformed, "invalid JSON"},
		{"array top level", `[]`, ErrMalformed, "must be a JSON object"},
		{"trailing data", stmt(base) + `{}`, ErrMalformed, "unexpected data after"},
		{"trailing garbage", stmt(base) + `x`, ErrMalformed, "unexpected data after"},
		{"invalid UTF-8", "{\"Version\":\"2012-10-17\",\"Id\":\"\xff\",\"Statement\":{" + base + "}}", ErrMalformed, "UTF-8"},
		{"unknown top-level element", `{"Version":"2012-10-17","Foo":1,"Statement":{` + base + `}}`, ErrMalformed, `unknown element "Foo"`},
		{"top-level case matters", `{"version":"2012-10-17","Statement":{` + base + `}}`, ErrMalformed, `unknown element "version"`},
		{"bad version", `{"Version":"2012-10-18","Statement":{` + base + `}}`, ErrMalformed, "Version"},
		{"version not string", `{"Version":2012,"Statement":{` + base + `}}`, ErrMalformed, "Version"},
		{"Id not string", `{"Id":1,"Statement":{` + base + `}}`, ErrMalformed, "Id"},
		{"missing Statement", `{"Version":"2012-10-17"}`, ErrMalformed, "missing Statement"},
		{"Statement string", `{"Statement":"x"}`, ErrMalformed, "Statement"},
		{"no statements", `{"Statement":[]}`, ErrMalformed, "no statements"},
		{"statement not object", `{"Statement":["x"]}`, ErrMalformed, "statement must be an object"},
		{"too many statements", `{"Statement":[` + strings.Join(many, ",") + `]}`, ErrTooLarge, "over the limit"},
		{"duplicate member", stmt(base + `,"Effect":"Deny"`), ErrMalformed, `duplicate member "Effect"`},
		{"duplicate member via escape", stmt(base + `,"Eff\u0065ct":"Deny"`), ErrMalformed, `duplicate member "Effect"`},
		{"duplicate Sid", `{"Statement":[{"Sid":"A",` + base + `},{"Sid":"A",` + base + `}]}`, ErrMalformed, `duplicate Sid "A"`},
		{"unknown statement element", stmt(base + `,"Foo":"bar"`), ErrMalformed, `unknown element "Foo"`},
		{"NotPrincipal", stmt(`"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"`), ErrUnsupported, "NotPrincipal"},
		{"NotResource", stmt(`"Effect":"Allow","Principal":"*","Action":"kms:*","NotResource":"arn:aws:kms:*"`), ErrUnsupported, "NotResource"},
		{"Effect lower case", stmt(`"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"`), ErrMalformed, "Effect"},
		{"missing Effect", stmt(`"Principal":"*","Action":"kms:*","Resource":"*"`), ErrMalformed, "missing Effect"},
		{"missing Principal", stmt(`"Effect":"Allow","Action":"kms:*","Resource":"*"`), ErrMalformed, "missing Principal"},
		{"missing Action", stmt(`"Effect":"Allow","Principal":"*","Resource":"*"`), ErrMalformed, "missing Action"},
		{"missing Resource", stmt(`"Effect":"Allow","Principal":"*","Action":"kms:*"`), ErrMalformed, "missing Resource"},
		{"Action and NotAction", stmt(base + `,"NotAction":"kms:Encrypt"`), ErrMalformed, "not both"},
		{"action without service", stmt(`"Effect":"Allow","Principal":"*","Action":"Decrypt","Resource":"*"`), ErrMalformed, `invalid action "Decrypt"`},
		{"action empty array", stmt(`"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"`), ErrMalformed, "empty array"},
		{"action number", stmt(`"Effect":"Allow","Principal":"*","Action":[1],"Resource":"*"`), ErrMalformed, "must be a string"},
		{"resource not ARN", stmt(`"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"mykey"`), ErrMalformed, `invalid resource "mykey"`},
		{"resource variable", stmt(`"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/${aws:username}"`), ErrUnsupported, "policy variables"},
		{"principal string not star", stmt(`"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"kms:*","Resource":"*"`), ErrMalformed, "Principal"},
		{"principal wildcard ARN", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"kms:*","Resource":"*"`), ErrMalformed, "wildcards"},
		{"principal bad account", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1234:root"},"Action":"kms:*","Resource":"*"`), ErrMalformed, "invalid principal"},
		{"principal not IAM", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:s3:::bucket"},"Action":"kms:*","Resource":"*"`), ErrMalformed, "invalid principal"},
		{"principal short account", stmt(`"Effect":"Allow","Principal":{"AWS":"11112222333"},"Action":"kms:*","Resource":"*"`), ErrMalformed, "invalid principal"},
		{"principal Federated", stmt(`"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"kms:*","Resource":"*"`), ErrUnsupported, "Federated"},
		{"principal unknown type", stmt(`"Effect":"Allow","Principal":{"Aws":"*"},"Action":"kms:*","Resource":"*"`), ErrMalformed, `unknown element "Aws"`},
		{"principal empty", stmt(`"Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*"`), ErrMalformed, "empty Principal"},
		{"principal empty list", stmt(`"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*"`), ErrMalformed, "empty array"},
		{"service wildcard", stmt(`"Effect":"Allow","Principal":{"Service":"*"},"Action":"kms:*","Resource":"*"`), ErrMalformed, "invalid service principal"},
		{"condition not object", stmt(base + `,"Condition":[]`), ErrMalformed, "Condition"},
		{"operator unsupported", stmt(base + `,"Condition":{"BinaryEquals":{"kms:CallerAccount":"AQ=="}}`), ErrUnsupported, `"BinaryEquals"`},
		{"ArnLike value not an ARN", stmt(base + `,"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*"}}`), ErrMalformed, `ArnLike value must be an ARN`},
		{"operator wrong case", stmt(base + `,"Condition":{"stringequals":{"kms:CallerAccount":"1"}}`), ErrUnsupported, `"stringequals"`},
		{"operator unknown prefix", stmt(base + `,"Condition":{"ForSomeValues:StringEquals":{"kms:CallerAccount":"1"}}`), ErrUnsupported, "ForSomeValues"},
		{"Null IfExists", stmt(base + `,"Condition":{"NullIfExists":{"kms:CallerAccount":"true"}}`), ErrMalformed, "Null takes"},
		{"Null with set", stmt(base + `,"Condition":{"ForAnyValue:Null":{"kms:CallerAccount":"true"}}`), ErrMalformed, "Null takes"},
		{"operator block not object", stmt(base + `,"Condition":{"StringEquals":"x"}`), ErrMalformed, "condition keys"},
		{"operator block empty", stmt(base + `,"Condition":{"StringEquals":{}}`), ErrMalformed, "no condition keys"},
		{"unknown condition key", stmt(base + `,"Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}`), ErrUnsupported, `"aws:SourceVpce"`},
		{"unknown attestation key", stmt(base + `,"Condition":{"StringEquals":{"kms:RecipientAttestation:ModuleId":"i-1"}}`), ErrUnsupported, "ModuleId"},
		{"PCR out of range", stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR32":"00"}}`), ErrUnsupported, "PCR32"},
		{"PCR leading zero", stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR01":"00"}}`), ErrUnsupported, "PCR01"},
		{"PCR signed index", stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR+1":"00"}}`), ErrUnsupported, "PCR+1"},
		{"PCR no index", stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR":"00"}}`), ErrUnsupported, "PCR"},
		{"encryption context without key", stmt(base + `,"Condition":{"StringEquals":{"kms:EncryptionContext:":"x"}}`), ErrMalformed, "names no encryption context key"},
		{"duplicate key by case", stmt(base + `,"Condition":{"StringEquals":{"kms:EncryptionContext:app":"x","kms:encryptioncontext:APP":"y"}}`), ErrMalformed, "case-insensitive"},
		{"ForAllValues single-valued EC", stmt(base + `,"Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContext:app":"x"}}`), ErrUnsupported, "OverlyPermissiveCondition"},
		{"ForAllValues attestation", stmt(base + `,"Condition":{"ForAllValues:StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"00"}}`), ErrUnsupported, "ForAllValues"},
		{"value null", stmt(base + `,"Condition":{"StringEquals":{"kms:CallerAccount":null}}`), ErrMalformed, "null"},
		{"value object", stmt(base + `,"Condition":{"StringEquals":{"kms:CallerAccount":{}}}`), ErrMalformed, "object"},
		{"value empty list", stmt(base + `,"Condition":{"StringEquals":{"kms:CallerAccount":[]}}`), ErrMalformed, "empty value list"},
		{"value nested list", stmt(base + `,"Condition":{"StringEquals":{"kms:CallerAccount":[["1"]]}}`), ErrMalformed, "array"},
		{"Bool not boolean", stmt(base + `,"Condition":{"Bool":{"kms:ViaService":"yes"}}`), ErrMalformed, `"yes"`},
		{"condition variable", stmt(base + `,"Condition":{"StringLike":{"kms:EncryptionContext:user":"${aws:username}"}}`), ErrUnsupported, "policy variables"},
		// A literal variable in a Deny's Principal or encryption context key
		// name would match nobody: a narrower Deny, so wider access.
		{"principal variable", stmt(`"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/${aws:username}"},"Action":"kms:*","Resource":"*"`), ErrUnsupported, `Principal.AWS: policy variables are not supported`},
		{"principal variable in list", stmt(`"Effect":"Deny","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/${aws:PrincipalTag/team}"]},"Action":"kms:*","Resource":"*"`), ErrUnsupported, `Principal.AWS: policy variables are not supported`},
		{"service principal variable", stmt(`"Effect":"Deny","Principal":{"Service":"${aws:username}.amazonaws.com"},"Action":"kms:*","Resource":"*"`), ErrUnsupported, `Principal.Service: policy variables are not supported`},
		{"encryption context key variable", stmt(`"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:${aws:username}":"x"}}`), ErrUnsupported, `kms:EncryptionContext:${aws:username}: policy variables are not supported`},
		{"too deep", stmt(base + `,"Condition":{"StringEquals":{"kms:CallerAccount":` + deep + `}}`), ErrTooLarge, "nesting"},
		{"too large", `{"Id":"` + strings.Repeat("x", MaxPolicySize) + `","Statement":{` + base + `}}`, ErrTooLarge, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if p != nil {
				t.Fatalf("Parse returned a policy with error %v", err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestParseErrorPath(t *testing.T) {
	doc := `{"Statement":[{` + base + `},{` + base + `,"Condition":{"StringEquals":{"kms:Nope":"1"}}}]}`
	_, err := Parse([]byte(doc))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ParseError", err)
	}
	if want := "Statement[1].Condition.StringEquals.kms:Nope"; pe.Path != want {
		t.Errorf("Path = %q, want %q", pe.Path, want)
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name, doc  string
		version    string
		statements int
	}{
		{"statement object", `{"Version":"2012-10-17","Statement":{` + base + `}}`, Version2012, 1},
		{"no version means 2008", `{"Statement":[{` + base + `}]}`, Version2008, 1},
		{"2008 treats variables literally", `{"Version":"2008-10-17","Statement":{` + base + `,"Condition":{"StringEquals":{"kms:EncryptionContext:u":"${aws:username}"}}}}`, Version2008, 1},
		{"2008 treats variables in names literally", `{"Version":"2008-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/${aws:username}"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:${aws:username}":"x"}}}}`, Version2008, 1},
		{"Id", `{"Version":"2012-10-17","Id":"key-consolepolicy-3","Statement":[{` + base + `},{` + base + `}]}`, Version2012, 2},
		{"all operators", stmt(base + `,"Condition":{
			"StringEquals":{"kms:EncryptionContext:a":"1"},
			"StringNotEquals":{"kms:EncryptionContext:b":["1","2"]},
			"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"ab"},
			"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:PCR8":"ab"},
			"StringLike":{"kms:ViaService":"*.amazonaws.com"},
			"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/x"},
			"Bool":{"kms:EncryptionContext:flag":true},
			"Null":{"kms:EncryptionContext:gone":"true"},
			"StringEqualsIfExists":{"kms:CallerAccount":"111122223333"},
			"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"app*"},
			"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]},
			"ForAnyValue:StringEqualsIgnoreCaseIfExists":{"aws:PrincipalAccount":"111122223333"}}`), Version2012, 1},
		{"numbers as values", stmt(base + `,"Condition":{"StringEquals":{"kms:CallerAccount":111122223333}}`), Version2012, 1},
		{"principal forms", stmt(`"Effect":"Allow","Principal":{"AWS":["*","111122223333","arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/x","arn:aws:sts::111122223333:assumed-role/x/s"],"Service":"ec2.amazonaws.com"},"Action":"*","Resource":["*","arn:aws:kms:us-east-1:111122223333:key/*"]`), Version2012, 1},
		{"empty condition", stmt(base + `,"Condition":{}`), Version2012, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Version() != tt.version || p.Statements() != tt.statements {
				t.Errorf("Version, Statements = %q, %d; want %q, %d", p.Version(), p.Statements(), tt.version, tt.statements)
			}
		})
	}
}

func TestParseMaxSizeBoundary(t *testing.T) {
	head := `{"Statement":{` + base + `},"Id":"`
	tail := `"}`
	doc := head + strings.Repeat("x", MaxPolicySize-len(head)-len(tail)) + tail
	if len(doc) != MaxPolicySize {
		t.Fatalf("test bug: len %d", len(doc))
	}
	if _, err := Parse([]byte(doc)); err != nil {
		t.Fatalf("Parse at exactly MaxPolicySize: %v", err)
	}
	if _, err := Parse([]byte(doc + " ")); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Parse at MaxPolicySize+1: %v, want ErrTooLarge", err)
	}
}

func TestParseExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 5 {
		t.Fatalf("testdata: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(doc); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestDefaultKeyPolicy(t *testing.T) {
	doc := DefaultKeyPolicy("111122223333")
	p, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse(DefaultKeyPolicy): %v\n%s", err, doc)
	}
	if p.ID() != "key-default-1" || p.Version() != Version2012 || p.Statements() != 1 {
		t.Errorf("Id, Version, Statements = %q, %q, %d", p.ID(), p.Version(), p.Statements())
	}
	for _, action := range []string{"kms:Decrypt", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:GenerateDataKey"} {
		for _, who := range []string{"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/alice", "arn:aws:sts::111122223333:assumed-role/r/s"} {
			d := p.Evaluate(Request{Principal: who, Action: action})
			if !d.Allowed || d.MatchedStatement != "Enable IAM User Permissions" {
				t.Errorf("%s %s: %+v, want allowed by the default statement", who, action, d)
			}
		}
	}
	d := p.Evaluate(Request{Principal: "arn:aws:iam::444455556666:root", Action: "kms:Decrypt"})
	if d.Allowed || d.Reason != "no statement allows kms:Decrypt for arn:aws:iam::444455556666:root" {
		t.Errorf("other account: %+v", d)
	}
	// A hostile account string cannot inject policy grammar.
	if _, err := Parse(DefaultKeyPolicy(`1","Effect":"Deny`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("Parse(DefaultKeyPolicy(injection)) = %v, want ErrMalformed", err)
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"kms:*", "kms:decrypt", true},
		{"kms:*", "kmsx:decrypt", false},
		{"kms:generate*", "kms:generatedatakey", true},
		{"kms:generate*", "kms:generate", true},
		{"kms:generate*", "kms:decrypt", false},
		{"kms:reencrypt*", "kms:reencryptfrom", true},
		{"kms:decryp?", "kms:decrypt", true},
		{"kms:decryp?", "kms:decryp", false},
		{"kms:decryp?", "kms:decrypts", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a*b", "abab", true},
		{"*a", "bbbba", true},
		{"**", "x", true},
		{"?", "é", true}, // one character, two bytes
		{"??", "é", false},
		{"é*", "éa", true},
		{"a*?*c", "abc", true},
		{"a*?*c", "ac", false},
		{"Case", "case", false},
		{"arn:aws:kms:us-east-1:111122223333:key/*", "arn:aws:kms:us-east-1:111122223333:key/1234", true},
		{"arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:eu-west-1:444455556666:key/1234", false},
	}
	for _, tt := range tests {
		budget := maxEvalSteps
		if got := wildcardMatch(tt.pattern, tt.s, &budget); got != tt.want || budget < 0 {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestWildcardMatchWorstCase(t *testing.T) {
	// Many stars against a long non-matching string must stay polynomial.
	pattern := strings.Repeat("a*", 500) + "b"
	s := strings.Repeat("a", 8000)
	budget := maxEvalSteps
	if wildcardMatch(pattern, s, &budget) || budget < 0 {
		t.Fatalf("unexpected match or budget exhausted (%d)", budget)
	}
}

func ExampleParseError() {
	_, err := Parse([]byte(stmt(base + `,"NotPrincipal":{"AWS":"111122223333"}`)))
	var pe *ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Path, errors.Is(err, ErrUnsupported))
	}
	// Output:
	// Statement[0].NotPrincipal true
}
