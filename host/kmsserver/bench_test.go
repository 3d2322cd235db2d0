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
	"sync/atomic"
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
//
// The audit log goes to an auditCounter, not the tests' in-memory buffer:
// a running server writes its lines to a file, and a buffer holding every
// line of the run would grow the live heap (and the garbage collector's
// marking work) with b.N. The counter checks a line was written for every
// request.
func BenchmarkServeGenerateDataKeyRecipient(b *testing.B) {
	audit := &auditCounter{}
	e := newRecipientEnv(b, func(c *Config) { c.AuditLog = audit })
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
	b.StopTimer()
	if want := int64(b.N) + 2; audit.lines.Load() != want { // + createKey and the warm-up
		b.Fatalf("%d audit lines for %d requests", audit.lines.Load(), want)
	}
}

// auditCounter is an audit sink that keeps no lines: it counts them and
// their bytes, so benchmarks measure encoding and writing the line without
// a buffer that grows with b.N.
type auditCounter struct {
	lines, bytes atomic.Int64
}

func (a *auditCounter) Write(p []byte) (int, error) {
	a.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	a.bytes.Add(int64(len(p)))
	return len(p), nil
}
