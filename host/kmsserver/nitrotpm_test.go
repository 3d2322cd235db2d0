// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/fxamacker/cbor/v2"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// tpmDoc mints a fresh NitroTPM document carrying the recipient public key.
func (e *recipientEnv) tpmDoc(t testing.TB, mods ...func(*attestation.NitroTPMDocument)) []byte {
	t.Helper()
	return e.fix.NitroTPMDocument(t, append([]func(*attestation.NitroTPMDocument){func(d *attestation.NitroTPMDocument) {
		d.PublicKey = e.spki
		d.Timestamp = time.Now()
	}}, mods...)...)
}

// nitroTPMPolicy allows the test principal to administer the key and to
// use it (every Recipient operation) from an instance whose NitroTPM PCR4
// and PCR7 are pcr4 and pcr7, as in the AWS guide's example.
func nitroTPMPolicy(pcr4, pcr7 []byte) string {
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},
	  "Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*","kms:Encrypt"],"Resource":"*"},
	 {"Sid":"Enable NitroTPM data processing","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},
	  "Action":["kms:Decrypt","kms:GenerateDataKey","kms:GenerateDataKeyPair","kms:DeriveSharedSecret"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:NitroTPMPCR4":"` + hex.EncodeToString(pcr4) +
		`","kms:RecipientAttestation:NitroTPMPCR7":"` + hex.EncodeToString(pcr7) + `"}}}]}`
}

// recipientOps calls each symmetric-key Recipient operation on key id with
// ri and returns the errors by operation.
func (e *recipientEnv) recipientOps(t *testing.T, id string, ri *types.RecipientInfo) map[string]error {
	t.Helper()
	ctx := context.Background()
	c := e.client
	blob := e.encrypt(t, id, []byte("pinned secret"), nil)
	errs := map[string]error{}
	_, errs["GenerateDataKey"] = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, Recipient: ri})
	_, errs["Decrypt"] = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, Recipient: ri})
	_, errs["GenerateDataKeyPair"] = c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: types.DataKeyPairSpecEccNistP256, Recipient: ri})
	return errs
}

// TestNitroTPMDocumentAgainstEnclaveKey is the parent instance's attack: it
// presents its own NitroTPM document, whose PCR0 even equals the pinned
// enclave image, to a key whose policy pins that image. KMS's enclave keys
// are absent from a NitroTPM document: denied, the denial naming the key.
func TestNitroTPMDocumentAgainstEnclaveKey(t *testing.T) {
	e := newRecipientEnv(t, nil)
	pcrs := attestationtest.PCRs()
	ck, err := e.client.CreateKey(context.Background(), &awskms.CreateKeyInput{Policy: aws.String(enclavePolicy(pcrs[0]))})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	for op, err := range e.recipientOps(t, id, e.recipient(e.doc(t))) {
		if err != nil {
			t.Fatalf("%s with the pinned enclave's document: %v", op, err)
		}
	}
	forged := e.tpmDoc(t, func(d *attestation.NitroTPMDocument) {
		for i := 0; i <= 15; i++ {
			d.PCRs[i] = pcrs[i]
		}
	})
	for op, err := range e.recipientOps(t, id, e.recipient(forged)) {
		ae := wantCode(t, err, CodeAccessDenied)
		if !strings.Contains(ae.Message, "kms:RecipientAttestation:ImageSha384") || !strings.Contains(ae.Message, "NitroTPM") {
			t.Errorf("%s: denial does not name the enclave key and the NitroTPM document: %s", op, ae.Message)
		}
	}
	if !strings.Contains(e.audit.String(), `"decision":"deny"`) {
		t.Error("audit log lacks the denials")
	}
}

