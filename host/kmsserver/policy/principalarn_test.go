// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"strings"
	"testing"
)

// TestPrincipalArnOfRoleSession checks aws:PrincipalArn for an assumed-role
// session caller. AWS sets it to the role's ARN
// (arn:aws:iam::ACCT:role/[PATH/]NAME), never the session ARN, but a session
// ARN does not carry the role's path: the key's value is unknown. A condition
// on it then holds in a Deny and fails in an Allow, whatever the operator
// (fail closed), unless the request's context sets aws:PrincipalArn to a role
// ARN itself.
func TestPrincipalArnOfRoleSession(t *testing.T) {
	const (
		session = "arn:aws:sts::111122223333:assumed-role/untrusted/i-0abc"
		roleArn = "arn:aws:iam::111122223333:role/untrusted"
	)
	allowAll := `{"Sid":"AllowAll","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}`
	deny := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[` + allowAll + `,
		 {"Sid":"DenyRole","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":` + cond + `}]}`
	}
	allow := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"AllowRole","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*","Condition":` + cond + `}]}`
	}
	tests := []struct {
		name, doc string
		ctx       map[string][]string
		want      bool
	}{
		// The escape the review found: the Deny names the role, the caller is
		// its session.
		{"Deny ArnEquals role", deny(`{"ArnEquals":{"aws:PrincipalArn":"` + roleArn + `"}}`), nil, false},
		// With the role's path, which the session ARN cannot tell.
		{"Deny ArnEquals role with path", deny(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/team/untrusted"}}`), nil, false},
		{"Deny ArnLike role", deny(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*untrusted"}}`), nil, false},
		{"Deny StringEquals role", deny(`{"StringEquals":{"aws:PrincipalArn":"` + roleArn + `"}}`), nil, false},
		{"Deny ArnNotEquals other role", deny(`{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/signer"}}`), nil, false},
		{"Deny Null true", deny(`{"Null":{"aws:PrincipalArn":"true"}}`), nil, false},
		// Even a Deny aimed at the session ARN itself applies.
		{"Deny ArnEquals session", deny(`{"ArnEquals":{"aws:PrincipalArn":"` + session + `"}}`), nil, false},
		// Allows on the key never hold for a session.
		{"Allow ArnEquals role", allow(`{"ArnEquals":{"aws:PrincipalArn":"` + roleArn + `"}}`), nil, false},
		{"Allow ArnEquals session", allow(`{"ArnEquals":{"aws:PrincipalArn":"` + session + `"}}`), nil, false},
		{"Allow ArnNotEquals other", allow(`{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/other"}}`), nil, false},
		{"Allow Null false", allow(`{"Null":{"aws:PrincipalArn":"false"}}`), nil, false},
		{"Allow StringLikeIfExists", allow(`{"StringLikeIfExists":{"aws:PrincipalArn":"*"}}`), nil, false},
		// A session ARN given as aws:PrincipalArn in the context is unknown too.
		{"context session Allow", allow(`{"ArnEquals":{"aws:PrincipalArn":"` + session + `"}}`), ctxOf("aws:PrincipalArn", session), false},
		{"context session Deny", deny(`{"StringEqualsIgnoreCase":{"aws:PrincipalArn":"` + roleArn + `"}}`), ctxOf("AWS:PRINCIPALARN", strings.ToUpper(session)), false},
		// A caller that knows the role's ARN sets it.
		{"context role Allow", allow(`{"ArnEquals":{"aws:PrincipalArn":"` + roleArn + `"}}`), ctxOf("aws:PrincipalArn", roleArn), true},
		{"context role Deny other", deny(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/other"}}`), ctxOf("aws:PrincipalArn", roleArn), true},
		// Conditions on other keys are unaffected, and so is the account.
		{"Allow PrincipalAccount", allow(`{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`), nil, true},
		{"Deny on another key", deny(`{"StringEquals":{"kms:EncryptionContext:x":"y"}}`), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.doc).Evaluate(Request{Principal: session, Action: "kms:Decrypt", Resource: keyARN, Context: tt.ctx})
			if d.Allowed != tt.want {
				t.Fatalf("Allowed = %v, want %v (%s)", d.Allowed, tt.want, d.Reason)
			}
			if !d.Allowed && !strings.Contains(d.Reason, "aws:PrincipalArn") {
				t.Errorf("reason %q does not name aws:PrincipalArn", d.Reason)
			}
		})
	}

	// The Principal element treats the session as its role: a Deny naming
	// the role there and one naming it in aws:PrincipalArn agree.
	viaPrincipal := mustParse(t, `{"Version":"2012-10-17","Statement":[`+allowAll+`,
	 {"Sid":"DenyRole","Effect":"Deny","Principal":{"AWS":"`+roleArn+`"},"Action":"kms:*","Resource":"*"}]}`)
	if d := viaPrincipal.Evaluate(Request{Principal: session, Action: "kms:Decrypt", Resource: keyARN}); d.Allowed {
		t.Errorf("Deny naming the role in Principal does not apply to its session: %s", d.Reason)
	}

	// Users and roles themselves are their own aws:PrincipalArn.
	for _, who := range []string{roleArn, "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:root"} {
		p := mustParse(t, allow(`{"ArnEquals":{"aws:PrincipalArn":"`+who+`"}}`))
		if d := p.Evaluate(Request{Principal: who, Action: "kms:Decrypt", Resource: keyARN}); !d.Allowed {
			t.Errorf("%s: Allow on its own aws:PrincipalArn denied: %s", who, d.Reason)
		}
	}
}

// TestPrincipalArnOfRoleSessionReasons checks that the reasons say why a
// session's aws:PrincipalArn decided the request.
func TestPrincipalArnOfRoleSessionReasons(t *testing.T) {
	const session = "arn:aws:sts::111122223333:assumed-role/untrusted/i-0abc"
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Sid":"AllowRole","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/untrusted"}}}]}`)
	d := p.Evaluate(Request{Principal: session, Action: "kms:Decrypt", Resource: keyARN})
	if d.Allowed || !strings.Contains(d.Reason, "assumed-role session") {
		t.Errorf("Allow: Allowed = %v, reason %q", d.Allowed, d.Reason)
	}
	p = mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Sid":"DenyRole","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/untrusted"}}}]}`)
	d = p.Evaluate(Request{Principal: session, Action: "kms:Decrypt", Resource: keyARN})
	if !d.ExplicitDeny || !strings.Contains(d.Reason, "assumed-role session") {
		t.Errorf("Deny: ExplicitDeny = %v, reason %q", d.ExplicitDeny, d.Reason)
	}
}
