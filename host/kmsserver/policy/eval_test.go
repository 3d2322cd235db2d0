// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	acct     = "111122223333"
	role     = "arn:aws:iam::111122223333:role/data-processing"
	otherArn = "arn:aws:iam::444455556666:role/data-processing"
	keyARN   = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

var (
	image = strings.Repeat("7c1a", 24) // the testdata policies' PCR0 / ImageSha384
	pcr1  = strings.Repeat("0e3f", 24)
	pcr2  = strings.Repeat("5d9b", 24)
)

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

func mustParseFile(t testing.TB, name string) *Policy {
	t.Helper()
	doc, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(doc))
}

func ctxOf(kv ...string) map[string][]string {
	m := make(map[string][]string)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

// TestConditionOperators checks every operator in an Allow statement and, for
// the same condition, in a Deny statement next to an unconditional Allow: the
// Deny applies exactly when the condition holds.
func TestConditionOperators(t *testing.T) {
	tests := []struct {
		name  string
		cond  string // the Condition object
		ctx   map[string][]string
		holds bool
	}{
		// StringEquals: case-sensitive, values ORed.
		{"StringEquals match", `{"StringEquals":{"kms:EncryptionContext:app":"ExampleApp"}}`, ctxOf("kms:EncryptionContext:app", "ExampleApp"), true},
		{"StringEquals mismatch", `{"StringEquals":{"kms:EncryptionContext:app":"ExampleApp"}}`, ctxOf("kms:EncryptionContext:app", "Other"), false},
		{"StringEquals case differs", `{"StringEquals":{"kms:EncryptionContext:app":"ExampleApp"}}`, ctxOf("kms:EncryptionContext:app", "exampleapp"), false},
		{"StringEquals one of", `{"StringEquals":{"kms:EncryptionContext:app":["a","b","c"]}}`, ctxOf("kms:EncryptionContext:app", "b"), true},
		{"StringEquals missing", `{"StringEquals":{"kms:EncryptionContext:app":"a"}}`, nil, false},
		{"StringEquals empty value list in request", `{"StringEquals":{"kms:EncryptionContext:app":""}}`, map[string][]string{"kms:EncryptionContext:app": {}}, false},
		{"StringEquals empty string", `{"StringEquals":{"kms:EncryptionContext:app":""}}`, ctxOf("kms:EncryptionContext:app", ""), true},
		{"StringEquals number", `{"StringEquals":{"kms:CallerAccount":111122223333}}`, ctxOf("kms:CallerAccount", acct), true},
		// StringNotEquals: true on absent keys (AWS).
		{"StringNotEquals equal", `{"StringNotEquals":{"kms:EncryptionContext:app":"a"}}`, ctxOf("kms:EncryptionContext:app", "a"), false},
		{"StringNotEquals differs", `{"StringNotEquals":{"kms:EncryptionContext:app":"a"}}`, ctxOf("kms:EncryptionContext:app", "A"), true},
		{"StringNotEquals none of", `{"StringNotEquals":{"kms:EncryptionContext:app":["a","b"]}}`, ctxOf("kms:EncryptionContext:app", "b"), false},
		{"StringNotEquals missing", `{"StringNotEquals":{"kms:EncryptionContext:app":"a"}}`, nil, true},
		// StringEqualsIgnoreCase.
		{"IgnoreCase upper vs lower", `{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + strings.ToUpper(image) + `"}}`, ctxOf(KeyImageSha384, image), true},
		{"IgnoreCase mismatch", `{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + image + `"}}`, ctxOf(KeyImageSha384, pcr1), false},
		{"IgnoreCase missing", `{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"` + image + `"}}`, nil, false},
		// StringNotEqualsIgnoreCase.
		{"NotEqualsIgnoreCase same but case", `{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"` + strings.ToUpper(image) + `"}}`, ctxOf(PCRKey(0), image), false},
		{"NotEqualsIgnoreCase differs", `{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"` + image + `"}}`, ctxOf(PCRKey(0), pcr1), true},
		{"NotEqualsIgnoreCase missing", `{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"` + image + `"}}`, nil, true},
		// StringLike / StringNotLike: wildcards, case-sensitive.
		{"StringLike star", `{"StringLike":{"kms:ViaService":"ec2.*.amazonaws.com"}}`, ctxOf("kms:ViaService", "ec2.us-west-2.amazonaws.com"), true},
		{"StringLike question", `{"StringLike":{"kms:EncryptionContext:stage":"v?"}}`, ctxOf("kms:EncryptionContext:stage", "v2"), true},
		{"StringLike mismatch", `{"StringLike":{"kms:EncryptionContext:stage":"v?"}}`, ctxOf("kms:EncryptionContext:stage", "v10"), false},
		{"StringLike case", `{"StringLike":{"kms:EncryptionContext:stage":"Prod*"}}`, ctxOf("kms:EncryptionContext:stage", "production"), false},
		{"StringLike missing", `{"StringLike":{"kms:EncryptionContext:stage":"*"}}`, nil, false},
		{"StringNotLike matches", `{"StringNotLike":{"kms:EncryptionContext:stage":"prod*"}}`, ctxOf("kms:EncryptionContext:stage", "production"), false},
		{"StringNotLike other", `{"StringNotLike":{"kms:EncryptionContext:stage":"prod*"}}`, ctxOf("kms:EncryptionContext:stage", "test"), true},
		{"StringNotLike missing", `{"StringNotLike":{"kms:EncryptionContext:stage":"prod*"}}`, nil, true},
		// Bool.
		{"Bool true", `{"Bool":{"kms:EncryptionContext:flag":"true"}}`, ctxOf("kms:EncryptionContext:flag", "True"), true},
		{"Bool JSON true", `{"Bool":{"kms:EncryptionContext:flag":true}}`, ctxOf("kms:EncryptionContext:flag", "true"), true},
		{"Bool false vs true", `{"Bool":{"kms:EncryptionContext:flag":false}}`, ctxOf("kms:EncryptionContext:flag", "true"), false},
		{"Bool non-boolean value", `{"Bool":{"kms:EncryptionContext:flag":"true"}}`, ctxOf("kms:EncryptionContext:flag", "yes"), false},
		{"Bool missing", `{"Bool":{"kms:EncryptionContext:flag":"true"}}`, nil, false},
		// Null.
		{"Null true absent", `{"Null":{"kms:EncryptionContext:x":"true"}}`, nil, true},
		{"Null true present", `{"Null":{"kms:EncryptionContext:x":"true"}}`, ctxOf("kms:EncryptionContext:x", "1"), false},
		{"Null false present", `{"Null":{"kms:EncryptionContext:x":false}}`, ctxOf("kms:EncryptionContext:x", "1"), true},
		{"Null false absent", `{"Null":{"kms:EncryptionContext:x":"false"}}`, nil, false},
		// IfExists.
		{"IfExists absent", `{"StringEqualsIfExists":{"kms:EncryptionContext:app":"a"}}`, nil, true},
		{"IfExists present match", `{"StringEqualsIfExists":{"kms:EncryptionContext:app":"a"}}`, ctxOf("kms:EncryptionContext:app", "a"), true},
		{"IfExists present mismatch", `{"StringEqualsIfExists":{"kms:EncryptionContext:app":"a"}}`, ctxOf("kms:EncryptionContext:app", "b"), false},
		{"NotEqualsIgnoreCaseIfExists present equal", `{"StringNotEqualsIgnoreCaseIfExists":{"kms:EncryptionContext:app":"a"}}`, ctxOf("kms:EncryptionContext:app", "A"), false},
		// Set operators on the multi-valued kms:EncryptionContextKeys.
		{"ForAnyValue one matches", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}`, ctxOf(KeyEncryptionContextKeys, "Stage", KeyEncryptionContextKeys, "AppName"), true},
		{"ForAnyValue none", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}`, ctxOf(KeyEncryptionContextKeys, "appname"), false},
		{"ForAnyValue missing", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}`, nil, false},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"AppName"}}`, nil, true},
		{"ForAnyValue NotEquals some other", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":"AppName"}}`, ctxOf(KeyEncryptionContextKeys, "AppName", KeyEncryptionContextKeys, "Stage"), true},
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["AppName","Stage"]}}`, ctxOf(KeyEncryptionContextKeys, "AppName"), true},
		{"ForAllValues extra key", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["AppName","Stage"]}}`, ctxOf(KeyEncryptionContextKeys, "AppName", KeyEncryptionContextKeys, "Owner"), false},
		{"ForAllValues missing holds", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}`, nil, true},
		{"ForAllValues StringLike", `{"ForAllValues:StringLike":{"kms:EncryptionContextKeys":"app-*"}}`, ctxOf(KeyEncryptionContextKeys, "app-1", KeyEncryptionContextKeys, "app-2"), true},
		{"ForAllValues NotEquals", `{"ForAllValues:StringNotEquals":{"kms:EncryptionContextKeys":"Secret"}}`, ctxOf(KeyEncryptionContextKeys, "a", KeyEncryptionContextKeys, "Secret"), false},
		// AND across keys and operators.
		{"AND both hold", `{"StringEquals":{"kms:EncryptionContext:a":"1","kms:EncryptionContext:b":"2"}}`, ctxOf("kms:EncryptionContext:a", "1", "kms:EncryptionContext:b", "2"), true},
		{"AND one fails", `{"StringEquals":{"kms:EncryptionContext:a":"1","kms:EncryptionContext:b":"2"}}`, ctxOf("kms:EncryptionContext:a", "1", "kms:EncryptionContext:b", "3"), false},
		{"AND across operators", `{"StringEquals":{"kms:EncryptionContext:a":"1"},"StringLike":{"kms:EncryptionContext:b":"x*"}}`, ctxOf("kms:EncryptionContext:a", "1", "kms:EncryptionContext:b", "y"), false},
		// Condition key names are case-insensitive on both sides.
		{"key case policy upper", `{"StringEqualsIgnoreCase":{"KMS:RECIPIENTATTESTATION:PCR0":"` + image + `"}}`, ctxOf("kms:RecipientAttestation:PCR0", image), true},
		{"key case request upper", `{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"` + image + `"}}`, ctxOf("KMS:RecipientAttestation:pcr0", image), true},
		{"EC key part case-insensitive", `{"StringEquals":{"kms:EncryptionContext:Appname":"ExampleApp"}}`, ctxOf("kms:EncryptionContext:AppName", "ExampleApp"), true},
		// Derived principal keys.
		{"CallerAccount derived", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`, nil, true},
		{"PrincipalArn derived", `{"StringEquals":{"aws:PrincipalArn":"` + role + `"}}`, nil, true},
		{"PrincipalAccount derived", `{"StringEquals":{"aws:PrincipalAccount":"444455556666"}}`, nil, false},
		{"CallerAccount from context wins", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`, ctxOf("kms:CallerAccount", "999999999999"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow := mustParse(t, stmt(`"Sid":"A","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":`+tt.cond))
			req := Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: tt.ctx}
			d := allow.Evaluate(req)
			if d.Allowed != tt.holds {
				t.Errorf("Allow statement: Allowed = %v, want %v (reason %q)", d.Allowed, tt.holds, d.Reason)
			}
			if !d.Allowed && !strings.Contains(d.Reason, `(statement "A")`) {
				t.Errorf("reason %q does not name the statement", d.Reason)
			}
			deny := mustParse(t, `{"Version":"2012-10-17","Statement":[
				{"Sid":"All","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
				{"Sid":"D","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":`+tt.cond+`}]}`)
			d = deny.Evaluate(req)
			if d.ExplicitDeny != tt.holds || d.Allowed == tt.holds {
				t.Errorf("Deny statement: %+v, want deny applied = %v", d, tt.holds)
			}
			if d.ExplicitDeny && (d.MatchedStatement != "D" || !strings.HasPrefix(d.Reason, `explicit deny by statement "D": condition `)) {
				t.Errorf("explicit deny decision %+v", d)
			}
		})
	}
}

// TestMultipleValuesForSingleValuedKey: encryption context keys differing
// only in case merge into one condition key with two values; Allow needs
// every value to satisfy the condition, Deny any, with ForAnyValue too (a
// single-valued key has one value in AWS, where ForAnyValue is the plain
// operator).
func TestMultipleValuesForSingleValuedKey(t *testing.T) {
	ctx := AddEncryptionContext(nil, map[string]string{"app": "good", "APP": "evil"})
	allow := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"good"}}`))
	if d := allow.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctx}); d.Allowed {
		t.Errorf("Allow with a conflicting second value: %+v, want denied", d)
	}
	anyAllow := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContext:app":"good"}}`))
	if d := anyAllow.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctx}); d.Allowed {
		t.Errorf("ForAnyValue Allow with a conflicting second value: %+v, want denied", d)
	}
	deny := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
		{"Sid":"DenyEvil","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"evil"}}}]}`)
	if d := deny.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctx}); !d.ExplicitDeny {
		t.Errorf("Deny with one matching value: %+v, want explicit deny", d)
	}
}

