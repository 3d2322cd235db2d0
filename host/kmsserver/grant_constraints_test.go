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

// TestConstraintHoldsKeyCase: in a grant constraint the keys of the
// encryption context pairs are not case-sensitive and the values are (AWS's
// GrantConstraints reference). Folding the keys never widens a grant: a
// request context with two keys that differ only in case satisfies no
// constraint, and a constraint with such keys holds for no context.
func TestConstraintHoldsKeyCase(t *testing.T) {
	eq := func(kv ...string) *keystore.Grant { return &keystore.Grant{EncryptionContextEquals: pairs(kv...)} }
	sub := func(kv ...string) *keystore.Grant { return &keystore.Grant{EncryptionContextSubset: pairs(kv...)} }
	for _, tc := range []struct {
		name string
		g    *keystore.Grant
		ec   map[string]string
		want bool
	}{
		{"Subset key case", sub("Tenant", "A"), pairs("tenant", "A"), true},
		{"Subset key case, more pairs", sub("Tenant", "A"), pairs("TENANT", "A", "x", "y"), true},
		{"Subset value case", sub("Tenant", "A"), pairs("Tenant", "a"), false},
		{"Subset missing", sub("Tenant", "A"), pairs("x", "A"), false},
		{"Equals key case", eq("Tenant", "A", "Purpose", "p"), pairs("tenant", "A", "PURPOSE", "p"), true},
		{"Equals value case", eq("Tenant", "A"), pairs("tenant", "a"), false},
		{"Equals extra pair", eq("Tenant", "A"), pairs("tenant", "A", "x", "y"), false},
		{"Equals missing pair", eq("Tenant", "A", "x", "y"), pairs("tenant", "A"), false},
		// Case twins in the request: never satisfied.
		{"Subset, twins in the request", sub("tenant", "A"), pairs("tenant", "A", "TENANT", "B"), false},
		{"Subset, twins agreeing", sub("tenant", "A"), pairs("tenant", "A", "Tenant", "A"), false},
		{"Subset, twins elsewhere", sub("tenant", "A"), pairs("tenant", "A", "x", "1", "X", "2"), false},
		{"Equals, twins in the request", eq("tenant", "A"), pairs("tenant", "A", "TENANT", "A"), false},
		{"Equals, twins in both", eq("tenant", "A", "TENANT", "B"), pairs("tenant", "A", "TENANT", "B"), false},
		// Case twins in the constraint: never satisfied.
		{"Equals, twins in the constraint", eq("tenant", "A", "TENANT", "A"), pairs("tenant", "A", "x", "y"), false},
		{"Subset, twins in the constraint", sub("tenant", "A", "TENANT", "B"), pairs("tenant", "A"), false},
		// Twins agreeing on the value: before keys were folded, such a
		// constraint needed both keys in the context; folding them into
		// one pair would widen it (found by review).
		{"Subset, agreeing twins in the constraint", sub("tenant", "A", "TENANT", "A"), pairs("tenant", "A"), false},
		{"Subset, agreeing twins, both in the context", sub("tenant", "A", "TENANT", "A"), pairs("tenant", "A", "TENANT", "A"), false},
		// Unicode case folding (EqualFold's): the Kelvin sign is a k.
		{"Subset, Kelvin sign", sub("\u212aey", "v"), pairs("key", "v"), true},
		{"Subset, Kelvin sign twin", sub("key", "v"), pairs("key", "v", "\u212aEY", "w"), false},
		// Invalid UTF-8 bytes are compared as bytes, never folded together.
		{"invalid bytes", sub("\xff", "v"), pairs("\xfe", "v"), false},
		{"invalid bytes twins", sub("\xff", "v"), pairs("\xff", "v", "\xfe", "w"), true},
		{"no constraint", &keystore.Grant{}, pairs("tenant", "A", "TENANT", "B"), true},
	} {
		if got := constraintHolds(tc.g, tc.ec); got != tc.want {
			t.Errorf("%s: constraint %v %v, context %q: holds %v, want %v", tc.name, tc.g.EncryptionContextEquals, tc.g.EncryptionContextSubset, tc.ec, got, tc.want)
		}
	}
	// A grant made through a grant: a child constraint that differs from
	// its parent's only in key case is as strict; values still count.
	for _, tc := range []struct {
		name          string
		child, parent *keystore.Grant
		want          bool
	}{
		{"Subset key case", sub("tenant", "A"), sub("Tenant", "A"), true},
		{"Subset value case", sub("tenant", "a"), sub("Tenant", "A"), false},
		{"Equals key case", eq("tenant", "A"), eq("TENANT", "A"), true},
		{"Equals under Subset", eq("TENANT", "A", "x", "y"), sub("tenant", "A"), true},
		{"Equals twins", eq("tenant", "A", "Tenant", "A"), eq("tenant", "A"), false},
		{"under a parent with twins", sub("tenant", "A"), sub("tenant", "A", "TENANT", "A"), false},
	} {
		if got := atLeastAsStrict(tc.child, tc.parent); got != tc.want {
			t.Errorf("%s: atLeastAsStrict = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func pairs(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestGrantConstraintKeyCase: end to end, a grantee decrypts with an
// encryption context whose key differs from the constraint's only in
// case, and not with a context that adds a case twin of that key.
func TestGrantConstraintKeyCase(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, nil)
	id := env.createKey(t)
	if _, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"Tenant": "A"}}}); err != nil {
		t.Fatal(err)
	}
	stranger := env.clientFor(strangerAKID, strangerSecret)
	ec := map[string]string{"tenant": "A"}
	blob := env.encrypt(t, id, []byte("tenant A's"), ec)
	if _, err := stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec}); err != nil {
		t.Fatalf("Decrypt with {tenant: A} under a grant constrained to {Tenant: A}: %v", err)
	}
	twins := map[string]string{"tenant": "A", "TENANT": "B"}
	blob = env.encrypt(t, id, []byte("tenant B's"), twins)
	_, err := stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: twins})
	wantCode(t, err, CodeAccessDenied)
}
