// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// signProtectedES384 is the protected header AWS writes in every attestation
// document: the map {1: -35} (alg: ES384), exactly these four bytes.
var signProtectedES384 = []byte{0xa1, 0x01, 0x38, 0x22}

// Signer builds attestation documents in the exact shape the AWS Nitro
// Security Module produces, signed by Key. It exists for the NSM emulator,
// the test vectors and tests: documents it signs are trusted only by a
// verifier given the emulated root.
//
// The output is the untagged COSE_Sign1 array [protected, unprotected,
// payload, signature] with the protected header exactly A1 01 38 22 (ES384),
// the unprotected header the empty map A0, and a 2·n-byte r||s ECDSA
// signature (n = 48 for P-384) over the COSE Sig_structure hashed with
// SHA-384.
//
// Signer does not validate what it signs (field sizes, PCR indexes, the
// curve of Key, the chain): it can produce documents a verifier must reject,
// which is what negative test vectors need. A zero Signer is not usable; set
// Key and Certificate. A Signer is safe for concurrent use if Key is.
type Signer struct {
	// Key is the leaf's private key; its Public() must be an
	// *ecdsa.PublicKey (P-384 for a valid document).
	Key crypto.Signer
	// Certificate is the leaf certificate, written as "certificate".
	Certificate *x509.Certificate
	// CABundle is written as "cabundle" in this order: root first, then the
	// regional, zonal and instance CAs, as AWS orders it.
	CABundle []*x509.Certificate
	// Definite selects a definite-length payload map (0xa9), as AWS wrote
	// until 2025. The default (false) is the indefinite-length map
	// (0xbf … 0xff) AWS writes since mid-2025.
	Definite bool
	// Tag18 wraps the COSE_Sign1 array in CBOR tag 18. AWS never does;
	// verifiers accept it.
	Tag18 bool
}

// Sign encodes doc as an attestation document payload and signs it (see
// [Signer.SignPayload]).
//
// It uses doc's ModuleID, Digest ("" becomes "SHA384"), Timestamp (written
// as unsigned milliseconds since the Unix epoch, so it must not be before
// 1970), PCRs (a definite map in ascending index order), PublicKey, UserData
// and Nonce; certificate and cabundle come from the Signer, and doc's
// Certificate, CABundle and Raw are ignored. A nil optional field is
// written as CBOR null, as AWS writes unset fields; a non-nil empty one as
// a zero-length byte string. The payload keys are written in AWS's order:
// module_id, digest, timestamp, pcrs, certificate, cabundle, public_key,
// user_data, nonce.
func (s *Signer) Sign(doc *Document, rand io.Reader) ([]byte, error) {
	if doc == nil {
		return nil, errors.New("attestation: sign: nil document")
	}
	payload, err := s.encodePayload(&payloadFields{
		moduleID: doc.ModuleID, digest: doc.Digest, timestamp: doc.Timestamp,
		pcrsKey: "pcrs", pcrs: doc.PCRs,
		publicKey: doc.PublicKey, userData: doc.UserData, nonce: doc.Nonce,
	})
	if err != nil {
		return nil, err
	}
	return s.SignPayload(payload, rand)
}

// SignNitroTPM signs doc as a NitroTPM attestation document, exactly as
// [Signer.Sign] signs an enclave's but with the PCRs under the key
// nitrotpm_pcrs, as an EC2 instance's NitroTPM writes them: the shape
// [VerifyNitroTPM] accepts and [Verify] refuses.
func (s *Signer) SignNitroTPM(doc *NitroTPMDocument, rand io.Reader) ([]byte, error) {
	if doc == nil {
		return nil, errors.New("attestation: sign: nil document")
	}
	payload, err := s.encodePayload(&payloadFields{
		moduleID: doc.ModuleID, digest: doc.Digest, timestamp: doc.Timestamp,
		pcrsKey: "nitrotpm_pcrs", pcrs: doc.PCRs,
		publicKey: doc.PublicKey, userData: doc.UserData, nonce: doc.Nonce,
	})
	if err != nil {
		return nil, err
	}
	return s.SignPayload(payload, rand)
}

// payloadFields is what a payload carries, for either kind of document.
type payloadFields struct {
	moduleID, digest           string
	timestamp                  time.Time
	pcrsKey                    string // "pcrs" or "nitrotpm_pcrs"
	pcrs                       map[int][]byte
	publicKey, userData, nonce []byte
}

