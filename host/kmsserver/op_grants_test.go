// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

const (
	strangerAKID      = "AKIAOTHERPRINCIPAL01"
	strangerSecret    = "other-secret"
	strangerPrincipal = "arn:aws:iam::444455556666:user/stranger"
)

// TestGrantCannotLiftAttestationDeny (attack): the parent-role holds a
// grant for GenerateDataKey and Decrypt, but the key policy denies it those
// without an attestation document. The grant must not lift the Deny: a
// Recipient-less GenerateDataKey or Decrypt is refused, and only an
// attested one passes (through the grant, as the key policy does not name
// the parent).
func TestGrantCannotLiftAttestationDeny(t *testing.T) {
	e := newRecipientEnv(t, withParent)
	ctx := context.Background()
	pol := `{"Version":"2012-10-17","Statement":[
 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:*","Resource":"*"},
 {"Sid":"NoParentWithoutAttestation","Effect":"Deny","Principal":{"AWS":"` + parentPrincipal + `"},"Action":"kms:*","Resource":"*",
  "Condition":{"Null":{"kms:RecipientAttestation:ImageSha384":"true"}}}]}`
	ck, err := e.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	if _, err := e.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(parentPrincipal),
		Operations: []types.GrantOperation{types.GrantOperationGenerateDataKey, types.GrantOperationDecrypt}}); err != nil {
		t.Fatal(err)
	}
	parent := e.clientFor(parentAKID, parentSecret)
	_, err = parent.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	ae := wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, "NoParentWithoutAttestation") {
		t.Fatalf("denied for another reason: %s", ae.Message)
	}
	blob := e.encrypt(t, id, []byte("secret"), nil)
	_, err = parent.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeAccessDenied)
	// Attested: the Deny does not match, and the grant allows.
	out, err := parent.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256,
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: e.doc(t)}})
	if err != nil || len(out.CiphertextForRecipient) == 0 || out.Plaintext != nil {
		t.Fatalf("attested GenerateDataKey through the grant: %v", err)
	}
	// The identity policy's Deny holds against grants too.
	e2 := newRecipientEnv(t, func(c *Config) {
		c.AccessKeys[parentAKID] = AccessKey{Secret: parentSecret, PrincipalARN: parentPrincipal,
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:GenerateDataKey","Resource":"*"}]}`}
	})
	id2 := e2.createKey(t)
	if _, err := e2.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id2), GranteePrincipal: aws.String(parentPrincipal),
		Operations: []types.GrantOperation{types.GrantOperationGenerateDataKey}}); err != nil {
		t.Fatal(err)
	}
	_, err = e2.clientFor(parentAKID, parentSecret).GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id2), KeySpec: types.DataKeySpecAes256,
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: e2.doc(t)}})
	wantCode(t, err, CodeAccessDenied)
}

