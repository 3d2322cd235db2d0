// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// keyWithDeny creates a key (through the SDK client) whose policy allows
// the test principal everything except kms:Encrypt under cond.
func keyWithDeny(t *testing.T, client *awskms.Client, cond string) string {
	t.Helper()
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
	  {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":%q},"Action":"kms:*","Resource":"*"},
	  {"Sid":"Gate","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":%s}]}`, testPrincipal, cond)
	out, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{Policy: aws.String(doc)})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return *out.KeyMetadata.KeyId
}

func encryptWith(client *awskms.Client, key string, opts ...func(*awskms.Options)) error {
	_, err := client.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")}, opts...)
	return err
}

// TestSourceIPCondition: aws:SourceIp is the connection's address, through
// the aws-sdk-go-v2 client: a key gated to 203.0.113.0/24 refuses this
// loopback caller, even when it claims that network in X-Forwarded-For or
// Forwarded; a key gated to loopback serves it.
func TestSourceIPCondition(t *testing.T) {
	env := newEnv(t, nil)
	remote := keyWithDeny(t, env.client, `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`)
	local := keyWithDeny(t, env.client, `{"NotIpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}`)

	if err := encryptWith(env.client, local); err != nil {
		t.Fatalf("Encrypt from loopback with a loopback-only key: %v", err)
	}
	err := encryptWith(env.client, remote)
	ae := wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, `statement "Gate"`) || !strings.Contains(ae.Message, "aws:SourceIp") {
		t.Errorf("denial does not name the condition: %s", ae.Message)
	}
	spoof := func(o *awskms.Options) {
		o.APIOptions = append(o.APIOptions,
			smithyhttp.AddHeaderValue("X-Forwarded-For", "203.0.113.5"),
			smithyhttp.AddHeaderValue("X-Real-Ip", "203.0.113.5"),
			smithyhttp.AddHeaderValue("Forwarded", "for=203.0.113.5"))
	}
	wantCode(t, encryptWith(env.client, remote, spoof), CodeAccessDenied)
	if err := encryptWith(env.client, local, spoof); err != nil {
		t.Fatalf("forwarding headers changed the source address: %v", err)
	}
	if !strings.Contains(env.audit.String(), `"sourceIp":"127.0.0.1"`) {
		t.Error("audit log lacks the connection's source address")
	}
}

// TestSecureTransportCondition: a key that denies requests without TLS
// refuses the plain-HTTP endpoint and serves the same server over TLS.
func TestSecureTransportCondition(t *testing.T) {
	env := newEnv(t, nil)
	key := keyWithDeny(t, env.client, `{"Bool":{"aws:SecureTransport":"false"}}`)
	ae := wantCode(t, encryptWith(env.client, key), CodeAccessDenied)
	if !strings.Contains(ae.Message, "aws:SecureTransport") {
		t.Errorf("denial does not name the condition: %s", ae.Message)
	}
	tlsTS := httptest.NewTLSServer(env.srv.Handler())
	t.Cleanup(tlsTS.Close)
	tlsClient := awskms.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
		HTTPClient:  sdkhttp.New(tlsTS.Client()), Retryer: func() aws.Retryer { return aws.NopRetryer{} }},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String(tlsTS.URL) })
	if err := encryptWith(tlsClient, key); err != nil {
		t.Fatalf("Encrypt over TLS: %v", err)
	}
	// The opposite gate: Bool true denies the TLS caller only.
	key2 := keyWithDeny(t, env.client, `{"Bool":{"aws:SecureTransport":true}}`)
	wantCode(t, encryptWith(tlsClient, key2), CodeAccessDenied)
	if err := encryptWith(env.client, key2); err != nil {
		t.Fatalf("Encrypt over plain HTTP: %v", err)
	}
}

// TestTimeConditions: aws:CurrentTime and aws:EpochTime are the request
// time (Config.Clock).
func TestTimeConditions(t *testing.T) {
	now := time.Now()
	env := newEnv(t, func(c *Config) { c.Clock = func() time.Time { return now } })
	past := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)
	expired := keyWithDeny(t, env.client, `{"DateGreaterThan":{"aws:CurrentTime":"`+now.Add(-time.Hour).UTC().Format(time.RFC3339)+`"}}`)
	wantCode(t, encryptWith(env.client, expired), CodeAccessDenied)
	expiredEpoch := keyWithDeny(t, env.client, `{"NumericGreaterThan":{"aws:EpochTime":`+past+`}}`)
	wantCode(t, encryptWith(env.client, expiredEpoch), CodeAccessDenied)
	future := keyWithDeny(t, env.client, `{"DateGreaterThan":{"aws:EpochTime":"`+now.Add(time.Hour).UTC().Format(time.RFC3339)+`"}}`)
	if err := encryptWith(env.client, future); err != nil {
		t.Fatalf("Encrypt before the cut-off: %v", err)
	}
}

