// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// FuzzAsymmetricRequests feeds arbitrary request bodies to the operations of
// the asymmetric, HMAC and ML-KEM keys (and to Encrypt and Decrypt, which
// route RSA algorithms to them, and ReEncrypt), with real keys of every kind behind the
// KeyIds of the seeds. Whatever the body, the answer is a success or a
// client error (HTTP 400 or 412): never a panic, never an internal error.
func FuzzAsymmetricRequests(f *testing.F) {
	env := newEnv(f, nil)
	ids := map[string]string{
		"rsa-sign":  env.createSpecKey(f, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, nil),
		"rsa-enc":   env.createSpecKey(f, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, nil),
		"p256":      env.createSpecKey(f, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, nil),
		"k1":        env.createSpecKey(f, types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify, nil),
		"agree":     env.createSpecKey(f, types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement, nil),
		"hmac":      env.createSpecKey(f, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, nil),
		"kem":       env.createSpecKey(f, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate, nil),
		"symmetric": env.createKey(f),
	}
	peer, _ := ecdh.P384().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	b64 := base64.StdEncoding.EncodeToString
	ops := []string{"Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac", "DeriveSharedSecret", "Encapsulate", "Decapsulate", "Encrypt", "Decrypt", "ReEncrypt"}
	seed := func(op int, v map[string]any) {
		b, _ := json.Marshal(v)
		f.Add(byte(op), b)
	}
	msg := b64([]byte("message"))
	for _, k := range []string{"rsa-sign", "p256", "k1", "hmac"} {
		seed(0, map[string]any{"KeyId": ids[k], "Message": msg, "SigningAlgorithm": "ECDSA_SHA_256", "MessageType": "RAW"})
		seed(0, map[string]any{"KeyId": ids[k], "Message": b64(make([]byte, 32)), "SigningAlgorithm": "RSASSA_PSS_SHA_256", "MessageType": "DIGEST"})
		seed(1, map[string]any{"KeyId": ids[k], "Message": msg, "SigningAlgorithm": "ECDSA_SHA_256", "Signature": b64([]byte{0x30, 6, 2, 1, 1, 2, 1, 1})})
		seed(2, map[string]any{"KeyId": ids[k]})
	}
	seed(3, map[string]any{"KeyId": ids["hmac"], "Message": msg, "MacAlgorithm": "HMAC_SHA_256"})
	seed(4, map[string]any{"KeyId": ids["hmac"], "Message": msg, "MacAlgorithm": "HMAC_SHA_256", "Mac": b64(make([]byte, 32))})
	seed(5, map[string]any{"KeyId": ids["agree"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(peerDER)})
	seed(6, map[string]any{"KeyId": ids["kem"], "EncapsulationAlgorithm": "ML_KEM"})
	seed(7, map[string]any{"KeyId": ids["kem"], "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b64(make([]byte, 1088))})
	seed(8, map[string]any{"KeyId": ids["rsa-enc"], "Plaintext": msg, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})
	seed(9, map[string]any{"KeyId": ids["rsa-enc"], "CiphertextBlob": b64(make([]byte, 256)), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"})
	seed(9, map[string]any{"KeyId": ids["symmetric"], "CiphertextBlob": b64(make([]byte, 256)), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1", "DryRun": true})
	seed(10, map[string]any{"SourceKeyId": ids["rsa-enc"], "CiphertextBlob": b64(make([]byte, 256)), "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
		"DestinationKeyId": ids["symmetric"]})
	seed(10, map[string]any{"CiphertextBlob": b64(make([]byte, 64)), "DestinationKeyId": ids["rsa-enc"], "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1"})
	fuzzOperations(f, env, ops)
}