// SignPayload signs arbitrary payload bytes as an ES384 COSE_Sign1 in
// AWS's envelope (see [Signer]), without looking at them: tests use it to
// build documents whose signature is valid but whose payload is not.
func (s *Signer) SignPayload(payload []byte, rand io.Reader) ([]byte, error) {
	if s == nil || s.Key == nil {
		return nil, errors.New("attestation: sign: signer has no key")
	}
	pub, ok := s.Key.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("attestation: sign: key is %T, want an ECDSA key", s.Key.Public())
	}
	size := (pub.Curve.Params().BitSize + 7) / 8

	tbs, err := signSigStructure(signProtectedES384, payload)
	if err != nil {
		return nil, err
	}
	h := sha512.Sum384(tbs)
	der, err := s.Key.Sign(rand, h[:], crypto.SHA384)
	if err != nil {
		return nil, fmt.Errorf("attestation: sign: %w", err)
	}
	sig, err := signRawECDSA(der, size)
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	if s.Tag18 {
		buf.WriteByte(0xd2) // tag 18: COSE_Sign1
	}
	buf.WriteByte(0x84) // array of 4
	enc := cbor.NewEncoder(&buf)
	err = enc.Encode(signProtectedES384)
	buf.WriteByte(0xa0) // unprotected header: the empty map
	if err == nil {
		err = enc.Encode(payload)
	}
	if err == nil {
		err = enc.Encode(sig)
	}
	if err != nil {
		return nil, fmt.Errorf("attestation: sign: %w", err)
	}
	return buf.Bytes(), nil
}

// encodePayload writes the payload map in AWS's key order.
//
// fxamacker/cbor encodes every value; the map heads are written here by
// hand because the library sorts (or randomises) the keys of Go maps and
// structs cannot express the indefinite/definite choice, while AWS's key
// order is fixed and not canonical. Encoder.StartIndefiniteMap would do for
// the indefinite case only; one code path for both keeps them identical.
func (s *Signer) encodePayload(doc *payloadFields) ([]byte, error) {
	if s.Certificate == nil {
		return nil, errors.New("attestation: sign: signer has no certificate")
	}
	ts := doc.timestamp.UnixMilli()
	if ts < 0 {
		return nil, fmt.Errorf("attestation: sign: timestamp %v is before 1970", doc.timestamp)
	}
	digest := doc.digest
	if digest == "" {
		digest = "SHA384"
	}
	idx := make([]int, 0, len(doc.pcrs))
	for i := range doc.pcrs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	bundle := make([][]byte, len(s.CABundle))
	for i, c := range s.CABundle {
		if c == nil {
			return nil, fmt.Errorf("attestation: sign: cabundle[%d] is nil", i)
		}
		bundle[i] = c.Raw
	}

	var buf bytes.Buffer
	if s.Definite {
		buf.WriteByte(0xa9) // map of 9 pairs
	} else {
		buf.WriteByte(0xbf) // indefinite-length map
	}
	enc := cbor.NewEncoder(&buf)
	var err error
	put := func(v any) {
		if err == nil {
			err = enc.Encode(v)
		}
	}
	put("module_id")
	put(doc.moduleID)
	put("digest")
	put(digest)
	put("timestamp")
	put(uint64(ts))
	put(doc.pcrsKey)
	if err == nil {
		signHead(&buf, 5, uint64(len(idx)))
	}
	for _, i := range idx {
		put(i)
		put(signBytes(doc.pcrs[i]))
	}
	put("certificate")
	put(s.Certificate.Raw)
	put("cabundle")
	put(bundle)
	put("public_key")
	put(signBytes(doc.publicKey))
	put("user_data")
	put(signBytes(doc.userData))
	put("nonce")
	put(signBytes(doc.nonce))
	if err != nil {
		return nil, fmt.Errorf("attestation: sign: %w", err)
	}
	if !s.Definite {
		buf.WriteByte(0xff) // break
	}
	return buf.Bytes(), nil
}

// signBytes maps nil to CBOR null and anything else (empty included) to a
// byte string.
func signBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// signHead appends a CBOR head of the given major type and argument in its
// shortest form.
func signHead(buf *bytes.Buffer, major byte, n uint64) {
	m := major << 5
	switch {
	case n < 24:
		buf.WriteByte(m | byte(n))
	case n <= 0xff:
		buf.Write([]byte{m | 24, byte(n)})
	case n <= 0xffff:
		buf.Write([]byte{m | 25, byte(n >> 8), byte(n)})
	case n <= 0xffffffff:
		buf.Write([]byte{m | 26, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	default:
		buf.WriteByte(m | 27)
		for sh := 56; sh >= 0; sh -= 8 {
			buf.WriteByte(byte(n >> sh))
		}
	}
}

// signSigStructure returns the COSE Sig_structure (RFC 9052 §4.4): the
// array "Signature1", protected, an empty external_aad, payload.
func signSigStructure(protected, payload []byte) ([]byte, error) {
	b, err := cbor.Marshal([]any{"Signature1", protected, []byte{}, payload})
	if err != nil {
		return nil, fmt.Errorf("attestation: sign: %w", err)
	}
	return b, nil
}

// signRawECDSA converts an ASN.1 ECDSA signature to the fixed-size
// big-endian r||s form COSE uses, each half size bytes.
func signRawECDSA(der []byte, size int) ([]byte, error) {
	var r, s big.Int
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() ||
		r.Sign() <= 0 || s.Sign() <= 0 || r.BitLen() > 8*size || s.BitLen() > 8*size {
		return nil, errors.New("attestation: sign: key returned an invalid ECDSA signature")
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}
