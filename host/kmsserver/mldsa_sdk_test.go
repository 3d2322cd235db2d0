// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/sha3"
	"encoding/asn1"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"golang.org/x/crypto/cryptobyte"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// mldsaCircl is cloudflare/circl's ML-DSA (an implementation independent
// of the server's) with the RFC 9881 OID of each spec.
var mldsaCircl = map[types.KeySpec]struct {
	scheme sign.Scheme
	oid    asn1.ObjectIdentifier
}{
	types.KeySpecMlDsa44: {mldsa44.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}},
	types.KeySpecMlDsa65: {mldsa65.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}},
	types.KeySpecMlDsa87: {mldsa87.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}},
}

// parseMLDSASPKI reads GetPublicKey's DER: SubjectPublicKeyInfo with the
// spec's OID, no parameters, and the raw key in the BIT STRING.
func parseMLDSASPKI(t *testing.T, der []byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	s := cryptobyte.String(der)
	var spki, alg cryptobyte.String
	var got asn1.ObjectIdentifier
	var key asn1.BitString
	if !s.ReadASN1(&spki, cbasn1.SEQUENCE) || !s.Empty() || !spki.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&got) || !alg.Empty() || !spki.ReadASN1BitString(&key) || !spki.Empty() {
		t.Fatalf("GetPublicKey's DER is not a SubjectPublicKeyInfo without parameters: %x", der[:32])
	}
	if !got.Equal(oid) {
		t.Fatalf("OID %v, want %v", got, oid)
	}
	return key.Bytes
}

// localMu is μ for the empty context, computed here with crypto/sha3 as
// AWS documents (SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || M, 64)).
func localMu(pub, msg []byte) []byte {
	tr := sha3.SumSHAKE256(pub, 64)
	return sha3.SumSHAKE256(slices.Concat(tr, []byte{0, 0}, msg), 64)
}