// TestGrants: a grant gives another account's principal exactly its
// operations within its constraint; ListGrants and ListRetirableGrants
// page; RetireGrant (by token, by the retiring principal) and RevokeGrant
// take it away; retried CreateGrant with the same name answers the same
// grant; the errors are AWS's.
func TestGrants(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	stranger := env.clientFor(strangerAKID, strangerSecret)
	id := env.createKey(t)
	blob := env.encrypt(t, id, []byte("for the stranger"), map[string]string{"app": "x"})

	_, err := stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"app": "x"}})
	wantCode(t, err, CodeAccessDenied)

	cg, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		RetiringPrincipal: aws.String(testPrincipal), Name: aws.String("stranger-decrypt"),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(*cg.GrantId) != 64 || *cg.GrantToken == "" {
		t.Fatalf("CreateGrant answer %+v", cg)
	}
	// Within the constraint (a superset of it) only.
	if out, err := stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"app": "x"}, GrantTokens: []string{*cg.GrantToken}}); err != nil || string(out.Plaintext) != "for the stranger" {
		t.Fatalf("Decrypt through the grant: %v", err)
	}
	if _, err := stranger.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(env.srv.keyARN(id)), Plaintext: []byte("y"), EncryptionContext: map[string]string{"app": "x", "more": "1"}}); err != nil {
		t.Fatalf("Encrypt with a superset of the constraint: %v", err)
	}
	_, err = stranger.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("y"), EncryptionContext: map[string]string{"app": "z"}})
	wantCode(t, err, CodeAccessDenied)
	_, err = stranger.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("y")})
	wantCode(t, err, CodeAccessDenied)
	_, err = stranger.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, EncryptionContext: map[string]string{"app": "x"}})
	wantCode(t, err, CodeAccessDenied)
	_, err = stranger.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeAccessDenied)

	// A retried CreateGrant with the same name and parameters: the same grant.
	again, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		RetiringPrincipal: aws.String(testPrincipal), Name: aws.String("stranger-decrypt"),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}}})
	if err != nil || *again.GrantId != *cg.GrantId {
		t.Fatalf("retried CreateGrant: %v", err)
	}
	// Equals constraint, and more grants for paging.
	eq, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		Operations:  []types.GrantOperation{types.GrantOperationGenerateDataKey},
		Constraints: &types.GrantConstraints{EncryptionContextEquals: map[string]string{"app": "gdk"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, EncryptionContext: map[string]string{"app": "gdk"}}); err != nil {
		t.Fatalf("GenerateDataKey with the exact context: %v", err)
	}
	_, err = stranger.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, EncryptionContext: map[string]string{"app": "gdk", "x": "y"}})
	wantCode(t, err, CodeAccessDenied)
	if _, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String("arn:aws:iam::111122223333:role/third"),
		Operations: []types.GrantOperation{types.GrantOperationDescribeKey}, RetiringPrincipal: aws.String(testPrincipal)}); err != nil {
		t.Fatal(err)
	}
	var all []types.GrantListEntry
	p := awskms.NewListGrantsPaginator(c, &awskms.ListGrantsInput{KeyId: aws.String(id), Limit: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out.Grants...)
	}
	if len(all) != 3 || *all[0].GrantId != *cg.GrantId || *all[0].Name != "stranger-decrypt" || all[0].Constraints.EncryptionContextSubset["app"] != "x" ||
		*all[0].IssuingAccount != "arn:aws:iam::111122223333:root" || *all[0].KeyId != env.srv.keyARN(id) {
		t.Fatalf("ListGrants: %d grants, first %+v", len(all), all[0])
	}
	lg, err := c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal)})
	if err != nil || len(lg.Grants) != 2 {
		t.Fatalf("ListGrants by grantee: %v", err)
	}
	lr, err := c.ListRetirableGrants(ctx, &awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(testPrincipal)})
	if err != nil || len(lr.Grants) != 2 {
		t.Fatalf("ListRetirableGrants: %+v, %v", lr, err)
	}
	_, err = c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: aws.String(id), Limit: aws.Int32(101)})
	wantCode(t, err, CodeValidation)
	_, err = c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: aws.String(id), Marker: aws.String("nope")})
	wantCode(t, err, CodeInvalidMarker)

	// Retire: not by the grantee (RetireGrant not granted), by the
	// retiring principal with the token.
	_, err = stranger.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: cg.GrantToken})
	wantCode(t, err, CodeAccessDenied)
	_, err = c.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: aws.String("ekgt1.bm9wZQ")})
	wantCode(t, err, CodeInvalidGrantToken)
	if _, err := c.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: cg.GrantToken}); err != nil {
		t.Fatal(err)
	}
	_, err = stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"app": "x"}})
	wantCode(t, err, CodeAccessDenied)
	_, err = c.RetireGrant(ctx, &awskms.RetireGrantInput{KeyId: aws.String(id), GrantId: cg.GrantId})
	wantCode(t, err, CodeNotFound)
	// Revoke: by the key's administrator.
	if _, err := c.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: aws.String(id), GrantId: eq.GrantId}); err != nil {
		t.Fatal(err)
	}
	_, err = stranger.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, EncryptionContext: map[string]string{"app": "gdk"}})
	wantCode(t, err, CodeAccessDenied)
	_, err = c.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: aws.String(id), GrantId: eq.GrantId})
	wantCode(t, err, CodeNotFound)
	_, err = c.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: aws.String(id), GrantId: aws.String("not-a-grant-id")})
	wantCode(t, err, CodeInvalidGrantID)
	_, err = stranger.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: aws.String(id), GrantId: cg.GrantId})
	wantCode(t, err, CodeAccessDenied)

	// Bad requests.
	for name, in := range map[string]*awskms.CreateGrantInput{
		"Sign on a symmetric key": {Operations: []types.GrantOperation{types.GrantOperationSign}},
		"bad principal":           {GranteePrincipal: aws.String("stranger"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}},
		"both constraints": {Operations: []types.GrantOperation{types.GrantOperationDecrypt},
			Constraints: &types.GrantConstraints{EncryptionContextEquals: map[string]string{"a": "b"}, EncryptionContextSubset: map[string]string{"a": "b"}}},
		"bad name": {Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Name: aws.String("with space")},
	} {
		t.Run(name, func(t *testing.T) {
			in.KeyId = aws.String(id)
			if in.GranteePrincipal == nil {
				in.GranteePrincipal = aws.String(strangerPrincipal)
			}
			_, err := c.CreateGrant(ctx, in)
			wantCode(t, err, CodeValidation)
		})
	}
	_, err = c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteeServicePrincipal: aws.String("dynamodb.amazonaws.com"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantCode(t, err, CodeUnsupportedOperation)
	_, err = c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal), Operations: []types.GrantOperation{types.GrantOperationDecrypt}, DryRun: aws.Bool(true)})
	wantCode(t, err, CodeDryRunOperation)
	// Constraints only with operations that have an encryption context.
	sk, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: sk.KeyMetadata.KeyId, GranteePrincipal: aws.String(strangerPrincipal),
		Operations: []types.GrantOperation{types.GrantOperationSign}, Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}}})
	wantCode(t, err, CodeValidation)
	if _, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: sk.KeyMetadata.KeyId, GranteePrincipal: aws.String(strangerPrincipal),
		Operations: []types.GrantOperation{types.GrantOperationSign, types.GrantOperationGetPublicKey}}); err != nil {
		t.Fatalf("a signing grant: %v", err)
	}
	if _, err := stranger.Sign(ctx, &awskms.SignInput{KeyId: sk.KeyMetadata.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}); err != nil {
		t.Fatalf("Sign through a grant: %v", err)
	}
}