func TestPrincipalMatching(t *testing.T) {
	tests := []struct {
		name, principal, caller string
		want                    bool
	}{
		{"star", `"*"`, role, true},
		{"AWS star", `{"AWS":"*"}`, otherArn, true},
		{"root matches user", `{"AWS":"arn:aws:iam::111122223333:root"}`, "arn:aws:iam::111122223333:user/alice", true},
		{"root matches role", `{"AWS":"arn:aws:iam::111122223333:root"}`, role, true},
		{"root matches root", `{"AWS":"arn:aws:iam::111122223333:root"}`, "arn:aws:iam::111122223333:root", true},
		{"root matches session", `{"AWS":"arn:aws:iam::111122223333:root"}`, "arn:aws:sts::111122223333:assumed-role/data-processing/s1", true},
		{"root other account", `{"AWS":"arn:aws:iam::111122223333:root"}`, otherArn, false},
		{"root other partition", `{"AWS":"arn:aws:iam::111122223333:root"}`, "arn:aws-cn:iam::111122223333:user/alice", false},
		{"bare account", `{"AWS":"111122223333"}`, "arn:aws:iam::111122223333:user/alice", true},
		{"bare account any partition", `{"AWS":"111122223333"}`, "arn:aws-us-gov:iam::111122223333:user/alice", true},
		{"bare account other", `{"AWS":"111122223333"}`, otherArn, false},
		{"exact role", `{"AWS":"` + role + `"}`, role, true},
		{"exact is case-sensitive", `{"AWS":"` + role + `"}`, strings.ToUpper(role), false},
		{"other role", `{"AWS":"` + role + `"}`, "arn:aws:iam::111122223333:role/data-processing-2", false},
		{"role prefix is not a match", `{"AWS":"arn:aws:iam::111122223333:role/data"}`, role, false},
		{"role session", `{"AWS":"` + role + `"}`, "arn:aws:sts::111122223333:assumed-role/data-processing/i-0abc", true},
		{"role with path session", `{"AWS":"arn:aws:iam::111122223333:role/team/data-processing"}`, "arn:aws:sts::111122223333:assumed-role/data-processing/i-0abc", true},
		{"session of other role", `{"AWS":"` + role + `"}`, "arn:aws:sts::111122223333:assumed-role/admin/i-0abc", false},
		{"session other account", `{"AWS":"` + role + `"}`, "arn:aws:sts::444455556666:assumed-role/data-processing/i-0abc", false},
		{"user is not a role", `{"AWS":"arn:aws:iam::111122223333:user/data-processing"}`, "arn:aws:sts::111122223333:assumed-role/data-processing/s", false},
		{"list", `{"AWS":["arn:aws:iam::444455556666:root","` + role + `"]}`, role, true},
		{"service", `{"Service":"ec2.amazonaws.com"}`, "ec2.amazonaws.com", true},
		{"service is not a role", `{"Service":"ec2.amazonaws.com"}`, role, false},
		{"empty caller", `{"AWS":"111122223333"}`, "", false},
		{"garbage caller", `{"AWS":"111122223333"}`, "not-an-arn", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, stmt(`"Effect":"Allow","Principal":`+tt.principal+`,"Action":"kms:Decrypt","Resource":"*"`))
			d := p.Evaluate(Request{Principal: tt.caller, Action: "kms:Decrypt"})
			if d.Allowed != tt.want {
				t.Errorf("Allowed = %v, want %v (%s)", d.Allowed, tt.want, d.Reason)
			}
		})
	}
}

