// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
)

// MaxPlaintextSize is the largest plaintext [Seal] accepts. It covers every
// KMS recipient payload (data keys of up to 1024 bytes, GenerateRandom of up
// to 1024 bytes, Decrypt of up to 4096 bytes, PKCS #8 RSA-4096 private keys
// of about 2.4 KB), and keeps every envelope, even for RSA-4096, under the
// 6144 bytes KMS allows for CiphertextForRecipient.
const MaxPlaintextSize = 4096

// Sizes of the fixed parts of the layout.
const (
	cekSize   = 32 // AES-256
	ivSize    = aes.BlockSize
	skiSize   = sha256.Size
	eocTail   = 6 // end-of-contents of EnvelopedData, [0] and ContentInfo
	blockSize = aes.BlockSize
)

var (
	// ContentInfo (indefinite), id-envelopedData, [0] (indefinite),
	// EnvelopedData (indefinite), version 2.
	sealPrefix = []byte{
		0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80,
		0x30, 0x80, 0x02, 0x01, 0x02,
	}
	// KeyTransRecipientInfo version 2, then rid [0] with the 32-byte SKI.
	ktriVersionRid = []byte{0x02, 0x01, 0x02, 0x80, skiSize}
	// rsaesOaep with explicit parameters: hashAlgorithm [0] sha256 (NULL),
	// maskGenAlgorithm [1] mgf1(sha256 (NULL)), no pSourceAlgorithm.
	oaepAlgID = []byte{
		0x30, 0x3c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07,
		0x30, 0x2f,
		0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
		0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
		0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
	}
	// EncryptedContentInfo (indefinite), id-data, aes256-CBC with the IV as
	// an OCTET STRING parameter (the IV follows).
	eciPrefix = []byte{
		0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
		0x30, 0x1d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a, 0x04, ivSize,
	}
	// encryptedContent: constructed [0] (indefinite) holding one OCTET
	// STRING, whose length and contents follow.
	contentPrefix = []byte{0xa0, 0x80, 0x04}
)

// Seal encrypts plaintext to the RSA public key in publicKeyDER (a DER
// SubjectPublicKeyInfo, as an attestation document's public_key carries it)
// and returns a BER CMS ContentInfo holding EnvelopedData, laid out byte for
// byte as AWS KMS lays out CiphertextForRecipient:
//
//   - ContentInfo, its [0], EnvelopedData and EncryptedContentInfo in
//     indefinite-length form; RecipientInfos definite, with exactly one
//     KeyTransRecipientInfo version 2;
//   - rid: [0] subjectKeyIdentifier = SHA-256 of publicKeyDER ([SubjectKeyID]);
//   - keyEncryptionAlgorithm: rsaesOaep with explicit hashAlgorithm sha256
//     and maskGenAlgorithm mgf1(sha256), both with NULL parameters, and no
//     pSourceAlgorithm (empty label);
//   - contentEncryptionAlgorithm: aes256-CBC with the IV as OCTET STRING;
//   - encryptedContent: constructed [0] with one OCTET STRING holding the
//     AES-256-CBC encryption of plaintext with PKCS #7 padding.
//
// The key must be RSA, 2048 to 4096 bits, with an odd exponent of 65537 to
// 2^31-1; anything else is a [KeyError] matching [ErrUnsupportedKey].
// plaintext may be at most [MaxPlaintextSize] bytes ([ErrTooLarge]).
//
// Each call draws a fresh 32-byte content-encryption key and 16-byte IV
// from random (nil means crypto/rand.Reader), which also feeds RSA-OAEP;
// the content-encryption key is zeroed before Seal returns.
func Seal(publicKeyDER, plaintext []byte, random io.Reader) ([]byte, error) {
	if len(plaintext) > MaxPlaintextSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(plaintext), MaxPlaintextSize)
	}
	pub, err := parsePublicKey(publicKeyDER)
	if err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	var secret [cekSize + ivSize]byte
	defer clear(secret[:])
	if _, err := io.ReadFull(random, secret[:]); err != nil {
		return nil, fmt.Errorf("recipient: reading random bytes: %w", err)
	}
	cek, iv := secret[:cekSize], secret[cekSize:]

	ek, err := rsa.EncryptOAEP(sha256.New(), random, pub, cek, nil)
	if err != nil {
		return nil, fmt.Errorf("recipient: RSA-OAEP encryption: %w", err)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}

	ekTLV := tlvLen(len(ek))
	ktri := len(ktriVersionRid) + skiSize + len(oaepAlgID) + ekTLV
	set := tlvLen(ktri)
	ctLen := (len(plaintext)/blockSize + 1) * blockSize
	total := len(sealPrefix) + tlvLen(set) +
		len(eciPrefix) + ivSize + len(contentPrefix) + lenLen(ctLen) + ctLen + 2 + 2 + eocTail

	out := make([]byte, 0, total)
	out = append(out, sealPrefix...)
	out = append(out, 0x31)
	out = appendLen(out, set)
	out = append(out, 0x30)
	out = appendLen(out, ktri)
	out = append(out, ktriVersionRid...)
	ski := sha256.Sum256(publicKeyDER)
	out = append(out, ski[:]...)
	out = append(out, oaepAlgID...)
	out = append(out, 0x04)
	out = appendLen(out, len(ek))
	out = append(out, ek...)
	out = append(out, eciPrefix...)
	out = append(out, iv...)
	out = append(out, contentPrefix...)
	out = appendLen(out, ctLen)
	start := len(out)
	out = append(out, plaintext...)
	pad := byte(ctLen - len(plaintext))
	for range pad {
		out = append(out, pad)
	}
	ct := out[start:]
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // [0], EncryptedContentInfo, EnvelopedData, [0], ContentInfo
	return out, nil
}

// lenLen is the size of the DER length octets for n.
func lenLen(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	case n < 0x10000:
		return 3
	default:
		return 4
	}
}

// tlvLen is the size of a definite-length element with a one-octet tag and
// n contents octets.
func tlvLen(n int) int { return 1 + lenLen(n) + n }

// appendLen appends the minimal DER length octets for n (n < 1<<24).
func appendLen(b []byte, n int) []byte {
	switch lenLen(n) {
	case 1:
		return append(b, byte(n))
	case 2:
		return append(b, 0x81, byte(n))
	case 3:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}
