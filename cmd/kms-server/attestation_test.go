// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/recipient"
)

// TestUntrustedRootDenial: a document from a root kms-server does not
// trust is refused with a message that names kms-server's own setting,
// attestation.roots in kms-server.yaml, never the library's Options.Roots.
func TestUntrustedRootDenial(t *testing.T) {
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil) // roots: [] (AWS only)
	if err != nil {
		t.Fatal(err)
	}
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	ctx := context.Background()
	ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	fix := attestationtest.New(t, time.Now().Add(-time.Minute))
	priv, _ := recipient.GenerateKey(rand.Reader, 2048)
	spki, _ := recipient.PublicKeyDER(&priv.PublicKey)
	doc := fix.Document(t, func(d *attestation.Document) { d.PublicKey = spki; d.Timestamp = time.Now() })
	_, err = client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: ck.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256,
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}})
	if err == nil {
		t.Fatal("a document from an untrusted root was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "ValidationException") || !strings.Contains(msg, "(untrusted_chain)") ||
		!strings.Contains(msg, "attestation.roots") || !strings.Contains(msg, "kms-server.yaml") ||
		strings.Contains(msg, "Options") || strings.Contains(msg, "--root") {
		t.Fatalf("denial: %s", msg)
	}
}

// TestAttestationMessage: every mapped class names kms-server's settings
// and no library field.
func TestAttestationMessage(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&attestation.ChainError{UntrustedRoot: "CN=emu", Reason: "x; add it to Options.Roots"}, "attestation.roots"},
		{&attestation.FreshnessError{Timestamp: now, At: now.Add(time.Hour), Limit: 5 * time.Minute}, "attestation.max_age (5m0s)"},
		{&attestation.DebugModeError{}, "attestation.allow_debug_unsafe: true"},
		{&attestation.ValidityError{Position: "certificate", NotAfter: now, At: now.Add(time.Hour)}, "certificate expired"},
	} {
		got := attestationMessage(tt.err)
		if !strings.Contains(got, tt.want) || strings.Contains(got, "Options") {
			t.Errorf("%T: %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestExpiredDocumentDenial: a genuine AWS document whose leaf certificate
// has expired is refused with kms-server's own words (send a fresh
// document), never the library's Options.AtDocumentTime, which no
// kms-server user can set.
func TestExpiredDocumentDenial(t *testing.T) {
	doc, err := os.ReadFile("../../testvectors/aws/attestation/real/2022-10-13_evervault_valid.cbor")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil) // roots: [] (AWS only)
	if err != nil {
		t.Fatal(err)
	}
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	ctx := context.Background()
	ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: ck.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256,
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}})
	if err == nil {
		t.Fatal("an expired document was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "(certificate_expired)") || !strings.Contains(msg, "send a fresh document") ||
		strings.Contains(msg, "Options") || strings.Contains(msg, "AtDocumentTime") {
		t.Fatalf("denial: %s", msg)
	}
}