func TestActionMatching(t *testing.T) {
	tests := []struct {
		name, actions string
		not           bool
		action        string
		want          bool
	}{
		{"exact", `"kms:Decrypt"`, false, "kms:Decrypt", true},
		{"case-insensitive", `"KMS:DECRYPT"`, false, "kms:Decrypt", true},
		{"request case", `"kms:Decrypt"`, false, "KMS:decrypt", true},
		{"other", `"kms:Decrypt"`, false, "kms:Encrypt", false},
		{"service star", `"kms:*"`, false, "kms:ScheduleKeyDeletion", true},
		{"star", `"*"`, false, "kms:Decrypt", true},
		{"prefix star", `"kms:Generate*"`, false, "kms:GenerateDataKeyPairWithoutPlaintext", true},
		{"prefix star random", `"kms:Generate*"`, false, "kms:GenerateRandom", true},
		{"prefix star miss", `"kms:Generate*"`, false, "kms:Decrypt", false},
		{"question", `"kms:ReEncrypt??"`, false, "kms:ReEncryptTo", true},
		{"question miss", `"kms:ReEncrypt??"`, false, "kms:ReEncryptFrom", false},
		{"other service", `"s3:*"`, false, "kms:Decrypt", false},
		{"list", `["kms:Encrypt","kms:Decrypt"]`, false, "kms:Decrypt", true},
		{"NotAction excludes", `"kms:Decrypt"`, true, "kms:Decrypt", false},
		{"NotAction allows others", `"kms:Decrypt"`, true, "kms:Encrypt", true},
		{"NotAction wildcard", `["kms:Decrypt","kms:ReEncrypt*","kms:Generate*"]`, true, "kms:GenerateDataKey", false},
		{"NotAction wildcard others", `["kms:Decrypt","kms:ReEncrypt*","kms:Generate*"]`, true, "kms:DescribeKey", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elem := "Action"
			if tt.not {
				elem = "NotAction"
			}
			p := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","`+elem+`":`+tt.actions+`,"Resource":"*"`))
			d := p.Evaluate(Request{Principal: role, Action: tt.action})
			if d.Allowed != tt.want {
				t.Errorf("Allowed = %v, want %v (%s)", d.Allowed, tt.want, d.Reason)
			}
		})
	}
}