// TestMLDSASDK: ML_DSA_44/65/87 keys through the official client.
// CreateKey, DescribeKey and GetPublicKey list ML_DSA_SHAKE_256; the
// public key is RFC 9881 DER that circl reads; RAW and EXTERNAL_MU
// signatures verify with circl for the message; a signature circl makes
// with the key's seed (read from the key record) verifies through Verify.
func TestMLDSASDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	msg := []byte("signed by kms-server with ML-DSA")
	for spec, cc := range mldsaCircl {
		t.Run(string(spec), func(t *testing.T) {
			id := env.createSpecKey(t, spec, types.KeyUsageTypeSignVerify, nil)
			want := []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}
			d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
			if err != nil || !slices.Equal(d.KeyMetadata.SigningAlgorithms, want) || d.KeyMetadata.KeySpec != spec {
				t.Fatalf("DescribeKey: %+v %v", d, err)
			}
			gp, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
			if err != nil || !slices.Equal(gp.SigningAlgorithms, want) || gp.KeyUsage != types.KeyUsageTypeSignVerify || gp.KeySpec != spec {
				t.Fatalf("GetPublicKey: %+v %v", gp, err)
			}
			raw := parseMLDSASPKI(t, gp.PublicKey, cc.oid)
			pk, err := cc.scheme.UnmarshalBinaryPublicKey(raw)
			if err != nil {
				t.Fatalf("circl refuses GetPublicKey's key: %v", err)
			}

			for _, tc := range []struct {
				mt types.MessageType
				m  []byte
			}{{"", msg}, {types.MessageTypeRaw, msg}, {types.MessageTypeExternalMu, localMu(raw, msg)}} {
				out, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: tc.m, MessageType: tc.mt,
					SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
				if err != nil {
					t.Fatalf("Sign %s: %v", tc.mt, err)
				}
				if out.SigningAlgorithm != types.SigningAlgorithmSpecMlDsaShake256 || len(out.Signature) != cc.scheme.SignatureSize() {
					t.Fatalf("Sign %s: %s, %d-byte signature", tc.mt, out.SigningAlgorithm, len(out.Signature))
				}
				if !cc.scheme.Verify(pk, msg, out.Signature, nil) {
					t.Fatalf("the %s signature does not verify with circl", tc.mt)
				}
				v, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: msg, Signature: out.Signature,
					SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256, MessageType: types.MessageTypeRaw})
				if err != nil || !v.SignatureValid {
					t.Fatalf("Verify of the %s signature: %v", tc.mt, err)
				}
			}

			// A signature made locally with the key's own seed.
			k, err := env.srv.store.GetKey(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			m, err := env.srv.material(k)
			if err != nil {
				t.Fatal(err)
			}
			seed := mldsaSeed(t, m.spec.Marshal())
			lpk, lsk := cc.scheme.DeriveKey(seed)
			if !lpk.Equal(pk) {
				t.Fatal("the stored seed does not give GetPublicKey's key")
			}
			// A store writer relabels the record as another ML-DSA
			// parameter set (or another usage): the material no longer
			// unwraps.
			for _, edit := range []func(k *keystore.Key){
				func(k *keystore.Key) { k.KeySpec = string(types.KeySpecMlDsa87) },
				func(k *keystore.Key) { k.KeySpec = string(types.KeySpecMlDsa44) },
				func(k *keystore.Key) { k.KeyUsage = string(types.KeyUsageTypeEncryptDecrypt) },
			} {
				forged := *k
				edit(&forged)
				if forged.KeySpec == k.KeySpec && forged.KeyUsage == k.KeyUsage {
					continue
				}
				if _, err := env.srv.material(&forged); err == nil {
					t.Fatalf("a record relabelled %s/%s unwrapped", forged.KeySpec, forged.KeyUsage)
				}
			}
			local := cc.scheme.Sign(lsk, msg, nil)
			if v, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: msg, Signature: local,
				SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256}); err != nil || !v.SignatureValid {
				t.Fatalf("Verify of a local signature: %v", err)
			}
			_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: []byte("another message"), Signature: local,
				SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
			wantCode(t, err, CodeKMSInvalidSignature)
		})
	}
}

// mldsaSeed returns the seed of RFC 9881 seed-only PKCS #8.
func mldsaSeed(t *testing.T, der []byte) []byte {
	t.Helper()
	s := cryptobyte.String(der)
	var pki, alg, priv cryptobyte.String
	var v int64
	var seed cryptobyte.String
	if !s.ReadASN1(&pki, cbasn1.SEQUENCE) || !pki.ReadASN1Integer(&v) || !pki.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!pki.ReadASN1(&priv, cbasn1.OCTET_STRING) || !priv.ReadASN1(&seed, cbasn1.Tag(0).ContextSpecific()) || len(seed) != 32 {
		t.Fatalf("stored ML-DSA material is not seed-only PKCS #8: %x", der)
	}
	return seed
}

