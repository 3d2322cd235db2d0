// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// These tests are the parent instance answering the local KMS endpoint
// with a member name twice in one object, the last value null or
// harmless. The endpoint checked the map encoding/json made of the answer
// (the last value wins) and relayed the answer's bytes, from which the
// application's SDK may take the first: a Plaintext passed the "answer
// carrying Plaintext is refused" check, a KeyId of the parent's account
// the --kms-account check.

// secretB64 is a data key the parent puts in an answer in the clear.
const secretB64 = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="

// accountEndpoint is a local KMS endpoint with --kms-account acctApp whose
// key service is the parent answering with answers.
func accountEndpoint(t *testing.T, answers scriptedParent) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, answers)
	c, err := New(&Config{NSM: newEmulator(t), Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true,
		Proxy: "tcp://" + ln.Addr().String(), KMSAccount: acctApp,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
}

// TestLocalKMSEndpointRefusesRepeatedMembers: an answer naming a member
// twice in one object, at the top or nested (in an object or an array's),
// or naming two that differ only in case, is refused with
// KMSInternalException before any other check, for the operations passed
// through and those answered with Recipient alike; nothing of it reaches
// the application.
func TestLocalKMSEndpointRefusesRepeatedMembers(t *testing.T) {
	meta := metadata(keyUUID, arnApp, acctApp, "")
	for _, tc := range []struct {
		name, op, req, answer, want string
	}{
		{"Plaintext twice, the last null", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + meta + `,"Plaintext":"` + secretB64 + `","Plaintext":null}`, "repeats the member Plaintext"},
		{"Plaintext twice, GenerateDataKeyWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", `{"KeyId":"alias/app","KeySpec":"AES_256"}`,
			`{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","Plaintext":"` + secretB64 + `","Plaintext":null}`, "repeats the member Plaintext"},
		{"Plaintext and an escaped Plaintext", "Sign", `{"KeyId":"alias/app","Message":"AAAA","SigningAlgorithm":"ECDSA_SHA_256"}`,
			`{"KeyId":"` + arnApp + `","Signature":"AAAA","Plaintext":"` + secretB64 + `","Plain\u0074ext":null}`, "repeats the member Plaintext"},
		{"KeyId twice, the last null", "GetParametersForImport", `{"KeyId":"alias/app"}`,
			`{"KeyId":"` + arnParent + `","KeyId":null,"ImportToken":"AAAA","PublicKey":"AAAA"}`, "repeats the member KeyId"},
		{"KeyId twice, the last the application's", "ReEncrypt", `{"CiphertextBlob":"AAAA","SourceKeyId":"alias/src","DestinationKeyId":"alias/app"}`,
			`{"CiphertextBlob":"AAAA","KeyId":"` + arnParent + `","KeyId":"` + arnApp + `","SourceKeyId":"` + arnApp + `"}`, "repeats the member KeyId"},
		{"KeyId and keyid", "Sign", `{"KeyId":"alias/app","Message":"AAAA","SigningAlgorithm":"ECDSA_SHA_256"}`,
			`{"keyid":"` + arnParent + `","KeyId":"` + arnApp + `","Signature":"AAAA"}`, "has the members keyid and KeyId, which differ only in case"},
		{"KeyId and KeyId with a Kelvin sign", "GetParametersForImport", `{"KeyId":"alias/app"}`,
			`{"KeyId":"` + arnApp + `","\u212aeyId":"` + arnParent + `","ImportToken":"AAAA","PublicKey":"AAAA"}`,
			"has the members KeyId and \"\u212aeyId\", which differ only in case"},
		{"KeyMetadata.KeyId twice", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":{"KeyId":"` + arnParent + `","KeyId":null,"Arn":"` + arnApp + `","AWSAccountId":"` + acctApp + `"}}`,
			"repeats the member KeyMetadata.KeyId"},
		{"KeyMetadata.Arn and KeyMetadata.ARN", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":{"KeyId":"` + keyUUID + `","ARN":"` + arnParent + `","Arn":"` + arnApp + `","AWSAccountId":"` + acctApp + `"}}`,
			"has the members KeyMetadata.ARN and KeyMetadata.Arn, which differ only in case"},
		{"a replica's Arn twice", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + metadata(keyUUID, arnApp, acctApp, `,"MultiRegionConfiguration":{"ReplicaKeys":[{"Arn":"`+arnApp+`"},{"Arn":"`+arnParent+`","Arn":"`+arnApp+`"}]}`) + `}`,
			"repeats the member KeyMetadata.MultiRegionConfiguration.ReplicaKeys[1].Arn"},
		{"CiphertextForRecipient twice", "GenerateDataKey", `{"KeyId":"alias/app","KeySpec":"AES_256"}`,
			`{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","CiphertextForRecipient":"AAAA","CiphertextForRecipient":"AAAA"}`,
			"repeats the member CiphertextForRecipient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := accountEndpoint(t, scriptedParent{tc.op: tc.answer})
			status, code, b := post(t, url, "POST", "TrentService."+tc.op, strings.NewReader(tc.req))
			want := "the key service's answer to " + tc.op + " " + tc.want + ": refused"
			if status != 500 || code != "KMSInternalException" || !strings.Contains(string(b), jsonQuoted(want)) {
				t.Errorf("%d %s %s; want 500 KMSInternalException %q", status, code, b, want)
			}
			if strings.Contains(string(b), secretB64) || strings.Contains(string(b), acctParent) {
				t.Errorf("the parent's answer reached the application: %s", b)
			}
		})
	}
}