func TestResourceMatching(t *testing.T) {
	tests := []struct {
		name, resource, req string
		want                bool
	}{
		{"star", `"*"`, keyARN, true},
		{"star without request resource", `"*"`, "", true},
		{"exact", `"` + keyARN + `"`, keyARN, true},
		{"other key", `"` + keyARN + `"`, strings.Replace(keyARN, "1234abcd", "9999abcd", 1), false},
		{"wildcard", `"arn:aws:kms:us-east-1:111122223333:key/*"`, keyARN, true},
		{"wildcard other region", `"arn:aws:kms:us-west-2:111122223333:key/*"`, keyARN, false},
		{"ARN without request resource", `"` + keyARN + `"`, "", false},
		{"list", `["arn:aws:kms:us-west-2:111122223333:key/*","` + keyARN + `"]`, keyARN, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":`+tt.resource))
			d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: tt.req})
			if d.Allowed != tt.want {
				t.Errorf("Allowed = %v, want %v (%s)", d.Allowed, tt.want, d.Reason)
			}
		})
	}
	// A Deny naming a key ARN applies when the request does not say which key.
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
		{"Sid":"DenyKey","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"`+keyARN+`"}]}`)
	if d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt"}); !d.ExplicitDeny {
		t.Errorf("Deny with unknown request resource: %+v, want explicit deny", d)
	}
	if d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:111122223333:key/other"}); !d.Allowed {
		t.Errorf("Deny on another key: %+v, want allowed", d)
	}
}