// TestMLDSARefusalsSDK: the KMS error codes for the wrong message type,
// message length and algorithm, a bad signature, Verify of an EXTERNAL_MU
// message (not implemented), key usages ML-DSA does not have, and a key
// policy that allows RAW messages only.
func TestMLDSARefusalsSDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createSpecKey(t, types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify, nil)
	p256 := env.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, nil)
	msg := []byte("m")
	signErr := func(key string, alg types.SigningAlgorithmSpec, mt types.MessageType, m []byte) error {
		_, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(key), Message: m, MessageType: mt, SigningAlgorithm: alg})
		return err
	}
	good, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
	if err != nil {
		t.Fatal(err)
	}
	verifyErr := func(key string, alg types.SigningAlgorithmSpec, mt types.MessageType, m, sig []byte) error {
		_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(key), Message: m, MessageType: mt, SigningAlgorithm: alg, Signature: sig})
		return err
	}
	for _, tc := range []struct {
		name string
		key  string
		alg  types.SigningAlgorithmSpec
		mt   types.MessageType
		m    []byte
		code string
	}{
		{"EXTERNAL_MU of 63 bytes", id, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeExternalMu, make([]byte, 63), CodeValidation},
		{"EXTERNAL_MU of 65 bytes", id, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeExternalMu, make([]byte, 65), CodeValidation},
		{"DIGEST", id, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeDigest, make([]byte, 32), CodeValidation},
		{"RAW of 4097 bytes", id, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeRaw, make([]byte, 4097), CodeValidation},
		{"ECDSA_SHA_256 with ML-DSA", id, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, CodeInvalidKeyUsage},
		{"ED25519_SHA_512 with ML-DSA", id, types.SigningAlgorithmSpecEd25519Sha512, types.MessageTypeRaw, msg, CodeInvalidKeyUsage},
		{"ML_DSA_SHAKE_256 with P-256", p256, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeRaw, msg, CodeInvalidKeyUsage},
		{"EXTERNAL_MU with P-256", p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeExternalMu, make([]byte, 64), CodeValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, signErr(tc.key, tc.alg, tc.mt, tc.m), tc.code)
			wantCode(t, verifyErr(tc.key, tc.alg, tc.mt, tc.m, good.Signature), tc.code)
		})
	}
	ae := wantCode(t, verifyErr(id, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeExternalMu, make([]byte, 64), good.Signature), CodeUnsupportedOperation)
	if !strings.Contains(ae.Message, "EXTERNAL_MU") {
		t.Errorf("message %q does not name EXTERNAL_MU", ae.Message)
	}
	bad := bytes.Clone(good.Signature)
	bad[7] ^= 1
	wantCode(t, verifyErr(id, types.SigningAlgorithmSpecMlDsaShake256, "", msg, bad), CodeKMSInvalidSignature)
	wantCode(t, verifyErr(id, types.SigningAlgorithmSpecMlDsaShake256, "", msg, good.Signature[:100]), CodeKMSInvalidSignature)
	other := env.createSpecKey(t, types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify, nil)
	wantCode(t, verifyErr(other, types.SigningAlgorithmSpecMlDsaShake256, "", msg, good.Signature), CodeKMSInvalidSignature)

	for _, usage := range []types.KeyUsageType{types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeKeyAgreement, types.KeyUsageTypeGenerateVerifyMac, ""} {
		_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecMlDsa65, KeyUsage: usage})
		wantCode(t, err, CodeValidation)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: msg})
	wantCode(t, err, CodeInvalidKeyUsage)

	// kms:MessageType: a key policy that allows RAW messages only.
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*"],"Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:Sign","Resource":"*","Condition":{"StringEquals":{"kms:MessageType":"RAW","kms:SigningAlgorithm":"ML_DSA_SHAKE_256","kms:KeySpec":"ML_DSA_87"}}}]}`
	rawOnly := env.createSpecKey(t, types.KeySpecMlDsa87, types.KeyUsageTypeSignVerify, aws.String(pol))
	if err := signErr(rawOnly, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeRaw, msg); err != nil {
		t.Fatalf("RAW Sign under the policy: %v", err)
	}
	wantCode(t, signErr(rawOnly, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeExternalMu, make([]byte, 64)), CodeAccessDenied)
	wantCode(t, verifyErr(rawOnly, types.SigningAlgorithmSpecMlDsaShake256, "", msg, good.Signature), CodeAccessDenied)

	// The audit log has the denied EXTERNAL_MU Sign: operation, key,
	// decision and the condition that failed.
	found := false
	for _, line := range strings.Split(strings.TrimSpace(env.audit.String()), "\n") {
		var ev auditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Operation == "Sign" && ev.Decision == "deny" && strings.HasSuffix(ev.KeyARN, rawOnly) &&
			strings.Contains(ev.PolicyReason, "kms:MessageType") && strings.Contains(ev.PolicyReason, "EXTERNAL_MU") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit line for the denied EXTERNAL_MU Sign:\n%s", env.audit.String())
	}
}
