// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"errors"
	"strings"
	"testing"
)

// TestAccessKeyPrincipalRoleSession: an access key whose principal is an
// STS assumed-role session ARN is a configuration error that names the
// principal setting and the role ARN to configure instead. Key policies
// see a session's aws:PrincipalArn as its role's ARN, path included, which
// the session ARN does not give; before, such a key's requests presented the
// session ARN as aws:PrincipalArn and escaped a Deny on the role's ARN (a
// plaintext data key under a key whose policy denied the role).
func TestAccessKeyPrincipalRoleSession(t *testing.T) {
	for _, session := range []string{
		"arn:aws:sts::111122223333:assumed-role/untrusted/i-0abc",
		"arn:aws-cn:sts::111122223333:assumed-role/untrusted/s",
		"ARN:AWS:STS::111122223333:ASSUMED-ROLE/untrusted/s",
	} {
		cfg := &Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
			AccessKeys: map[string]AccessKey{
				"A":                    {Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a", Policy: FullAccessPolicy},
				"AKIAUNTRUSTEDSESS001": {Secret: "s", PrincipalARN: session, Policy: FullAccessPolicy},
			}}
		_, err := NewServer(cfg)
		var ce *ConfigError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Setting != `access key "AKIAUNTRUSTEDSESS001"` {
			t.Fatalf("%s: %v, want a ConfigError for the access key", session, err)
		}
		for _, want := range []string{session, "assumed-role session", "principal", "role/untrusted", "aws:PrincipalArn"} {
			if !strings.Contains(ce.Reason, want) {
				t.Errorf("%s: the error does not say %q: %v", session, want, err)
			}
		}
	}
	// The role itself, users, the account root and federated-user sessions
	// (whose aws:PrincipalArn is their own ARN) are accepted.
	for _, p := range []string{
		"arn:aws:iam::111122223333:role/untrusted",
		"arn:aws:iam::111122223333:role/team/untrusted",
		"arn:aws:iam::111122223333:root",
		"arn:aws:sts::111122223333:federated-user/bob",
	} {
		cfg := &Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
			AccessKeys: map[string]AccessKey{"A": {Secret: "s", PrincipalARN: p, Policy: FullAccessPolicy}}}
		if _, err := NewServer(cfg); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