func TestExplicitDenyWins(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"AllowAll","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Sid":"AllowDecrypt","Effect":"Allow","Principal":{"AWS":"`+role+`"},"Action":"kms:Decrypt","Resource":"*"},
		{"Sid":"DenyX","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}`)
	d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN})
	want := Decision{Reason: `explicit deny by statement "DenyX"`, MatchedStatement: "DenyX", ExplicitDeny: true}
	if d != want {
		t.Errorf("got %+v, want %+v", d, want)
	}
	d = p.Evaluate(Request{Principal: role, Action: "kms:Encrypt", Resource: keyARN})
	if !d.Allowed || d.MatchedStatement != "AllowAll" || d.Reason != `allowed by statement "AllowAll"` {
		t.Errorf("Encrypt: %+v", d)
	}
	// Without a Sid, the statement is named by position.
	p = mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}`)
	if d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt"}); d.MatchedStatement != "Statement[1]" || !d.ExplicitDeny {
		t.Errorf("unnamed deny: %+v", d)
	}
}

func TestReasons(t *testing.T) {
	pcrs := mustParseFile(t, "enclave_pcrs.json")
	tests := []struct {
		name   string
		p      *Policy
		req    Request
		reason string
	}{
		{
			"no attestation",
			pcrs,
			Request{Principal: role, Action: "kms:Decrypt"},
			`no attestation document presented (condition on kms:RecipientAttestation:PCR0) (statement "Enclave decrypt")`,
		},
		{
			"PCR1 mismatch names PCR1",
			pcrs,
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf(PCRKey(0), image, PCRKey(1), pcr2, PCRKey(2), pcr2)},
			`condition StringEqualsIgnoreCase kms:RecipientAttestation:PCR1: expected "` + pcr1 + `", presented "` + pcr2 + `" (statement "Enclave decrypt")`,
		},
		{
			"attestation without the PCR",
			pcrs,
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf(PCRKey(0), image, PCRKey(1), pcr1)},
			`condition StringEqualsIgnoreCase kms:RecipientAttestation:PCR2: key not present in the request (statement "Enclave decrypt")`,
		},
		{
			"closest statement: the admin statement's principal fails, the enclave statement's action fails",
			pcrs,
			Request{Principal: role, Action: "kms:Encrypt"},
			`no statement allows kms:Encrypt for ` + role,
		},
		{
			"unknown principal",
			pcrs,
			Request{Principal: otherArn, Action: "kms:Decrypt", Context: ctxOf(PCRKey(0), image)},
			`no statement allows kms:Decrypt for ` + otherArn,
		},
		{
			"resource",
			mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-west-2:111122223333:key/*"`)),
			Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN},
			`no statement allows kms:Decrypt for ` + role + ` on ` + keyARN,
		},
		{
			"several expected values",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":["aa","bb"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf(KeyImageSha384, "cc")},
			`condition StringEqualsIgnoreCase kms:RecipientAttestation:ImageSha384: expected one of "aa", "bb", presented "cc" (statement "S")`,
		},
		{
			"case hint for StringEquals",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:RecipientAttestation:PCR0":"AB"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf(PCRKey(0), "ab")},
			`condition StringEquals kms:RecipientAttestation:PCR0: expected "AB", presented "ab" (the values differ only in letter case; StringEqualsIgnoreCase would match) (statement "S")`,
		},
		{
			// One value matches exactly, the other not even in another
			// case: StringEqualsIgnoreCase would fail too, so no hint.
			"no case hint when a value matches exactly",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"A"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContext:tenant", "A", "kms:EncryptionContext:TENANT", "B")},
			`condition StringEquals kms:EncryptionContext:tenant: expected "A", presented "A", "B" (statement "S")`,
		},
		{
			"case hint when every value matches in another case",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"A"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContext:tenant", "A", "kms:EncryptionContext:TENANT", "a")},
			`condition StringEquals kms:EncryptionContext:tenant: expected "A", presented "A", "a" (the values differ only in letter case; StringEqualsIgnoreCase would match) (statement "S")`,
		},
		{
			"case hint for ForAnyValue on a multi-valued key",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Tenant"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContextKeys", "other", "kms:EncryptionContextKeys", "tenant")},
			`condition ForAnyValue:StringEquals kms:EncryptionContextKeys: expected "Tenant", presented "other", "tenant" (the values differ only in letter case; StringEqualsIgnoreCase would match) (statement "S")`,
		},
		{
			"negated operator failure",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:stage":["prod","restricted"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContext:stage", "prod")},
			`condition StringNotEquals kms:EncryptionContext:stage: expected none of "prod", "restricted", presented "prod" (statement "S")`,
		},
		{
			"StringLike failure",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringLike":{"kms:ViaService":"ec2.*"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:ViaService", "s3.amazonaws.com")},
			`condition StringLike kms:ViaService: expected a match for "ec2.*", presented "s3.amazonaws.com" (statement "S")`,
		},
		{
			"Null failure",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Null":{"kms:EncryptionContext:x":"true"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContext:x", "1")},
			`condition Null kms:EncryptionContext:x: expected the key to be absent, presented "1" (statement "S")`,
		},
		{
			"hostile presented value is quoted",
			mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:x":"a"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContext:x", "b\"\n\x1b[31m")},
			`condition StringEquals kms:EncryptionContext:x: expected "a", presented "b\"\n\x1b[31m" (statement "S")`,
		},
		{
			"deny without attestation",
			mustParseFile(t, "enclave_deny_unattested.json"),
			Request{Principal: role, Action: "kms:GenerateDataKey"},
			`explicit deny by statement "DenyDecryptOutsideApprovedEnclave": condition StringNotEqualsIgnoreCase kms:RecipientAttestation:ImageSha384 holds: no attestation document presented`,
		},
		{
			"deny wrong image",
			mustParseFile(t, "enclave_deny_unattested.json"),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf(KeyImageSha384, pcr1)},
			`explicit deny by statement "DenyDecryptOutsideApprovedEnclave": condition StringNotEqualsIgnoreCase kms:RecipientAttestation:ImageSha384 holds: expected not "` + image + `", presented "` + pcr1 + `"`,
		},
		{"nil policy", nil, Request{Principal: role, Action: "kms:Decrypt"}, "no key policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.Evaluate(tt.req)
			if d.Allowed {
				t.Fatalf("allowed: %+v", d)
			}
			if d.Reason != tt.reason {
				t.Errorf("Reason:\n got %s\nwant %s", d.Reason, tt.reason)
			}
		})
	}
}

