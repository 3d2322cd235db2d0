// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/proccpu"
	"github.com/enclavekit/enclavekit/recipient"
)

// BenchmarkFloorGenerateDataKeyRecipient is the irreducible work of one
// recipient GenerateDataKey: warm Verifier.Verify, recipient.Seal of a
// 32-byte key, one AES-256-GCM seal.
func BenchmarkFloorGenerateDataKeyRecipient(b *testing.B) {
	fx := loadBenchDocument(b)
	doc, now := fx.Document, fx.Time
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: fx.roots(b)})
	if err != nil {
		b.Fatal(err)
	}
	blk, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(blk)
	dk := make([]byte, 32)
	nonce := make([]byte, 12)
	v.Verify(doc, attestation.Options{CurrentTime: now, MaxAge: 5 * time.Minute})
	b.ResetTimer()
	defer reportCPU(b, proccpu.Self())
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

// BenchmarkFloorProtocolGenerateDataKeyRecipient is the floor plus the work
// the protocol itself mandates for this request, which no implementation
// can skip: the SHA-256 of the exact request body and of the canonical
// request (SigV4), the HMAC-SHA256 of the string to sign with the signing
// key (its derivation is cached per day, region and service, so not
// counted) and the comparison of signatures, decoding the request JSON
// (base64 of the document included) with the server's codec, and encoding
// the JSON response (base64 of the two ciphertexts). The ratio of this
// benchmark to BenchmarkFloorGenerateDataKeyRecipient is the least a
// handler of the KMS JSON protocol can achieve against the floor.
func BenchmarkFloorProtocolGenerateDataKeyRecipient(b *testing.B) {
	benchProtocol(b, true)
}

// BenchmarkProtocolGenerateDataKeyRecipient is the protocol's share of
// BenchmarkFloorProtocolGenerateDataKeyRecipient alone: SigV4 hashes and
// HMAC, request decoding, response encoding, on the same body, without
// the floor's work (the ciphertexts of the response are fixed).
func BenchmarkProtocolGenerateDataKeyRecipient(b *testing.B) {
	benchProtocol(b, false)
}

func benchProtocol(b *testing.B, floor bool) {
	fx := loadBenchDocument(b)
	doc, now := fx.Document, fx.Time
	spki, err := recipient.PublicKeyDER(&testEnclaveKey(b).PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "KeySpec": "AES_256",
		"Recipient": map[string]any{"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": doc}})
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: fx.roots(b)})
	if err != nil {
		b.Fatal(err)
	}
	blk, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(blk)
	amzDate := now.UTC().Format(amzDateFormat)
	signingKey := make([]byte, 32) // derived once per day, region and service
	dk := make([]byte, 32)
	nonce := make([]byte, 12)
	blob := aead.Seal(nil, nonce, dk, nil)
	sealed, err := recipient.Seal(spki, dk, nil)
	if err != nil {
		b.Fatal(err)
	}
	arn := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	canon := make([]byte, 0, 512)
	sts := make([]byte, 0, 256)
	var hexSum [64]byte
	wantSig := make([]byte, 64)
	if _, err := v.Verify(doc, attestation.Options{CurrentTime: now, MaxAge: 5 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	defer reportCPU(b, proccpu.Self())
	for b.Loop() {
		// SigV4: the payload hash, the canonical request's hash, the HMAC
		// of the string to sign, and the comparison.
		sum := sha256.Sum256(body)
		hex.Encode(hexSum[:], sum[:])
		canon = append(canon[:0], "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:kms.local\nx-amz-date:"...)
		canon = append(canon, amzDate...)
		canon = append(canon, "\nx-amz-target:TrentService.GenerateDataKey\n\ncontent-type;host;x-amz-date;x-amz-target\n"...)
		canon = append(canon, hexSum[:]...)
		sum = sha256.Sum256(canon)
		sts = append(sts[:0], "AWS4-HMAC-SHA256\n"...)
		sts = append(sts, amzDate...)
		sts = append(sts, "\n"...)
		sts = append(sts, amzDate[:8]...)
		sts = append(sts, "/us-east-1/kms/aws4_request\n"...)
		sts = hex.AppendEncode(sts, sum[:])
		mac := hmac.New(sha256.New, signingKey)
		mac.Write(sts)
		var sig [64]byte
		hex.Encode(sig[:], mac.Sum(nil))
		subtle.ConstantTimeCompare(sig[:], wantSig)
		// The request JSON, with the server's codec.
		var in generateDataKeyInput
		if err := decode(body, &in); err != nil {
			b.Fatal(err)
		}
		ct, ctr := blob, sealed
		if floor {
			got, err := v.Verify(in.Recipient.AttestationDocument, attestation.Options{CurrentTime: now, MaxAge: 5 * time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			rand.Read(dk)
			if ctr, err = recipient.Seal(got.PublicKey, dk, nil); err != nil {
				b.Fatal(err)
			}
			rand.Read(nonce)
			ct = aead.Seal(nil, nonce, dk, nil)
		}
		// The JSON response.
		if _, err := json.Marshal(generateDataKeyOutput{CiphertextBlob: ct, KeyID: arn, CiphertextForRecipient: ctr}); err != nil {
			b.Fatal(err)
		}
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
	fx := loadBenchDocument(b)
	e := newEnv(b, func(c *Config) {
		c.AuditLog = audit
		c.AttestationRoots = fx.roots(b)
		c.Clock = func() time.Time { return fx.Time }
	})
	h := e.srv.Handler()
	var key struct {
		KeyMetadata struct {
			KeyID string `json:"KeyId"`
		}
	}
	if err := json.Unmarshal(benchCall(b, h, "CreateKey", []byte(`{}`), fx.Time), &key); err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"KeyId": key.KeyMetadata.KeyID, "KeySpec": "AES_256",
		"Recipient": map[string]any{"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": fx.Document}})
	req := signedBenchRequest(b, "GenerateDataKey", body, fx.Time)
	serve := func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, serverRequest(req, body))
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	if r, want := serverRequest(req, body), httptest.NewRequest("POST", "http://kms.local/", nil); r.Host != want.Host ||
		r.RemoteAddr != want.RemoteAddr || r.RequestURI != want.RequestURI || *r.URL != *want.URL || r.Proto != want.Proto {
		b.Fatalf("serverRequest %+v differs from httptest.NewRequest's %+v", r, want)
	}
	serve()
	b.ResetTimer()
	cpu := proccpu.Self()
	for b.Loop() {
		serve()
	}
	reportCPU(b, cpu)
	b.StopTimer()
	if want := int64(b.N) + 2; audit.lines.Load() != want { // + CreateKey and the warm-up
		b.Fatalf("%d audit lines for %d requests", audit.lines.Load(), want)
	}
}

// serverRequest is the request for body with signed's headers as net/http's
// server hands it to a handler: the fields httptest.NewRequest sets
// (BenchmarkServeGenerateDataKeyRecipient checks they agree), a header map
// and URL of its own, the body unread. httptest.NewRequest itself parses a
// request line through a new 4 KB bufio.Reader on every call, which a
// server's connection does not: it keeps its reader from request to
// request, so those 4 KB per request were the benchmark's, not the
// handler's.
func serverRequest(signed *http.Request, body []byte) *http.Request {
	return &http.Request{
		Method: "POST", URL: &url.URL{Scheme: "http", Host: "kms.local", Path: "/"},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: signed.Header.Clone(), Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		Host: "kms.local", RemoteAddr: "192.0.2.1:1234", RequestURI: "http://kms.local/",
	}
}

// signedBenchRequest is a KMS request for operation op with body, signed
// as the test principal at t.
func signedBenchRequest(b *testing.B, op string, body []byte, t time.Time) *http.Request {
	b.Helper()
	req, _ := http.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", t); err != nil {
		b.Fatal(err)
	}
	return req
}

