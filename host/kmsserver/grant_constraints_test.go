// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// TestCreateGrantRefusesEmptyConstraint (attack): a grant constrained to
// EncryptionContextEquals {} (or Subset {}) cannot be stored as such: the
// record omits empty maps, so once read back (PostgreSQL at once, the
// directory store after a restart) the grant would have no constraint,
// and its grantee would decrypt blobs of any encryption context.
// CreateGrant refuses an empty constraint map with ValidationException,
// and the grantee stays denied, after a restart too.
func TestCreateGrantRefusesEmptyConstraint(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		member string
		c      *types.GrantConstraints
	}{
		{"EncryptionContextEquals", &types.GrantConstraints{EncryptionContextEquals: map[string]string{}}},
		{"EncryptionContextSubset", &types.GrantConstraints{EncryptionContextSubset: map[string]string{}}},
	} {
		t.Run(tc.member, func(t *testing.T) {
			env := newEnv(t, nil)
			id := env.createKey(t)
			_, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
				Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Constraints: tc.c})
			ae := wantCode(t, err, CodeValidation)
			if !strings.Contains(ae.Message, tc.member) {
				t.Fatalf("message %q does not name %s", ae.Message, tc.member)
			}
			secretEC := map[string]string{"tenant": "someone-else"}
			blob := env.encrypt(t, id, []byte("tenant secret"), secretEC)
			_, err = env.clientFor(strangerAKID, strangerSecret).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: secretEC})
			wantCode(t, err, CodeAccessDenied)
			if testBackend != backendDir {
				return // PostgreSQL reads every record back at each request
			}
			// Restart on the same directory.
			env.ts.Close()
			env.srv.store.(*keystore.Dir).Close()
			env2 := newEnv(t, func(c *Config) { c.Store = openDir(t, env.dir) })
			_, err = env2.clientFor(strangerAKID, strangerSecret).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: secretEC})
			wantCode(t, err, CodeAccessDenied)
		})
	}
}

// TestGrantConstraintMeansItsStoredForm: a grant holding an empty
// constraint map in memory (as a store writer's record can decode to, and
// as CreateGrant once kept) is judged as its stored form is, the empty map
// being omitted from the record and from the grants' digest: no
// constraint. So no replica, and no restart, judges a grant otherwise than
// another, and a child grant is compared with its parent's stored form.
func TestGrantConstraintMeansItsStoredForm(t *testing.T) {
	roundTrip := func(g keystore.Grant) keystore.Grant {
		b, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		var out keystore.Grant
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ecs := []map[string]string{nil, {}, {"tenant": "a"}, {"tenant": "a", "x": "y"}}
	for _, g := range []keystore.Grant{
		{EncryptionContextEquals: map[string]string{}},
		{EncryptionContextSubset: map[string]string{}},
		{EncryptionContextEquals: map[string]string{"tenant": "a"}},
		{EncryptionContextSubset: map[string]string{"tenant": "a"}},
	} {
		stored := roundTrip(g)
		if grantsDigest([]keystore.Grant{g}) != grantsDigest([]keystore.Grant{stored}) {
			t.Fatalf("grant %+v: digest differs from its stored form's", g)
		}
		for _, ec := range ecs {
			if got, want := constraintHolds(&g, ec), constraintHolds(&stored, ec); got != want {
				t.Errorf("grant %+v, encryption context %v: constraint holds %v in memory, %v once stored", g, ec, got, want)
			}
		}
		for _, child := range []keystore.Grant{{}, {EncryptionContextEquals: map[string]string{}}, {EncryptionContextSubset: map[string]string{"tenant": "a"}}} {
			if got, want := atLeastAsStrict(&child, &g), atLeastAsStrict(&child, &stored); got != want {
				t.Errorf("parent %+v, child %+v: at least as strict %v in memory, %v once stored", g, child, got, want)
			}
			if got, want := atLeastAsStrict(&child, &g), atLeastAsStrict(ptr(roundTrip(child)), &stored); got != want {
				t.Errorf("parent %+v, child %+v: at least as strict %v in memory, %v once both are stored", g, child, got, want)
			}
		}
	}
	if !sameGrant(&keystore.Grant{EncryptionContextEquals: map[string]string{}}, &keystore.Grant{}) {
		t.Error("sameGrant tells an empty constraint map from none, which the record does not")
	}
}

func ptr[T any](v T) *T { return &v }
