// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// crossAccountUse is the "Cross-account use" column of the AWS KMS
// permissions reference (kms-api-permissions-reference) for one operation.
type crossAccountUse int

const (
	// crossAccountYes: a principal of another account may call the
	// operation on a key when the key policy and its identity policy allow.
	crossAccountYes crossAccountUse = iota + 1
	// crossAccountNo: the operation acts on a key (or an alias) of the
	// caller's own account only; a key policy naming another account for
	// it has no effect.
	crossAccountNo
	// accountLevel: the operation names no key of another account
	// (CreateKey, ListKeys, ...); TestEveryOperationRefusesUnprivileged
	// covers it.
	accountLevel
)

// awsCrossAccountUse is, for every operation of the route table, AWS's
// "Cross-account use". Add a row with every new operation.
var awsCrossAccountUse = map[string]crossAccountUse{
	// Cryptographic operations and the few key operations AWS allows
	// cross-account.
	"DescribeKey":                         crossAccountYes,
	"Encrypt":                             crossAccountYes,
	"Decrypt":                             crossAccountYes,
	"ReEncrypt":                           crossAccountYes,
	"GenerateDataKey":                     crossAccountYes,
	"GenerateDataKeyWithoutPlaintext":     crossAccountYes,
	"GenerateDataKeyPair":                 crossAccountYes,
	"GenerateDataKeyPairWithoutPlaintext": crossAccountYes,
	"Sign":                                crossAccountYes,
	"Verify":                              crossAccountYes,
	"GetPublicKey":                        crossAccountYes,
	"GenerateMac":                         crossAccountYes,
	"VerifyMac":                           crossAccountYes,
	"DeriveSharedSecret":                  crossAccountYes,
	"Encapsulate":                         crossAccountYes,
	"Decapsulate":                         crossAccountYes,
	"GetKeyRotationStatus":                crossAccountYes,
	"CreateGrant":                         crossAccountYes,
	"ListGrants":                          crossAccountYes,
	"RetireGrant":                         crossAccountYes,
	"RevokeGrant":                         crossAccountYes,
	// Administration of a key: its own account only.
	"EnableKey":                 crossAccountNo,
	"DisableKey":                crossAccountNo,
	"ScheduleKeyDeletion":       crossAccountNo,
	"CancelKeyDeletion":         crossAccountNo,
	"GetKeyPolicy":              crossAccountNo,
	"PutKeyPolicy":              crossAccountNo,
	"ListKeyPolicies":           crossAccountNo,
	"UpdateKeyDescription":      crossAccountNo,
	"TagResource":               crossAccountNo,
	"UntagResource":             crossAccountNo,
	"ListResourceTags":          crossAccountNo,
	"EnableKeyRotation":         crossAccountNo,
	"DisableKeyRotation":        crossAccountNo,
	"RotateKeyOnDemand":         crossAccountNo,
	"ListKeyRotations":          crossAccountNo,
	"GetParametersForImport":    crossAccountNo,
	"ImportKeyMaterial":         crossAccountNo,
	"DeleteImportedKeyMaterial": crossAccountNo,
	"CreateAlias":               crossAccountNo,
	"UpdateAlias":               crossAccountNo,
	"DeleteAlias":               crossAccountNo,
	"GetKeyLastUsage":           crossAccountNo, // not in AWS's table; kept to the own account as key metadata
	// No key of another account to name.
	"CreateKey":           accountLevel,
	"ListKeys":            accountLevel,
	"ListAliases":         accountLevel,
	"GenerateRandom":      accountLevel,
	"ListRetirableGrants": accountLevel,
}

// TestCrossAccountUse checks every operation of the route table against
// AWS's "Cross-account use": with key policies that allow another account
// kms:* (and that account's identity policy allowing everything), a
// principal of that account is refused every operation marked No, with an
// AccessDeniedException naming the cross-account rule, on every key, and
// is never refused an operation marked Yes. An operation without a row in
// awsCrossAccountUse fails the test.
func TestCrossAccountUse(t *testing.T) {
	ops := slices.Sorted(maps.Keys((&Server{}).operations()))
	for _, op := range ops {
		if _, ok := awsCrossAccountUse[op]; !ok {
			t.Errorf("operation %s has no row in awsCrossAccountUse: look up its \"Cross-account use\" in the AWS KMS permissions reference", op)
		}
	}
	for op := range awsCrossAccountUse {
		if !slices.Contains(ops, op) {
			t.Errorf("awsCrossAccountUse has a row for %s, which the route table does not have", op)
		}
	}

	env := newEnv(t, nil)
	ctx := context.Background()
	pol := `{"Version":"2012-10-17","Statement":[
 {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"}]}`
	var keys []string
	for _, in := range []*awskms.CreateKeyInput{
		{},
		{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac},
		{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify},
		{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement},
		{Origin: types.OriginTypeExternal},
	} {
		in.Policy = aws.String(pol)
		k, err := env.client.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, aws.ToString(k.KeyMetadata.Arn))
	}
	enc, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keys[0]), Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/partner"), TargetKeyId: aws.String(keys[0])}); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, key := range keys {
		// Every member any operation needs, so that each gets as far as
		// its authorization. DisableKey, ScheduleKeyDeletion and
		// PutKeyPolicy would change the key if the partner got through:
		// the test then fails on them anyway.
		body, _ := json.Marshal(map[string]any{
			"KeyId": key, "SourceKeyId": key, "DestinationKeyId": key, "TargetKeyId": key,
			"AliasName": "alias/partner", "CiphertextBlob": b64(enc.CiphertextBlob),
			"Plaintext": b64([]byte("secret")), "Message": b64([]byte("message")), "MessageType": "RAW",
			"KeySpec": "AES_256", "NumberOfBytes": 32, "KeyPairSpec": "ECC_NIST_P256",
			"SigningAlgorithm": "ECDSA_SHA_256", "Signature": b64(make([]byte, 70)),
			"MacAlgorithm": "HMAC_SHA_256", "Mac": b64(make([]byte, 32)),
			"KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(make([]byte, 91)),
			"PolicyName": "default", "Policy": pol, "Description": "x",
			"Tags": []map[string]string{{"TagKey": "k", "TagValue": "v"}}, "TagKeys": []string{"k"},
			"GranteePrincipal": strangerPrincipal, "Operations": []string{"Decrypt"},
			"GrantId":           "0000000000000000000000000000000000000000000000000000000000000000",
			"RetiringPrincipal": strangerPrincipal,
			"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048",
			"ImportToken": b64([]byte("token")), "EncryptedKeyMaterial": b64([]byte("material")),
			"PendingWindowInDays": 7, "RotationPeriodInDays": 90,
		})
		for _, op := range ops {
			status, code, out := signedPostAs(t, env, strangerAKID, strangerSecret, op, body)
			refused := code == CodeAccessDenied && strings.Contains(out, "cannot be called cross-account")
			switch awsCrossAccountUse[op] {
			case crossAccountNo:
				if !refused {
					t.Errorf("%s by a principal of 444455556666 on %s: %d %s %.300s; want AccessDeniedException (cross-account use No)", op, key, status, code, out)
				}
			case crossAccountYes:
				if code == CodeAccessDenied {
					t.Errorf("%s by a principal of 444455556666 on %s, allowed by both policies: %.300s; want it past authorization (cross-account use Yes)", op, key, out)
				}
			}
			if status == http.StatusOK && testing.Verbose() {
				t.Logf("%s on %s: answered", op, key[len(key)-8:])
			}
		}
	}
}
