// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
	"github.com/enclavekit/enclavekit/recipient"
)

var (
	enclaveKeyOnce sync.Once
	enclaveKey     *rsa.PrivateKey
)

// testEnclaveKey is a fixed RSA-2048 test key (testdata/enclave_key.pem,
// made with openssl genpkey): generation is slow and, for instruction
// counts, of random cost.
func testEnclaveKey(t testing.TB) *rsa.PrivateKey {
	enclaveKeyOnce.Do(func() {
		b, err := os.ReadFile("testdata/enclave_key.pem")
		if err != nil {
			panic(err)
		}
		blk, _ := pem.Decode(b)
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			panic(err)
		}
		enclaveKey = k.(*rsa.PrivateKey)
	})
	return enclaveKey
}

type recipientEnv struct {
	*testEnv
	fix  *attestationtest.Fixture
	priv *rsa.PrivateKey
	spki []byte
}

func newRecipientEnv(t testing.TB, mod func(*Config)) *recipientEnv {
	t.Helper()
	fix := attestationtest.New(t, time.Now().Add(-time.Minute))
	env := newEnv(t, func(c *Config) {
		c.AttestationRoots = fix.Roots()
		if mod != nil {
			mod(c)
		}
	})
	priv := testEnclaveKey(t)
	spki, err := recipient.PublicKeyDER(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &recipientEnv{testEnv: env, fix: fix, priv: priv, spki: spki}
}

// doc mints a fresh document carrying the enclave public key.
func (e *recipientEnv) doc(t testing.TB, mods ...func(*attestation.Document)) []byte {
	t.Helper()
	return e.fix.Document(t, append([]func(*attestation.Document){func(d *attestation.Document) {
		d.PublicKey = e.spki
		d.Timestamp = time.Now()
	}}, mods...)...)
}

func (e *recipientEnv) recipient(doc []byte) *types.RecipientInfo {
	return &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}
}

// checkSealedAnswers makes Decrypt, GenerateRandom and GenerateDataKeyPair
// calls with key id, each with a Recipient on a fresh document from doc,
// and checks that each answer carries its secret only in
// CiphertextForRecipient, which opens to it.
func (e *recipientEnv) checkSealedAnswers(t *testing.T, id string, ec map[string]string, doc func() []byte) {
	t.Helper()
	ctx, c := context.Background(), e.client
	blob := e.encrypt(t, id, []byte("sealed secret"), ec)
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, Recipient: e.recipient(doc())})
	if err != nil {
		t.Fatal(err)
	}
	if dec.Plaintext != nil || string(e.open(t, dec.CiphertextForRecipient)) != "sealed secret" {
		t.Fatalf("Decrypt with Recipient: %+v", dec)
	}

	rnd, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(48), Recipient: e.recipient(doc())})
	if err != nil {
		t.Fatal(err)
	}
	if rnd.Plaintext != nil || len(e.open(t, rnd.CiphertextForRecipient)) != 48 {
		t.Fatalf("GenerateRandom with Recipient: %+v", rnd)
	}

	kp, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: types.DataKeyPairSpecEccNistP256,
		Recipient: e.recipient(doc())})
	if err != nil {
		t.Fatal(err)
	}
	if kp.PrivateKeyPlaintext != nil {
		t.Fatal("GenerateDataKeyPair with Recipient returned the private key in the clear")
	}
	checkKeyPair(t, e.open(t, kp.CiphertextForRecipient), kp.PublicKey)
}

func (e *recipientEnv) open(t testing.TB, ct []byte) []byte {
	t.Helper()
	pt, err := recipient.Open(e.priv, ct)
	if err != nil {
		t.Fatalf("recipient.Open: %v", err)
	}
	return pt
}

// enclavePolicy allows the test principal to administer the key and to use
// it from an enclave whose PCR0 is pcr0.
func enclavePolicy(pcr0 []byte) string {
	h := hex.EncodeToString(pcr0)
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},
	  "Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*","kms:Encrypt"],"Resource":"*"},
	 {"Sid":"Enclave","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},
	  "Action":["kms:Decrypt","kms:GenerateDataKey","kms:GenerateDataKeyPair"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + h + `","kms:RecipientAttestation:PCR0":"` + h + `"}}}]}`
}

func TestRecipientFlows(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	c := e.client
	id := e.createKey(t)
	ec := map[string]string{"app": "enclave"}

	gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: ec, Recipient: e.recipient(e.doc(t))})
	if err != nil {
		t.Fatal(err)
	}
	if gdk.Plaintext != nil || gdk.CiphertextBlob == nil || *gdk.KeyId != e.srv.keyARN(id) {
		t.Fatalf("GenerateDataKey with Recipient: plaintext %x, blob %d bytes", gdk.Plaintext, len(gdk.CiphertextBlob))
	}
	dk := e.open(t, gdk.CiphertextForRecipient)
	if len(dk) != 32 {
		t.Fatalf("data key of %d bytes", len(dk))
	}
	if pt := e.decrypt(t, gdk.CiphertextBlob, ec); !bytes.Equal(pt, dk) {
		t.Fatal("CiphertextBlob and CiphertextForRecipient carry different keys")
	}

	e.checkSealedAnswers(t, id, ec, func() []byte { return e.doc(t) })

	// The audit log names the module and PCR0, and no key material.
	audit := e.audit.String()
	pcr0 := hex.EncodeToString(attestationtest.PCRs()[0])
	if !strings.Contains(audit, `"attestationDocumentModuleId":"`+e.fix.Chain.ModuleID+`"`) ||
		!strings.Contains(audit, `"attestationDocumentEnclaveImageDigest":"`+pcr0+`"`) {
		t.Fatalf("audit log lacks the recipient data:\n%s", audit)
	}
	if strings.Contains(audit, hex.EncodeToString(dk)) {
		t.Fatal("audit log contains the data key")
	}
}

