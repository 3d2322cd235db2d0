// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/strictyaml"
)

// TestAccessKeyPrincipalRoleSession: an access key whose principal is an
// STS assumed-role session ARN is refused with an error naming the key
// access_keys[i].principal, its line, and the role ARN to write instead (key
// policies see a session's aws:PrincipalArn as its role's ARN, path
// included, which the session ARN does not give).
func TestAccessKeyPrincipalRoleSession(t *testing.T) {
	_, path, base := starterPlus(t, "session.yaml")
	const role = "arn:aws:iam::111122223333:role/parent-role"
	if !bytes.Contains(base, []byte(role)) {
		t.Fatalf("the starter has no %s", role)
	}
	session := "arn:aws:sts::111122223333:assumed-role/parent-role/i-0abc"
	if err := os.WriteFile(path, bytes.Replace(base, []byte(role), []byte(session), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err == nil {
		_, err = f.ServerConfig(nil, nil)
	}
	var se *strictyaml.Error
	if !errors.Is(err, ErrConfig) || !errors.As(err, &se) || se.Key != "access_keys[1].principal" || se.Line == 0 {
		t.Fatalf("%v, want a configuration error at access_keys[1].principal", err)
	}
	for _, want := range []string{session, "assumed-role session", "aws:PrincipalArn", role} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}
