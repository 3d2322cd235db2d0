// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"errors"
	"testing"
)

func TestParseIdentity(t *testing.T) {
	p, err := ParseIdentity([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"arn:aws:kms:us-east-1:111122223333:key/*"},
		{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Null":{"kms:RecipientAttestation:ImageSha384":"true"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Identity() {
		t.Fatal("Identity() false")
	}
	// Statements apply to whoever the policy is attached to.
	d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN,
		Context: AddAttestation(nil, map[int][]byte{0: {1}})})
	if !d.Allowed || d.ViaAccount {
		t.Fatalf("allowed action: %+v", d)
	}
	if d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN}); !d.ExplicitDeny {
		t.Fatalf("Deny condition on a missing attestation: %+v", d)
	}
	if d := p.Evaluate(Request{Principal: role, Action: "kms:CreateKey", Resource: "*"}); d.Allowed {
		t.Fatalf("unlisted action: %+v", d)
	}
	for _, doc := range []string{
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`,
	} {
		if _, err := ParseIdentity([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseIdentity(%s) = %v, want ErrMalformed", doc, err)
		}
	}
	// And a key policy still needs its Principal.
	if _, err := Parse([]byte(`{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("key policy without Principal: %v", err)
	}
}

// TestViaAccount: an Allow that names the caller only through its account
// (root ARN or account ID) is a delegation to identity policies; one that
// names the caller, or everyone, grants directly.
func TestViaAccount(t *testing.T) {
	for _, tc := range []struct {
		principals string
		via        bool
	}{
		{`{"AWS":"arn:aws:iam::111122223333:root"}`, true},
		{`{"AWS":"111122223333"}`, true},
		{`{"AWS":"` + role + `"}`, false},
		{`{"AWS":["arn:aws:iam::111122223333:root","` + role + `"]}`, false},
		{`"*"`, false},
	} {
		p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":`+tc.principals+`,"Action":"kms:*","Resource":"*"}]}`)
		d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN})
		if !d.Allowed || d.ViaAccount != tc.via {
			t.Errorf("%s: %+v, want ViaAccount %v", tc.principals, d, tc.via)
		}
	}
	// A direct grant wins over an earlier account-wide one.
	p := mustParse(t, `{"Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
		{"Sid":"Role","Effect":"Allow","Principal":{"AWS":"`+role+`"},"Action":"kms:Decrypt","Resource":"*"}]}`)
	if d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN}); !d.Allowed || d.ViaAccount || d.MatchedStatement != "Role" {
		t.Errorf("direct after account-wide: %+v", d)
	}
}