// benchCall serves one request for op to h, signed at t, and returns the
// response body; any status but 200 fails the benchmark.
func benchCall(b *testing.B, h http.Handler, op string, body []byte, t time.Time) []byte {
	b.Helper()
	req := signedBenchRequest(b, op, body, t)
	r := httptest.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
	r.Header = req.Header
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("%s: status %d: %s", op, w.Code, w.Body.String())
	}
	return w.Body.Bytes()
}

// benchDocumentFile holds the attestation document the GenerateDataKey
// Recipient benchmarks all verify: its root certificate, the document
// (public_key: testdata/enclave_key.pem's) and the time they run at. A
// document minted per run would differ in its signatures, and circl's
// variable-time P-384 verification moves by up to ±0.035 M instructions
// with them, more than most changes of the request path: with one
// recorded document the floor and the handler verify the same signatures.
// Write it again with ENCLAVEKIT_WRITE_BENCH_DOCUMENT=1 go test -run
// TestWriteBenchDocument.
const benchDocumentFile = "testdata/bench_recipient_document.json"

type benchDocument struct {
	Root     []byte    `json:"root"` // DER
	Document []byte    `json:"document"`
	Time     time.Time `json:"time"`
}

func (d *benchDocument) roots(b *testing.B) []*x509.Certificate {
	c, err := x509.ParseCertificate(d.Root)
	if err != nil {
		b.Fatal(err)
	}
	return []*x509.Certificate{c}
}

func loadBenchDocument(b *testing.B) *benchDocument {
	b.Helper()
	raw, err := os.ReadFile(benchDocumentFile)
	if err != nil {
		b.Fatal(err)
	}
	var d benchDocument
	if err := json.Unmarshal(raw, &d); err != nil {
		b.Fatal(err)
	}
	return &d
}

// TestWriteBenchDocument writes benchDocumentFile when
// ENCLAVEKIT_WRITE_BENCH_DOCUMENT is set, and otherwise checks that the
// recorded document verifies at its time under its root.
func TestWriteBenchDocument(t *testing.T) {
	if os.Getenv("ENCLAVEKIT_WRITE_BENCH_DOCUMENT") != "" {
		now := time.Now().UTC().Truncate(time.Second)
		fix := attestationtest.New(t, now.Add(-time.Minute))
		spki, err := recipient.PublicKeyDER(&testEnclaveKey(t).PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		doc := fix.Document(t, func(d *attestation.Document) { d.PublicKey = spki; d.Timestamp = now })
		out, err := json.MarshalIndent(benchDocument{Root: fix.Roots()[0].Raw, Document: doc, Time: now.Add(time.Second)}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(benchDocumentFile, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(benchDocumentFile)
	if err != nil {
		t.Fatal(err)
	}
	var d benchDocument
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(d.Root)
	if err != nil {
		t.Fatal(err)
	}
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: []*x509.Certificate{root}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(d.Document, attestation.Options{CurrentTime: d.Time, MaxAge: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recipient.ParsePublicKey(got.PublicKey); err != nil {
		t.Fatal(err)
	}
}

// reportCPU reports the process's CPU time per operation since start
// (cpu-ns/op: user and system time of every thread, the garbage
// collector's included), which the other processes on a shared machine
// disturb less than the wall time of ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(proccpu.Self()-start)/float64(b.N), "cpu-ns/op")
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
