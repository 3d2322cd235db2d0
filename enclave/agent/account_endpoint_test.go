// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// scriptedParent is a parent instance that answers every relayed KMS
// operation itself, with the answer the test wrote for it.
type scriptedParent map[string]string

func (p scriptedParent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = io.WriteString(w, p[strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")])
}

const (
	acctApp    = "111122223333" // the application's account (--kms-account)
	acctParent = "444455556666" // the parent's
	keyUUID    = "1234abcd-12ab-34cd-56ef-1234567890ab"
	keyUUID2   = "0987dcba-09fe-87dc-65ba-ab0987654321"
	arnApp     = "arn:aws:kms:us-east-1:" + acctApp + ":key/" + keyUUID
	arnApp2    = "arn:aws:kms:us-east-1:" + acctApp + ":key/" + keyUUID2
	arnParent  = "arn:aws:kms:us-east-1:" + acctParent + ":key/" + keyUUID
)

// metadata is a KeyMetadata answer for arn, in account acct, with KeyId id.
func metadata(id, arn, acct, extra string) string {
	return `{"KeyId":"` + id + `","Arn":"` + arn + `","AWSAccountId":"` + acct + `","KeyState":"Enabled"` + extra + `}`
}

// TestLocalKMSEndpointPassThroughAccount: with --kms-account set, every key
// an answer passed through names (DescribeKey's and CreateKey's
// KeyMetadata.KeyId and Arn and its multi-Region keys, ReEncrypt's
// SourceKeyId and KeyId, the keys of ListKeys, ListAliases and ListGrants)
// must be in that account, and be the key the request named by its full
// ARN; the parent, which answers here, cannot hand the application a key
// of its own account in any of them.
func TestLocalKMSEndpointPassThroughAccount(t *testing.T) {
	good := scriptedParent{
		"DescribeKey": `{"KeyMetadata":` + metadata(keyUUID, arnApp, acctApp,
			`,"MultiRegion":true,"MultiRegionConfiguration":{"MultiRegionKeyType":"PRIMARY","PrimaryKey":{"Arn":"`+arnApp+`","Region":"us-east-1"},"ReplicaKeys":[{"Arn":"arn:aws:kms:eu-west-1:`+acctApp+`:key/`+keyUUID+`","Region":"eu-west-1"}]}`) + `}`,
		"CreateKey": `{"KeyMetadata":` + metadata(keyUUID, arnApp, acctApp, "") + `}`,
		"ReEncrypt": `{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","SourceKeyId":"` + arnApp2 + `"}`,
		"ListKeys":  `{"Keys":[{"KeyId":"` + keyUUID + `","KeyArn":"` + arnApp + `"},{"KeyId":"` + keyUUID2 + `","KeyArn":"` + arnApp2 + `"}],"Truncated":false}`,
		"ListAliases": `{"Aliases":[{"AliasName":"alias/app","AliasArn":"arn:aws:kms:us-east-1:` + acctApp + `:alias/app","TargetKeyId":"` + keyUUID + `"},` +
			`{"AliasName":"alias/aws/ebs","AliasArn":"arn:aws:kms:us-east-1:` + acctApp + `:alias/aws/ebs"}],"Truncated":false}`,
		"Encrypt":      `{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
		"GetPublicKey": `{"KeyId":"` + arnApp + `","PublicKey":"AAAA"}`,
		"ListGrants":   `{"Grants":[{"KeyId":"` + arnApp + `","GrantId":"g","GranteePrincipal":"arn:aws:iam::999999999999:role/x"}],"Truncated":false}`,
		// As AWS KMS may list them: bare key IDs, of the key ARN requested.
		"ListKeyRotations": `{"Rotations":[{"KeyId":"` + keyUUID + `","RotationType":"ON_DEMAND"}],"Truncated":false}`,
	}
	bad := []struct {
		name, op, req, answer, field string
	}{
		{"DescribeKey in the parent's account", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + metadata(keyUUID, arnParent, acctParent, "") + `}`, "KeyMetadata.Arn"},
		{"CreateKey in the parent's account", "CreateKey", `{}`,
			`{"KeyMetadata":` + metadata(keyUUID, arnParent, acctParent, "") + `}`, "KeyMetadata.Arn"},
		{"DescribeKey, KeyId an ARN of the parent's", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + metadata(arnParent, arnApp, acctApp, "") + `}`, "KeyMetadata.KeyId"},
		{"DescribeKey, AWSAccountId the parent's", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + metadata(keyUUID, arnApp, acctParent, "") + `}`, "KeyMetadata.AWSAccountId"},
		{"DescribeKey, KeyId not the Arn's key", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + metadata(keyUUID2, arnApp, acctApp, "") + `}`, "KeyMetadata.KeyId"},
		{"ListKeys, a bare key ID without its ARN", "ListKeys", `{}`,
			`{"Keys":[{"KeyId":"` + keyUUID + `"}]}`, "Keys[0].KeyId"},
		{"DescribeKey, a replica in the parent's account", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + metadata(keyUUID, arnApp, acctApp, `,"MultiRegionConfiguration":{"ReplicaKeys":[{"Arn":"arn:aws:kms:eu-west-1:`+acctParent+`:key/`+keyUUID+`","Region":"eu-west-1"}]}`) + `}`,
			"KeyMetadata.MultiRegionConfiguration.ReplicaKeys[0].Arn"},
		{"DescribeKey of a key ARN, answered with another key", "DescribeKey", `{"KeyId":"` + arnApp + `"}`,
			`{"KeyMetadata":` + metadata(keyUUID2, arnApp2, acctApp, "") + `}`, "KeyMetadata.Arn"},
		{"ReEncrypt, SourceKeyId the parent's", "ReEncrypt", `{"CiphertextBlob":"AAAA","SourceKeyId":"alias/src","DestinationKeyId":"alias/app"}`,
			`{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","SourceKeyId":"` + arnParent + `"}`, "SourceKeyId"},
		{"ReEncrypt, SourceKeyId not the key ARN requested", "ReEncrypt", `{"CiphertextBlob":"AAAA","SourceKeyId":"` + arnApp + `","DestinationKeyId":"alias/app"}`,
			`{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `","SourceKeyId":"` + arnApp2 + `"}`, "SourceKeyId"},
		{"ReEncrypt, KeyId the parent's", "ReEncrypt", `{"CiphertextBlob":"AAAA","SourceKeyId":"alias/src","DestinationKeyId":"alias/app"}`,
			`{"CiphertextBlob":"AAAA","KeyId":"` + arnParent + `","SourceKeyId":"` + arnApp + `"}`, "KeyId"},
		{"ListKeys, a key of the parent's", "ListKeys", `{}`,
			`{"Keys":[{"KeyId":"` + keyUUID + `","KeyArn":"` + arnApp + `"},{"KeyId":"` + keyUUID + `","KeyArn":"` + arnParent + `"}]}`, "Keys[1].KeyArn"},
		{"ListAliases, an alias of the parent's", "ListAliases", `{}`,
			`{"Aliases":[{"AliasName":"alias/app","AliasArn":"arn:aws:kms:us-east-1:` + acctParent + `:alias/app","TargetKeyId":"` + keyUUID + `"}]}`, "Aliases[0].AliasArn"},
		{"ListAliases, a bare target without an alias ARN", "ListAliases", `{}`,
			`{"Aliases":[{"AliasName":"alias/app","TargetKeyId":"` + keyUUID + `"}]}`, "Aliases[0].TargetKeyId"},
		{"ListGrants, a key of the parent's", "ListGrants", `{"KeyId":"alias/app"}`,
			`{"Grants":[{"KeyId":"` + arnParent + `","GrantId":"g"}]}`, "Grants[0].KeyId"},
		{"ListKeyRotations by alias, bare key IDs", "ListKeyRotations", `{"KeyId":"alias/app"}`,
			`{"Rotations":[{"KeyId":"` + keyUUID + `","RotationType":"ON_DEMAND"}]}`, "Rotations[0].KeyId"},
		{"ListKeyRotations of a key ARN, another bare key ID", "ListKeyRotations", `{"KeyId":"` + arnApp + `"}`,
			`{"Rotations":[{"KeyId":"` + keyUUID2 + `","RotationType":"ON_DEMAND"}]}`, "Rotations[0].KeyId"},
		{"nested deeper than any KMS answer", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":` + metadata(keyUUID, arnApp, acctApp, `,"x":`+strings.Repeat(`{"a":[`, 20)+strings.Repeat(`]}`, 20)) + `}`, "nests deeper"},
		// Stripping the key from an answer does not escape the check.
		{"Encrypt without KeyId", "Encrypt", `{"KeyId":"alias/app","Plaintext":"AAAA"}`,
			`{"CiphertextBlob":"AAAA","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`, "KeyId"},
		{"GetPublicKey, KeyId null", "GetPublicKey", `{"KeyId":"alias/app"}`,
			`{"KeyId":null,"PublicKey":"AAAA"}`, "KeyId"},
		{"ReEncrypt, an answer without SourceKeyId", "ReEncrypt", `{"CiphertextBlob":"AAAA","SourceKeyId":"alias/src","DestinationKeyId":"alias/app"}`,
			`{"CiphertextBlob":"AAAA","KeyId":"` + arnApp + `"}`, "SourceKeyId"},
		{"DescribeKey without KeyMetadata", "DescribeKey", `{"KeyId":"alias/app"}`, `{}`, "KeyMetadata.Arn"},
		{"CreateKey without an Arn", "CreateKey", `{}`, `{"KeyMetadata":{"KeyState":"Enabled"}}`, "KeyMetadata.Arn"},
		{"KeyId not a string", "DescribeKey", `{"KeyId":"alias/app"}`,
			`{"KeyMetadata":{"KeyId":["` + keyUUID + `"],"Arn":"` + arnApp + `"}}`, "KeyMetadata.KeyId"},
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	answers := scriptedParent{}
	serveOn(t, ln, answers)
	c, err := New(&Config{NSM: newEmulator(t), Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true,
		Proxy: "tcp://" + ln.Addr().String(), KMSAccount: acctApp,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url := serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})

	for op, a := range good {
		answers[op] = a
	}
	for op := range good {
		req := `{}`
		switch op {
		case "ReEncrypt":
			req = `{"CiphertextBlob":"AAAA","SourceKeyId":"` + arnApp2 + `","DestinationKeyId":"` + arnApp + `"}`
		case "ListKeyRotations":
			req = `{"KeyId":"` + arnApp + `"}`
		}
		if status, code, b := post(t, url, "POST", "TrentService."+op, strings.NewReader(req)); status != 200 {
			t.Errorf("%s in the configured account: %d %s %s", op, status, code, b)
		}
	}
	for _, tc := range bad {
		answers[tc.op] = tc.answer
		status, code, b := post(t, url, "POST", "TrentService."+tc.op, strings.NewReader(tc.req))
		if status != 500 || code != "KMSInternalException" || !strings.Contains(string(b), tc.field) {
			t.Errorf("%s: %d %s %s, want KMSInternalException naming %s", tc.name, status, code, b, tc.field)
		}
	}
	for op, a := range good {
		answers[op] = a
	}

}

// TestLocalKMSEndpointPassThroughAccountKMSServer: the parent's own
// kms-server (account 111122223333) answers DescribeKey and CreateKey
// with its keys; an agent pinned to another account refuses both answers.
func TestLocalKMSEndpointPassThroughAccountKMSServer(t *testing.T) {
	env := startKMSServer(t, "tcp")
	ctx := context.Background()
	ck, err := env.admin(t).CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.admin(t).CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: ck.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "KMSInternalException" || !strings.Contains(ae.ErrorMessage(), acctParent) {
			t.Errorf("%s through an agent pinned to %s: %v, want KMSInternalException naming the account", what, acctParent, err)
		}
	}
	app := sdkClient(serveLocalKMS(t, &KMSEndpointConfig{Client: accountAgent(t, env, acctParent), Logger: slog.New(slog.DiscardHandler)}))
	_, err = app.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	refused("DescribeKey", err)
	_, err = app.CreateKey(ctx, &awskms.CreateKeyInput{})
	refused("CreateKey", err)
	_, err = app.ListKeys(ctx, &awskms.ListKeysInput{})
	refused("ListKeys", err)

	// Pinned to the server's account, the same calls are answered.
	ok := sdkClient(serveLocalKMS(t, &KMSEndpointConfig{Client: accountAgent(t, env, "111122223333"), Logger: slog.New(slog.DiscardHandler)}))
	d, err := ok.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	if err != nil || aws.ToString(d.KeyMetadata.Arn) != aws.ToString(ck.KeyMetadata.Arn) {
		t.Fatalf("DescribeKey in the configured account: %v", err)
	}
	for _, call := range []func() error{
		func() error { _, err := ok.CreateKey(ctx, &awskms.CreateKeyInput{}); return err },
		func() error { _, err := ok.ListKeys(ctx, &awskms.ListKeysInput{}); return err },
		func() error { _, err := ok.ListAliases(ctx, &awskms.ListAliasesInput{}); return err },
		func() error {
			_, err := ok.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: ck.KeyMetadata.Arn})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Errorf("in the configured account: %v", err)
		}
	}
}

