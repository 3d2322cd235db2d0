// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzRequests exercise every kind of condition key and principal.
var fuzzRequests = []Request{
	{Principal: "arn:aws:iam::111122223333:role/data-processing", Action: "kms:Decrypt"},
	{Principal: "arn:aws:iam::111122223333:user/alice", Action: "kms:GenerateDataKey", Resource: "arn:aws:kms:us-east-1:111122223333:key/k",
		Context: AddEncryptionContext(AddAttestation(nil, map[int][]byte{0: {0x7c, 0x1a}, 1: {0x0e}, 8: {}}), map[string]string{"AppName": "ExampleApp", "appname": "x", "Stage": "Restricted"})},
	{Principal: "arn:aws:sts::444455556666:assumed-role/r/s", Action: "KMS:ReEncryptFrom", Context: map[string][]string{"kms:ViaService": {"ec2.us-west-2.amazonaws.com"}, "kms:CallerAccount": {}, "KMS:ENCRYPTIONCONTEXTKEYS": {"a", "b", "c"}}},
	{Principal: "ec2.amazonaws.com", Action: "kms:CreateGrant", Context: map[string][]string{"kms:EncryptionContext:flag": {"true", "TRUE"}}},
	{Principal: "arn:aws:iam::111122223333:role/data-processing", Action: "kms:Decrypt",
		Context: AddNitroTPMAttestation(nil, map[int][]byte{0: {0x7c, 0x1a}, 4: {0xa4}, 7: {}})},
	{Principal: "arn:aws:iam::111122223333:role/r", Action: "kms:Sign", Context: AddTransport(map[string][]string{
		"kms:RequestAlias": {"alias/prod"}, "kms:ResourceAliases": {"alias/prod", "alias/x"}, "kms:EncryptionContext:n": {"12.5", "x"}},
		netip.MustParseAddr("203.0.113.7"), true, time.Unix(1796603400, 0))},
	{Principal: "arn:aws:iam::111122223333:role/abac", Action: "kms:TagResource", Resource: "arn:aws:kms:us-east-1:111122223333:key/k",
		Context: AddResourceTags(AddRequestTags(nil, map[string]string{"Project": "Alpha", "project": "", "a:b/c": "x"}), map[string]string{"Project": "Beta", "Stage": ""})},
	{Principal: "arn:aws:iam::111122223333:role/abac", Action: "kms:UntagResource", Context: AddTagKeys(nil, []string{"Project", "Owner"})},
	{},
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		doc, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Add(DefaultKeyPolicy("111122223333"))
	f.Add([]byte(stmt(base + `,"Condition":{"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["a*","?b"]},"Null":{"kms:ViaService":true},"BoolIfExists":{"kms:EncryptionContext:flag":"true"}}`)))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/a/b"],"Service":"ec2.amazonaws.com"},"NotAction":"kms:Describe?ey","Resource":"arn:aws:kms:*:111122223333:key/*"}]}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}]}`))
	f.Add([]byte(stmt(base + `,"Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]},"Bool":{"aws:SecureTransport":true},"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"},"NumericGreaterThanEqualsIfExists":{"aws:EpochTime":1796603400}}`)))
	f.Add([]byte(stmt(base + `,"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/r*"},"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/p*"},"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"},"NumericNotEquals":{"kms:EncryptionContext:n":"-1.5"},"DateNotEquals":{"aws:EpochTime":"2026-12-07"}}`)))
	f.Add([]byte(stmt(base + `,"Condition":{"StringEqualsIfExists":{"aws:ResourceTag/Project":["Alpha","Beta"]},"ForAnyValue:StringNotEquals":{"aws:TagKeys":["Project","CostCenter"]},"Null":{"aws:RequestTag/Stage":false},"ForAllValues:StringLike":{"aws:TagKeys":"P*"}}`)))
	f.Fuzz(func(t *testing.T, doc []byte) {
		// The identity grammar is the key-policy grammar without
		// Principal: it must hold to the same contract.
		if ip, err := ParseIdentity(doc); err == nil {
			for _, r := range fuzzRequests {
				if d := ip.Evaluate(r); d.Reason == "" || d.ViaAccount {
					t.Fatalf("identity policy decision %+v", d)
				}
			}
		} else if ip != nil || !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("ParseIdentity: %v", err)
		}
		p, err := Parse(doc)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned beside an error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("error lacks the package prefix: %v", err)
			}
			return
		}
		for _, r := range fuzzRequests {
			d := p.Evaluate(r)
			switch {
			case d.Reason == "":
				t.Fatalf("empty reason: %+v", d)
			case d.Allowed && (d.MatchedStatement == "" || d.ExplicitDeny), d.ViaAccount && !d.Allowed:
				t.Fatalf("inconsistent allow: %+v", d)
			case d.ExplicitDeny && (d.Allowed || d.MatchedStatement == ""):
				t.Fatalf("inconsistent explicit deny: %+v", d)
			}
			if d2 := p.Evaluate(r); d2 != d {
				t.Fatalf("non-deterministic: %+v then %+v", d, d2)
			}
		}
	})
}
