// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	_ "crypto/sha256" // ES256
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/veraison/go-cose"
)

// Signature is a decoded and verified signature section.
type Signature struct {
	// CertificatePEM is the signing certificate exactly as stored in the
	// section (PEM, as nitro-cli stores the --signing-certificate file).
	CertificatePEM []byte
	// Certificate is the parsed signing certificate. Its DER encoding is
	// what PCR8 measures. Its validity period is not checked by [Read]:
	// measurements do not depend on time.
	Certificate *x509.Certificate
	// COSESign1 is the untagged COSE_Sign1 as stored in the section.
	COSESign1 []byte
	// Algorithm is the COSE algorithm ("ES256", "ES384" or "ES512").
	Algorithm string
	// PCRIndex and PCRValue are the signed payload: the PCR index (always
	// 0 in images nitro-cli signs) and its value.
	PCRIndex int
	PCRValue []byte
}

// Field names of serde's encoding of nitro-cli's PcrSignature and PcrInfo.
const (
	keySigningCertificate = "signing_certificate"
	keySignature          = "signature"
	keyRegisterIndex      = "register_index"
	keyRegisterValue      = "register_value"
)

// maxCOSESize bounds the COSE_Sign1 inside the signature section.
const maxCOSESize = 4 << 10

// encodePCRPayload encodes PcrInfo{register_index, register_value} as
// serde_cbor does: a map of two text keys, the value an array of integers.
func encodePCRPayload(index int, value []byte) []byte {
	b := appendHead(nil, majorMap, 2)
	b = appendText(b, keyRegisterIndex)
	b = appendHead(b, majorUint, uint64(index))
	b = appendText(b, keyRegisterValue)
	return appendUint8Array(b, value)
}

// decodePCRPayload decodes what encodePCRPayload encodes.
func decodePCRPayload(b []byte) (int, []byte, error) {
	major, n, b, err := readHead(b)
	if err != nil || major != majorMap || n != 2 {
		return 0, nil, errCBOR
	}
	if b, err = readText(b, keyRegisterIndex); err != nil {
		return 0, nil, err
	}
	major, idx, b, err := readHead(b)
	if err != nil || major != majorUint || idx > 31 {
		return 0, nil, errCBOR
	}
	if b, err = readText(b, keyRegisterValue); err != nil {
		return 0, nil, err
	}
	v, b, err := readUint8Array(b, 64)
	if err != nil || len(b) != 0 {
		return 0, nil, errCBOR
	}
	return int(idx), v, nil
}

// encodeSignatureSection encodes [PcrSignature{certPEM, cose}].
func encodeSignatureSection(certPEM, coseSign1 []byte) []byte {
	b := appendHead(nil, majorArray, 1)
	b = appendHead(b, majorMap, 2)
	b = appendText(b, keySigningCertificate)
	b = appendUint8Array(b, certPEM)
	b = appendText(b, keySignature)
	return appendUint8Array(b, coseSign1)
}

func malformedSig(reason string, err error) error {
	return &SignatureError{Malformed: true, Reason: reason, Err: err}
}

// parseSignatureSection decodes the section and its certificate, checks the
// COSE_Sign1's shape, and returns the signature with PCR8's input (the
// certificate's DER). It does not verify the signature; see verify.
func parseSignatureSection(b []byte) (*Signature, error) {
	major, n, b, err := readHead(b)
	if err != nil || major != majorArray {
		return nil, malformedSig("want an array of PCR signatures", nil)
	}
	if n != 1 {
		return nil, malformedSig(fmt.Sprintf("want exactly one PCR signature, have %d", n), nil)
	}
	if major, n, b, err = readHead(b); err != nil || major != majorMap || n != 2 {
		return nil, malformedSig("want a map of signing_certificate and signature", nil)
	}
	if b, err = readText(b, keySigningCertificate); err != nil {
		return nil, malformedSig("want the key signing_certificate first", nil)
	}
	certPEM, b, err := readUint8Array(b, MaxSignatureSize)
	if err != nil {
		return nil, malformedSig("signing_certificate is not an array of bytes", nil)
	}
	if b, err = readText(b, keySignature); err != nil {
		return nil, malformedSig("want the key signature second", nil)
	}
	coseBytes, b, err := readUint8Array(b, maxCOSESize)
	if err != nil {
		return nil, malformedSig("signature is not an array of at most 4096 bytes", nil)
	}
	if len(b) != 0 {
		return nil, malformedSig("trailing bytes after the PCR signature", nil)
	}
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return nil, err
	}
	alg, err := algorithmFor(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	payload, err := checkCOSEShape(coseBytes, alg)
	if err != nil {
		return nil, err
	}
	idx, val, err := decodePCRPayload(payload)
	if err != nil {
		return nil, malformedSig("COSE payload is not a PCR index and value", nil)
	}
	return &Signature{
		CertificatePEM: certPEM,
		Certificate:    cert,
		COSESign1:      coseBytes,
		Algorithm:      alg.String(),
		PCRIndex:       idx,
		PCRValue:       val,
	}, nil
}