// FuzzCheckAnswerAccount: any JSON object a parent answers with is judged
// without a panic, and an answer accepted names no account but the
// configured one.
func FuzzCheckAnswerAccount(f *testing.F) {
	for _, seed := range []string{
		`{"KeyMetadata":` + metadata(keyUUID, arnApp, acctApp, "") + `}`,
		`{"KeyMetadata":` + metadata(keyUUID, arnParent, acctParent, "") + `}`,
		`{"Keys":[{"KeyId":"` + keyUUID + `","KeyArn":"` + arnApp + `"}]}`,
		`{"Aliases":[{"AliasArn":"arn:aws:kms:us-east-1:` + acctApp + `:alias/app","TargetKeyId":"` + keyUUID + `"}]}`,
		`{"Rotations":[{"KeyId":"` + keyUUID + `"}]}`,
		`{"KeyId":"` + arnApp + `","SourceKeyId":"` + arnApp2 + `"}`,
		`{"a":[[[[[[[[[[{}]]]]]]]]]]}`,
	} {
		f.Add("DescribeKey", `{"KeyId":"`+arnApp+`"}`, seed)
	}
	f.Fuzz(func(t *testing.T, op, req, answer string) {
		var r, out map[string]json.RawMessage
		if json.Unmarshal([]byte(req), &r) != nil || json.Unmarshal([]byte(answer), &out) != nil {
			return
		}
		if checkAnswerAccount(acctApp, op, r, out) != nil {
			return
		}
		// Accepted: every field naming a key or an account, at any depth,
		// is in the configured account (checked here independently).
		var tree any
		_ = json.Unmarshal([]byte(answer), &tree)
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for k, e := range v {
					s, isStr := e.(string)
					switch k {
					case "Arn", "KeyArn", "AliasArn", "KeyId", "SourceKeyId", "TargetKeyId":
						p := strings.Split(s, ":")
						if isStr && strings.HasPrefix(s, "arn:") && (len(p) < 5 || p[4] != acctApp) {
							t.Fatalf("accepted %s %q in %s", k, s, answer)
						}
					case "AWSAccountId":
						if isStr && s != acctApp {
							t.Fatalf("accepted AWSAccountId %q in %s", s, answer)
						}
					}
					walk(e)
				}
			}
		}
		walk(tree)
	})
}
