// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// TestRecordIntegrity: someone who can write to the key store but lacks
// the root key can neither loosen a key's policy nor swap key material.
func TestRecordIntegrity(t *testing.T) {
	store, err := keystore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	env := newEnv(t, func(c *Config) { c.Store = store })
	ctx := context.Background()
	c := env.client
	id1, id2 := env.createKey(t), env.createKey(t)
	blob := env.encrypt(t, id1, []byte("x"), nil)

	// PutKeyPolicy through the server keeps the key usable.
	gp, _ := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(id1)})
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id1), Policy: gp.Policy}); err != nil {
		t.Fatal(err)
	}
	if pt := env.decrypt(t, blob, nil); string(pt) != "x" {
		t.Fatal("decrypt after PutKeyPolicy")
	}

	// Editing the policy behind the server's back.
	loose := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := store.UpdateKey(ctx, id1, func(k *keystore.Key) error { k.Policy = loose; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeInternal)
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id1)})
	wantCode(t, err, CodeInternal)

	// Swapping material between keys.
	k2, _ := store.GetKey(ctx, id2)
	if _, err := store.UpdateKey(ctx, id1, func(k *keystore.Key) error {
		k.Policy = k2.Policy
		k.WrappedMaterial = bytes.Clone(k2.WrappedMaterial)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id1), Plaintext: []byte("y")})
	wantCode(t, err, CodeInternal)
	// The untouched key still works.
	env.encrypt(t, id2, []byte("z"), nil)
}

// TestWrongRootKey: a server with another root key cannot use the keys.
func TestWrongRootKey(t *testing.T) {
	store := openDir(t, t.TempDir())
	env := newEnv(t, func(c *Config) { c.Store = store })
	id := env.createKey(t)
	env2 := newEnv(t, func(c *Config) { c.Store = store; c.RootKey = bytes.Repeat([]byte{8}, 32) })
	_, err := env2.client.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("y")})
	wantCode(t, err, CodeInternal)
}

// TestAliasRecordIntegrity: a key-store writer without the root key who
// repoints alias/app at another key (one whose policy it controls) is
// refused (KMSInternalException, as for a tampered key record): alias
// records carry keymaterial's alias MAC.
func TestAliasRecordIntegrity(t *testing.T) {
	store, err := keystore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	env := newEnv(t, func(c *Config) { c.Store = store })
	ctx := context.Background()
	app, other := env.createKey(t), env.createKey(t)
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(app)}); err != nil {
		t.Fatal(err)
	}

	// Behind the server's back.
	if err := store.DeleteAlias(ctx, "alias/app"); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAlias(ctx, keystore.Alias{Name: "alias/app", KeyID: other, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	out, err := env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/app"), NumberOfBytes: aws.Int32(32)})
	if err == nil {
		t.Fatalf("GenerateDataKey by a repointed alias succeeded under key %s (alias/app was created for %s)", aws.ToString(out.KeyId), app)
	}
	wantCode(t, err, CodeInternal)
}

// TestMaterialCacheChecksEveryBoundField (issue 12, finding 6): the cache
// of verified records must not vouch for a record whose key spec or usage
// changed in the store. A store writer turned a cached HMAC key into a
// SYMMETRIC_DEFAULT one: Encrypt then ran with no AEAD (a panic before the
// fix). Every request must see KMSInternalException, as for any record
// that fails its integrity check.
func TestMaterialCacheChecksEveryBoundField(t *testing.T) {
	store := openDir(t, t.TempDir())
	env := newEnv(t, func(c *Config) { c.Store = store })
	ctx := context.Background()
	out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.KeyMetadata.KeyId
	// Warm the cache with the genuine record.
	if _, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateKey(ctx, id, func(k *keystore.Key) error {
		k.KeySpec, k.KeyUsage = "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeInternal)
	_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, CodeInternal)
}
