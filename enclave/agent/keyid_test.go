// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// blobSwap is the setting of the stored-blob substitution: over TLS, with
// KMSAccount set, the enclave's key (app) is pinned to its image, and the
// role whose credentials the parent holds may use another key of the
// account (other) without attestation.
type blobSwap struct {
	client   *Client
	endpoint string // the local KMS endpoint, served on loopback
	app      string // the enclave's key ARN
	other    string // the role's everyday key ARN
	// stored is the CiphertextBlob the enclave made (under app) and its
	// data key; swapped is the parent's (under other) and its data key.
	stored, storedKey, swapped, swappedKey []byte
}

func startBlobSwap(t *testing.T) *blobSwap {
	t.Helper()
	env := startKMSServer(t, "tls")
	ctx := context.Background()
	admin := env.admin(t)
	good := image("the app image")
	pinned := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"EnclaveOnly","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},"Action":["kms:Decrypt","kms:GenerateDataKey","kms:ReEncrypt*"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(good) + `"}}}]}`
	app, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pinned)})
	if err != nil {
		t.Fatal(err)
	}
	// The role's everyday key, in the same account, usable without
	// attestation (the default key policy delegates to the role's identity
	// policy, which allows kms:*).
	other, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("the instance role's everyday key")})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: good}, Root: env.root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	c, err := New(&Config{NSM: emu, Region: "us-east-1", Proxy: env.proxy, TLS: env.tls, KMSAccount: "111122223333",
		Credentials: EnvCredentials{Getenv: envMap{"AWS_ACCESS_KEY_ID": enclaveAKID, "AWS_SECRET_ACCESS_KEY": enclaveSecret}.get},
		Logger:      slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// First start: the enclave makes its data key and stores the blob outside.
	dk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: app.KeyMetadata.Arn, KeySpec: "AES_256"})
	if err != nil {
		t.Fatal(err)
	}
	// The parent, with the role's credentials, no Recipient, no attestation.
	mine, err := env.client(t, enclaveAKID, enclaveSecret).GenerateDataKey(ctx,
		&awskms.GenerateDataKeyInput{KeyId: other.KeyMetadata.KeyId, KeySpec: "AES_256"})
	if err != nil {
		t.Fatalf("the parent's GenerateDataKey: %v", err)
	}
	return &blobSwap{client: c, endpoint: serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)}),
		app: aws.ToString(app.KeyMetadata.Arn), other: aws.ToString(other.KeyMetadata.Arn), stored: dk.CiphertextBlob, storedKey: dk.Plaintext,
		swapped: mine.CiphertextBlob, swappedKey: mine.Plaintext}
}

// TestDecryptRequiresKeyID: the parent swaps the stored CiphertextBlob for
// one of its own under another key of the account; the enclave's Decrypt
// without KeyId is refused before any request, and with KeyId (the key
// ARN) KMS refuses the swapped blob and opens the enclave's own.
func TestDecryptRequiresKeyID(t *testing.T) {
	s := startBlobSwap(t)
	ctx := context.Background()
	for _, keyID := range []*string{nil, aws.String("")} {
		d, err := s.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.swapped, KeyId: keyID})
		var ke *KeyIDRequiredError
		if !errors.As(err, &ke) || !errors.Is(err, ErrKeyIDRequired) || ke.Op != "Decrypt" || ke.Field != "KeyId" || d != nil {
			t.Fatalf("Decrypt of the swapped blob without KeyId (%v): %+v, %v; want KeyIDRequiredError", keyID, d, err)
		}
		if !strings.Contains(err.Error(), "set KeyId to the key ARN") {
			t.Errorf("the error does not say what to do: %v", err)
		}
	}
	if d, err := s.client.Decrypt(ctx, nil); !errors.Is(err, ErrKeyIDRequired) || d != nil {
		t.Fatalf("Decrypt(nil): %+v, %v", d, err)
	}
	// With the key named, the swapped blob is refused by KMS.
	d, err := s.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.swapped, KeyId: aws.String(s.app)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "IncorrectKeyException" || d != nil {
		t.Fatalf("Decrypt of the swapped blob with KeyId: %+v, %v; want IncorrectKeyException", d, err)
	}
	// And the enclave's own blob opens.
	d, err = s.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.stored, KeyId: aws.String(s.app)})
	if err != nil || !bytes.Equal(d.Plaintext, s.storedKey) || d.KeyID != s.app {
		t.Fatalf("Decrypt of the enclave's blob with KeyId: %v", err)
	}
}

// TestKMSEndpointDecryptRequiresKeyID: the same through the local KMS
// endpoint, with an unmodified aws-sdk-go-v2 client: Decrypt without KeyId
// is a ValidationException naming KeyId (the request is not sent), and
// ReEncrypt without SourceKeyId, which would launder the swapped blob into
// one under the enclave's key, too.
func TestKMSEndpointDecryptRequiresKeyID(t *testing.T) {
	s := startBlobSwap(t)
	ctx := context.Background()
	app := sdkClient(s.endpoint)
	validation := func(t *testing.T, what string, err error, field string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
			t.Fatalf("%s: %v; want ValidationException", what, err)
		}
		if !strings.Contains(ae.ErrorMessage(), field+" is required") || !strings.Contains(ae.ErrorMessage(), "hint: ") {
			t.Errorf("%s: the message does not name %s with a hint: %q", what, field, ae.ErrorMessage())
		}
	}
	for _, keyID := range []*string{nil, aws.String("")} {
		d, err := app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.swapped, KeyId: keyID})
		if d != nil {
			t.Fatalf("Decrypt of the swapped blob without KeyId answered %x (the parent's key: %v)", d.Plaintext, bytes.Equal(d.Plaintext, s.swappedKey))
		}
		validation(t, "Decrypt without KeyId", err, "KeyId")
	}
	re, err := app.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: s.swapped, DestinationKeyId: aws.String(s.app)})
	if re != nil {
		t.Fatalf("ReEncrypt of the swapped blob without SourceKeyId answered a blob under %s", aws.ToString(re.KeyId))
	}
	validation(t, "ReEncrypt without SourceKeyId", err, "SourceKeyId")
	// With the key named: KMS refuses the swapped blob, opens the enclave's.
	_, err = app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.swapped, KeyId: aws.String(s.app)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "IncorrectKeyException" {
		t.Fatalf("Decrypt of the swapped blob with KeyId: %v; want IncorrectKeyException", err)
	}
	d, err := app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.stored, KeyId: aws.String(s.app)})
	if err != nil || !bytes.Equal(d.Plaintext, s.storedKey) || aws.ToString(d.KeyId) != s.app {
		t.Fatalf("Decrypt of the enclave's blob with KeyId: %v", err)
	}
	// ReEncrypt takes no Recipient, so only a key usable without
	// attestation (the role's everyday key) re-encrypts; with SourceKeyId
	// it passes through.
	re, err = app.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: s.swapped, SourceKeyId: aws.String(s.other), DestinationKeyId: aws.String(s.other)})
	if err != nil || aws.ToString(re.SourceKeyId) != s.other {
		t.Fatalf("ReEncrypt with SourceKeyId: %v", err)
	}
}

// TestKMSEndpointKeyIDMember: the endpoint takes the key only from a
// non-empty string member spelled KeyId (SourceKeyId): a key service may
// ignore "keyid", and null or a number names no key. Each is refused before
// anything is sent.
func TestKMSEndpointKeyIDMember(t *testing.T) {
	e := newEmulator(t)
	f, c := newFakeClient(t, e, "sealed")
	ep, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	for _, tc := range []struct{ op, body, field string }{
		{"Decrypt", `{"CiphertextBlob":"YmxvYg=="}`, "KeyId"},
		{"Decrypt", `{"CiphertextBlob":"YmxvYg==","KeyId":""}`, "KeyId"},
		{"Decrypt", `{"CiphertextBlob":"YmxvYg==","KeyId":null}`, "KeyId"},
		{"Decrypt", `{"CiphertextBlob":"YmxvYg==","KeyId":7}`, "KeyId"},
		{"Decrypt", `{"CiphertextBlob":"YmxvYg==","keyid":"alias/app"}`, "KeyId"},
		{"Decrypt", `{"CiphertextBlob":"YmxvYg==","SourceKeyId":"alias/app"}`, "KeyId"},
		{"ReEncrypt", `{"CiphertextBlob":"YmxvYg==","DestinationKeyId":"alias/app"}`, "SourceKeyId"},
		{"ReEncrypt", `{"CiphertextBlob":"YmxvYg==","DestinationKeyId":"alias/app","KeyId":"alias/app"}`, "SourceKeyId"},
		{"ReEncrypt", `{"CiphertextBlob":"YmxvYg==","DestinationKeyId":"alias/app","SourceKeyId":""}`, "SourceKeyId"},
	} {
		before := f.calls.Load()
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(tc.body))
		req.Header.Set("X-Amz-Target", "TrentService."+tc.op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" ||
			!strings.Contains(b.String(), `"__type":"ValidationException"`) || !strings.Contains(b.String(), tc.field+" is required") {
			t.Errorf("%s %s: HTTP %d %s", tc.op, tc.body, resp.StatusCode, b.String())
		}
		if n := f.calls.Load() - before; n != 0 {
			t.Errorf("%s %s: %d requests reached the key service", tc.op, tc.body, n)
		}
	}
}
