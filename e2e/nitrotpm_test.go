// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
	"github.com/enclavekit/enclavekit/internal/demo"
	"github.com/enclavekit/enclavekit/recipient"
)

// TestNitroTPMConditionKeys runs kms-server (the binary) with the
// emulator's root trusted through attestation.roots, and asks it for data
// keys with emulated NitroTPM documents: a key pinned to NitroTPM PCRs
// releases its data keys to the instance sealed to the document's key, and
// refuses an enclave document from the same hardware; a key pinned to an
// enclave image refuses the instance's NitroTPM document even though its
// PCR0 holds that image's measurement.
func TestNitroTPMConditionKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := t.TempDir()
	path := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }

	emu, err := emulator.New(&emulator.Config{
		PCRs:     map[int][]byte{0: mustHex(t, pcr0A), 1: mustHex(t, pcr1A), 2: mustHex(t, pcr2A)},
		StateDir: path("emulator"),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	writeFile(t, path("emulator-root.pem"), string(emu.RootPEM()), 0o644)
	pcr4, _, err := emu.DescribePCR(4)
	if err != nil {
		t.Fatal(err)
	}
	pcr7, _, err := emu.DescribePCR(7)
	if err != nil {
		t.Fatal(err)
	}

	if r := run(t, ctx, "kms-server", "init", "--dir", path("kms")); r.code != 0 {
		t.Fatalf("kms-server init: exit %d: %s", r.code, r.stderr)
	}
	starter, err := kmsconfig.Load(path("kms", "kms-server.yaml"))
	if err != nil || len(starter.AccessKeys) != 2 {
		t.Fatalf("kms-server init wrote %+v: %v", starter, err)
	}
	admin := starter.AccessKeys[0]
	const instanceRole = "arn:aws:iam::" + account + ":role/instance-e2e"
	roleID, roleSecret := "AKIA"+strings.ToUpper(randomHex(t, 8)), randomHex(t, 20)
	writeFile(t, path("kms", "kms-server.yaml"), fmt.Sprintf(`listen: 127.0.0.1:0
metrics_listen: "off"
region: %s
account_id: "%s"
key_store_dir: keys
root_key_file: root.key
access_keys:
  - {id: %s, secret: %s, principal: "%s", policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "kms:*", Resource: "*"}]}}
  - {id: %s, secret: %s, principal: "%s", policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: [kms:GenerateDataKey, kms:Decrypt], Resource: "*"}]}}
attestation:
  roots: [../emulator-root.pem]
  max_age: 5m
tls: {cert: tls-cert.pem, key: tls-key.pem}
audit_log: audit.jsonl
`, region, account, admin.ID, admin.Secret, admin.Principal, roleID, roleSecret, instanceRole), 0o600)
	kmsProc := start(t, "kms-server", "--config", path("kms", "kms-server.yaml"))
	kmsAddr := kmsProc.waitFor(t, `"msg":"serving KMS","addr":"([^"]+)"`)
	kmsCA, err := demo.LoadCA(path("kms", "tls-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	adminClient := demo.NewClient("https://"+kmsAddr, region, admin.ID, admin.Secret, kmsCA)
	roleClient := demo.NewClient("https://"+kmsAddr, region, roleID, roleSecret, kmsCA)

	keyWith := func(condition string) string {
		t.Helper()
		pol := `{"Version":"2012-10-17","Statement":[
		 {"Sid":"KeyAdministration","Effect":"Allow","Principal":{"AWS":"` + admin.Principal + `"},"Action":"kms:*","Resource":"*"},
		 {"Sid":"Attested","Effect":"Allow","Principal":{"AWS":"` + instanceRole + `"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
		  "Condition":{"StringEqualsIgnoreCase":` + condition + `}}]}`
		out, err := adminClient.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
		if err != nil {
			t.Fatalf("CreateKey: %v\n%s", err, pol)
		}
		return *out.KeyMetadata.KeyId
	}
	// The NitroTPM key pins PCR7 in upper case: compared case-insensitively.
	tpmKey := keyWith(`{"kms:RecipientAttestation:NitroTPMPCR4":"` + hex.EncodeToString(pcr4) +
		`","kms:RecipientAttestation:NitroTPMPCR7":"` + strings.ToUpper(hex.EncodeToString(pcr7)) + `"}`)
	enclaveKey := keyWith(`{"kms:RecipientAttestation:ImageSha384":"` + pcr0A + `"}`)

	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := recipient.PublicKeyDER(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tpmDoc, err := emu.AttestationNitroTPM(nil, nil, spki)
	if err != nil {
		t.Fatal(err)
	}
	enclaveDoc, err := emu.Attestation(nil, nil, spki)
	if err != nil {
		t.Fatal(err)
	}
	gdk := func(key string, doc []byte) (*awskms.GenerateDataKeyOutput, error) {
		return roleClient.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: types.DataKeySpecAes256,
			Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}})
	}

	// 1. The instance's NitroTPM document opens the NitroTPM key: the data
	// key comes sealed to its public key, the one in the CiphertextBlob.
	out, err := gdk(tpmKey, tpmDoc)
	if err != nil {
		t.Fatalf("GenerateDataKey with the NitroTPM document: %v", err)
	}
	dk, err := recipient.Open(priv, out.CiphertextForRecipient)
	if err != nil || len(dk) != 32 || out.Plaintext != nil {
		t.Fatalf("CiphertextForRecipient: %d bytes (%v), plaintext %x", len(dk), err, out.Plaintext)
	}
	ref, err := adminClient.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	if err != nil || string(ref.Plaintext) != string(dk) {
		t.Fatalf("the sealed data key differs from the CiphertextBlob's (%v)", err)
	}
	dec, err := roleClient.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.CiphertextBlob,
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: tpmDoc}})
	if err != nil {
		t.Fatalf("Decrypt with the NitroTPM document: %v", err)
	}
	if again, err := recipient.Open(priv, dec.CiphertextForRecipient); err != nil || string(again) != string(dk) {
		t.Fatalf("Decrypt with Recipient: %v", err)
	}

	// 2. An enclave document of the same hardware, whose PCR4 and PCR7
	// equal the pinned NitroTPM values, is refused by the NitroTPM key.
	wantDenied := func(what string, err error, wants ...string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
			t.Fatalf("%s: %v, want AccessDeniedException", what, err)
		}
		for _, w := range wants {
			if !strings.Contains(ae.ErrorMessage(), w) {
				t.Errorf("%s: denial %q does not contain %q", what, ae.ErrorMessage(), w)
			}
		}
	}
	_, err = gdk(tpmKey, enclaveDoc)
	wantDenied("enclave document, NitroTPM key", err, "kms:RecipientAttestation:NitroTPMPCR4", "Nitro Enclave")

	// 3. The parent's attack: its NitroTPM document (PCR0 = image A's
	// measurement) against the key pinned to enclave image A.
	_, err = gdk(enclaveKey, tpmDoc)
	wantDenied("NitroTPM document, enclave key", err, "kms:RecipientAttestation:ImageSha384", "NitroTPM")
	if _, err := gdk(enclaveKey, enclaveDoc); err != nil {
		t.Errorf("the enclave's own document against the enclave key: %v", err)
	}

	// kms-server's audit log: the NitroTPM module and PCRs of the allowed
	// request, and the denials.
	var allowed, denied int
	for _, ev := range auditEvents(t, path("kms", "audit.jsonl"), "GenerateDataKey") {
		aed, _ := ev["additionalEventData"].(map[string]any)
		rec, _ := aed["recipient"].(map[string]any)
		switch {
		case ev["decision"] == "allow" && rec["attestationDocumentNitroTPMPCR4"] == hex.EncodeToString(pcr4) &&
			strings.HasSuffix(fmt.Sprint(rec["attestationDocumentModuleId"]), "-tpm0000000000000000"):
			allowed++
		case ev["decision"] == "deny":
			denied++
		}
	}
	if allowed != 1 || denied != 2 {
		b, _ := os.ReadFile(path("kms", "audit.jsonl"))
		t.Errorf("audit: %d allowed NitroTPM requests (want 1), %d denials (want 2):\n%s", allowed, denied, b)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