// TestEnclaveDocumentAgainstNitroTPMKey is the reverse: an enclave
// document whose PCR4 and PCR7 equal the NitroTPM PCRs a key pins is
// denied, the denial naming the NitroTPM key.
func TestEnclaveDocumentAgainstNitroTPMKey(t *testing.T) {
	e := newRecipientEnv(t, nil)
	tpm := attestationtest.NitroTPMPCRs()
	ck, err := e.client.CreateKey(context.Background(), &awskms.CreateKeyInput{Policy: aws.String(nitroTPMPolicy(tpm[4], tpm[7]))})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	for op, err := range e.recipientOps(t, id, e.recipient(e.tpmDoc(t))) {
		if err != nil {
			t.Fatalf("%s with the pinned instance's NitroTPM document: %v", op, err)
		}
	}
	enc := e.doc(t, func(d *attestation.Document) { d.PCRs[4], d.PCRs[7] = tpm[4], tpm[7] })
	for op, err := range e.recipientOps(t, id, e.recipient(enc)) {
		ae := wantCode(t, err, CodeAccessDenied)
		if !strings.Contains(ae.Message, "kms:RecipientAttestation:NitroTPMPCR4") || !strings.Contains(ae.Message, "Nitro Enclave") {
			t.Errorf("%s: denial does not name the NitroTPM key and the enclave document: %s", op, ae.Message)
		}
	}
	// A NitroTPM document of another boot (PCR7 differs): denied with
	// expected and presented values.
	other := e.tpmDoc(t, func(d *attestation.NitroTPMDocument) { d.PCRs[7] = make([]byte, 48) })
	_, err = e.client.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, Recipient: e.recipient(other)})
	ae := wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, "NitroTPMPCR7") || !strings.Contains(ae.Message, hex.EncodeToString(tpm[7])) || !strings.Contains(ae.Message, strings.Repeat("00", 48)) {
		t.Errorf("PCR7 mismatch: %s", ae.Message)
	}
}

// TestNitroTPMRecipientFlows: every Recipient operation accepts a NitroTPM
// document and seals its result to the document's public key.
func TestNitroTPMRecipientFlows(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	c := e.client
	tpm := attestationtest.NitroTPMPCRs()
	pol := nitroTPMPolicy(tpm[4], tpm[7])
	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	ec := map[string]string{"app": "instance"}

	gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: ec, Recipient: e.recipient(e.tpmDoc(t))})
	if err != nil {
		t.Fatal(err)
	}
	dk := e.open(t, gdk.CiphertextForRecipient)
	if gdk.Plaintext != nil || len(dk) != 32 {
		t.Fatalf("GenerateDataKey: plaintext %x, data key of %d bytes", gdk.Plaintext, len(dk))
	}

	e.checkSealedAnswers(t, id, ec, func() []byte { return e.tpmDoc(t) })

	agree := e.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, aws.String(pol))
	peer, err := x509.MarshalPKIXPublicKey(&mustECDSA(t).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(agree), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh,
		PublicKey: peer, Recipient: e.recipient(e.tpmDoc(t))})
	if err != nil {
		t.Fatal(err)
	}
	if ss.SharedSecret != nil || len(e.open(t, ss.CiphertextForRecipient)) != 32 {
		t.Fatalf("DeriveSharedSecret: %+v", ss)
	}

	// The audit log names the NitroTPM module and the PCRs the policy
	// saw, no enclave image, and no key material.
	audit := e.audit.String()
	moduleID := e.fix.NitroTPMDefaults().ModuleID
	if !strings.Contains(audit, `"attestationDocumentModuleId":"`+moduleID+`"`) ||
		!strings.Contains(audit, `"attestationDocumentNitroTPMPCR7":"`+hex.EncodeToString(tpm[7])+`"`) {
		t.Fatalf("audit log lacks the NitroTPM recipient data:\n%s", audit)
	}
	if strings.Contains(audit, "attestationDocumentEnclaveImageDigest") {
		t.Error("audit log gives a NitroTPM document an enclave image digest")
	}
	if strings.Contains(audit, hex.EncodeToString(dk)) {
		t.Fatal("audit log contains the data key")
	}
}