// TestAliasConditions: kms:RequestAlias is the alias the request named the
// key by; kms:ResourceAliases the key's aliases, whatever the request named.
func TestAliasConditions(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	key := keyWithDeny(t, env.client, `{"StringNotEquals":{"kms:RequestAlias":"alias/prod"}}`)
	for _, a := range []string{"alias/prod", "alias/other"} {
		if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(a), TargetKeyId: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := encryptWith(env.client, "alias/prod"); err != nil {
		t.Fatalf("Encrypt by alias/prod: %v", err)
	}
	if err := encryptWith(env.client, "arn:aws:kms:us-east-1:"+testAccount+":alias/prod"); err != nil {
		t.Fatalf("Encrypt by the alias ARN: %v", err)
	}
	wantCode(t, encryptWith(env.client, key), CodeAccessDenied)
	wantCode(t, encryptWith(env.client, "alias/other"), CodeAccessDenied)

	frozen := keyWithDeny(t, env.client, `{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/frozen"}}`)
	if err := encryptWith(env.client, frozen); err != nil {
		t.Fatalf("Encrypt before the alias exists: %v", err)
	}
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/frozen"), TargetKeyId: aws.String(frozen)}); err != nil {
		t.Fatal(err)
	}
	ae := wantCode(t, encryptWith(env.client, frozen), CodeAccessDenied)
	if !strings.Contains(ae.Message, "kms:ResourceAliases") {
		t.Errorf("denial does not name the condition: %s", ae.Message)
	}
}

// TestTransportKeysReachEveryDecidingPolicy: the request's transport and
// time keys reach every policy that decides a key request, not only the
// key policy: the caller's identity policy (the default key policy
// delegates to it) and, in the lockout check of CreateKey and
// PutKeyPolicy, the new key policy.
func TestTransportKeysReachEveryDecidingPolicy(t *testing.T) {
	onlyPlain := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*",
	  "Condition":{"Bool":{"aws:SecureTransport":"false"},"IpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]},
	  "NumericGreaterThan":{"aws:EpochTime":1000},"DateGreaterThan":{"aws:CurrentTime":"2001-01-01T00:00:00Z"}}}]}`
	env := newEnv(t, func(c *Config) {
		k := c.AccessKeys[testAKID]
		k.Policy = onlyPlain
		c.AccessKeys[testAKID] = k
	})
	ctx := context.Background()
	out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{}) // the default key policy: the identity policy decides
	if err != nil {
		t.Fatalf("CreateKey under an identity policy that reads the transport keys: %v", err)
	}
	id := *out.KeyMetadata.KeyId
	if err := encryptWith(env.client, id); err != nil {
		t.Fatalf("Encrypt: the identity policy did not see the transport keys: %v", err)
	}

	// The lockout check: the new key policy sees them too.
	gated := func(cond string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":%q},"Action":"kms:*","Resource":"*","Condition":%s}]}`,
			testPrincipal, cond)
	}
	for _, cond := range []string{`{"Bool":{"aws:SecureTransport":"false"}}`, `{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}`,
		`{"NumericGreaterThan":{"aws:EpochTime":1000}}`, `{"DateGreaterThan":{"aws:CurrentTime":"2001-01-01T00:00:00Z"}}`} {
		if _, err := env.client.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(gated(cond))}); err != nil {
			t.Errorf("PutKeyPolicy of a policy allowing this caller under %s: %v", cond, err)
		}
		if _, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(gated(cond))}); err != nil {
			t.Errorf("CreateKey with a policy allowing this caller under %s: %v", cond, err)
		}
	}
	for _, cond := range []string{`{"Bool":{"aws:SecureTransport":"true"}}`, `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`,
		`{"NumericLessThan":{"aws:EpochTime":1000}}`} {
		_, err := env.client.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(gated(cond))})
		if e := wantCode(t, err, CodeMalformedPolicy); !strings.Contains(e.Message, "will not allow you to update the key policy") {
			t.Errorf("lockout refusal under %s: %s", cond, e.Message)
		}
	}
}