func TestReasonBounds(t *testing.T) {
	p := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:x":["1","2","3","4","5","6","7","8","9","10"]}}`))
	d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContext:x", strings.Repeat("é", 300))})
	if !strings.Contains(d.Reason, `"8" and 2 more`) || !strings.Contains(d.Reason, `bytes, cut)`) || len(d.Reason) > 600 {
		t.Errorf("reason not bounded: %q", d.Reason)
	}
}

// TestClosestStatement: with several failing Allow statements, the reason
// comes from the first one whose principal, action and resource matched.
func TestClosestStatement(t *testing.T) {
	p := mustParse(t, `{"Statement":[
		{"Sid":"OtherPrincipal","Effect":"Allow","Principal":{"AWS":"`+otherArn+`"},"Action":"kms:Decrypt","Resource":"*"},
		{"Sid":"OtherAction","Effect":"Allow","Principal":{"AWS":"`+role+`"},"Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:a":"1"}}},
		{"Sid":"Close","Effect":"Allow","Principal":{"AWS":"`+role+`"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"`+image+`"}}},
		{"Sid":"AlsoClose","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:b":"2"}}}]}`)
	d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf(PCRKey(0), pcr1)})
	want := `condition StringEqualsIgnoreCase kms:RecipientAttestation:PCR0: expected "` + image + `", presented "` + pcr1 + `" (statement "Close")`
	if d.Allowed || d.Reason != want || d.MatchedStatement != "" || d.ExplicitDeny {
		t.Errorf("got %+v\nwant reason %s", d, want)
	}
}