// jsonQuoted is s as a JSON string's contents (as the error answer
// carries it).
func jsonQuoted(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// TestLocalKMSEndpointRepeatedKeyIdSDK: what an unmodified aws-sdk-go-v2
// client gets from an answer naming KeyId twice, the key of the parent's
// account first and null last (at the top of GetParametersForImport's
// answer, and in DescribeKey's KeyMetadata): the refusal, not the parent's
// key.
func TestLocalKMSEndpointRepeatedKeyIdSDK(t *testing.T) {
	url := accountEndpoint(t, scriptedParent{
		"GetParametersForImport": `{"KeyId":"` + arnParent + `","KeyId":null,"ImportToken":"AAAA","PublicKey":"AAAA"}`,
		"DescribeKey":            `{"KeyMetadata":{"KeyId":"` + arnParent + `","KeyId":null,"Arn":"` + arnApp + `","AWSAccountId":"` + acctApp + `","KeyState":"Enabled"}}`,
	})
	app := sdkClient(url)
	ctx := context.Background()
	check := func(op string, err error, got string) {
		t.Helper()
		var ae smithy.APIError
		want := "the key service's answer to " + op + " repeats the member "
		if !errors.As(err, &ae) || ae.ErrorCode() != "KMSInternalException" || !strings.Contains(ae.ErrorMessage(), want) {
			t.Errorf("%s: KeyId %q, %v; want KMSInternalException %q", op, got, err, want)
		}
	}
	imp, err := app.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: aws.String(keyUUID),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	var got string
	if err == nil {
		got = aws.ToString(imp.KeyId)
	}
	check("GetParametersForImport", err, got)
	desc, err := app.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	got = ""
	if err == nil {
		got = aws.ToString(desc.KeyMetadata.KeyId)
	}
	check("DescribeKey", err, got)
}

// TestLocalKMSEndpointDistinctMembersPass: answers whose names repeat only
// across objects (KeyId at the top and in KeyMetadata, in each entry of a
// list), as KMS answers do, pass through byte for byte.
func TestLocalKMSEndpointDistinctMembersPass(t *testing.T) {
	answers := scriptedParent{
		"DescribeKey": `{"KeyMetadata":` + metadata(keyUUID, arnApp, acctApp,
			`,"EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],"MultiRegion":true,"MultiRegionConfiguration":{"MultiRegionKeyType":"PRIMARY","PrimaryKey":{"Arn":"`+arnApp+`","Region":"us-east-1"},`+
				`"ReplicaKeys":[{"Arn":"arn:aws:kms:eu-west-1:`+acctApp+`:key/`+keyUUID+`","Region":"eu-west-1"},{"Arn":"arn:aws:kms:eu-west-2:`+acctApp+`:key/`+keyUUID+`","Region":"eu-west-2"}]}`) + `}`,
		"GenerateDataKeyWithoutPlaintext": `{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","KeyMaterialId":"m"}`,
		"ReEncrypt": `{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","SourceKeyId":"` + arnApp2 + `",` +
			`"SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
		"Sign":                   `{"KeyId":"` + arnApp + `","Signature":"AAAA","SigningAlgorithm":"ECDSA_SHA_256"}`,
		"GetParametersForImport": `{"KeyId":"` + arnApp + `","ImportToken":"AAAA","PublicKey":"AAAA","ParametersValidTo":1.7e9}`,
		"ListKeys":               ` { "Keys" : [ {"KeyId":"` + keyUUID + `","KeyArn":"` + arnApp + `"} , {"KeyId":"` + keyUUID2 + `","KeyArn":"` + arnApp2 + `"} ] , "Truncated" : false } `,
	}
	reqs := map[string]string{
		"DescribeKey":                     `{"KeyId":"alias/app"}`,
		"GenerateDataKeyWithoutPlaintext": `{"KeyId":"alias/app","KeySpec":"AES_256"}`,
		"ReEncrypt":                       `{"CiphertextBlob":"AAAA","SourceKeyId":"alias/src","DestinationKeyId":"alias/app"}`,
		"Sign":                            `{"KeyId":"alias/app","Message":"AAAA","SigningAlgorithm":"ECDSA_SHA_256"}`,
		"GetParametersForImport":          `{"KeyId":"` + arnApp + `"}`,
		"ListKeys":                        `{}`,
	}
	url := accountEndpoint(t, answers)
	for op, req := range reqs {
		status, code, b := post(t, url, "POST", "TrentService."+op, strings.NewReader(req))
		if status != 200 || string(b) != answers[op] {
			t.Errorf("%s: %d %s %s; want the answer relayed", op, status, code, b)
		}
	}
}