// parseCertificatePEM reads the certificate of a signing_certificate as
// the reference does (A's X509::from_pem, OpenSSL's PEM_read_bio_X509):
// the first PEM block of type CERTIFICATE, skipping any text and any other
// PEM block before it (nitro-cli stores the file it was given byte for
// byte, so the output of `openssl x509 -text`, with the decoded
// certificate above the block, is a valid signing certificate) and
// ignoring what follows it. PCR8 is the hash of that block's DER alone. A
// block with PEM headers (an encrypted one) is refused.
func parseCertificatePEM(b []byte) (*x509.Certificate, error) {
	var block *pem.Block
	for rest := b; ; {
		if block, rest = pem.Decode(rest); block == nil || block.Type == "CERTIFICATE" {
			break
		}
	}
	if block == nil {
		return nil, malformedSig("signing_certificate holds no PEM CERTIFICATE block", nil)
	}
	if len(block.Headers) != 0 {
		return nil, malformedSig("signing_certificate's PEM block has headers (encrypted?)", nil)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, malformedSig("signing_certificate does not parse", err)
	}
	return cert, nil
}

// algorithmFor returns the COSE algorithm nitro-cli uses for key's curve
// (aws-nitro-enclaves-cose's curve_to_parameters).
func algorithmFor(pub any) (cose.Algorithm, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0, &AlgorithmError{Algorithm: fmt.Sprintf("%T key (want ECDSA)", pub)}
	}
	switch k.Curve {
	case elliptic.P256():
		return cose.AlgorithmES256, nil
	case elliptic.P384():
		return cose.AlgorithmES384, nil
	case elliptic.P521():
		return cose.AlgorithmES512, nil
	}
	return 0, &AlgorithmError{Algorithm: "ECDSA on curve " + k.Curve.Params().Name}
}

// protectedHeader returns the protected header bytes for alg: {1: alg}.
func protectedHeader(alg cose.Algorithm) []byte {
	switch alg {
	case cose.AlgorithmES256:
		return []byte{0xa1, 0x01, 0x26}
	case cose.AlgorithmES384:
		return []byte{0xa1, 0x01, 0x38, 0x22}
	}
	return []byte{0xa1, 0x01, 0x38, 0x23}
}

func sigSize(alg cose.Algorithm) int {
	switch alg {
	case cose.AlgorithmES256:
		return 64
	case cose.AlgorithmES384:
		return 96
	}
	return 132
}

// checkCOSEShape checks that b is an untagged COSE_Sign1 with protected
// header exactly {1: alg}, an empty unprotected header, a byte-string
// payload and an r||s signature of the curve's size, and returns the payload.
func checkCOSEShape(b []byte, alg cose.Algorithm) ([]byte, error) {
	major, n, b, err := readHead(b)
	if err != nil || major != majorArray || n != 4 {
		return nil, malformedSig("signature is not an untagged COSE_Sign1", nil)
	}
	prot, b, err := readBytes(b)
	if err != nil {
		return nil, malformedSig("COSE protected header is not a byte string", nil)
	}
	if !bytes.Equal(prot, protectedHeader(alg)) {
		return nil, &AlgorithmError{Algorithm: fmt.Sprintf("COSE protected header %x with a %s certificate key (want %x)", prot, alg, protectedHeader(alg))}
	}
	if len(b) == 0 || b[0] != 0xa0 {
		return nil, malformedSig("COSE unprotected header is not empty", nil)
	}
	payload, b, err := readBytes(b[1:])
	if err != nil {
		return nil, malformedSig("COSE payload is not a byte string", nil)
	}
	sig, b, err := readBytes(b)
	if err != nil || len(sig) != sigSize(alg) {
		return nil, malformedSig(fmt.Sprintf("COSE signature is not %d bytes", sigSize(alg)), nil)
	}
	if len(b) != 0 {
		return nil, malformedSig("trailing bytes after the COSE_Sign1", nil)
	}
	return payload, nil
}

// verify checks the COSE signature with the certificate's key and that it
// signs PCR0 = pcr0, as nitro-cli's describe-eif does (it compares the
// signed payload with serde's encoding of PcrInfo{0, PCR0}).
func (s *Signature) verify(pcr0 []byte) error {
	alg, err := algorithmFor(s.Certificate.PublicKey)
	if err != nil {
		return err
	}
	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(s.COSESign1); err != nil {
		return malformedSig("COSE_Sign1 does not decode", err)
	}
	v, err := cose.NewVerifier(alg, s.Certificate.PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		return &AlgorithmError{Algorithm: err.Error()}
	}
	if err := (*cose.Sign1Message)(&msg).Verify(nil, v); err != nil {
		return &SignatureError{Reason: "COSE_Sign1 does not verify with the signing certificate's key", Err: err}
	}
	if !bytes.Equal(msg.Payload, encodePCRPayload(0, pcr0)) {
		return &SignatureError{Reason: fmt.Sprintf("the signature signs PCR%d = %x, but the image's PCR0 is %x", s.PCRIndex, s.PCRValue, pcr0)}
	}
	return nil
}