// TestGrantQuotaAndState: the 101st grant of a key is
// LimitExceededException; a key pending deletion takes no new grant. With
// DryRun, both answer the same (not DryRunOperationException, "would have
// succeeded"); a retry of an existing named grant, which the real call
// answers with that grant even on a full key, is a DryRunOperation.
func TestGrantQuotaAndState(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createKey(t)
	named := &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String("arn:aws:iam::111122223333:role/named"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Name: aws.String("named")}
	if _, err := c.CreateGrant(ctx, named); err != nil {
		t.Fatal(err)
	}
	for i := range maxGrantsPerKey - 1 {
		if _, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(fmt.Sprintf("arn:aws:iam::111122223333:role/r%d", i)),
			Operations: []types.GrantOperation{types.GrantOperationDecrypt}}); err != nil {
			t.Fatalf("grant %d: %v", i, err)
		}
	}
	for _, dry := range []bool{true, false} {
		_, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal), Operations: []types.GrantOperation{types.GrantOperationDecrypt}, DryRun: aws.Bool(dry)})
		wantCode(t, err, CodeLimitExceeded)
	}
	named.DryRun = aws.Bool(true)
	_, err := c.CreateGrant(ctx, named)
	wantCode(t, err, CodeDryRunOperation)
	named.DryRun = nil
	if _, err := c.CreateGrant(ctx, named); err != nil {
		t.Fatalf("retry of a named grant on a full key: %v", err)
	}
	id2 := env.createKey(t)
	if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id2), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		_, err = c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id2), GranteePrincipal: aws.String(strangerPrincipal), Operations: []types.GrantOperation{types.GrantOperationDecrypt}, DryRun: aws.Bool(dry)})
		wantCode(t, err, CodeInvalidState)
	}
}

// TestCreateGrantConditionKeys: a key policy limits CreateGrant with
// kms:GrantOperations, kms:GranteePrincipal and kms:GrantIsForAWSResource.
func TestCreateGrantConditionKeys(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	pol := `{"Version":"2012-10-17","Statement":[
 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":["kms:PutKeyPolicy","kms:DescribeKey","kms:Encrypt"],"Resource":"*"},
 {"Sid":"NarrowGrants","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:CreateGrant","Resource":"*","Condition":{
   "ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]},
   "StringEquals":{"kms:GranteePrincipal":"` + strangerPrincipal + `"},
   "Bool":{"kms:GrantIsForAWSResource":"false"}}}]}`
	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyId
	if _, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String(strangerPrincipal), Operations: []types.GrantOperation{types.GrantOperationDecrypt}}); err != nil {
		t.Fatalf("allowed grant: %v", err)
	}
	_, err = c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String(strangerPrincipal), Operations: []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationGenerateDataKey}})
	wantCode(t, err, CodeAccessDenied)
	_, err = c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String("arn:aws:iam::111122223333:role/other"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantCode(t, err, CodeAccessDenied)
	_, err = c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: id})
	wantCode(t, err, CodeAccessDenied)
}

// TestGrantFromGrant: a grantee holding CreateGrant may pass on no more
// than its own grant: its operations, and a constraint at least as strict.
func TestGrantFromGrant(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	if _, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		Operations:  []types.GrantOperation{types.GrantOperationCreateGrant, types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"tenant": "a"}}}); err != nil {
		t.Fatal(err)
	}
	stranger := env.clientFor(strangerAKID, strangerSecret)
	third := "arn:aws:iam::444455556666:role/third"
	if _, err := stranger.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(third),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"tenant": "a", "app": "b"}}}); err != nil {
		t.Fatalf("a narrower grant from a grant: %v", err)
	}
	_, err := stranger.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(third),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}, Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"tenant": "a"}}})
	wantCode(t, err, CodeAccessDenied)
	_, err = stranger.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(third),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantCode(t, err, CodeAccessDenied)
}

// TestGrantIsBound: a store writer without the root key who adds a grant
// to a key record gains nothing: the record fails its integrity check.
func TestGrantIsBound(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	blob := env.encrypt(t, id, []byte("x"), nil)
	if _, err := env.srv.store.UpdateKey(ctx, id, func(k *keystore.Key) error {
		k.Grants = append(k.Grants, keystore.Grant{ID: fmt.Sprintf("%064x", 1), CreatedAt: time.Now(), GranteePrincipal: strangerPrincipal,
			IssuingAccount: testAccount, Operations: []string{"Decrypt"}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stranger := env.clientFor(strangerAKID, strangerSecret)
	_, err := stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeInternal)
}
