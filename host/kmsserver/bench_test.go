// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/recipient"
)

// BenchmarkFloorGenerateDataKeyRecipient is the irreducible work of one
// recipient GenerateDataKey: warm Verifier.Verify, recipient.Seal of a
// 32-byte key, one AES-256-GCM seal.
func BenchmarkFloorGenerateDataKeyRecipient(b *testing.B) {
	e := newRecipientEnv(b, nil)
	doc := e.doc(b)
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: e.fix.Roots()})
	if err != nil {
		b.Fatal(err)
	}
	blk, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(blk)
	now := time.Now()
	dk := make([]byte, 32)
	nonce := make([]byte, 12)
	v.Verify(doc, attestation.Options{CurrentTime: now, MaxAge: 5 * time.Minute})
	b.ResetTimer()
	for b.Loop() {
		got, err := v.Verify(doc, attestation.Options{CurrentTime: now, MaxAge: 5 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		rand.Read(dk)
		if _, err := recipient.Seal(got.PublicKey, dk, nil); err != nil {
			b.Fatal(err)
		}
		rand.Read(nonce)
		aead.Seal(nil, nonce, dk, nil)
	}
}

// BenchmarkServeGenerateDataKeyRecipient is the server's whole request path
// for the same job, without the network: SigV4 verification, JSON, Recipient
// verification, policy, key store, GCM, recipient.Seal, audit, metrics.
func BenchmarkServeGenerateDataKeyRecipient(b *testing.B) {
	e := newRecipientEnv(b, nil)
	id := e.createKey(b)
	body, _ := json.Marshal(map[string]any{"KeyId": id, "KeySpec": "AES_256",
		"Recipient": map[string]any{"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": e.doc(b)}})
	req, _ := http.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.GenerateDataKey")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	h := e.srv.Handler()
	serve := func() {
		r := httptest.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
		r.Header = req.Header.Clone()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	serve()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}
