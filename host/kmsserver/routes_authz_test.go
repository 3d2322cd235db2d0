// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestEveryOperationRefusesUnprivileged: for every operation in the route
// table, a principal of the server's account whose identity policy allows
// nothing, and a principal of another account allowed everything by its
// own identity policy, get no answer but an error, on keys of every usage
// whose key policy is the default (the account's); only GenerateRandom,
// which uses no key and which the identity policy alone decides, answers
// the second. The request carries
// every member any operation needs, so most operations get as far as
// their authorization; the test fails on any 200.
func TestEveryOperationRefusesUnprivileged(t *testing.T) {
	const (
		noneAKID   = "AKIANOPERMISSIONS001"
		noneSecret = "none-secret"
	)
	env := newEnv(t, func(c *Config) {
		c.AccessKeys[noneAKID] = AccessKey{Secret: noneSecret, PrincipalARN: "arn:aws:iam::111122223333:user/nobody",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DescribeCustomKeyStores","Resource":"*"}]}`}
	})
	ctx := context.Background()
	var keys []string
	for _, in := range []*awskms.CreateKeyInput{
		{},
		{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac},
		{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify},
		{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement},
		{Origin: types.OriginTypeExternal},
	} {
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
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/victim"), TargetKeyId: aws.String(keys[0])}); err != nil {
		t.Fatal(err)
	}
	ops := slices.Sorted(maps.Keys((&Server{}).operations()))
	b64 := base64.StdEncoding.EncodeToString
	for _, who := range [][2]string{{noneAKID, noneSecret}, {"AKIAOTHERPRINCIPAL01", "other-secret"}} {
		for _, key := range keys {
			body, _ := json.Marshal(map[string]any{
				"KeyId": key, "SourceKeyId": key, "DestinationKeyId": key, "TargetKeyId": key,
				"AliasName": "alias/victim", "CiphertextBlob": b64(enc.CiphertextBlob),
				"Plaintext": b64([]byte("secret")), "Message": b64([]byte("message")), "MessageType": "RAW",
				"KeySpec": "AES_256", "NumberOfBytes": 32, "KeyPairSpec": "ECC_NIST_P256",
				"SigningAlgorithm": "ECDSA_SHA_256", "Signature": b64(make([]byte, 70)),
				"MacAlgorithm": "HMAC_SHA_256", "Mac": b64(make([]byte, 32)),
				"KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(make([]byte, 91)),
				"PolicyName": "default", "Policy": FullAccessPolicy, "Description": "x",
				"Tags": []map[string]string{{"TagKey": "k", "TagValue": "v"}}, "TagKeys": []string{"k"},
				"GranteePrincipal": "arn:aws:iam::444455556666:user/stranger", "Operations": []string{"Decrypt"},
				"GrantId":           "0000000000000000000000000000000000000000000000000000000000000000",
				"RetiringPrincipal": "arn:aws:iam::444455556666:user/stranger",
				"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048",
				"PendingWindowInDays": 7, "RotationPeriodInDays": 90,
			})
			for _, op := range ops {
				status, code, out := signedPostAs(t, env, who[0], who[1], op, body)
				if status == http.StatusOK && (op != "GenerateRandom" || who[0] == noneAKID) {
					t.Errorf("%s on %s answered %s: %.300s", who[0], key, op, out)
				} else if testing.Verbose() {
					t.Logf("%s %s on %s: %d %s", who[0], op, key[len(key)-8:], status, code)
				}
			}
		}
	}
}

// signedPostAs is a raw KMS request signed with the given access key.
func signedPostAs(t *testing.T, env *testEnv, akid, secret, op string, body []byte) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", env.ts.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{}
	for k := range req.Header {
		hdr[k] = req.Header.Get(k)
	}
	return rawPost(t, env.ts.URL+"/", hdr, body)
}
