// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestDeriveAndSignCommands: derive returns the ECDH secret that the peer
// computes with its own private key and the KMS key's public key (opened
// from CiphertextForRecipient inside the "enclave"), only for the pinned
// image; sign returns a signature the key's public key verifies.
func TestDeriveAndSignCommands(t *testing.T) {
	e := startKMS(t)
	ctx := context.Background()
	g := e.globalArgs(pcr0Hex)
	policy := func(action string, pinned bool) string {
		cond := ""
		if pinned {
			cond = `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + pcr0Hex + `"}}`
		}
		return `{"Version":"2012-10-17","Statement":[
		 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"},
		 {"Sid":"Enclave","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/enclave"},"Action":"` + action + `","Resource":"*"` + cond + `}]}`
	}
	ka, err := e.admin.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement,
		Policy: aws.String(policy("kms:DeriveSharedSecret", true))})
	if err != nil {
		t.Fatal(err)
	}
	pubOut, err := e.admin.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ka.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	kmsPub, err := x509.ParsePKIXPublicKey(pubOut.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kmsECDH, _ := kmsPub.(*ecdsa.PublicKey).ECDH()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	want, _ := peer.ECDH(kmsECDH)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	peerFile := filepath.Join(e.dir, "peer.der")
	os.WriteFile(peerFile, peerDER, 0o600)

	code, out, errOut := e.run(t, ctx, append(g, "derive", "--key-id", *ka.KeyMetadata.KeyId, "--public-key-file", peerFile)...)
	if code != 0 {
		t.Fatalf("derive: exit %d: %s", code, errOut)
	}
	var d struct{ KeyId, KeyAgreementAlgorithm, SharedSecret string }
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(d.SharedSecret); !bytes.Equal(got, want) || d.KeyAgreementAlgorithm != "ECDH" {
		t.Fatalf("derive: secret differs from the peer's ECDH: %q", out)
	}
	secretFile := filepath.Join(e.dir, "secret.bin")
	code, _, errOut = e.run(t, ctx, append(g, "derive", "--key-id", *ka.KeyMetadata.KeyId, "--public-key", base64.StdEncoding.EncodeToString(peerDER), "--format", "raw", "--out", secretFile)...)
	if got, _ := os.ReadFile(secretFile); code != 0 || !bytes.Equal(got, want) {
		t.Fatalf("derive raw: exit %d: %s", code, errOut)
	}
	other := "b1c16eb7634112b7c9d5ebd27e62a2d4528bbfcfd68b62d3afd9ecf98e0f413a84314acce78317fb69fd895155343e09"
	code, out, errOut = e.run(t, ctx, append(e.globalArgs(other), "derive", "--key-id", *ka.KeyMetadata.KeyId, "--public-key-file", peerFile)...)
	if code != 1 || out != "" || !strings.Contains(errOut, "AccessDeniedException") {
		t.Fatalf("derive from another image: exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	sk, err := e.admin.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify,
		Policy: aws.String(policy("kms:Sign", false))})
	if err != nil {
		t.Fatal(err)
	}
	spub, _ := e.admin.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: sk.KeyMetadata.KeyId})
	sp, _ := x509.ParsePKIXPublicKey(spub.PublicKey)
	msg := []byte("release 1.2.3")
	code, out, errOut = e.run(t, ctx, append(g, "sign", "--key-id", *sk.KeyMetadata.KeyId, "--signing-algorithm", "ECDSA_SHA_256",
		"--message", base64.StdEncoding.EncodeToString(msg))...)
	if code != 0 {
		t.Fatalf("sign: exit %d: %s", code, errOut)
	}
	var s struct{ KeyId, SigningAlgorithm, Signature string }
	json.Unmarshal([]byte(out), &s)
	sig, _ := base64.StdEncoding.DecodeString(s.Signature)
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(sp.(*ecdsa.PublicKey), h[:], sig) || s.SigningAlgorithm != "ECDSA_SHA_256" {
		t.Fatalf("sign: the signature does not verify: %q", out)
	}

	for _, args := range [][]string{
		append(g, "derive"),
		append(g, "derive", "--key-id", "x"),
		append(g, "derive", "--key-id", "x", "--public-key", "AA==", "--public-key-file", peerFile),
		append(g, "derive", "--key-id", "x", "--public-key", "!!"),
		append(g, "derive", "--key-id", "x", "--public-key-file", peerFile, "--key-agreement-algorithm", "DH"),
		append(g, "derive", "--key-id", "x", "--public-key-file", peerFile, "--format", "raw"),
		append(g, "sign", "--key-id", "x", "--message", "AA=="),
		append(g, "sign", "--key-id", "x", "--signing-algorithm", "ECDSA_SHA_256"),
		append(g, "sign", "--key-id", "x", "--signing-algorithm", "ECDSA_SHA_256", "--message", "AA==", "--message-type", "HASH"),
		append(g, "sign", "--key-id", "x", "--signing-algorithm", "ECDSA_SHA_256", "--message-file", filepath.Join(e.dir, "missing")),
	} {
		if code, _, errOut := e.run(t, ctx, args...); code != 2 || !strings.HasPrefix(errOut, "enclave-agent: error: ") {
			t.Errorf("%v: exit %d, want 2 (%s)", args[len(g):], code, errOut)
		}
	}
}