// Signer signs images as nitro-cli build-enclave --signing-certificate
// --private-key does.
type Signer struct {
	certPEM []byte
	cert    *x509.Certificate
	key     crypto.Signer
	alg     cose.Algorithm
}

// NewSigner returns a signer from a PEM certificate and a PEM private key
// (SEC1 "EC PRIVATE KEY" or PKCS #8 "PRIVATE KEY"), the files nitro-cli
// takes. The key must be ECDSA on P-256, P-384 or P-521 (nitro-cli's
// documentation uses P-384) and match the certificate.
func NewSigner(certPEM, keyPEM []byte) (*Signer, error) {
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return nil, &SpecError{Field: "signing certificate", Reason: err.Error()}
	}
	// openssl ecparam -genkey (nitro-cli's documented command) writes an
	// EC PARAMETERS block before the key: skip it.
	var block *pem.Block
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "EC PARAMETERS" {
			continue
		}
		if block != nil {
			return nil, &SpecError{Field: "private key", Reason: "more than one PEM block"}
		}
		block = b
	}
	if block == nil {
		return nil, &SpecError{Field: "private key", Reason: "no PEM private key"}
	}
	var key any
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("PEM type %q (want EC PRIVATE KEY or PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, &SpecError{Field: "private key", Reason: err.Error()}
	}
	cs, ok := key.(crypto.Signer)
	if !ok {
		return nil, &SpecError{Field: "private key", Reason: fmt.Sprintf("%T is not a signing key", key)}
	}
	return NewSignerFromKey(cert, cs)
}

// NewSignerFromKey returns a signer for cert and key. With an
// *ecdsa.PrivateKey, signatures are deterministic (RFC 6979), so the same
// inputs give the same image bytes; other crypto.Signers (HSM, KMS) sign
// with fresh randomness.
func NewSignerFromKey(cert *x509.Certificate, key crypto.Signer) (*Signer, error) {
	alg, err := algorithmFor(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, &SpecError{Field: "private key", Reason: "does not match the signing certificate's public key"}
	}
	return &Signer{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		cert:    cert,
		key:     key,
		alg:     alg,
	}, nil
}

// Certificate returns the signing certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// sign returns the signature section for an image whose PCR0 is pcr0.
func (s *Signer) sign(pcr0 []byte) ([]byte, error) {
	msg := cose.Sign1Message{
		Headers: cose.Headers{
			Protected:   cose.ProtectedHeader{cose.HeaderLabelAlgorithm: s.alg},
			Unprotected: cose.UnprotectedHeader{},
		},
		Payload: encodePCRPayload(0, pcr0),
	}
	if err := msg.Sign(nil, nil, coseSigner{s}); err != nil {
		return nil, fmt.Errorf("eif: signing: %w", err)
	}
	b, err := (*cose.UntaggedSign1Message)(&msg).MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("eif: signing: %w", err)
	}
	return encodeSignatureSection(s.certPEM, b), nil
}

// coseSigner adapts Signer to cose.Signer with deterministic ECDSA.
type coseSigner struct{ s *Signer }

func (c coseSigner) Algorithm() cose.Algorithm { return c.s.alg }

func (c coseSigner) Sign(_ io.Reader, content []byte) ([]byte, error) {
	h := crypto.SHA384
	switch c.s.alg {
	case cose.AlgorithmES256:
		h = crypto.SHA256
	case cose.AlgorithmES512:
		h = crypto.SHA512
	}
	d := h.New()
	d.Write(content)
	var rnd io.Reader // nil: RFC 6979 deterministic ECDSA
	if _, ok := c.s.key.(*ecdsa.PrivateKey); !ok {
		rnd = rand.Reader
	}
	der, err := c.s.key.Sign(rnd, d.Sum(nil), h)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("signer returned a malformed ECDSA signature")
	}
	n := sigSize(c.s.alg) / 2
	out := make([]byte, 2*n)
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*n || rs.S.BitLen() > 8*n {
		return nil, errors.New("signer returned an out-of-range ECDSA signature")
	}
	rs.R.FillBytes(out[:n])
	rs.S.FillBytes(out[n:])
	return out, nil
}

// pcrExtend returns SHA-384(48 zero bytes || digest): a PCR extended once
// from its reset value, as nitro-cli's tpm_extend_finalize_reset does.
func pcrExtend(digest []byte) []byte {
	h := sha512.New384()
	h.Write(make([]byte, sha512.Size384))
	h.Write(digest)
	return h.Sum(nil)
}