func TestReasonDeterministicWithMergedKeys(t *testing.T) {
	p := mustParse(t, stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"good"}}`))
	req := Request{Principal: role, Action: "kms:Decrypt", Context: AddEncryptionContext(nil, map[string]string{"app": "z", "APP": "a", "App": "m"})}
	want := `condition StringEquals kms:EncryptionContext:app: expected "good", presented "a", "m", "z" (statement "S")`
	for range 20 {
		if d := p.Evaluate(req); d.Reason != want {
			t.Fatalf("Reason = %s, want %s", d.Reason, want)
		}
	}
	if d := p.Evaluate(Request{Action: "kms:Decrypt"}); d.Reason != `condition StringEquals kms:EncryptionContext:app: key not present in the request (statement "S")` {
		t.Errorf("anonymous: %s", d.Reason)
	}
	q := mustParse(t, stmt(`"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"`))
	if d := q.Evaluate(Request{Action: "kms:Decrypt"}); d.Reason != "no statement allows kms:Decrypt for an anonymous caller" {
		t.Errorf("anonymous: %s", d.Reason)
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	p := mustParseFile(t, "enclave_pcrs.json")
	ctx := attested(image)
	done := make(chan Decision)
	for range 8 {
		go func() {
			var d Decision
			for range 200 {
				d = p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctx})
			}
			done <- d
		}()
	}
	for range 8 {
		if d := <-done; !d.Allowed {
			t.Errorf("concurrent evaluate: %+v", d)
		}
	}
}

// TestWorkLimit: a StringLike pattern crafted to be slow against a long
// presented value is cut off by the evaluation budget, and the request is
// denied whether the pattern sits in an Allow or in a Deny.
func TestWorkLimit(t *testing.T) {
	slow := "*" + strings.Repeat("a", 4000) + "b"
	ctx := ctxOf("kms:EncryptionContext:x", strings.Repeat("a", 8192))
	// The match alone needs more steps than the whole budget: the denial
	// below is the limit's doing.
	if budget := maxEvalSteps; wildcardMatch(slow, strings.Repeat("a", 8192), &budget) || budget >= 0 {
		t.Fatalf("the slow pattern matched within the budget of %d steps", maxEvalSteps)
	}
	for _, doc := range []string{
		stmt(`"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotLike":{"kms:EncryptionContext:x":"` + slow + `"}}`),
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
		 {"Sid":"S","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringLike":{"kms:EncryptionContext:x":"` + slow + `"}}}]}`,
	} {
		p := mustParse(t, doc)
		var d Decision
		// CPU time of the evaluating thread, not wall time: the bound is on
		// the work, which a loaded machine does not change.
		cpu := onThreadCPU(t, func() { d = p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctx}) })
		if d.Allowed || !strings.Contains(d.Reason, `exceeded its work limit at statement "S"`) {
			t.Errorf("got %+v, want a denial for the work limit", d)
		}
		t.Logf("evaluation: %v of CPU time", cpu)
		if cpu > 2*time.Second {
			t.Errorf("evaluation took %v of CPU time", cpu)
		}
		// With a short value the same policy evaluates normally.
		d = p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf("kms:EncryptionContext:x", "aab")})
		if !d.Allowed {
			t.Errorf("short value: %+v, want allowed", d)
		}
	}
}