func TestRecipientPolicy(t *testing.T) {
	e := newRecipientEnv(t, func(c *Config) { c.AllowDebugEnclavesUnsafe = true })
	ctx := context.Background()
	c := e.client
	pcrs := attestationtest.PCRs()
	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(enclavePolicy(pcrs[0]))})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	gdk := func(doc []byte) (*awskms.GenerateDataKeyOutput, error) {
		in := &awskms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)}
		if doc != nil {
			in.Recipient = e.recipient(doc)
		}
		return c.GenerateDataKey(ctx, in)
	}
	out, err := gdk(e.doc(t))
	if err != nil {
		t.Fatalf("matching PCR0: %v", err)
	}
	e.open(t, out.CiphertextForRecipient)

	// No attestation document: the condition fails.
	_, err = gdk(nil)
	ae := wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, "RecipientAttestation") {
		t.Errorf("denial without document does not name the condition: %s", ae.Message)
	}

	// PCR mismatch: the message names the PCR, expected and presented.
	other := bytes.Repeat([]byte{0xab}, 48)
	_, err = gdk(e.doc(t, func(d *attestation.Document) { d.PCRs[0] = other }))
	ae = wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, "PCR0") && !strings.Contains(ae.Message, "ImageSha384") ||
		!strings.Contains(ae.Message, hex.EncodeToString(pcrs[0])) || !strings.Contains(ae.Message, hex.EncodeToString(other)) {
		t.Fatalf("PCR mismatch message does not name expected and presented PCR0: %s", ae.Message)
	}
	if !strings.Contains(e.audit.String(), hex.EncodeToString(other)) {
		t.Error("audit log lacks the presented PCR0 of the denied request")
	}

	// Debug-mode document (allowed by config) against the PCR condition.
	_, err = gdk(e.doc(t, func(d *attestation.Document) {
		for i := 0; i <= 2; i++ {
			d.PCRs[i] = make([]byte, 48)
		}
	}))
	ae = wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, strings.Repeat("00", 48)) {
		t.Fatalf("debug-mode denial does not show the zero PCR0: %s", ae.Message)
	}
}

func TestRecipientRejections(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	id := e.createKey(t)
	gdk := func(ri *types.RecipientInfo) error {
		_, err := e.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, Recipient: ri})
		return err
	}
	stranger := attestationtest.New(t, time.Now().Add(-time.Minute))
	ecKey, _ := x509.MarshalPKIXPublicKey(&mustECDSA(t).PublicKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)

	for _, tc := range []struct {
		name string
		doc  []byte
		code string // attestation error code expected in the message, or a fragment
	}{
		{"untrusted root", stranger.Document(t, func(d *attestation.Document) { d.PublicKey = e.spki; d.Timestamp = time.Now() }), "untrusted_chain"},
		{"expired document", e.doc(t, func(d *attestation.Document) { d.Timestamp = time.Now().Add(-6 * time.Minute) }), "too_old"},
		{"debug mode", e.doc(t, func(d *attestation.Document) {
			for i := 0; i <= 2; i++ {
				d.PCRs[i] = make([]byte, 48)
			}
		}), "debug_mode"},
		{"no public key", e.doc(t, func(d *attestation.Document) { d.PublicKey = nil }), "no public_key"},
		{"EC public key", e.doc(t, func(d *attestation.Document) { d.PublicKey = ecKey }), "RSA key of 2048 to 4096"},
		{"RSA-1024 public key", e.doc(t, func(d *attestation.Document) { d.PublicKey = smallDER }), "RSA key of 2048 to 4096"},
		{"garbage", []byte("not a document"), "malformed"},
		{"real NitroTPM document (verified as one), leaf expired", awsvectors.ReadFile(t, "attestation", "nitrotpm", "2026-03-25_nitrotpm_a.cbor"), "certificate_expired"},
		{"real AWS document, leaf expired", awsvectors.ReadFile(t, "attestation", "real", "2022-10-13_evervault_valid.cbor"), "certificate_expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantCode(t, gdk(e.recipient(tc.doc)), CodeValidation)
			if !strings.Contains(ae.Message, tc.code) {
				t.Fatalf("message %q lacks %q", ae.Message, tc.code)
			}
		})
	}
	ri := e.recipient(e.doc(t))
	ri.KeyEncryptionAlgorithm = "RSAES_OAEP_SHA_1"
	wantCode(t, gdk(ri), CodeValidation)
}