// hybrid re-signs the signed document doc with the fixture's leaf, its
// nonce entry replaced (the payload has at most 9 entries) by one more
// entry, key, with the value of the payload's entry from: a document
// carrying both pcrs and nitrotpm_pcrs, validly signed.
func hybrid(t *testing.T, f *attestationtest.Fixture, doc []byte, from, key string) []byte {
	t.Helper()
	var msg struct {
		_           struct{} `cbor:",toarray"`
		Protected   []byte
		Unprotected cbor.RawMessage
		Payload     []byte
		Signature   []byte
	}
	if err := cbor.Unmarshal(doc, &msg); err != nil {
		t.Fatal(err)
	}
	var m map[string]cbor.RawMessage
	if err := cbor.Unmarshal(msg.Payload, &m); err != nil {
		t.Fatal(err)
	}
	p := []byte{0xa9}
	for _, k := range []string{"module_id", "digest", "timestamp", from, "certificate", "cabundle", "public_key", "user_data"} {
		kb, _ := cbor.Marshal(k)
		p = append(append(p, kb...), m[k]...)
	}
	kb, _ := cbor.Marshal(key)
	p = append(append(p, kb...), m[from]...)
	out, err := f.Chain.Signer().SignPayload(p, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNitroTPMRecipientRejections: a NitroTPM document passes the checks of
// an enclave document (chain, freshness, public key), and the choice of
// verifier cannot be steered.
func TestNitroTPMRecipientRejections(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	rnd := func(doc []byte) error {
		_, err := e.client.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32), Recipient: e.recipient(doc)})
		return err
	}
	stranger := attestationtest.New(t, time.Now().Add(-time.Minute))
	ecKey, _ := x509.MarshalPKIXPublicKey(&mustECDSA(t).PublicKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	for _, tc := range []struct {
		name string
		doc  []byte
		want string
	}{
		{"untrusted root", stranger.NitroTPMDocument(t, func(d *attestation.NitroTPMDocument) { d.PublicKey = e.spki; d.Timestamp = time.Now() }), "untrusted_chain"},
		{"older than max age", e.tpmDoc(t, func(d *attestation.NitroTPMDocument) { d.Timestamp = time.Now().Add(-6 * time.Minute) }), "too_old"},
		{"from the future", e.tpmDoc(t, func(d *attestation.NitroTPMDocument) { d.Timestamp = time.Now().Add(time.Hour) }), "from_future"},
		{"no public key", e.tpmDoc(t, func(d *attestation.NitroTPMDocument) { d.PublicKey = nil }), "no public_key"},
		{"EC public key", e.tpmDoc(t, func(d *attestation.NitroTPMDocument) { d.PublicKey = ecKey }), "RSA key of 2048 to 4096"},
		{"RSA-1024 public key", e.tpmDoc(t, func(d *attestation.NitroTPMDocument) { d.PublicKey = smallDER }), "RSA key of 2048 to 4096"},
		// Both kinds of PCRs, validly signed: each verifier refuses the
		// other kind's key, whichever comes first.
		{"enclave document with nitrotpm_pcrs appended", hybrid(t, e.fix, e.doc(t), "pcrs", "nitrotpm_pcrs"), "(not_enclave)"},
		{"NitroTPM document with pcrs appended", hybrid(t, e.fix, e.tpmDoc(t), "nitrotpm_pcrs", "pcrs"), "(not_enclave)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantCode(t, rnd(tc.doc), CodeValidation)
			if !strings.Contains(ae.Message, tc.want) {
				t.Fatalf("message %q lacks %q", ae.Message, tc.want)
			}
		})
	}
}

// TestNitroTPMRealVectors: the three real NitroTPM documents of AWS take
// the NitroTPM path under the AWS root. Now, they are refused only because
// their leaf certificates (3 hours) have long expired; with the server's
// clock at their own time they pass every check of the real AWS chain and
// are refused only for what a Recipient needs besides: they carry no
// public_key.
func TestNitroTPMRealVectors(t *testing.T) {
	for _, name := range []string{"2026-03-25_nitrotpm_a.cbor", "2026-03-25_nitrotpm_b.cbor", "2026-03-25_nitrotpm_c.cbor"} {
		doc := awsvectors.ReadFile(t, "attestation", "nitrotpm", name)
		parsed, err := attestation.ParseNitroTPM(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, tc := range []struct {
			when time.Time
			want string
		}{
			{time.Now(), "(certificate_expired)"},
			{parsed.Timestamp.Add(time.Minute), "has no public_key"},
		} {
			env := newEnv(t, func(c *Config) {
				c.Clock = func() time.Time { return tc.when }
				// The SDK signs with the real time; the server's clock is
				// the document's here.
				c.MaxClockSkew = time.Since(tc.when) + time.Hour
			})
			_, err := env.client.GenerateRandom(context.Background(), &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32),
				Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}})
			ae := wantCode(t, err, CodeValidation)
			if !strings.Contains(ae.Message, tc.want) {
				t.Errorf("%s at %s: %s, want %q", name, tc.when.Format(time.RFC3339), ae.Message, tc.want)
			}
			if tc.want == "has no public_key" && !strings.Contains(env.audit.String(), `"attestationDocumentModuleId":"`+parsed.ModuleID+`"`) {
				t.Errorf("%s: the audit log lacks the verified module %s", name, parsed.ModuleID)
			}
		}
	}
}