// TestEvaluatePrepared: a request prepared once decides as Evaluate does
// against each policy it is put to, and a later change to its Context does
// not reach the prepared request.
func TestEvaluatePrepared(t *testing.T) {
	allowPCR0 := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*",
		"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"ab01"}}}]}`)
	denyAll := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`)
	for _, pcr0 := range [][]byte{{0xab, 0x01}, {0xcd}} {
		r := Request{Principal: "arn:aws:iam::111122223333:user/alice", Action: "kms:Decrypt",
			Context: AddAttestation(nil, map[int][]byte{0: pcr0})}
		pr := Prepare(r)
		for _, p := range []*Policy{allowPCR0, denyAll, nil} {
			if got, want := p.EvaluatePrepared(pr), p.Evaluate(r); got != want {
				t.Errorf("PCR0 %x: EvaluatePrepared = %+v, Evaluate = %+v", pcr0, got, want)
			}
		}
	}
	r := Request{Principal: "arn:aws:iam::111122223333:user/alice", Action: "kms:Decrypt",
		Context: AddAttestation(nil, map[int][]byte{0: {0xcd}})}
	pr := Prepare(r)
	r.Context[PCRKey(0)] = []string{"ab01"}
	if d := allowPCR0.EvaluatePrepared(pr); d.Allowed {
		t.Errorf("a change to Context after Prepare reached the prepared request: %+v", d)
	}
}

// TestAllowedReasonFormat: the reason and statement of an allowed decision,
// named once at parse time, are those the evaluation formatted for every
// request before (fmt's %q of the Sid or of Statement[i]), for Sids that
// need escaping, through a named principal and through the account.
func TestAllowedReasonFormat(t *testing.T) {
	sids := []string{"", "AllowAll", `quo"te`, `back\slash`, "tab\tnew\nline", "ünïcödé ✓", "\x00\x7f", "\xff\xfe invalid", "\u2028\u2029", strings.Repeat("x", 300)}
	for _, sid := range sids {
		for _, principal := range []string{`"*"`, `{"AWS":"arn:aws:iam::111122223333:root"}`} {
			sidMember, label := "", "Statement[1]"
			if sid != "" {
				q, _ := json.Marshal(sid) // invalid UTF-8 becomes U+FFFD
				sidMember = `"Sid":` + string(q) + `,`
				json.Unmarshal(q, &label)
			}
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:Sign","Resource":"*"},
				{` + sidMember + `"Effect":"Allow","Principal":` + principal + `,"Action":"kms:*","Resource":"*"}]}`
			p := mustParse(t, doc)
			d := p.Evaluate(Request{Principal: "arn:aws:iam::111122223333:user/alice", Action: "kms:Decrypt"})
			if !d.Allowed || d.MatchedStatement != label || d.Reason != fmt.Sprintf("allowed by statement %q", label) {
				t.Errorf("Sid %q, principal %s: %+v", sid, principal, d)
			}
		}
	}
}

// TestForAnyValueSingleValuedKey: ForAnyValue on a single-valued key is at
// least as strict as the plain operator. In AWS such a key has one value
// and the two agree; here keys that differ only in case merge into one
// key with several values, and ForAnyValue must not let one of them carry
// an Allow the plain operator refuses. On multi-valued keys ForAnyValue
// keeps its meaning, and an absent key still fails it.
func TestForAnyValueSingleValuedKey(t *testing.T) {
	allow := func(cond string) *Policy {
		return mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:GenerateDataKey","Resource":"*","Condition":`+cond))
	}
	deny := func(cond string) *Policy {
		return mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
		 {"Sid":"D","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":`+cond+`}]}`)
	}
	twins := AddEncryptionContext(nil, map[string]string{"tenant": "A", "TENANT": "B"})
	one := AddEncryptionContext(nil, map[string]string{"tenant": "A"})
	tests := []struct {
		name    string
		p       *Policy
		ctx     map[string][]string
		allowed bool
	}{
		{"plain, twins", allow(`{"StringEquals":{"kms:EncryptionContext:tenant":"A"}}`), twins, false},
		{"ForAnyValue, twins", allow(`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:tenant":"A"}}`), twins, false},
		{"ForAnyValue StringLike, twins", allow(`{"ForAnyValue:StringLike":{"kms:EncryptionContext:tenant":"A*"}}`), twins, false},
		{"ForAnyValue both values listed, twins", allow(`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:tenant":["A","B"]}}`), twins, true},
		{"ForAnyValue, one value", allow(`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:tenant":"A"}}`), one, true},
		{"ForAnyValue, absent", allow(`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:tenant":"A"}}`), nil, false},
		{"ForAnyValue StringNotEquals, absent", allow(`{"ForAnyValue:StringNotEquals":{"kms:EncryptionContext:tenant":"A"}}`), nil, false},
		{"ForAnyValue typed, twins", allow(`{"ForAnyValue:NumericLessThan":{"kms:EncryptionContext:tenant":"5"}}`),
			AddEncryptionContext(nil, map[string]string{"tenant": "1", "TENANT": "9"}), false},
		// Deny: any value applies it, as before.
		{"Deny ForAnyValue, twins", deny(`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:tenant":"B"}}`), twins, false},
		{"Deny ForAnyValue, other", deny(`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:tenant":"C"}}`), twins, true},
		// Multi-valued keys: ForAnyValue means any.
		{"ForAnyValue EncryptionContextKeys", allow(`{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"tenant"}}`),
			AddEncryptionContext(nil, map[string]string{"tenant": "A", "other": "B"}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.Evaluate(Request{Principal: role, Action: "kms:GenerateDataKey", Resource: keyARN, Context: tt.ctx})
			if d.Allowed != tt.allowed {
				t.Errorf("Allowed = %v, want %v (%s)", d.Allowed, tt.allowed, d.Reason)
			}
		})
	}
}
