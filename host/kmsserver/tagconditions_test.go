// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

const (
	abacAKID      = "AKIAABACPRINCIPAL001"
	abacSecret    = "abac-principal-secret"
	abacPrincipal = "arn:aws:iam::111122223333:role/abac"
)

// abacEnv is a server with the test's administrator (FullAccessPolicy) and
// an ABAC principal with the given identity policy; the keys it creates
// have the default key policy, which delegates to identity policies.
func abacEnv(t *testing.T, identity string) (*testEnv, *awskms.Client) {
	t.Helper()
	env := newEnv(t, func(c *Config) {
		c.AccessKeys[abacAKID] = AccessKey{Secret: abacSecret, PrincipalARN: abacPrincipal, Policy: identity}
	})
	return env, env.clientFor(abacAKID, abacSecret)
}

func (env *testEnv) taggedKey(t *testing.T, kv ...string) string {
	t.Helper()
	out, err := env.client.CreateKey(context.Background(), &awskms.CreateKeyInput{Tags: sdkTags(kv...)})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

// TestResourceTagIdentityPolicy is the AWS KMS ABAC example "allow
// kms:Decrypt only on keys tagged Project=Alpha" in an identity policy:
// the key's tags decide, at once after TagResource and UntagResource.
func TestResourceTagIdentityPolicy(t *testing.T) {
	env, abac := abacEnv(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt"],"Resource":"arn:aws:kms:*:111122223333:key/*",
	  "Condition":{"StringEquals":{"aws:ResourceTag/Project":"Alpha"}}}]}`)
	ctx := context.Background()
	alpha, beta, none := env.taggedKey(t, "Project", "Alpha"), env.taggedKey(t, "Project", "Beta"), env.createKey(t)
	decrypt := func(id string) error {
		blob := env.encrypt(t, id, []byte("x"), nil)
		_, err := abac.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
		return err
	}
	if err := decrypt(alpha); err != nil {
		t.Fatalf("Decrypt under the Project=Alpha key: %v", err)
	}
	e := wantCode(t, decrypt(beta), CodeAccessDenied)
	if !strings.Contains(e.Message, "aws:ResourceTag/Project") || !strings.Contains(e.Message, `"Beta"`) {
		t.Errorf("denial does not name the condition and the presented tag: %s", e.Message)
	}
	e = wantCode(t, decrypt(none), CodeAccessDenied)
	if !strings.Contains(e.Message, "key not present") {
		t.Errorf("denial of an untagged key does not say the tag is missing: %s", e.Message)
	}
	// The tag key part is case-insensitive, the value is not.
	if _, err := env.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(beta), Tags: sdkTags("Project", "alpha")}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, decrypt(beta), CodeAccessDenied)
	if _, err := env.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(beta), Tags: sdkTags("Project", "Alpha")}); err != nil {
		t.Fatal(err)
	}
	if err := decrypt(beta); err != nil {
		t.Fatalf("Decrypt after the key was tagged Project=Alpha: %v", err)
	}
	if _, err := env.client.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: aws.String(alpha), TagKeys: []string{"Project"}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, decrypt(alpha), CodeAccessDenied)

	// IfExists: an untagged key passes, a key tagged otherwise does not.
	env2, abac2 := abacEnv(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*",
	  "Condition":{"StringEqualsIfExists":{"aws:resourcetag/project":"Alpha"}}}]}`)
	encrypt := func(id string) error {
		_, err := abac2.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
		return err
	}
	if err := encrypt(env2.createKey(t)); err != nil {
		t.Fatalf("IfExists, untagged key: %v", err)
	}
	if err := encrypt(env2.taggedKey(t, "Project", "Alpha")); err != nil {
		t.Fatalf("IfExists, Project=Alpha: %v", err)
	}
	wantCode(t, encrypt(env2.taggedKey(t, "Project", "Beta")), CodeAccessDenied)
}

// TestTagConditionsKeyPolicy: the same keys in a key policy: a statement
// allowing the ABAC principal kms:Decrypt on the key only while it is
// tagged Project=Alpha; a Deny of TagResource that would add a tag key
// outside a list (ForAnyValue:StringNotEquals on aws:TagKeys, AWS's
// example); a Deny of a tag value (aws:RequestTag); a Deny of removing the
// Project tag (aws:TagKeys of UntagResource).
func TestTagConditionsKeyPolicy(t *testing.T) {
	env, abac := abacEnv(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:CreateKey","Resource":"*"}]}`)
	ctx := context.Background()
	keyPolicy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"AlphaDecrypt","Effect":"Allow","Principal":{"AWS":"` + abacPrincipal + `"},"Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringEquals":{"aws:ResourceTag/Project":"Alpha"}}},
	 {"Sid":"OnlyListedTagKeys","Effect":"Deny","Principal":"*","Action":"kms:TagResource","Resource":"*",
	  "Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["Project","CostCenter"]}}},
	 {"Sid":"NoProd","Effect":"Deny","Principal":"*","Action":"kms:TagResource","Resource":"*",
	  "Condition":{"StringEquals":{"aws:RequestTag/Stage":"prod"}}},
	 {"Sid":"KeepProject","Effect":"Deny","Principal":"*","Action":"kms:UntagResource","Resource":"*",
	  "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"Project"}}}]}`
	out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(keyPolicy), Tags: sdkTags("Project", "Alpha")})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.KeyMetadata.KeyId
	blob := env.encrypt(t, id, []byte("x"), nil)
	if _, err := abac.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob}); err != nil {
		t.Fatalf("key policy allows Decrypt while Project=Alpha: %v", err)
	}
	tag := func(kv ...string) error {
		_, err := env.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags(kv...)})
		return err
	}
	if err := tag("CostCenter", "42"); err != nil {
		t.Fatalf("TagResource with a listed key: %v", err)
	}
	e := wantCode(t, tag("CostCenter", "43", "Secret", "x"), CodeAccessDenied)
	if !strings.Contains(e.Message, "OnlyListedTagKeys") {
		t.Errorf("denial does not name the statement: %s", e.Message)
	}
	// "Stage" is not listed either; with Stage listed, NoProd alone would
	// decide, so try the listed keys with a denied value through a policy
	// without the list.
	wantCode(t, tag("Stage", "prod"), CodeAccessDenied)
	if err := tag("Project", "Beta"); err != nil {
		t.Fatal(err)
	}
	_, err = abac.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeAccessDenied)
	untag := func(keys ...string) error {
		_, err := env.client.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: aws.String(id), TagKeys: keys})
		return err
	}
	if err := untag("CostCenter"); err != nil {
		t.Fatalf("UntagResource of CostCenter: %v", err)
	}
	wantCode(t, untag("CostCenter", "Project"), CodeAccessDenied)
	lt, err := env.client.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if got := tagMap(lt.Tags); len(got) != 1 || got["Project"] != "Beta" {
		t.Fatalf("tags after the denied requests: %v", got)
	}

	// aws:RequestTag with its value, when the key is allowed.
	noProd := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"NoProd","Effect":"Deny","Principal":"*","Action":"kms:TagResource","Resource":"*",
	  "Condition":{"StringEquals":{"aws:RequestTag/Stage":"prod"}}}]}`
	out, err = env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(noProd)})
	if err != nil {
		t.Fatal(err)
	}
	id = *out.KeyMetadata.KeyId
	if err := tag("Stage", "dev"); err != nil {
		t.Fatalf("Stage=dev: %v", err)
	}
	e = wantCode(t, tag("Stage", "prod"), CodeAccessDenied)
	if !strings.Contains(e.Message, "NoProd") {
		t.Errorf("denial does not name the statement: %s", e.Message)
	}
}

// TestRequestTagCreateKey: an identity policy that allows CreateKey only
// with a Project tag (aws:RequestTag with Null) and TagResource only with
// tag keys from a list (ForAllValues:StringEquals on aws:TagKeys).
func TestRequestTagCreateKey(t *testing.T) {
	_, abac := abacEnv(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:CreateKey","Resource":"*","Condition":{"Null":{"aws:RequestTag/Project":"false"}}},
	  {"Effect":"Allow","Action":"kms:TagResource","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["Project","CostCenter"]}}}]}`)
	ctx := context.Background()
	create := func(kv ...string) error {
		_, err := abac.CreateKey(ctx, &awskms.CreateKeyInput{Tags: sdkTags(kv...)})
		return err
	}
	if err := create("Project", "Alpha", "CostCenter", "7"); err != nil {
		t.Fatalf("CreateKey with Project: %v", err)
	}
	wantCode(t, create(), CodeAccessDenied)
	wantCode(t, create("CostCenter", "7"), CodeAccessDenied)
	e := wantCode(t, create("Project", "Alpha", "Owner", "me"), CodeAccessDenied)
	if !strings.Contains(e.Message, "kms:TagResource") {
		t.Errorf("denial does not name kms:TagResource: %s", e.Message)
	}
}

// TestResourceTagsStoreWriter: the parent instance (or anyone) who can
// write to the key store but lacks the root key cannot change a key's tags
// to pass or dodge an aws:ResourceTag condition: the tags are bound to the
// key material. A record from before tags were bound cannot vouch for its
// tags: a policy reading aws:ResourceTag denies it, until TagResource binds
// them.
func TestResourceTagsStoreWriter(t *testing.T) {
	store := openDir(t, t.TempDir())
	env := newEnv(t, func(c *Config) {
		c.Store = store
		c.AccessKeys[abacAKID] = AccessKey{Secret: abacSecret, PrincipalARN: abacPrincipal, Policy: `{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/Project":"Alpha"}}},
		  {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/Quarantine":"true"}}}]}`}
	})
	abac := env.clientFor(abacAKID, abacSecret)
	ctx := context.Background()
	encrypt := func(id string) error {
		_, err := abac.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
		return err
	}
	beta := env.taggedKey(t, "Project", "Beta")
	if _, err := store.UpdateKey(ctx, beta, func(k *keystore.Key) error { k.Tags[0].Value = "Alpha"; return nil }); err != nil {
		t.Fatal(err)
	}
	wantCode(t, encrypt(beta), CodeInternal)

	quarantined := env.taggedKey(t, "Project", "Alpha", "Quarantine", "true")
	blob := env.encrypt(t, quarantined, []byte("x"), nil)
	_, err := abac.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeAccessDenied)
	if _, err := store.UpdateKey(ctx, quarantined, func(k *keystore.Key) error {
		k.Tags = []keystore.Tag{{Key: "Project", Value: "Alpha"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = abac.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeInternal)

	// A record wrapped before tags were bound: its material sealed with
	// the AAD of that time (today's without the tags suffix).
	legacy := env.taggedKey(t, "Project", "Alpha")
	if _, err := store.UpdateKey(ctx, legacy, func(k *keystore.Key) error {
		raw, _, err := env.srv.root.Unwrap(binding(k), k.WrappedMaterial)
		if err != nil {
			return err
		}
		aad := binding(k).AAD()
		aad = aad[len("enclavekit/kms key material v4 sequenced\x00")+8 : len(aad)-len("\x00key tags\x00")-32]
		blk, _ := aes.NewCipher(bytes.Repeat([]byte{7}, 32)) // newEnv's root key
		gcm, _ := cipher.NewGCM(blk)
		nonce := make([]byte, gcm.NonceSize())
		k.WrappedMaterial = gcm.Seal(nonce, nonce, raw, aad)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	env.srv.marks.forget(legacy) // as a replica of this version started after that release wrote it
	e := wantCode(t, encrypt(legacy), CodeAccessDenied)
	if !strings.Contains(e.Message, "cannot be vouched for") {
		t.Errorf("denial does not say the tags are not bound: %s", e.Message)
	}
	// The administrator's policy reads no tag: the key works for it.
	env.encrypt(t, legacy, []byte("x"), nil)
	// TagResource binds the tags.
	if _, err := env.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(legacy), Tags: sdkTags("Owner", "team")}); err != nil {
		t.Fatal(err)
	}
	if err := encrypt(legacy); err != nil {
		t.Fatalf("after TagResource bound the tags: %v", err)
	}
}
