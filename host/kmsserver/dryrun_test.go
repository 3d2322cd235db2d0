// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// TestDryRunAnswersAsTheRealCall: a request with DryRun answers
// DryRunOperationException ("The request would have succeeded") only when
// the same request without DryRun succeeds, and otherwise the exception
// the real call answers. Each case is made with DryRun first, then
// without. The cases are requests the real call refuses after the key
// and the caller are checked (a Decrypt whose KeyId names another key than
// the ciphertext's, a wrong encryption context, a bad RSA or ML-KEM
// ciphertext, a signature or MAC that does not verify), beside requests
// that succeed. A DryRun that answered "would have succeeded" where the
// real call is refused would tell a caller probing with it (the parent
// instance relaying an enclave's requests, say) that a KeyId it named
// decrypts a blob it does not.
func TestDryRunAnswersAsTheRealCall(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	c := e.client
	sym, other := e.createKey(t), e.createKey(t)
	for alias, target := range map[string]string{"alias/dry-own": sym, "alias/dry-other": other} {
		if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(target)}); err != nil {
			t.Fatal(err)
		}
	}
	ec := map[string]string{"purpose": "dry run"}
	blob := e.encrypt(t, sym, []byte("secret"), ec)
	tampered := bytes.Clone(blob)
	tampered[len(tampered)-1] ^= 1
	// A blob whose header names sym, beyond Decrypt's 6144-byte bound.
	oversized := append(bytes.Clone(blob), make([]byte, 6145-len(blob))...)
	noKey := "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"

	rsaKey := e.createSpecKey(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, nil)
	rsaCT, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(rsaKey), Plaintext: []byte("secret"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil {
		t.Fatal(err)
	}
	kem := e.createSpecKey(t, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate, nil)
	enc, err := c.Encapsulate(ctx, &awskms.EncapsulateInput{KeyId: aws.String(kem), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	if err != nil {
		t.Fatal(err)
	}
	signer := e.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, nil)
	msg := []byte("message")
	sig, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(signer), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		t.Fatal(err)
	}
	badSig := bytes.Clone(sig.Signature)
	badSig[len(badSig)-1] ^= 1
	hmacKey := e.createSpecKey(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, nil)
	mac, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(hmacKey), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil {
		t.Fatal(err)
	}
	badMac := bytes.Clone(mac.Mac)
	badMac[0] ^= 1
	recipient := func() *types.RecipientInfo { return e.recipient(e.doc(t)) }

	decrypt := func(in awskms.DecryptInput) func(bool) error {
		return func(dry bool) error {
			in.DryRun = aws.Bool(dry)
			_, err := c.Decrypt(ctx, &in)
			return err
		}
	}
	for _, tc := range []struct {
		name string
		call func(dry bool) error
	}{
		{"Decrypt", decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})},
		{"Decrypt, KeyId its own key's alias", decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String("alias/dry-own")})},
		{"Decrypt, KeyId another key", decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(other)})},
		{"Decrypt, KeyId another key's alias", decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String("alias/dry-other")})},
		{"Decrypt, KeyId no key", decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(noKey)})},
		{"Decrypt, KeyId a missing alias", decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String("alias/dry-missing")})},
		{"Decrypt, wrong encryption context", decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"purpose": "other"}})},
		{"Decrypt, tampered blob", decrypt(awskms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})},
		{"Decrypt, blob over 6144 bytes", decrypt(awskms.DecryptInput{CiphertextBlob: oversized, EncryptionContext: ec})},
		{"Decrypt with Recipient", func(dry bool) error {
			return decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, Recipient: recipient()})(dry)
		}},
		{"Decrypt with Recipient, KeyId another key", func(dry bool) error {
			return decrypt(awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(other), Recipient: recipient()})(dry)
		}},
		{"Decrypt RSA", decrypt(awskms.DecryptInput{CiphertextBlob: rsaCT.CiphertextBlob, KeyId: aws.String(rsaKey), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})},
		{"Decrypt RSA, a ciphertext of another algorithm", decrypt(awskms.DecryptInput{CiphertextBlob: rsaCT.CiphertextBlob, KeyId: aws.String(rsaKey), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})},
		{"Decrypt RSA, garbage", decrypt(awskms.DecryptInput{CiphertextBlob: make([]byte, 256), KeyId: aws.String(rsaKey), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})},
		{"ReEncrypt, SourceKeyId another key", func(dry bool) error {
			_, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, SourceKeyId: aws.String(other), DestinationKeyId: aws.String(other), DryRun: aws.Bool(dry)})
			return err
		}},
		{"ReEncrypt", func(dry bool) error {
			_, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: aws.String(other), DryRun: aws.Bool(dry)})
			return err
		}},
		{"Decapsulate", func(dry bool) error {
			_, err := c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(kem), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob, DryRun: aws.Bool(dry)})
			return err
		}},
		{"Decapsulate, short ciphertext", func(dry bool) error {
			_, err := c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(kem), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: []byte("short"), DryRun: aws.Bool(dry)})
			return err
		}},
		{"Decapsulate, unknown algorithm", func(dry bool) error {
			_, err := c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(kem), EncapsulationAlgorithm: "ML_KEM_9", SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob, DryRun: aws.Bool(dry)})
			return err
		}},
		{"Verify", func(dry bool) error {
			_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(signer), Message: msg, Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(dry)})
			return err
		}},
		{"Verify, a signature that does not verify", func(dry bool) error {
			_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(signer), Message: msg, Signature: badSig, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(dry)})
			return err
		}},
		{"VerifyMac", func(dry bool) error {
			_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(hmacKey), Message: msg, Mac: mac.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: aws.Bool(dry)})
			return err
		}},
		{"VerifyMac, a MAC that does not verify", func(dry bool) error {
			_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(hmacKey), Message: msg, Mac: badMac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: aws.Bool(dry)})
			return err
		}},
		{"Sign, an algorithm of another curve", func(dry bool) error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(signer), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384, DryRun: aws.Bool(dry)})
			return err
		}},
		{"Encrypt", func(dry bool) error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/dry-own"), Plaintext: []byte("x"), DryRun: aws.Bool(dry)})
			return err
		}},
		{"GenerateDataKey with Recipient", func(dry bool) error {
			_, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(sym), KeySpec: types.DataKeySpecAes256, Recipient: recipient(), DryRun: aws.Bool(dry)})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dryErr := tc.call(true)
			realErr := tc.call(false)
			if realErr == nil {
				wantCode(t, dryErr, CodeDryRunOperation)
				return
			}
			var ae smithy.APIError
			if !errors.As(realErr, &ae) {
				t.Fatalf("the real call: %v, want an API error", realErr)
			}
			got := wantCode(t, dryErr, ae.ErrorCode())
			t.Logf("both answer %s: %s", got.Code, got.Message)
		})
	}
}