// TestRecipientAWSRoot: with the default roots (AWS only), the emulator's
// documents are refused and real AWS documents are checked at request time.
func TestRecipientAWSRoot(t *testing.T) {
	env := newEnv(t, nil)
	fix := attestationtest.New(t, time.Now().Add(-time.Minute))
	priv := testEnclaveKey(t)
	spki, _ := recipient.PublicKeyDER(&priv.PublicKey)
	doc := fix.Document(t, func(d *attestation.Document) { d.PublicKey = spki; d.Timestamp = time.Now() })
	_, err := env.client.GenerateRandom(context.Background(), &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32),
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}})
	ae := wantCode(t, err, CodeValidation)
	if !strings.Contains(ae.Message, "untrusted_chain") {
		t.Fatalf("emulator document under the AWS root: %s", ae.Message)
	}
	real := awsvectors.ReadFile(t, "attestation", "real", "2022-10-13_evervault_valid.cbor")
	_, err = env.client.GenerateRandom(context.Background(), &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32),
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: real}})
	ae = wantCode(t, err, CodeValidation)
	if !strings.Contains(ae.Message, "certificate_expired") {
		t.Fatalf("old real document: %s", ae.Message)
	}
}

// TestRecipientOpenSSL opens a CiphertextForRecipient with `openssl cms
// -decrypt`, an implementation independent of package recipient.
func TestRecipientOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is required under CI")
		}
		t.Skip("openssl not installed")
	}
	e := newRecipientEnv(t, nil)
	id := e.createKey(t)
	out, err := e.client.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(id),
		KeySpec: types.DataKeySpecAes256, Recipient: e.recipient(e.doc(t))})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	der, _ := x509.MarshalPKCS8PrivateKey(e.priv)
	keyPath := filepath.Join(dir, "key.pem")
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	inPath := filepath.Join(dir, "ct.ber")
	os.WriteFile(inPath, out.CiphertextForRecipient, 0o600)
	cmd := exec.Command(bin, "cms", "-decrypt", "-inform", "DER", "-in", inPath, "-inkey", keyPath, "-binary")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pt, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl cms -decrypt: %v\n%s", err, stderr.String())
	}
	if !bytes.Equal(pt, e.open(t, out.CiphertextForRecipient)) || len(pt) != 32 {
		t.Fatalf("openssl opened %x", pt)
	}
	if pt2 := e.decrypt(t, out.CiphertextBlob, nil); !bytes.Equal(pt, pt2) {
		t.Fatal("openssl's plaintext differs from the data key in CiphertextBlob")
	}
}

// TestCheckRecipientWeakKey: checkRecipient applies recipient.Seal's own
// checks, so a Recipient key Seal would refuse (here: exponent 3) is the
// caller's ValidationException before any key is used, not a
// KMSInternalException after the operation ran.
func TestCheckRecipientWeakKey(t *testing.T) {
	e := newRecipientEnv(t, nil)
	weak := &rsa.PublicKey{N: e.priv.N, E: 3}
	spki, err := x509.MarshalPKIXPublicKey(weak)
	if err != nil {
		t.Fatal(err)
	}
	doc := e.doc(t, func(d *attestation.Document) { d.PublicKey = spki })
	_, err = e.client.GenerateRandom(context.Background(), &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32), Recipient: e.recipient(doc)})
	wantCode(t, err, CodeValidation)
}

// TestRecipientKeySizes pins a documented difference from AWS KMS
// (docs/kms-compatibility.md, "Recipient"): KMS takes an RSA-2048 public
// key in the attestation document; kms-server also takes 3072 and 4096
// bits (what recipient.Seal supports), answers with a
// CiphertextForRecipient the key opens, and refuses smaller keys (the
// negative cases are in TestRecipientRejections' table).
func TestRecipientKeySizes(t *testing.T) {
	e := newRecipientEnv(t, nil)
	id := e.createKey(t)
	for _, bits := range []int{2048, 3072, 4096} {
		priv := e.priv
		if bits != 2048 {
			var err error
			if priv, err = recipient.GenerateKey(nil, bits); err != nil {
				t.Fatal(err)
			}
		}
		spki, err := recipient.PublicKeyDER(&priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		doc := e.doc(t, func(d *attestation.Document) { d.PublicKey = spki })
		out, err := e.client.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(id),
			KeySpec: types.DataKeySpecAes256, Recipient: e.recipient(doc)})
		if err != nil {
			t.Fatalf("RSA-%d: %v", bits, err)
		}
		pt, err := recipient.Open(priv, out.CiphertextForRecipient)
		if err != nil || len(pt) != 32 || len(out.CiphertextForRecipient) > 6144 {
			t.Fatalf("RSA-%d: opened %d bytes of a %d-byte CiphertextForRecipient, %v", bits, len(pt), len(out.CiphertextForRecipient), err)
		}
	}
}
